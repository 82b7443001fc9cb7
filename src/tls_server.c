/*
 * NAME
 *	tls_server - server SSL_CTX from properties; SSL_accept by deadline
 * DESCRIPTION
 *	See tls_server.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "scache.h"
#include "sni_map.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_files.h"
#include "tickets.h"
#include "tls_server.h"

static int tlss_label_idx = -1;	/* SSL ex_data: peer label for logs */
static int tlss_sni_idx = -1;		/* SSL ex_data: non-NULL when SNI matched */
static int tlss_ctx_idx = -1;		/* SSL_CTX ex_data: owning struct tlss_ctx */
static int tlss_sidctx_idx = -1;	/* SSL ex_data: the session id context */
static int tlss_cachehit_idx = -1;	/* SSL ex_data: non-NULL after a cache hit */
static pthread_once_t tlss_once = PTHREAD_ONCE_INIT;

static void
tlss_once_init(void)
{
	tlss_label_idx = SSL_get_ex_new_index(0, "tlsproxy peer label", NULL,
	    NULL, NULL);
	tlss_sni_idx = SSL_get_ex_new_index(0, "tlsproxy SNI matched", NULL,
	    NULL, NULL);
	tlss_ctx_idx = SSL_CTX_get_ex_new_index(0, "tlsproxy server context",
	    NULL, NULL, NULL);
	tlss_sidctx_idx = SSL_get_ex_new_index(0, "tlsproxy sid ctx", NULL,
	    NULL, NULL);
	tlss_cachehit_idx = SSL_get_ex_new_index(0, "tlsproxy cache hit", NULL,
	    NULL, NULL);
}

/*
 * Server session cache callbacks. The cache key is the session id
 * context (listener + service id) followed by the session id, so one
 * listener never finds another's sessions. Serialization happens
 * outside the cache's locks; the cache only copies bytes.
 */
#define TLSS_CACHE_KEY_MAX	(TLSS_SID_CTX_LEN + SSL_MAX_SSL_SESSION_ID_LENGTH)

static size_t
tlss_cache_key(const unsigned char *ctx, size_t ctxlen, const unsigned char *id,
    size_t idlen, unsigned char *key)
{
	if (ctxlen > TLSS_SID_CTX_LEN)
		ctxlen = TLSS_SID_CTX_LEN;
	if (idlen > SSL_MAX_SSL_SESSION_ID_LENGTH)
		idlen = SSL_MAX_SSL_SESSION_ID_LENGTH;
	memcpy(key, ctx, ctxlen);
	memcpy(key + ctxlen, id, idlen);
	return (ctxlen + idlen);
}

static int
tlss_cache_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tlss_ctx *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlss_ctx_idx);
	unsigned char key[TLSS_CACHE_KEY_MAX], *der = NULL;
	const unsigned char *id, *ctx;
	unsigned int idlen, ctxlen;
	int	 len;
	int64_t	 now;

	if (t == NULL || t->cache == NULL || t->cache_timeout <= 0)
		return (0);
	/*
	 * A TLS 1.3 session sent out as a stateless ticket lives in the
	 * ticket; OpenSSL still calls us once per ticket (two per
	 * handshake, resumptions too): storing them would only churn the
	 * cache and its lock.
	 */
	if (SSL_version(ssl) == TLS1_3_VERSION &&
	    (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0)
		return (0);
	id = SSL_SESSION_get_id(sess, &idlen);
	ctx = SSL_SESSION_get0_id_context(sess, &ctxlen);
	if (idlen == 0 || (len = i2d_SSL_SESSION(sess, &der)) <= 0)
		return (0);
	now = sys_now_ms();
	(void)scache_put(t->cache, key, tlss_cache_key(ctx, ctxlen, id, idlen, key),
	    der, (size_t)len, now + t->cache_timeout * 1000, now);
	OPENSSL_clear_free(der, (size_t)len);	/* the master secret is in it */
	return (0);			/* we keep no reference to sess */
}

static SSL_SESSION *
tlss_cache_get_cb(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
	struct tlss_ctx *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tlss_ctx_idx);
	const unsigned char *ctx = SSL_get_ex_data(ssl, tlss_sidctx_idx);
	unsigned char key[TLSS_CACHE_KEY_MAX];
	const unsigned char *p;
	SSL_SESSION *sess;
	void	*val;
	size_t	 vlen;

	*copy = 0;
	if (t == NULL || t->cache == NULL || ctx == NULL || idlen <= 0)
		return (NULL);
	if (scache_get(t->cache, key, tlss_cache_key(ctx, TLSS_SID_CTX_LEN, id,
	    (size_t)idlen, key), &val, &vlen, sys_now_ms()) != 1)
		return (NULL);
	p = val;
	sess = d2i_SSL_SESSION(NULL, &p, (long)vlen);
	OPENSSL_cleanse(val, vlen);	/* holds the session's master secret */
	free(val);
	if (sess != NULL)
		SSL_set_ex_data(ssl, tlss_cachehit_idx, (void *)1);
	return (sess);
}

static void
tlss_cache_remove_cb(SSL_CTX *sctx, SSL_SESSION *sess)
{
	struct tlss_ctx *t = SSL_CTX_get_ex_data(sctx, tlss_ctx_idx);
	unsigned char key[TLSS_CACHE_KEY_MAX];
	const unsigned char *id, *ctx;
	unsigned int idlen, ctxlen;

	if (t == NULL || t->cache == NULL)
		return;
	id = SSL_SESSION_get_id(sess, &idlen);
	ctx = SSL_SESSION_get0_id_context(sess, &ctxlen);
	(void)scache_remove(t->cache, key, tlss_cache_key(ctx, ctxlen, id, idlen, key));
}

void
tlss_sid_ctx(const char *scope, unsigned char out[TLSS_SID_CTX_LEN])
{
	unsigned int len = 0;

	/* SHA-256: a fixed 32 bytes, the most OpenSSL accepts. */
	EVP_Digest(scope, strlen(scope), out, &len, EVP_sha256(), NULL);
}

void
tlss_count_handshake(SSL *ssl)
{
	if (!SSL_session_reused(ssl))
		STATS_INC(STAT_HANDSHAKE_FULL);
	else if (SSL_get_ex_data(ssl, tlss_cachehit_idx) != NULL)
		STATS_INC(STAT_HANDSHAKE_RESUMED_ID);
	else
		STATS_INC(STAT_HANDSHAKE_RESUMED_TICKET);
}

/* Postfix's names for the OpenSSL bug workarounds it lets one disable. */
static const struct {
	const char *name;
	uint64_t bits;
} tlss_workarounds[] = {
	{ "CRYPTOPRO_TLSEXT_BUG", SSL_OP_CRYPTOPRO_TLSEXT_BUG },
	{ "DONT_INSERT_EMPTY_FRAGMENTS", SSL_OP_DONT_INSERT_EMPTY_FRAGMENTS },
	{ "LEGACY_SERVER_CONNECT", SSL_OP_LEGACY_SERVER_CONNECT },
	{ "MICROSOFT_BIG_SSLV3_BUFFER", 0 },	/* no-ops in OpenSSL 3 */
	{ "MICROSOFT_SESS_ID_BUG", 0 },
	{ "MSIE_SSLV2_RSA_PADDING", 0 },
	{ "NETSCAPE_CHALLENGE_BUG", 0 },
	{ "NETSCAPE_REUSE_CIPHER_CHANGE_BUG", 0 },
	{ "SSLEAY_080_CLIENT_DH_BUG", 0 },
	{ "SSLREF2_REUSE_CERT_TYPE_BUG", 0 },
	{ "TLS_BLOCK_PADDING_BUG", 0 },
	{ "TLS_D5_BUG", 0 },
	{ "TLS_ROLLBACK_BUG", 0 },
	{ "TLSEXT_PADDING", SSL_OP_TLSEXT_PADDING },
	{ "SAFARI_ECDHE_ECDSA_BUG", SSL_OP_SAFARI_ECDHE_ECDSA_BUG },
};

int
tlss_workaround_mask(const char *spec, uint64_t *mask, char *err, size_t errlen)
{
	char	 buf[1024], *tok, *save, *end;
	unsigned long long v;
	size_t	 i;

	*mask = 0;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "value too long");
		return (-1);
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (strncasecmp(tok, "0x", 2) == 0) {
			errno = 0;
			v = strtoull(tok, &end, 16);
			if (errno != 0 || *end != '\0' || end == tok + 2) {
				snprintf(err, errlen, "bad bit "
				    "mask \"%s\"", tok);
				return (-1);
			}
			*mask |= (uint64_t)v;
			continue;
		}
		for (i = 0; i < sizeof(tlss_workarounds) / sizeof(tlss_workarounds[0]); i++)
			if (strcasecmp(tok, tlss_workarounds[i].name) == 0)
				break;
		if (i == sizeof(tlss_workarounds) / sizeof(tlss_workarounds[0])) {
			snprintf(err, errlen, "unknown "
			    "workaround \"%s\" (known: CRYPTOPRO_TLSEXT_BUG, "
			    "DONT_INSERT_EMPTY_FRAGMENTS, LEGACY_SERVER_CONNECT, "
			    "TLSEXT_PADDING, ... or a 0x bit mask)", tok);
			return (-1);
		}
		*mask |= tlss_workarounds[i].bits;
	}
	*mask &= (uint64_t)SSL_OP_ALL;
	return (0);
}

/* tlss_info_cb - loglevel >= 2: handshake progress, as Postfix does */
static void
tlss_info_cb(const SSL *ssl, int where, int ret)
{
	const char *label = SSL_get_ex_data(ssl, tlss_label_idx);

	tls_log_state(ssl, label ? label : "unknown", where, ret);
}

/* tlss_hexdump - loglevel >= 3: Postfix-style hex and ASCII lines */
static void
tlss_hexdump(const char *label, const unsigned char *p, size_t len)
{
	char	 line[128];
	size_t	 row, i, n;

	if (len > 4096)
		len = 4096;		/* bounded: this is for debugging */
	for (row = 0; row < len; row += 16) {
		n = (size_t)snprintf(line, sizeof(line), "%04zx ", row);
		for (i = row; i < row + 16; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    i < len ? "%02x%c" : "   ", i < len ? p[i] : 0,
			    i - row == 7 ? '|' : ' ');
		for (i = row; i < row + 16 && i < len; i++)
			line[n++] = (p[i] >= 32 && p[i] < 127) ? (char)p[i] : '.';
		line[n] = '\0';
		log_trace("%s: %s", label, line);
	}
}

/* tlss_msg_cb - loglevel 3: handshake messages; 4: every record */
static void
tlss_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	const char *label = SSL_get_ex_data(ssl, tlss_label_idx);
	struct tlss_ctx *t = arg;

	(void)version;
	/* Level 3: the handshake, records included; level 4: everything. */
	if (t->loglevel < 4 && !SSL_in_init(ssl))
		return;
	log_trace("%s: %s %s record type %d, %zu bytes", label ? label : "unknown",
	    write_p ? "sent" : "received",
	    content_type == SSL3_RT_HANDSHAKE ? "handshake" :
	    content_type == SSL3_RT_ALERT ? "alert" :
	    content_type == SSL3_RT_HEADER ? "header" : "other", content_type, len);
	tlss_hexdump(label ? label : "unknown", buf, len);
}

/*
 * tlss_verify_cb - client certificates. As Postfix: a chain deeper than
 * ccert_verifydepth is an error (CERT_CHAIN_TOO_LONG); with req_ccert
 * any error fails the handshake, with ask_ccert it is only recorded
 * (the client is then "Untrusted").
 */
static int
tlss_verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL	*ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tlss_ctx *t = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    tlss_ctx_idx) : NULL;

	if (t == NULL)
		return (ok);
	if (X509_STORE_CTX_get_error_depth(store) > t->verifydepth) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_CHAIN_TOO_LONG);
		ok = 0;
	}
	return (t->req_ccert ? ok : 1);
}

/* tlss_sni_cb - switch to the SSL_CTX whose chain matches the SNI name */
static int
tlss_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tlss_ctx *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char *label = SSL_get_ex_data(ssl, tlss_label_idx);
	const char *val, *v;
	size_t	 i;

	(void)alert;
	if (name == NULL || *name == '\0')
		return (SSL_TLSEXT_ERR_NOACK);
	if ((val = sni_map_lookup(t->sni, name)) != NULL) {
		for (i = 0; i < t->nsni && (v = sni_map_value(t->sni, i)) != NULL; i++) {
			if (v == val || strcmp(v, val) == 0) {
				if (SSL_set_SSL_CTX(ssl, t->sni_ctx[i]) == NULL)
					break;
				SSL_set_ex_data(ssl, tlss_sni_idx, (void *)name);
				return (SSL_TLSEXT_ERR_OK);
			}
		}
	}
	log_warnx("TLS SNI %.255s from %s not matched, using default chain", name,
	    label ? label : "unknown");
	return (SSL_TLSEXT_ERR_NOACK);
}

/* tlss_groups_add - append the names of spec this OpenSSL implements */
static void
tlss_groups_add(SSL_CTX *probe, const char *what, const char *spec,
    char *list, size_t len, size_t *n)
{
	char	 buf[1024], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", spec);
	/* As Postfix: skip names this OpenSSL does not implement. */
	for (tok = strtok_r(buf, " \t,:", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,:", &save)) {
		if (SSL_CTX_set1_groups_list(probe, tok) != 1) {
			ERR_clear_error();
			log_debug("%s: skipping unsupported group %s", what, tok);
			continue;
		}
		*n += (size_t)snprintf(list + *n, len - *n, "%s%s", *n ? ":" : "",
		    tok);
		if (*n >= len)
			*n = len - 1;
	}
}

/*
 * tlss_set_groups - the supported names of tls_eecdh_auto_curves (at
 * least one), then of tls_ffdhe_auto_groups, in order
 */
static int
tlss_set_groups(SSL_CTX *ctx, const char *curves, const char *ffdhe, char *err,
    size_t errlen)
{
	char	 list[2048];
	size_t	 n = 0;
	SSL_CTX	*probe;

	if (strlen(curves) >= 1024 || strlen(ffdhe) >= 1024) {
		snprintf(err, errlen, "value too long");
		return (-1);
	}
	if ((probe = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	list[0] = '\0';
	tlss_groups_add(probe, "tls_eecdh_auto_curves", curves, list, sizeof(list),
	    &n);
	if (n == 0) {
		SSL_CTX_free(probe);
		snprintf(err, errlen, "no supported group in "
		    "\"%s\"", curves);
		return (-1);
	}
	tlss_groups_add(probe, "tls_ffdhe_auto_groups", ffdhe, list, sizeof(list),
	    &n);
	SSL_CTX_free(probe);
	if (SSL_CTX_set1_groups_list(ctx, list) != 1) {
		snprintf(err, errlen, "cannot use the groups \"%s\"", list);
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

/* tlss_set_dh - DH parameters for DHE suites: a PEM file, or OpenSSL's choice */
static int
tlss_set_dh(SSL_CTX *ctx, const char *file, char *err, size_t errlen)
{
	EVP_PKEY *dh;
	BIO	*bio;
	char	 ebuf[256];

	if (*file == '\0' || strcasecmp(file, "auto") == 0) {
		SSL_CTX_set_dh_auto(ctx, 1);
		return (0);
	}
	if ((bio = tlsf_open(file, "DH parameter file", 0, err, errlen)) == NULL)
		return (-1);
	dh = PEM_read_bio_Parameters(bio, NULL);
	BIO_free(bio);
	/* OpenSSL 3 "dhparam -dsaparam" writes X9.42 (DHX) parameters. */
	if (dh == NULL || (!EVP_PKEY_is_a(dh, "DH") && !EVP_PKEY_is_a(dh, "DHX"))) {
		EVP_PKEY_free(dh);
		snprintf(err, errlen, "%s holds no DH parameters in PEM format", file);
		ERR_clear_error();
		return (-1);
	}
	if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
		EVP_PKEY_free(dh);
		snprintf(err, errlen, "cannot use the DH parameters in %s: %s", file,
		    tls_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	return (0);
}

/*
 * tlss_build - one SSL_CTX with every setting of p. With chain_only,
 * the certificates come only from those chain files (an SNI context);
 * otherwise from the cert/key pairs and chain_files of p.
 */
static SSL_CTX *
tlss_build(struct tlss_ctx *t, const struct tlss_props *p, const char *chain_only,
    int *ncerts, enum tlss_field *bad, char *err, size_t errlen)
{
	struct tls_protocols prot;
	STACK_OF(X509_NAME) *cas;
	SSL_CTX	*ctx;
	uint64_t mask;
	char	 ebuf[256], files[2048], *tok, *save;
	int	 r, mode, bad_key;

	*ncerts = 0;
	*bad = TLSS_F_PROTOCOLS;
	if (tls_parse_protocols(p->protocols, &prot, err, errlen) < 0)
		return (NULL);
	*bad = TLSS_F_WORKAROUNDS;
	if (tlss_workaround_mask(p->disable_workarounds, &mask, err, errlen) < 0)
		return (NULL);
	*bad = TLSS_F_OTHER;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_errstr(ebuf, sizeof(ebuf)));
		return (NULL);
	}
	SSL_CTX_set_ex_data(ctx, tlss_ctx_idx, t);
	/*
	 * As Postfix: the grades, protocols and exclusions are the policy,
	 * not the system's OpenSSL security level (Debian: 2, which would
	 * hide TLS 1.0/1.1 and the anonymous suites from opportunistic
	 * clients); level 1 when a client certificate is required. Set
	 * before the cipher list, so that an explicit @SECLEVEL there wins.
	 */
	SSL_CTX_set_security_level(ctx, p->req_ccert ? 1 : 0);
	SSL_CTX_set_min_proto_version(ctx, prot.min_version);
	SSL_CTX_set_max_proto_version(ctx, prot.max_version);
	/*
	 * Postfix: all bug workarounds but the disabled ones. Never
	 * renegotiation (a DoS vector); a peer's EOF without close_notify
	 * is an ordinary end of session, not an error.
	 */
	SSL_CTX_clear_options(ctx, SSL_OP_ALL);
	SSL_CTX_set_options(ctx, prot.options | ((uint64_t)SSL_OP_ALL & ~mask) |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION | (p->preempt ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	/* Partial writes so the relay can use bounded buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/*
	 * Read whole socket buffers, not a record header and then its body:
	 * half the read(2) calls. The relay copes (see relay.c).
	 */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, p->cipherlist) != 1) {
		*bad = TLSS_F_CIPHERS;
		snprintf(err, errlen, "invalid cipher list \"%s\": %s", p->cipherlist,
		    tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	*bad = TLSS_F_GROUPS;
	if (tlss_set_groups(ctx, p->curves, p->ffdhe ? p->ffdhe : "", err,
	    errlen) < 0)
		goto fail;
	*bad = TLSS_F_DH;
	if (tlss_set_dh(ctx, p->dh_param_file, err, errlen) < 0)
		goto fail;
	*bad = TLSS_F_OTHER;
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tlsproxy", 8);
	if (p->cache_timeout > 0 && p->cache != NULL) {
		/* Our shared cache only: OpenSSL's is per SSL_CTX and unbounded in time. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
		    SSL_SESS_CACHE_NO_INTERNAL);
		SSL_CTX_sess_set_new_cb(ctx, tlss_cache_new_cb);
		SSL_CTX_sess_set_get_cb(ctx, tlss_cache_get_cb);
		SSL_CTX_sess_set_remove_cb(ctx, tlss_cache_remove_cb);
	} else {
		/*
		 * No session-ID cache (smtpd_tls_session_cache_database
		 * empty, or timeout 0). As Postfix, still hand out session
		 * ids when tickets are on or always_issue_session_ids says
		 * so; without them a TLS 1.2 ServerHello carries an empty
		 * session id.
		 */
		SSL_CTX_set_session_cache_mode(ctx, p->issue_session_ids ||
		    (p->cache_timeout > 0 && p->tickets) ?
		    SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL :
		    SSL_SESS_CACHE_OFF);
	}
	/*
	 * As Postfix: a session lives twice the cache timeout, as long as
	 * a ticket key stays valid for decryption, so that a ticket that
	 * still decrypts is never refused (and renewed) as expired.
	 */
	if (p->cache_timeout > 0)
		SSL_CTX_set_timeout(ctx, 2 * p->cache_timeout);
	if (p->cache_timeout > 0 && p->tickets) {
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tkey_cb);
		/* As Postfix: one TLS 1.3 ticket per handshake, not two. */
		SSL_CTX_set_num_tickets(ctx, 1);
	} else {
		/* TLS 1.3 then resumes from the cache (stateful tickets), if any. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		if (p->cache_timeout <= 0)
			SSL_CTX_set_num_tickets(ctx, 0);
	}

	if (chain_only == NULL) {
		if ((r = tlsf_load_pair(ctx, p->cert_file, p->key_file, "RSA",
		    &bad_key, err, errlen)) < 0) {
			*bad = bad_key ? TLSS_F_KEY : TLSS_F_CERT;
			goto fail;
		}
		*ncerts += r;
		if ((r = tlsf_load_pair(ctx, p->eccert_file, p->eckey_file, "ECDSA",
		    &bad_key, err, errlen)) < 0) {
			*bad = bad_key ? TLSS_F_ECKEY : TLSS_F_ECCERT;
			goto fail;
		}
		*ncerts += r;
		if ((r = tlsf_load_pair(ctx, p->dcert_file, p->dkey_file, "DSA",
		    &bad_key, err, errlen)) < 0) {
			*bad = bad_key ? TLSS_F_DKEY : TLSS_F_DCERT;
			goto fail;
		}
		*ncerts += r;
	}
	*bad = chain_only ? TLSS_F_SNI_MAPS : TLSS_F_CHAIN;
	if (strlen(chain_only ? chain_only : p->chain_files) >= sizeof(files)) {
		snprintf(err, errlen, "chain file list too long");
		goto fail;
	}
	strcpy(files, chain_only ? chain_only : p->chain_files);
	for (tok = strtok_r(files, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if ((r = tlsf_load_chain_file(ctx, tok, err, errlen)) < 0)
			goto fail;
		*ncerts += r;
	}

	*bad = TLSS_F_CA;
	/* CA files are public: read here, in either process. */
	if (*p->CAfile != '\0' && access(p->CAfile, R_OK) < 0) {
		snprintf(err, errlen, "cannot read CA file %s: %s", p->CAfile,
		    strerror(errno));
		goto fail;
	}
	if (*p->CAfile != '\0' || *p->CApath != '\0') {
		if (SSL_CTX_load_verify_locations(ctx,
		    *p->CAfile ? p->CAfile : NULL, *p->CApath ? p->CApath : NULL) != 1) {
			snprintf(err, errlen, "cannot load CA certificates from %s%s%s: %s",
			    p->CAfile, *p->CAfile && *p->CApath ? " and " : "", p->CApath,
			    tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
	}
	*bad = TLSS_F_OTHER;
	if (p->append_default_CA && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the system's default CA "
		    "certificates: %s", tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (p->ask_ccert || p->req_ccert) {
		mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
		if (p->req_ccert)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, tlss_verify_cb);
		/* One more for OpenSSL, so tlss_verify_cb sees the excess and reports it. */
		SSL_CTX_set_verify_depth(ctx, p->verifydepth + 1);
		/* Tell clients which CAs we trust, so they pick the right cert. */
		if (*p->CAfile != '\0' &&
		    (cas = SSL_load_client_CA_file(p->CAfile)) != NULL)
			SSL_CTX_set_client_CA_list(ctx, cas);
		ERR_clear_error();
	}
	if (p->loglevel >= 2)
		SSL_CTX_set_info_callback(ctx, tlss_info_cb);
	if (p->loglevel >= 3) {
		SSL_CTX_set_msg_callback(ctx, tlss_msg_cb);
		SSL_CTX_set_msg_callback_arg(ctx, t);
	}
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

struct tlss_ctx *
tlss_ctx_new(const struct tlss_props *p, enum tlss_field *bad, char *err,
    size_t errlen)
{
	struct tlss_ctx *t;
	const char *v;
	char	 serr[512];
	int	 n;
	size_t	 i;

	pthread_once(&tlss_once, tlss_once_init);
	*bad = TLSS_F_OTHER;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	t->magic = TLSS_CTX_MAGIC;
	t->loglevel = p->loglevel;
	t->cache = p->cache;
	t->cache_timeout = p->cache_timeout;
	t->ask_ccert = p->ask_ccert || p->req_ccert;
	t->req_ccert = p->req_ccert;
	t->verifydepth = p->verifydepth;
	t->legacy_pkey_fprint = p->legacy_pkey_fprint;
	snprintf(t->mdalg, sizeof(t->mdalg), "%s", *p->mdalg ? p->mdalg : "sha256");
	*bad = TLSS_F_MDALG;
	if (EVP_get_digestbyname(t->mdalg) == NULL) {
		snprintf(err, errlen, "unknown fingerprint digest \"%s\"", t->mdalg);
		goto fail;
	}
	if ((t->ctx = tlss_build(t, p, NULL, &t->ncerts, bad, err, errlen)) == NULL)
		goto fail;
	*bad = TLSS_F_SNI_MAPS;
	if (*p->dcert_file != '\0')
		log_warnx("DSA certificate %s: TLS 1.3 cannot use DSA keys; only "
		    "TLS 1.2 or older clients can get it", p->dcert_file);
	if (*p->sni_maps != '\0') {
		if ((t->sni = sni_map_parse(p->sni_maps, serr, sizeof(serr))) == NULL) {
			snprintf(err, errlen, "%s", serr);
			goto fail;
		}
		while (sni_map_value(t->sni, t->nsni) != NULL)
			t->nsni++;
		if (t->nsni > 0 &&
		    (t->sni_ctx = calloc(t->nsni, sizeof(SSL_CTX *))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (i = 0; i < t->nsni; i++) {
			v = sni_map_value(t->sni, i);
			if ((t->sni_ctx[i] = tlss_build(t, p, v, &n, bad, serr,
			    sizeof(serr))) == NULL) {
				snprintf(err, errlen, "%s", serr);
				goto fail;
			}
		}
		SSL_CTX_set_tlsext_servername_callback(t->ctx, tlss_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	}
	return (t);
fail:
	tlss_ctx_free(t);
	return (NULL);
}

void
tlss_ctx_free(struct tlss_ctx *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	if (t->magic != TLSS_CTX_MAGIC)
		log_panic("%s: bad magic", __func__);
	SSL_CTX_free(t->ctx);
	for (i = 0; i < t->nsni && t->sni_ctx != NULL; i++)
		SSL_CTX_free(t->sni_ctx[i]);
	free(t->sni_ctx);
	sni_map_free(t->sni);
	t->magic = 0;
	free(t);
}

/* tlss_fprint - "AB:CD:..." digest of DER bytes */
static void
tlss_fprint(const char *mdalg, const unsigned char *der, size_t len, char *out,
    size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	size_t	 n = 0;

	out[0] = '\0';
	if (EVP_Digest(der, len, md, &mdlen, EVP_get_digestbyname(mdalg), NULL) != 1)
		return;
	for (i = 0; i < mdlen && n + 4 < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%02X", i ? ":" : "", md[i]);
}

/* tlss_cn - the subject or issuer CN, printable */
static void
tlss_cn(X509_NAME *name, char *out, size_t outlen)
{
	char	 raw[256];

	out[0] = '\0';
	if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, raw,
	    sizeof(raw)) < 0)
		return;
	sys_printable(out, outlen, raw);
}

void
tlss_log_established(struct tlss_ctx *t, SSL *ssl, const char *peer)
{
	X509	*cert;
	const char *trust = "Anonymous", *sni;
	char	 summary[768], cn[256], issuer[256], fp[200], pfp[200];
	unsigned char *der = NULL;
	const ASN1_BIT_STRING *bits;
	int	 len;

	if (t->loglevel < 1)
		return;
	if ((cert = SSL_get1_peer_certificate(ssl)) != NULL) {
		trust = SSL_get_verify_result(ssl) == X509_V_OK ? "Trusted" : "Untrusted";
		tlss_cn(X509_get_subject_name(cert), cn, sizeof(cn));
		tlss_cn(X509_get_issuer_name(cert), issuer, sizeof(issuer));
		fp[0] = pfp[0] = '\0';
		if ((len = i2d_X509(cert, &der)) > 0)
			tlss_fprint(t->mdalg, der, (size_t)len, fp, sizeof(fp));
		OPENSSL_free(der);
		der = NULL;
		if (t->legacy_pkey_fprint) {
			/* Postfix 2.9.0-2.9.5 digested the key bits only. */
			bits = X509_get0_pubkey_bitstr(cert);
			if (bits != NULL)
				tlss_fprint(t->mdalg, bits->data, (size_t)bits->length,
				    pfp, sizeof(pfp));
		} else if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) > 0) {
			tlss_fprint(t->mdalg, der, (size_t)len, pfp, sizeof(pfp));
		}
		OPENSSL_free(der);
		log_info("%s: subject_CN=%s, issuer=%s, fingerprint=%s, "
		    "pkey_fingerprint=%s", peer, cn, issuer, fp, pfp);
		X509_free(cert);
	}
	sni = SSL_get_ex_data(ssl, tlss_sni_idx);
	tls_summary(ssl, 1, summary, sizeof(summary));
	log_info("%s TLS connection established from %s%s%.255s: %s", trust, peer,
	    sni ? " to " : "", sni ? sni : "", summary);
}

SSL *
tlss_ssl_new(struct tlss_ctx *t, int fd, const char *label,
    const unsigned char *sid_ctx)
{
	SSL	*ssl;

	if ((ssl = SSL_new(t->ctx)) == NULL)
		return (NULL);
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_ex_data(ssl, tlss_label_idx, (void *)label);
	SSL_set_ex_data(ssl, tlss_sidctx_idx, (void *)sid_ctx);
	if (SSL_set_session_id_context(ssl, sid_ctx, TLSS_SID_CTX_LEN) != 1) {
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_accept_state(ssl);
	return (ssl);
}
