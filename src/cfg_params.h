/*
 * NAME
 *	cfg_params - the tlsproxy parameter table
 * SYNOPSIS
 *	#define CFG_PARAM(name, type, flags, def, min, max, words, sect, doc) ...
 *	#include "cfg_params.h"
 *	#undef CFG_PARAM
 * DESCRIPTION
 *	One line per parameter, in the order of the manual page (which is
 *	also the order of "tlsproxy -d" and "tlsproxy -n" output). The
 *	file has two parts: the constants below, protected by an include
 *	guard, and the list itself, which expands CFG_PARAM() once per
 *	parameter each time the file is included with CFG_PARAM defined.
 *
 *	name	The Postfix parameter name, used verbatim as the top-level
 *		libconfig setting name. It is also a C identifier, so
 *		config.c derives an index constant CFG_P_<name> from it.
 *	type	enum cfg_type from config.h.
 *	flags	CFG_F_RO: read-only, cannot be set in the file.
 *		CFG_F_LISTENERS: the libconfig list of listener groups.
 *		CFG_F_PER_LISTENER: may also be set inside one entry of
 *		tlsproxy_listeners, for that listener only: the TLS
 *		server-side and global parameters (tlsproxy_tls_*,
 *		tlsproxy_use_tls, tlsproxy_enforce_tls, smtpd_*, tls_*).
 *	def	Default, unexpanded, as "postconf -d" would print it.
 *		For read-only parameters, the text that -d shows.
 *	min, max  Bounds for CFG_INT (the number) and CFG_TIME (seconds).
 *	words	CFG_ENUM: comma-separated allowed words; a leading comma
 *		means the empty value is allowed as well.
 *	sect	Manual section (CFG_SEC_*), for the documentation.
 *	doc	One-line summary, for the documentation.
 *
 *	Adding a parameter here is not enough: it must also be described
 *	in man/tlsproxy.conf.5 and listed in etc/tlsproxy.conf; the
 *	config unit test checks that the three agree.
 */
#ifndef TLSPROXY_CFG_PARAMS_H
#define TLSPROXY_CFG_PARAMS_H

#define CFG_F_RO		0x01
#define CFG_F_LISTENERS		0x02
#define CFG_F_PER_LISTENER	0x04

enum cfg_section {
	CFG_SEC_GLOBAL,		/* STARTTLS GLOBAL CONTROLS */
	CFG_SEC_SERVER,		/* STARTTLS SERVER CONTROLS */
	CFG_SEC_CLIENT,		/* STARTTLS CLIENT CONTROLS */
	CFG_SEC_OBSOLETE,	/* OBSOLETE STARTTLS SUPPORT CONTROLS */
	CFG_SEC_RESOURCE,	/* RESOURCE CONTROLS */
	CFG_SEC_MISC,		/* MISCELLANEOUS CONTROLS */
	CFG_SEC_SMTPD,		/* smtpd_* parameters that defaults refer to */
	CFG_SEC_SMTP,		/* smtp_* parameters that defaults refer to */
	CFG_SEC_OWN,		/* TLSPROXY OWN SETTINGS */
};

#define CFG_W_SRVLEVEL	",none,may,encrypt"
#define CFG_W_CLTLEVEL	",none,may,encrypt,dane,dane-only,fingerprint,verify,secure"
#define CFG_W_GRADE	"export,low,medium,high,null"
#define CFG_W_DIGEST	"md5,sha1,sha224,sha256,sha384,sha512"
#define CFG_W_LOGLEVEL	"0,1,2,3,4"
#define CFG_W_EECDH	"auto,strong,ultra,none"
#define CFG_W_AGILITY	"on,off,trust-only"
#define CFG_W_FACILITY	"mail,daemon,user,local0,local1,local2,local3," \
			"local4,local5,local6,local7,auth,authpriv,cron," \
			"ftp,kern,lpr,news,syslog,uucp"
#define CFG_W_LOGSERVICE	"syslog,postlog,file"

/* Time bounds, in seconds. */
#define CFG_MINUTE	60L
#define CFG_HOUR	3600L
#define CFG_DAY		86400L

/* The Makefile passes the configured run-state directory. */
#ifndef TLSPROXY_RUNSTATEDIR
#define TLSPROXY_RUNSTATEDIR	"/var/run"
#endif

#endif /* TLSPROXY_CFG_PARAMS_H */

#ifdef CFG_PARAM

/* STARTTLS GLOBAL CONTROLS */
CFG_PARAM(tls_append_default_CA, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Append the system's default CA certificates to those of *_tls_CAfile and *_tls_CApath.")
CFG_PARAM(tls_daemon_random_bytes, CFG_INT, CFG_F_PER_LISTENER, "32", 1, 1024, NULL, CFG_SEC_GLOBAL,
    "Number of pseudo-random bytes used to seed the internal PRNG.")
CFG_PARAM(tls_high_cipherlist, CFG_STR, CFG_F_PER_LISTENER, "aNULL:-aNULL:HIGH:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:@STRENGTH", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL cipher list for the \"high\" cipher grade.")
CFG_PARAM(tls_medium_cipherlist, CFG_STR, CFG_F_PER_LISTENER, "aNULL:-aNULL:HIGH:MEDIUM:!SEED:!IDEA:!3DES:!RC2:!RC4:!RC5:!kDH:!kECDH:!aDSS:!MD5:+RC4:@STRENGTH", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL cipher list for the \"medium\" cipher grade.")
CFG_PARAM(tls_low_cipherlist, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL cipher list for the \"low\" grade; empty: the medium list (Postfix >= 3.8).")
CFG_PARAM(tls_export_cipherlist, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL cipher list for the \"export\" grade; empty: the medium list (Postfix >= 3.8).")
CFG_PARAM(tls_null_cipherlist, CFG_STR, CFG_F_PER_LISTENER, "eNULL:!kDH:!kECDH:!aDSS:!MD5:!aNULL", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL cipher list for the \"null\" grade: authentication without encryption.")
CFG_PARAM(tls_eecdh_strong_curve, CFG_STR, CFG_F_PER_LISTENER, "prime256v1", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Elliptic curve for the \"strong\" EECDH grade.")
CFG_PARAM(tls_eecdh_ultra_curve, CFG_STR, CFG_F_PER_LISTENER, "secp384r1", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Elliptic curve for the \"ultra\" EECDH grade.")
CFG_PARAM(tls_disable_workarounds, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL bug work-arounds to turn off (names or a bit mask).")
CFG_PARAM(tls_preempt_cipherlist, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Let the server's cipher preference order win over the client's.")
CFG_PARAM(tls_legacy_public_key_fingerprints, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Migration aid for public-key fingerprints computed the Postfix 2.9.0-2.9.5 way.")
CFG_PARAM(tls_dane_digest_agility, CFG_ENUM, CFG_F_PER_LISTENER, "on", 0, 0, CFG_W_AGILITY, CFG_SEC_GLOBAL,
    "RFC 7671 DANE TLSA digest algorithm agility.")
CFG_PARAM(tls_dane_trust_anchor_digest_enable, CFG_BOOL, CFG_F_PER_LISTENER, "yes", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Accept DANE TLSA records with digests of trust anchors (usage 2).")
CFG_PARAM(tlsmgr_service_name, CFG_STR, 0, "tlsmgr", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Name of the tlsmgr(8) service.")
CFG_PARAM(tls_session_ticket_cipher, CFG_STR, CFG_F_PER_LISTENER, "aes-256-cbc", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Cipher that encrypts RFC 5077 session tickets.")
CFG_PARAM(openssl_path, CFG_STR, 0, "openssl", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Location of the openssl(1) command.")
CFG_PARAM(tls_eecdh_auto_curves, CFG_STR, CFG_F_PER_LISTENER, "X25519 X448 prime256v1 secp384r1 secp521r1", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Elliptic curves offered for key exchange, most preferred first.")
CFG_PARAM(tls_ffdhe_auto_groups, CFG_STR, CFG_F_PER_LISTENER, "ffdhe2048 ffdhe3072", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Finite-field (RFC 7919) groups offered after the curves, most preferred first.")
CFG_PARAM(tls_server_sni_maps, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Lookup tables from SNI names to keys and certificate chains.")
CFG_PARAM(tls_fast_shutdown_enable, CFG_BOOL, CFG_F_PER_LISTENER, "yes", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Do not wait for the peer's close_notify when shutting down TLS.")
CFG_PARAM(tls_config_file, CFG_STR, CFG_F_PER_LISTENER, "default", 0, 0, NULL, CFG_SEC_GLOBAL,
    "OpenSSL configuration file with baseline settings.")
CFG_PARAM(tls_config_name, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_GLOBAL,
    "Application name passed to OpenSSL library initialization.")

/* STARTTLS SERVER CONTROLS */
CFG_PARAM(tlsproxy_tls_CAfile, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_CAfile", 0, 0, NULL, CFG_SEC_SERVER,
    "File with CA certificates trusted to sign client certificates.")
CFG_PARAM(tlsproxy_tls_CApath, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_CApath", 0, 0, NULL, CFG_SEC_SERVER,
    "Directory with CA certificates trusted to sign client certificates.")
CFG_PARAM(tlsproxy_tls_always_issue_session_ids, CFG_BOOL, CFG_F_PER_LISTENER, "$smtpd_tls_always_issue_session_ids", 0, 0, NULL, CFG_SEC_SERVER,
    "Issue a TLS session id even when session caching is off.")
CFG_PARAM(tlsproxy_tls_ask_ccert, CFG_BOOL, CFG_F_PER_LISTENER, "$smtpd_tls_ask_ccert", 0, 0, NULL, CFG_SEC_SERVER,
    "Ask the remote client for a certificate.")
CFG_PARAM(tlsproxy_tls_ccert_verifydepth, CFG_INT, CFG_F_PER_LISTENER, "$smtpd_tls_ccert_verifydepth", 0, 100, NULL, CFG_SEC_SERVER,
    "Verification depth for client certificates.")
CFG_PARAM(tlsproxy_tls_cert_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_cert_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server RSA certificate (PEM).")
CFG_PARAM(tlsproxy_tls_ciphers, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_ciphers", 0, 0, CFG_W_GRADE, CFG_SEC_SERVER,
    "Minimum cipher grade with opportunistic TLS.")
CFG_PARAM(tlsproxy_tls_dcert_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_dcert_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server DSA certificate (PEM).")
CFG_PARAM(tlsproxy_tls_dh1024_param_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_dh1024_param_file", 0, 0, NULL, CFG_SEC_SERVER,
    "DH parameters for non-export EDH ciphers.")
CFG_PARAM(tlsproxy_tls_dh512_param_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_dh512_param_file", 0, 0, NULL, CFG_SEC_SERVER,
    "DH parameters for export-grade EDH ciphers.")
CFG_PARAM(tlsproxy_tls_dkey_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_dkey_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server DSA private key (PEM).")
CFG_PARAM(tlsproxy_tls_eccert_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_eccert_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server ECDSA certificate (PEM).")
CFG_PARAM(tlsproxy_tls_eckey_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_eckey_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server ECDSA private key (PEM).")
CFG_PARAM(tlsproxy_tls_eecdh_grade, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_eecdh_grade", 0, 0, CFG_W_EECDH, CFG_SEC_SERVER,
    "Security grade of ephemeral elliptic-curve Diffie-Hellman key exchange.")
CFG_PARAM(tlsproxy_tls_exclude_ciphers, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_exclude_ciphers", 0, 0, NULL, CFG_SEC_SERVER,
    "Ciphers or cipher types excluded at every security level.")
CFG_PARAM(tlsproxy_tls_fingerprint_digest, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_fingerprint_digest", 0, 0, CFG_W_DIGEST, CFG_SEC_SERVER,
    "Digest for client certificate fingerprints.")
CFG_PARAM(tlsproxy_tls_key_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_key_file", 0, 0, NULL, CFG_SEC_SERVER,
    "Server RSA private key (PEM).")
CFG_PARAM(tlsproxy_tls_loglevel, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_loglevel", 0, 0, CFG_W_LOGLEVEL, CFG_SEC_SERVER,
    "Extra logging of server-side TLS activity.")
CFG_PARAM(tlsproxy_tls_mandatory_ciphers, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_mandatory_ciphers", 0, 0, CFG_W_GRADE, CFG_SEC_SERVER,
    "Minimum cipher grade with mandatory TLS.")
CFG_PARAM(tlsproxy_tls_mandatory_exclude_ciphers, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_mandatory_exclude_ciphers", 0, 0, NULL, CFG_SEC_SERVER,
    "Further ciphers excluded with mandatory TLS.")
CFG_PARAM(tlsproxy_tls_mandatory_protocols, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_mandatory_protocols", 0, 0, NULL, CFG_SEC_SERVER,
    "Protocols accepted with mandatory TLS.")
CFG_PARAM(tlsproxy_tls_protocols, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_protocols", 0, 0, NULL, CFG_SEC_SERVER,
    "Protocols included or excluded with opportunistic TLS.")
CFG_PARAM(tlsproxy_tls_req_ccert, CFG_BOOL, CFG_F_PER_LISTENER, "$smtpd_tls_req_ccert", 0, 0, NULL, CFG_SEC_SERVER,
    "With mandatory TLS, require a trusted client certificate.")
CFG_PARAM(tlsproxy_tls_security_level, CFG_ENUM, CFG_F_PER_LISTENER, "$smtpd_tls_security_level", 0, 0, CFG_W_SRVLEVEL, CFG_SEC_SERVER,
    "Server TLS security level; when non-empty it overrides tlsproxy_use_tls and tlsproxy_enforce_tls.")
CFG_PARAM(tlsproxy_tls_chain_files, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_chain_files", 0, 0, NULL, CFG_SEC_SERVER,
    "Files with server keys and certificate chains (PEM).")

/* STARTTLS CLIENT CONTROLS */
CFG_PARAM(tlsproxy_client_CAfile, CFG_STR, 0, "$smtp_tls_CAfile", 0, 0, NULL, CFG_SEC_CLIENT,
    "File with CA certificates trusted to sign server certificates.")
CFG_PARAM(tlsproxy_client_CApath, CFG_STR, 0, "$smtp_tls_CApath", 0, 0, NULL, CFG_SEC_CLIENT,
    "Directory with CA certificates trusted to sign server certificates.")
CFG_PARAM(tlsproxy_client_chain_files, CFG_STR, 0, "$smtp_tls_chain_files", 0, 0, NULL, CFG_SEC_CLIENT,
    "Files with client keys and certificate chains (PEM).")
CFG_PARAM(tlsproxy_client_cert_file, CFG_STR, 0, "$smtp_tls_cert_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client RSA certificate (PEM).")
CFG_PARAM(tlsproxy_client_key_file, CFG_STR, 0, "$smtp_tls_key_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client RSA private key (PEM).")
CFG_PARAM(tlsproxy_client_dcert_file, CFG_STR, 0, "$smtp_tls_dcert_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client DSA certificate (PEM).")
CFG_PARAM(tlsproxy_client_dkey_file, CFG_STR, 0, "$smtp_tls_dkey_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client DSA private key (PEM).")
CFG_PARAM(tlsproxy_client_eccert_file, CFG_STR, 0, "$smtp_tls_eccert_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client ECDSA certificate (PEM).")
CFG_PARAM(tlsproxy_client_eckey_file, CFG_STR, 0, "$smtp_tls_eckey_file", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client ECDSA private key (PEM).")
CFG_PARAM(tlsproxy_client_fingerprint_digest, CFG_ENUM, 0, "$smtp_tls_fingerprint_digest", 0, 0, CFG_W_DIGEST, CFG_SEC_CLIENT,
    "Digest for server certificate fingerprints.")
CFG_PARAM(tlsproxy_client_loglevel, CFG_ENUM, 0, "$smtp_tls_loglevel", 0, 0, CFG_W_LOGLEVEL, CFG_SEC_CLIENT,
    "Extra logging of client-side TLS activity.")
CFG_PARAM(tlsproxy_client_loglevel_parameter, CFG_STR, 0, "smtp_tls_loglevel", 0, 0, NULL, CFG_SEC_CLIENT,
    "Name of the parameter that supplies tlsproxy_client_loglevel.")
CFG_PARAM(tlsproxy_client_scert_verifydepth, CFG_INT, 0, "$smtp_tls_scert_verifydepth", 0, 100, NULL, CFG_SEC_CLIENT,
    "Verification depth for server certificates.")
CFG_PARAM(tlsproxy_client_use_tls, CFG_BOOL, 0, "$smtp_use_tls", 0, 0, NULL, CFG_SEC_CLIENT,
    "Obsolete opportunistic mode: use TLS when the server offers it.")
CFG_PARAM(tlsproxy_client_enforce_tls, CFG_BOOL, 0, "$smtp_enforce_tls", 0, 0, NULL, CFG_SEC_CLIENT,
    "Obsolete enforcement mode: require TLS from the server.")
CFG_PARAM(tlsproxy_client_per_site, CFG_STR, 0, "$smtp_tls_per_site", 0, 0, NULL, CFG_SEC_CLIENT,
    "Obsolete per-site TLS policy lookup tables.")
CFG_PARAM(tlsproxy_client_level, CFG_ENUM, 0, "", 0, 0, CFG_W_CLTLEVEL, CFG_SEC_CLIENT,
    "Pre-3.7 name of tlsproxy_client_security_level; wins when non-empty.")
CFG_PARAM(tlsproxy_client_policy, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_CLIENT,
    "Pre-3.7 name of tlsproxy_client_policy_maps; wins when non-empty.")
CFG_PARAM(tlsproxy_client_security_level, CFG_ENUM, 0,
    "${tlsproxy_client_level?{$tlsproxy_client_level}:{$smtp_tls_security_level}}", 0, 0, CFG_W_CLTLEVEL, CFG_SEC_CLIENT,
    "Default client TLS security level.")
CFG_PARAM(tlsproxy_client_policy_maps, CFG_STR, 0,
    "${tlsproxy_client_policy?{$tlsproxy_client_policy}:{$smtp_tls_policy_maps}}", 0, 0, NULL, CFG_SEC_CLIENT,
    "Client TLS policy lookup tables by next-hop destination.")

/* OBSOLETE STARTTLS SUPPORT CONTROLS */
CFG_PARAM(tlsproxy_use_tls, CFG_BOOL, CFG_F_PER_LISTENER, "$smtpd_use_tls", 0, 0, NULL, CFG_SEC_OBSOLETE,
    "Opportunistic TLS: offer STARTTLS, do not require it.")
CFG_PARAM(tlsproxy_enforce_tls, CFG_BOOL, CFG_F_PER_LISTENER, "$smtpd_enforce_tls", 0, 0, NULL, CFG_SEC_OBSOLETE,
    "Mandatory TLS: offer STARTTLS and require it.")

/* RESOURCE CONTROLS */
CFG_PARAM(tlsproxy_watchdog_timeout, CFG_TIME, 0, "10s", 1, CFG_DAY, NULL, CFG_SEC_RESOURCE,
    "Longest time one local or remote I/O operation may take.")

/* MISCELLANEOUS CONTROLS */
CFG_PARAM(config_directory, CFG_STR, 0, "/etc/postfix", 0, 0, NULL, CFG_SEC_MISC,
    "The Postfix configuration directory, for use in $config_directory references.")
CFG_PARAM(process_id, CFG_STR, CFG_F_RO, "(read-only: the process ID)", 0, 0, NULL, CFG_SEC_MISC,
    "Process ID of the process that loaded the configuration.")
CFG_PARAM(process_name, CFG_STR, CFG_F_RO, "tlsproxy", 0, 0, NULL, CFG_SEC_MISC,
    "Process name.")
CFG_PARAM(syslog_facility, CFG_ENUM, 0, "mail", 0, 0, CFG_W_FACILITY, CFG_SEC_MISC,
    "Syslog facility.")
CFG_PARAM(syslog_name, CFG_STR, 0, "postfix", 0, 0, NULL, CFG_SEC_MISC,
    "Prefix of the syslog ident, as in \"postfix/tlsproxy\".")
CFG_PARAM(service_name, CFG_STR, CFG_F_RO, "tlsproxy", 0, 0, NULL, CFG_SEC_MISC,
    "Service name.")

/* smtpd_* parameters that the defaults above refer to */
CFG_PARAM(smtpd_tls_CAfile, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_CAfile.")
CFG_PARAM(smtpd_tls_CApath, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_CApath.")
CFG_PARAM(smtpd_tls_always_issue_session_ids, CFG_BOOL, CFG_F_PER_LISTENER, "yes", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_always_issue_session_ids.")
CFG_PARAM(smtpd_tls_ask_ccert, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_ask_ccert.")
CFG_PARAM(smtpd_tls_auth_only, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_SMTPD,
    "STARTTLS listeners: no AUTH before TLS (538, and no AUTH in EHLO replies).")
CFG_PARAM(smtpd_tls_ccert_verifydepth, CFG_INT, CFG_F_PER_LISTENER, "9", 0, 100, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_ccert_verifydepth.")
CFG_PARAM(smtpd_tls_cert_file, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_cert_file.")
CFG_PARAM(smtpd_tls_chain_files, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_chain_files.")
CFG_PARAM(smtpd_tls_ciphers, CFG_ENUM, CFG_F_PER_LISTENER, "medium", 0, 0, CFG_W_GRADE, CFG_SEC_SMTPD,
    "See tlsproxy_tls_ciphers.")
CFG_PARAM(smtpd_tls_dcert_file, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_dcert_file.")
CFG_PARAM(smtpd_tls_dh1024_param_file, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_dh1024_param_file.")
CFG_PARAM(smtpd_tls_dh512_param_file, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_dh512_param_file.")
CFG_PARAM(smtpd_tls_dkey_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_dcert_file", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_dkey_file.")
CFG_PARAM(smtpd_tls_eccert_file, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_eccert_file.")
CFG_PARAM(smtpd_tls_eckey_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_eccert_file", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_eckey_file.")
CFG_PARAM(smtpd_tls_eecdh_grade, CFG_ENUM, CFG_F_PER_LISTENER, "auto", 0, 0, CFG_W_EECDH, CFG_SEC_SMTPD,
    "See tlsproxy_tls_eecdh_grade.")
CFG_PARAM(smtpd_tls_exclude_ciphers, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_exclude_ciphers.")
CFG_PARAM(smtpd_tls_fingerprint_digest, CFG_ENUM, CFG_F_PER_LISTENER, "sha256", 0, 0, CFG_W_DIGEST, CFG_SEC_SMTPD,
    "See tlsproxy_tls_fingerprint_digest.")
CFG_PARAM(smtpd_tls_key_file, CFG_STR, CFG_F_PER_LISTENER, "$smtpd_tls_cert_file", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_key_file.")
CFG_PARAM(smtpd_tls_loglevel, CFG_ENUM, CFG_F_PER_LISTENER, "0", 0, 0, CFG_W_LOGLEVEL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_loglevel.")
CFG_PARAM(smtpd_tls_mandatory_ciphers, CFG_ENUM, CFG_F_PER_LISTENER, "medium", 0, 0, CFG_W_GRADE, CFG_SEC_SMTPD,
    "See tlsproxy_tls_mandatory_ciphers.")
CFG_PARAM(smtpd_tls_mandatory_exclude_ciphers, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_mandatory_exclude_ciphers.")
CFG_PARAM(smtpd_tls_mandatory_protocols, CFG_STR, CFG_F_PER_LISTENER, ">=TLSv1", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_mandatory_protocols.")
CFG_PARAM(smtpd_tls_protocols, CFG_STR, CFG_F_PER_LISTENER, ">=TLSv1", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_protocols.")
CFG_PARAM(smtpd_tls_req_ccert, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_req_ccert.")
CFG_PARAM(smtpd_tls_security_level, CFG_ENUM, CFG_F_PER_LISTENER, "", 0, 0, CFG_W_SRVLEVEL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_security_level.")
CFG_PARAM(smtpd_tls_session_cache_timeout, CFG_TIME, CFG_F_PER_LISTENER, "3600s", 0, 100 * CFG_DAY, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_tls_session_cache_timeout.")
CFG_PARAM(smtpd_tls_session_cache_database, CFG_STR, CFG_F_PER_LISTENER, "", 0, 0, NULL, CFG_SEC_SMTPD,
    "Empty: no server-side session-ID cache (tickets only); set: the shared cache is used (not the file).")
CFG_PARAM(smtpd_use_tls, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_use_tls.")
CFG_PARAM(smtpd_enforce_tls, CFG_BOOL, CFG_F_PER_LISTENER, "no", 0, 0, NULL, CFG_SEC_SMTPD,
    "See tlsproxy_enforce_tls.")

/* smtp_* parameters that the defaults above refer to */
CFG_PARAM(smtp_tls_CAfile, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_CAfile.")
CFG_PARAM(smtp_tls_CApath, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_CApath.")
CFG_PARAM(smtp_tls_chain_files, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_chain_files.")
CFG_PARAM(smtp_tls_cert_file, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_cert_file.")
CFG_PARAM(smtp_tls_key_file, CFG_STR, 0, "$smtp_tls_cert_file", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_key_file.")
CFG_PARAM(smtp_tls_dcert_file, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_dcert_file.")
CFG_PARAM(smtp_tls_dkey_file, CFG_STR, 0, "$smtp_tls_dcert_file", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_dkey_file.")
CFG_PARAM(smtp_tls_eccert_file, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_eccert_file.")
CFG_PARAM(smtp_tls_eckey_file, CFG_STR, 0, "$smtp_tls_eccert_file", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_eckey_file.")
CFG_PARAM(smtp_tls_fingerprint_digest, CFG_ENUM, 0, "sha256", 0, 0, CFG_W_DIGEST, CFG_SEC_SMTP,
    "See tlsproxy_client_fingerprint_digest.")
CFG_PARAM(smtp_tls_loglevel, CFG_ENUM, 0, "0", 0, 0, CFG_W_LOGLEVEL, CFG_SEC_SMTP,
    "See tlsproxy_client_loglevel.")
CFG_PARAM(smtp_tls_scert_verifydepth, CFG_INT, 0, "9", 0, 100, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_scert_verifydepth.")
CFG_PARAM(smtp_use_tls, CFG_BOOL, 0, "no", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_use_tls.")
CFG_PARAM(smtp_enforce_tls, CFG_BOOL, 0, "no", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_enforce_tls.")
CFG_PARAM(smtp_tls_per_site, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_per_site.")
CFG_PARAM(smtp_tls_security_level, CFG_ENUM, 0, "", 0, 0, CFG_W_CLTLEVEL, CFG_SEC_SMTP,
    "See tlsproxy_client_security_level.")
CFG_PARAM(smtp_tls_policy_maps, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "See tlsproxy_client_policy_maps.")
CFG_PARAM(smtp_tls_session_cache_database, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "Empty: client-role sessions of smtp(8) requests are not cached; set: they are (in memory, not the file).")
CFG_PARAM(lmtp_tls_session_cache_database, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_SMTP,
    "Empty: client-role sessions of lmtp requests are not cached; set: they are (in memory, not the file).")

/* TLSPROXY OWN SETTINGS */
CFG_PARAM(tlsproxy_listeners, CFG_STR, CFG_F_LISTENERS, "()", 0, 0, NULL, CFG_SEC_OWN,
    "Sockets to listen on: handoff sockets and TCP (implicit TLS) ports.")
CFG_PARAM(tlsproxy_worker_threads, CFG_INT, 0, "0", 0, 4096, NULL, CFG_SEC_OWN,
    "Number of workers; a waiting session holds none. 0: twice the CPUs plus two.")
CFG_PARAM(tlsproxy_queue_limit, CFG_INT, 0, "1024", 1, 1000000, NULL, CFG_SEC_OWN,
    "New sessions that may wait for a free worker.")
CFG_PARAM(tlsproxy_max_sessions, CFG_INT, 0, "0", 0, 10000000, NULL, CFG_SEC_OWN,
    "Most live sessions, waiting ones included; 0: as many as the fd limit allows.")
CFG_PARAM(tlsproxy_client_connection_count_limit, CFG_INT, 0, "50", 0, 10000000, NULL, CFG_SEC_OWN,
    "Most live sessions from one client address; 0: no limit.")
CFG_PARAM(tlsproxy_client_connection_rate_limit, CFG_INT, 0, "0", 0, 10000000, NULL, CFG_SEC_OWN,
    "Most new sessions from one client address per time unit; 0: no limit.")
CFG_PARAM(tlsproxy_client_connection_rate_time_unit, CFG_TIME, 0, "60s", 1, CFG_DAY, NULL, CFG_SEC_OWN,
    "The time unit of tlsproxy_client_connection_rate_limit.")
CFG_PARAM(tlsproxy_client_event_limit_exceptions, CFG_NETS, 0, "127.0.0.0/8, [::1]/128", 0, 0, NULL, CFG_SEC_OWN,
    "Client networks that the per-address limits do not apply to.")
CFG_PARAM(tlsproxy_pid_file, CFG_STR, 0, TLSPROXY_RUNSTATEDIR "/tlsproxy.pid", 0, 0, NULL, CFG_SEC_OWN,
    "File that holds the daemon's process ID.")
CFG_PARAM(tlsproxy_drain_timeout, CFG_TIME, 0, "30s", 0, CFG_HOUR, NULL, CFG_SEC_OWN,
    "How long SIGTERM waits for live sessions before closing them.")
CFG_PARAM(tlsproxy_stats_socket, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "UNIX socket that answers each connection with the counters, in the Prometheus text format.")
CFG_PARAM(tlsproxy_log_service, CFG_ENUM, 0, "syslog", 0, 0, CFG_W_LOGSERVICE, CFG_SEC_OWN,
    "Where log lines go: syslog, postlog (Postfix's postlogd) or file (tlsproxy_log_file).")
CFG_PARAM(tlsproxy_log_file, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "Log to this file instead of syslog (reopened on SIGHUP, for log rotation).")
CFG_PARAM(tlsproxy_postlog_socket, CFG_STR, 0, "/var/spool/postfix/public/postlog", 0, 0, NULL, CFG_SEC_OWN,
    "Postfix's postlog socket, for tlsproxy_log_service = postlog.")
CFG_PARAM(tlsproxy_log_rate_limit, CFG_INT, 0, "100", 0, 1000000, NULL, CFG_SEC_OWN,
    "Most lines per second of one kind of log message; 0: no limit.")
CFG_PARAM(tlsproxy_user, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "Account to run as after binding sockets and loading keys (when started as root).")
CFG_PARAM(tlsproxy_group, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "Group to run as; default: the primary group of tlsproxy_user.")
CFG_PARAM(tlsproxy_chroot, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "Directory to chroot into after loading keys and binding sockets; empty: no chroot.")
CFG_PARAM(tlsproxy_tls_session_cache_timeout, CFG_TIME, CFG_F_PER_LISTENER, "$smtpd_tls_session_cache_timeout", 0, 100 * CFG_DAY, NULL, CFG_SEC_OWN,
    "Lifetime of cached TLS sessions and of ticket keys; 0 turns off resumption.")
CFG_PARAM(tlsproxy_tls_session_cache_size, CFG_INT, 0, "20480", 1, 10000000, NULL, CFG_SEC_OWN,
    "Most TLS sessions kept in the shared server session cache.")
CFG_PARAM(tlsproxy_tls_session_cache_bytes, CFG_INT, 0, "67108864", 65536, 17179869184, NULL, CFG_SEC_OWN,
    "Most memory, in bytes, used by the shared server session cache.")
CFG_PARAM(tlsproxy_tls_ticket_key_file, CFG_STR, 0, "", 0, 0, NULL, CFG_SEC_OWN,
    "Optional file with session ticket keys shared between several daemons.")

#endif /* CFG_PARAM */
