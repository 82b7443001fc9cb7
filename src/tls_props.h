/*
 * NAME
 *	tls_props - client-role TLS properties (Q2) and TLS context (R3)
 * SYNOPSIS
 *	#include "tls_props.h"
 * DESCRIPTION
 *	smtp(8) and lmtp(8) follow their client-role request with one
 *	record of three groups: the global TLS parameters of their main.cf
 *	(group A), the properties that build a client SSL_CTX (group B)
 *	and the per-session properties (group C: level, names, protocols,
 *	cipher grade, match list, TLSA records). After the handshake the
 *	proxy answers with the TLS context record that smtp(8) reads
 *	strictly.
 *
 *	tprops_client_decode() reads such a record by position and
 *	leniently: attribute names it does not know are skipped, names
 *	that a version may leave out are optional, everything else must
 *	come in order. Group A is kept as an ordered name/value list; the
 *	TLSA data is base64-decoded; the TLSRPT block (3.10+ built with
 *	USE_TLSRPT) and forced_failure_type are decoded too. The client's
 *	version is told from attributes that every build of it sends
 *	(version: 305, 306 for 3.6-3.7, 308 ... 312):
 *	- 3.12: tls_fast_shutdown_enable, or the start props' own
 *	  log_param/log_level and trace_size_limit;
 *	- 3.11: forced_failure_type, without tls_legacy_public_key_fingerprints;
 *	- 3.10: forced_failure_type (the TLSRPT block only in USE_TLSRPT
 *	  builds, so it is not the mark);
 *	- 3.9: enable_rpk; 3.8: tls_ffdhe_auto_groups;
 *	- 3.4/3.5: the old DANE encoding (dane=1 without domain/count);
 *	  without TLSA data such a client looks like 3.6.
 *	From it follows the context layout the client expects (r3):
 *	- TPROPS_R3_35: 3.4-3.5: 21 attributes;
 *	- TPROPS_R3_36: 3.6-3.8: 22 attributes;
 *	- TPROPS_R3_39: 3.9: + ctos_rpk, stoc_rpk;
 *	- TPROPS_R3_310: 3.10-3.11: + rpt_reported (every build);
 *	- TPROPS_R3_312: 3.12: + trace_size_limit.
 *
 *	The decoded strings point into the record, which must outlive
 *	the struct; tprops_client_free() releases what the struct owns
 *	(the match list and the TLSA records).
 *
 *	tprops_context_encode() writes the context record for a layout;
 *	tprops_context_summary() formats the handshake summary from the
 *	context fields as Postfix logs it: "TLSv1.3 with cipher X (256/256
 *	bits) key-exchange X25519 server-signature RSA-PSS (2048 bits)
 *	server-digest SHA256"; tprops_trust() names the trust level
 *	("Anonymous", "Untrusted", "Trusted", "Verified").
 *
 *	tprops_b64_decode() decodes standard base64 with padding.
 * DIAGNOSTICS
 *	tprops_client_decode(): -1 with a reason in err ("missing
 *	attribute tls_level", "malformed numerical data for count: x",
 *	...), the struct then holds nothing to free.
 */
#ifndef TLSPROXY_TLS_PROPS_H
#define TLSPROXY_TLS_PROPS_H

#include <stddef.h>

#include "attr.h"

/* tls_level values (request) and level (context). */
#define TPROPS_LEV_NONE		0
#define TPROPS_LEV_MAY		1
#define TPROPS_LEV_ENCRYPT	2
#define TPROPS_LEV_FPRINT	3
#define TPROPS_LEV_HALF_DANE	4
#define TPROPS_LEV_DANE		5
#define TPROPS_LEV_DANE_ONLY	6
#define TPROPS_LEV_VERIFY	7
#define TPROPS_LEV_SECURE	8

/* peer_status bits. */
#define TPROPS_PEER_PRESENT	(1 << 0)
#define TPROPS_PEER_ALTNAME	(1 << 1)
#define TPROPS_PEER_TRUSTED	(1 << 2)
#define TPROPS_PEER_MATCHED	(1 << 3)
#define TPROPS_PEER_SECURED	(1 << 4)

#define TPROPS_MATCH_MAX	256	/* match names accepted */
#define TPROPS_TLSA_MAX		256	/* TLSA records accepted */
#define TPROPS_PARAMS_MAX	64	/* group A attributes kept */

enum tprops_r3 {
	TPROPS_R3_35 = 1,
	TPROPS_R3_36,
	TPROPS_R3_39,
	TPROPS_R3_310,
	TPROPS_R3_312,
};

struct tprops_kv {
	const char	*name;		/* borrowed from the record */
	const char	*value;
};

struct tprops_tlsa {
	unsigned int	 usage;
	unsigned int	 selector;
	unsigned int	 mtype;
	unsigned char	*data;		/* owned: decoded bytes */
	size_t		 len;
};

/* The TLSRPT block of a 3.10+ request (USE_TLSRPT builds). */
struct tprops_tlsrpt {
	unsigned int	 enabled;	/* tlsrpt=1: the rest is set */
	const char	*socket_name;
	const char	*policy_domain;
	const char	*policy_string;
	unsigned int	 policy_type;
	const char	**policy_strings;	/* owned array */
	size_t		 npolicy_strings;
	const char	*tls_policy_domain;
	const char	**mx_patterns;		/* owned array */
	size_t		 nmx_patterns;
	const char	*snd_mta_addr;
	const char	*rcv_mta_name;
	const char	*rcv_mta_addr;
	const char	*rcv_mta_ehlo;
	unsigned int	 skip_reused_hs;
	unsigned int	 flags;
};

struct tprops_client {
	/* Group A: TLS_CLIENT_PARAMS, in request order. */
	struct tprops_kv params[TPROPS_PARAMS_MAX];
	size_t		 nparams;
	/* Group B: TLS_CLIENT_INIT_PROPS. */
	const char	*log_param;
	const char	*log_level;
	unsigned int	 verifydepth;
	const char	*cache_type;
	const char	*chain_files;
	const char	*cert_file;
	const char	*key_file;
	const char	*dcert_file;
	const char	*dkey_file;
	const char	*eccert_file;
	const char	*eckey_file;
	const char	*CAfile;
	const char	*CApath;
	const char	*init_mdalg;
	/* Group C: TLS_CLIENT_START_PROPS. */
	unsigned int	 timeout;
	unsigned int	 tls_level;
	const char	*nexthop;
	const char	*host;
	const char	*namaddr;
	const char	*sni;
	const char	*serverid;
	const char	*helo;
	const char	*protocols;
	const char	*cipher_grade;
	const char	*cipher_exclusions;
	const char	**match;	/* owned array of borrowed strings */
	size_t		 nmatch;
	const char	*mdalg;
	unsigned int	 dane;		/* 1: TLSA data was sent */
	const char	*dane_domain;	/* "" without DANE */
	struct tprops_tlsa *tlsa;	/* owned */
	size_t		 ntlsa;
	int		 legacy_dane;	/* 3.4/3.5 TLSA encoding (not used) */
	int		 has_tlsrpt;	/* the request has a TLSRPT block */
	struct tprops_tlsrpt tlsrpt;
	const char	*forced_failure;	/* 3.10+: external policy failure, or NULL */
	unsigned int	 version;	/* 305, 306 (3.6-3.7), 308 ... 312 */
	enum tprops_r3	 r3;		/* context layout to answer with */
};

int	tprops_client_decode(const struct attr_rec *, struct tprops_client *,
	    char *err, size_t errlen);

/*
 * 3.12 server role: postscreen (and smtpd) follow the request with the
 * server TLS settings: TLS_SERVER_PARAMS, TLS_SERVER_INIT_PROPS and
 * TLS_SERVER_START_PROPS in one record. tprops_server_decode() reads
 * it strictly by position (every attribute of the three groups, in
 * order; unknown extra ones after a group are skipped).
 */
struct tprops_server {
	struct tprops_kv params[TPROPS_PARAMS_MAX];	/* group A, in order */
	size_t		 nparams;
	/* Group B: TLS_SERVER_INIT_PROPS. */
	const char	*log_param;
	const char	*log_level;
	unsigned int	 verifydepth;
	const char	*cache_type;
	unsigned int	 set_sessid;
	const char	*chain_files;
	const char	*cert_file;
	const char	*key_file;
	const char	*dcert_file;
	const char	*dkey_file;
	const char	*eccert_file;
	const char	*eckey_file;
	const char	*CAfile;
	const char	*CApath;
	const char	*protocols;
	const char	*eecdh_grade;
	const char	*dh1024_param_file;
	const char	*dh512_param_file;
	unsigned int	 ask_ccert;
	const char	*mdalg;
	/* Group C: TLS_SERVER_START_PROPS. */
	unsigned int	 timeout;
	unsigned int	 enable_rpk;
	unsigned int	 requirecert;
	const char	*serverid;
	const char	*namaddr;
	const char	*cipher_grade;
	const char	*cipher_exclusions;
	const char	*start_mdalg;
	unsigned int	 trace_size_limit;
	const char	*trace_peer;
};

int	tprops_server_decode(const struct attr_rec *, struct tprops_server *,
	    char *err, size_t errlen);
void	tprops_client_free(struct tprops_client *);
/* Value of a group A parameter, or NULL when the request has none. */
const char *tprops_param(const struct tprops_client *, const char *name);
const char *tprops_level_name(unsigned int level);

#define TPROPS_CN_MAX		256
#define TPROPS_FPRINT_MAX	(64 * 3 + 1)	/* SHA-512 as AB:CD:... */
#define TPROPS_NAME_MAX		64
#define TPROPS_NAMADDR_MAX	600

/* R3: TLS_SESS_STATE as the client role sends it. */
struct tprops_context {
	char		 peer_CN[TPROPS_CN_MAX];
	char		 issuer_CN[TPROPS_CN_MAX];
	char		 peer_fingerprint[TPROPS_FPRINT_MAX];
	char		 peer_pubkey_fingerprint[TPROPS_FPRINT_MAX];
	unsigned int	 level;
	unsigned int	 peer_status;
	char		 cipher_protocol[TPROPS_NAME_MAX];
	char		 cipher_name[TPROPS_NAME_MAX * 2];
	unsigned int	 cipher_usebits;
	unsigned int	 cipher_algbits;
	char		 key_exchange[TPROPS_NAME_MAX];
	char		 key_exchange_curve[TPROPS_NAME_MAX];
	unsigned int	 key_exchange_bits;
	unsigned int	 ctos_rpk;	/* 3.9+ only */
	unsigned int	 stoc_rpk;
	char		 clnt_signature[TPROPS_NAME_MAX];
	char		 clnt_signature_curve[TPROPS_NAME_MAX];
	unsigned int	 clnt_signature_bits;
	char		 clnt_signature_digest[TPROPS_NAME_MAX];
	char		 srvr_signature[TPROPS_NAME_MAX];
	char		 srvr_signature_curve[TPROPS_NAME_MAX];
	unsigned int	 srvr_signature_bits;
	char		 srvr_signature_digest[TPROPS_NAME_MAX];
	char		 namaddr[TPROPS_NAMADDR_MAX];
	unsigned int	 rpt_reported;	/* 3.10+ only */
	unsigned int	 trace_size_limit;	/* 3.12 only */
};

/* Append the context attributes for layout r3 to out (empty); 0 or -1. */
int	tprops_context_encode(const struct tprops_context *, enum tprops_r3,
	    struct attr_rec *out);
void	tprops_context_summary(const struct tprops_context *, char *buf,
	    size_t buflen);
const char *tprops_trust(unsigned int peer_status);

/* Decoded length, or -1 on bad input or when out is too small. */
long	tprops_b64_decode(const char *in, unsigned char *out, size_t outlen);

#endif
