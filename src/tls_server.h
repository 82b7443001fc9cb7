/*
 * NAME
 *	tls_server - server SSL_CTX from properties; SSL_accept by deadline
 * SYNOPSIS
 *	#include "tls_server.h"
 * DESCRIPTION
 *	tlss_ctx_new() builds one SSL_CTX from a props struct (no
 *	libconfig here, so it tests without a config file). The context
 *	is read-only afterwards and shared by every worker; reload builds
 *	a new one. RSA and ECDSA certificates may be loaded together:
 *	OpenSSL then picks, per client, the one the client can verify.
 *	chain_files holds one or more PEM files, each with one or more
 *	key + certificate chain groups.
 *
 *	Optional settings follow Postfix's server: client certificates
 *	(ask_ccert; req_ccert fails the handshake without a trusted one),
 *	the key-exchange groups (tls_eecdh_auto_curves, names OpenSSL does
 *	not know are skipped), DH parameters for DHE suites, server cipher
 *	preference, disabled bug workarounds, session ids, and SNI: with
 *	tls_server_sni_maps, each distinct set of chain files gets its own
 *	SSL_CTX, chosen per connection from the client's SNI name; names
 *	not in the maps keep the default certificates.
 *
 *	tlss_ssl_new() makes the SSL for one connection in the accept
 *	state; tls_handshake_run() (tls_common.h) drives the handshake.
 * DIAGNOSTICS
 *	tlss_ctx_new(): NULL with a reason in err (file names included),
 *	and in *bad the setting it is about.
 *	tlss_ssl_new(): NULL; OpenSSL errors are logged by the caller
 *	with tls_log_errors().
 */
#ifndef TLSPROXY_TLS_SERVER_H
#define TLSPROXY_TLS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <openssl/ssl.h>

struct sni_map;
struct scache;

struct tlss_props {
	const char	*cert_file;	/* RSA */
	const char	*key_file;
	const char	*eccert_file;	/* ECDSA */
	const char	*eckey_file;
	const char	*dcert_file;	/* DSA */
	const char	*dkey_file;
	const char	*chain_files;	/* comma/space separated PEM files */
	const char	*CAfile;
	const char	*CApath;
	int		 append_default_CA;
	const char	*protocols;	/* Postfix syntax, already chosen by level */
	const char	*cipherlist;	/* OpenSSL string, already chosen by level */
	const char	*curves;	/* tls_eecdh_auto_curves */
	const char	*ffdhe;		/* tls_ffdhe_auto_groups, or NULL */
	const char	*dh_param_file;	/* tlsproxy_tls_dh1024_param_file; "" or "auto" */
	int		 ask_ccert;	/* request a client certificate */
	int		 req_ccert;	/* require a trusted one (fail the handshake) */
	int		 verifydepth;	/* client certificate chain depth */
	const char	*mdalg;		/* fingerprint digest */
	int		 legacy_pkey_fprint;	/* tls_legacy_public_key_fingerprints */
	int		 preempt;	/* server cipher order */
	const char	*disable_workarounds;	/* names or 0x mask */
	int		 issue_session_ids;	/* always_issue_session_ids */
	const char	*sni_maps;	/* tls_server_sni_maps */
	int		 loglevel;	/* 0..4 */
	struct scache	*cache;		/* shared session cache, or NULL */
	long		 cache_timeout;	/* seconds; 0: no cache, no tickets */
	int		 tickets;	/* use the tickets module's key ring */
};

struct tlss_ctx {
	unsigned int	 magic;		/* TLSS_CTX_MAGIC */
	SSL_CTX		*ctx;		/* owned */
	int		 loglevel;
	int		 ncerts;	/* server certificates loaded */
	int		 ask_ccert;
	int		 req_ccert;
	int		 verifydepth;	/* Postfix's ccert_verifydepth */
	char		 mdalg[32];
	int		 legacy_pkey_fprint;
	struct scache	*cache;		/* borrowed; NULL: no server-side cache */
	long		 cache_timeout;
	struct sni_map	*sni;		/* owned, or NULL */
	SSL_CTX		**sni_ctx;	/* owned: one per distinct sni_map value */
	size_t		 nsni;
};
#define TLSS_CTX_MAGIC	0x544c5343u

/* Which setting an error of tlss_ctx_new() is about. */
enum tlss_field {
	TLSS_F_OTHER = 0,
	TLSS_F_PROTOCOLS,
	TLSS_F_WORKAROUNDS,
	TLSS_F_CIPHERS,
	TLSS_F_GROUPS,		/* curves (and ffdhe) */
	TLSS_F_DH,
	TLSS_F_CERT,
	TLSS_F_KEY,
	TLSS_F_ECCERT,
	TLSS_F_ECKEY,
	TLSS_F_DCERT,
	TLSS_F_DKEY,
	TLSS_F_CHAIN,
	TLSS_F_CA,		/* CAfile, or CApath when no CAfile */
	TLSS_F_MDALG,
	TLSS_F_SNI_MAPS
};

struct tlss_ctx	*tlss_ctx_new(const struct tlss_props *, enum tlss_field *bad,
		    char *err, size_t errlen);
void		 tlss_ctx_free(struct tlss_ctx *);

#define TLSS_SID_CTX_LEN	32

/*
 * New SSL on fd. label (borrowed, must outlive the SSL) names the peer
 * in logs. sid_ctx (borrowed, TLSS_SID_CTX_LEN bytes, must outlive the
 * SSL) scopes session resumption: sessions made under one context are
 * never resumed under another; tlss_sid_ctx() derives it from the
 * listener and, for handoff, the request's service id.
 */
SSL		*tlss_ssl_new(struct tlss_ctx *, int fd, const char *label,
		    const unsigned char *sid_ctx);
void		 tlss_sid_ctx(const char *scope, unsigned char out[TLSS_SID_CTX_LEN]);
/* After a completed handshake: count it as full, resumed by ticket or by id. */
void		 tlss_count_handshake(SSL *);


/*
 * After a completed handshake, log as Postfix's server does (loglevel
 * >= 1): the client certificate line when there is one, then
 * "<Trust> TLS connection established from <peer>[ to <sni>]: <summary>".
 */
void		 tlss_log_established(struct tlss_ctx *, SSL *, const char *peer);

/* Workaround bits to clear for a tls_disable_workarounds value; -1 if bad. */
int		 tlss_workaround_mask(const char *spec, uint64_t *mask,
		    char *err, size_t errlen);

#endif
