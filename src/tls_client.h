/*
 * NAME
 *	tls_client - client SSL_CTX cache, security levels, SSL_connect, reuse
 * SYNOPSIS
 *	#include "tls_client.h"
 * DESCRIPTION
 *	The TLS client role for smtp(8) and lmtp(8) with connection reuse.
 *	The props structs carry what the request and the daemon's own
 *	settings say; nothing here reads the configuration.
 *
 *	tlsc_ctx_get() returns a client SSL_CTX for a set of init
 *	properties (client certificates, CA certificates, verify depth,
 *	fingerprint digest, curves, work-arounds, log level). Contexts are
 *	cached by the serialized properties and shared by every worker: a
 *	small mutex-protected list, built outside the lock, reference
 *	counted so that one in use is never freed; the least recently used
 *	unreferenced ones are dropped beyond TLSC_CTX_CACHE_MAX. Each
 *	context is read-only once built. tlsc_ctx_release() drops the
 *	caller's reference; tlsc_ctx_flush() empties the cache (what is
 *	still referenced is freed with its last reference).
 *
 *	tlsc_ssl_new() makes the SSL for one session and applies the start
 *	properties as Postfix's TLS client does: protocol range, cipher
 *	list, SNI ("" sends none, "hostname"/"nexthop" name the request's
 *	host/nexthop), and per security level:
 *	- may, encrypt: no authentication required; the chain is still
 *	  checked against the CA certificates, which only changes the
 *	  logged trust ("Trusted" instead of "Untrusted");
 *	- fingerprint: the request's TLSA records (usage 3, mtype 255 =
 *	  digest with the fingerprint algorithm) through OpenSSL's DANE
 *	  code, without name checks;
 *	- dane, dane-only, half-dane: the TLSA records (usages 2 and 3,
 *	  mtypes 0, 1, 2), SNI = the TLSA base domain, names from the
 *	  match list for trust-anchor matches; with no usable record dane
 *	  falls back to encrypt, dane-only fails;
 *	- verify, secure: chain verification against the CA certificates
 *	  plus host name checks from the match list ("hostname", "nexthop",
 *	  "dot-nexthop", literal names, ".domain" for sub-domains);
 *	  TLSA records, when present, add trust anchors.
 *	Certificate problems never abort the handshake; they decide the
 *	peer status afterwards. A session cached under the same key
 *	(session cache type, serverid, EHLO name, SNI, level, protocols,
 *	cipher list, digest, match names, TLSA records and init
 *	properties) is offered for resumption; new sessions, including
 *	TLS 1.3 tickets that arrive after the handshake, are stored under
 *	that key in a private, bounded, expiring cache. The session state
 *	lives in the SSL's ex_data and is freed with the SSL.
 *
 *	tlsc_ssl_new() makes the SSL in the connect state;
 *	tls_handshake_run() (tls_common.h) drives the handshake.
 *
 *	tlsc_finish() fills the TLS context record after a completed
 *	handshake: peer CN, issuer CN, fingerprints, effective level,
 *	peer_status (PRESENT; TRUSTED when verification succeeded;
 *	MATCHED and SECURED when the level requires a match, except
 *	SECURED for half-dane), protocol, cipher and the TLS 1.3 key
 *	exchange and signature details (no signatures for a resumed
 *	session). Where Postfix releases differ it follows the requesting
 *	client's (pf_version): from 3.10 the key exchange is OpenSSL's
 *	group name, and a good chain with only the wrong name is TRUSTED
 *	(not MATCHED). A forced_failure_type (3.10+: an MTA-STS policy
 *	that failed outside TLS) makes authentication fail, logged as
 *	"external policy failure". It logs as Postfix's client does:
 *	"certificate verification failed for NAMADDR: REASON" when the
 *	level requires a match (or at log level 2 and up), and at log
 *	level 1 and up "Untrusted|Trusted|Verified|Anonymous TLS
 *	connection established to NAMADDR: SUMMARY".
 * DIAGNOSTICS
 *	tlsc_ctx_get(), tlsc_ssl_new(): NULL with a reason in err.
 *	OpenSSL errors are left in the queue for the caller's
 *	tls_log_errors().
 */
#ifndef TLSPROXY_TLS_CLIENT_H
#define TLSPROXY_TLS_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "tls_props.h"

#define TLSC_CTX_CACHE_MAX	16	/* cached client contexts */
#define TLSC_SESS_TIMEOUT	3600	/* seconds a client session is kept */

struct tlsc_init_props {
	int		 loglevel;	/* 0..4 */
	int		 verifydepth;	/* server chain depth, leaf not counted */
	const char	*cache_type;	/* "smtp", "lmtp" */
	const char	*chain_files;	/* client key + chain PEM files */
	const char	*cert_file;	/* RSA */
	const char	*key_file;
	const char	*dcert_file;	/* DSA */
	const char	*dkey_file;
	const char	*eccert_file;	/* ECDSA */
	const char	*eckey_file;
	const char	*CAfile;
	const char	*CApath;
	int		 append_default_CA;
	const char	*mdalg;		/* fingerprint digest */
	const char	*curves;	/* tls_eecdh_auto_curves */
	const char	*disable_workarounds;
};

struct tlsc_start_props {
	unsigned int	 level;		/* TPROPS_LEV_* */
	const char	*namaddr;	/* "host[addr]:port", logs and context */
	const char	*nexthop;
	const char	*host;
	const char	*sni;
	const char	*serverid;	/* session cache key parts: */
	const char	*helo;
	const char	*protocols;	/* Postfix syntax */
	const char	*cipherlist;	/* OpenSSL cipher string */
	const char *const *match;	/* name match list */
	size_t		 nmatch;
	const char	*mdalg;
	const char	*dane_domain;	/* TLSA base domain or "" */
	const struct tprops_tlsa *tlsa;
	size_t		 ntlsa;
	int		 legacy_pkey_fprint;	/* tls_legacy_public_key_fingerprints */
	int		 cache;		/* use the client session cache */
	unsigned int	 pf_version;	/* requesting Postfix (306 ... 312), 0: current */
	const char	*forced_failure;	/* 3.10+ forced_failure_type, or NULL */
};

struct tlsc_ctx;

struct tlsc_ctx	*tlsc_ctx_get(const struct tlsc_init_props *, char *err,
		    size_t errlen);
void		 tlsc_ctx_release(struct tlsc_ctx *);
void		 tlsc_ctx_flush(void);
size_t		 tlsc_ctx_cached(void);

/* The SSL is not yet bound to a descriptor: SSL_set_fd() it. */
SSL		*tlsc_ssl_new(struct tlsc_ctx *, const struct tlsc_start_props *,
		    char *err, size_t errlen);
/* The level in effect (DANE may fall back to encrypt). */
unsigned int	 tlsc_level(SSL *);

void		 tlsc_finish(SSL *, struct tprops_context *);
/*
 * After tlsc_finish(): the TLSRPT failure type Postfix's tlsproxy
 * would report for this session ("tlsa-invalid", "certificate-expired",
 * ...), or NULL (none; name mismatches are the client's to report).
 */
const char	*tlsc_rpt_failure(SSL *, const struct tprops_context *);

#endif
