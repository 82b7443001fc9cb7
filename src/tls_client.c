/*
 * NAME
 *	tls_client - client SSL_CTX cache, security levels, SSL_connect, reuse
 * DESCRIPTION
 *	See tls_client.h.
 *
 *	Locks: tlsc_lock guards the context list (links, LRU stamps and
 *	the count); contexts are built and freed outside it. The session
 *	cache (scache) has its own locks. Callbacks run on the worker
 *	that owns the SSL and touch only that SSL's ex_data (a struct
 *	tlsc_conn, checked by magic) and the session cache.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "scache.h"
#include "sys.h"
#include "tls_client.h"
#include "tls_common.h"
#include "tls_files.h"
#include "tls_props.h"
#include "tls_server.h"

#define TLSC_MTYPE_FPRINT	255	/* private use: digest with mdalg */
#define TLSC_KEY_LEN		32	/* SHA-256 session cache key */
#define TLSC_SCACHE_ENTRIES	4096
#define TLSC_SCACHE_BYTES	(16 * 1024 * 1024)
#define TLSC_SCACHE_SHARDS	8

struct tlsc_ctx {
	unsigned int	 magic;		/* TLSC_CTX_MAGIC */
	atomic_int	 refs;		/* the cache's and each caller's */
	struct tlsc_ctx	*next;		/* cache list (tlsc_lock) */
	uint64_t	 used;		/* LRU stamp (tlsc_lock) */
	char		*key;		/* owned: serialized init properties */
	SSL_CTX		*ctx;		/* owned */
	int		 loglevel;
	int		 verifydepth;
	char		 mdalg[32];
	char		 cache_type[32];
};
#define TLSC_CTX_MAGIC	0x544c4343u

/* Per-SSL state, owned by the SSL through ex_data. */
struct tlsc_conn {
	unsigned int	 magic;		/* TLSC_CONN_MAGIC */
	unsigned int	 level;		/* effective level */
	int		 loglevel;
	int		 verifydepth;
	int		 must_fail;	/* authentication cannot succeed */
	unsigned int	 pf_version;	/* the requesting Postfix: 306 ... 312 */
	char		 forced[64];	/* 3.10+: external policy failure type */
	const char	*start_fail;	/* TLSRPT failure type found at the start */
	int		 legacy_pkey_fprint;
	int		 cache;		/* store new sessions */
	char		 mdalg[32];
	char		 namaddr[TPROPS_NAMADDR_MAX];	/* lowercased */
	unsigned char	 key[TLSC_KEY_LEN];	/* session cache key */
	/* First verification error closest to the leaf. */
	int		 err_depth;	/* -1: none */
	int		 err_code;
	char		 err_issuer[256];
};
#define TLSC_CONN_MAGIC	0x544c434eu

static pthread_mutex_t tlsc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlsc_ctx *tlsc_list;	/* cached contexts (tlsc_lock) */
static size_t tlsc_nlist;
static uint64_t tlsc_clock;

static pthread_once_t tlsc_once = PTHREAD_ONCE_INIT;
static int tlsc_conn_idx = -1;
static struct scache *tlsc_scache;	/* client sessions, process-wide */

/* tlsc_conn_free - ex_data destructor: the session state dies with its SSL */
static void
tlsc_conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct tlsc_conn *cn = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (cn == NULL)
		return;
	if (cn->magic != TLSC_CONN_MAGIC)
		log_panic("%s: bad magic", __func__);
	OPENSSL_cleanse(cn->key, sizeof(cn->key));
	cn->magic = 0;
	free(cn);
}

/* tlsc_once_init - ex_data index and the session cache, once */
static void
tlsc_once_init(void)
{
	tlsc_conn_idx = SSL_get_ex_new_index(0, "tlsproxy client session", NULL,
	    NULL, tlsc_conn_free);
	tlsc_scache = scache_create(TLSC_SCACHE_ENTRIES, TLSC_SCACHE_BYTES,
	    TLSC_SCACHE_SHARDS);
}

/* tlsc_conn_get - the session state of ssl, or NULL */
static struct tlsc_conn *
tlsc_conn_get(const SSL *ssl)
{
	struct tlsc_conn *cn;

	if (ssl == NULL || tlsc_conn_idx < 0 ||
	    (cn = SSL_get_ex_data(ssl, tlsc_conn_idx)) == NULL)
		return (NULL);
	if (cn->magic != TLSC_CONN_MAGIC)
		log_panic("%s: bad magic", __func__);
	return (cn);
}

/*
 * Context cache.
 */

/* tlsc_props_key - "name=value\n" for every init property */
static char *
tlsc_props_key(const struct tlsc_init_props *p)
{
	char	*key = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&key, &len)) == NULL)
		return (NULL);
	fprintf(fp, "loglevel=%d\nverifydepth=%d\ncache_type=%s\nchain_files=%s\n"
	    "cert_file=%s\nkey_file=%s\ndcert_file=%s\ndkey_file=%s\n"
	    "eccert_file=%s\neckey_file=%s\nCAfile=%s\nCApath=%s\n"
	    "append_default_CA=%d\nmdalg=%s\ncurves=%s\ndisable_workarounds=%s\n",
	    p->loglevel, p->verifydepth, p->cache_type, p->chain_files,
	    p->cert_file, p->key_file, p->dcert_file, p->dkey_file,
	    p->eccert_file, p->eckey_file, p->CAfile, p->CApath,
	    p->append_default_CA, p->mdalg, p->curves, p->disable_workarounds);
	if (fclose(fp) != 0) {
		free(key);
		return (NULL);
	}
	return (key);
}

/* tlsc_verify_cb - record the error closest to the leaf; never abort */
static int
tlsc_verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL	*ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tlsc_conn *cn = tlsc_conn_get(ssl);
	X509	*cert = X509_STORE_CTX_get_current_cert(store);
	int	 depth = X509_STORE_CTX_get_error_depth(store);
	int	 err = X509_STORE_CTX_get_error(store);
	char	 buf[256];

	if (cn == NULL)
		return (ok);
	/* OpenSSL's own limit reports a truncated chain as untrusted. */
	if (depth > cn->verifydepth) {
		err = X509_V_ERR_CERT_CHAIN_TOO_LONG;
		X509_STORE_CTX_set_error(store, err);
		ok = 0;
	}
	/*
	 * The error closest to the leaf, except that a name mismatch (at
	 * the leaf) gives way to any other error, as in Postfix: then a
	 * recorded name mismatch means the chain itself was fine.
	 */
	if (!ok && (cn->err_depth < 0 ||
	    (cn->err_code == X509_V_ERR_HOSTNAME_MISMATCH &&
	    err != X509_V_ERR_HOSTNAME_MISMATCH) ||
	    (err != X509_V_ERR_HOSTNAME_MISMATCH && depth < cn->err_depth))) {
		cn->err_depth = depth;
		cn->err_code = err;
		cn->err_issuer[0] = '\0';
		if (cert != NULL) {
			X509_NAME_oneline(X509_get_issuer_name(cert), buf, sizeof(buf));
			sys_printable(cn->err_issuer, sizeof(cn->err_issuer), buf);
		}
	}
	if (cn->loglevel >= 3) {
		buf[0] = '\0';
		if (cert != NULL)
			X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
		log_info("%s: depth=%d verify=%d subject=%s", cn->namaddr, depth, ok,
		    buf);
	}
	return (1);
}

/* tlsc_info_cb - log level 2 and up: handshake progress */
static void
tlsc_info_cb(const SSL *ssl, int where, int ret)
{
	struct tlsc_conn *cn = tlsc_conn_get(ssl);
	const char *label = cn ? cn->namaddr : "unknown";

	tls_log_state(ssl, label, where, ret);
}

/* tlsc_new_session_cb - store a new (or ticket-refreshed) session */
static int
tlsc_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tlsc_conn *cn = tlsc_conn_get(ssl);
	unsigned char *der = NULL;
	int64_t	 now;
	int	 len;

	if (cn == NULL || !cn->cache || tlsc_scache == NULL ||
	    !SSL_SESSION_is_resumable(sess))
		return (0);
	if ((len = i2d_SSL_SESSION(sess, &der)) <= 0)
		return (0);
	now = sys_now_ms();
	(void)scache_put(tlsc_scache, cn->key, sizeof(cn->key), der, (size_t)len,
	    now + (int64_t)TLSC_SESS_TIMEOUT * 1000, now);
	OPENSSL_cleanse(der, (size_t)len);	/* holds the master secret */
	OPENSSL_free(der);
	if (cn->loglevel >= 2)
		log_info("%s: save session to %s cache", cn->namaddr, "client");
	return (0);				/* no reference kept */
}

/* tlsc_set_groups - the names of curves this OpenSSL knows, in order */
static int
tlsc_set_groups(SSL_CTX *ctx, const char *curves, char *err, size_t errlen)
{
	char	 buf[1024], list[1024], *tok, *save;
	size_t	 n = 0;

	if (strlen(curves) >= sizeof(buf)) {
		snprintf(err, errlen, "tls_eecdh_auto_curves: value too long");
		return (-1);
	}
	strcpy(buf, curves);
	list[0] = '\0';
	for (tok = strtok_r(buf, " \t,:", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,:", &save)) {
		if (SSL_CTX_set1_groups_list(ctx, tok) != 1) {
			ERR_clear_error();
			continue;
		}
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		    n ? ":" : "", tok);
		if (n >= sizeof(list)) {
			snprintf(err, errlen, "tls_eecdh_auto_curves: value too long");
			return (-1);
		}
	}
	if (n == 0) {
		/* As Postfix: keep OpenSSL's defaults. */
		log_warnx("tls_eecdh_auto_curves: no supported group in \"%s\"",
		    curves);
		return (SSL_CTX_set1_groups_list(ctx,
		    "X25519:X448:P-256:P-384:P-521") == 1 ? 0 : -1);
	}
	if (SSL_CTX_set1_groups_list(ctx, list) != 1) {
		snprintf(err, errlen, "tls_eecdh_auto_curves: cannot use \"%s\"", list);
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

/* tlsc_build - a fresh client SSL_CTX from p */
static SSL_CTX *
tlsc_build(const struct tlsc_init_props *p, char *err, size_t errlen)
{
	const EVP_MD *md;
	SSL_CTX	*ctx;
	uint64_t mask;
	char	 ebuf[256], files[2048], *tok, *save;
	int	 bad_key;

	if ((md = EVP_get_digestbyname(p->mdalg)) == NULL) {
		snprintf(err, errlen, "unsupported fingerprint digest \"%s\"", p->mdalg);
		return (NULL);
	}
	if (tlss_workaround_mask(p->disable_workarounds, &mask, ebuf,
	    sizeof(ebuf)) < 0) {
		snprintf(err, errlen, "tls_disable_workarounds: %s", ebuf);
		return (NULL);
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "cannot allocate client SSL_CTX: %s",
		    tls_errstr(ebuf, sizeof(ebuf)));
		return (NULL);
	}
	/* Opportunistic TLS takes what it gets; authenticated levels raise it. */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify_depth(ctx, p->verifydepth + 1);
	if (SSL_CTX_dane_enable(ctx) <= 0 ||
	    SSL_CTX_dane_mtype_set(ctx, md, TLSC_MTYPE_FPRINT, 1) <= 0) {
		snprintf(err, errlen, "OpenSSL DANE initialization failed: %s",
		    tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_ALL);
	SSL_CTX_set_options(ctx, ((uint64_t)SSL_OP_ALL & ~mask) |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (p->loglevel >= 2)
		SSL_CTX_set_info_callback(ctx, tlsc_info_cb);

	if (*p->CAfile != '\0' || *p->CApath != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, *p->CAfile ? p->CAfile : NULL,
		    *p->CApath ? p->CApath : NULL) != 1) {
			snprintf(err, errlen, "cannot load CA certificates from "
			    "%s%s%s: %s", p->CAfile, *p->CAfile && *p->CApath ?
			    " and " : "", p->CApath, tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
	}
	if (p->append_default_CA && SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the system's default CA "
		    "certificates: %s", tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}

	if (tlsf_load_pair(ctx, p->cert_file, p->key_file, "RSA", &bad_key, err,
	    errlen) < 0 ||
	    tlsf_load_pair(ctx, p->eccert_file, p->eckey_file, "ECDSA", &bad_key, err,
	    errlen) < 0 ||
	    tlsf_load_pair(ctx, p->dcert_file, p->dkey_file, "DSA", &bad_key, err,
	    errlen) < 0)
		goto fail;
	if (strlen(p->chain_files) >= sizeof(files)) {
		snprintf(err, errlen, "chain file list too long");
		goto fail;
	}
	/* Each chain file: key + chain groups, by Postfix's rule. */
	strcpy(files, p->chain_files);
	for (tok = strtok_r(files, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save))
		if (tlsf_load_chain_file(ctx, tok, err, errlen) < 0)
			goto fail;

	if (tlsc_set_groups(ctx, p->curves, err, errlen) < 0)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, tlsc_verify_cb);

	/* Our cache only: sessions are looked up by policy, not by server id. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
	SSL_CTX_sess_set_new_cb(ctx, tlsc_new_session_cb);
	SSL_CTX_set_timeout(ctx, 2 * TLSC_SESS_TIMEOUT);
	return (ctx);
fail:
	SSL_CTX_free(ctx);
	return (NULL);
}

/* tlsc_ctx_destroy - free a context nobody references any more */
static void
tlsc_ctx_destroy(struct tlsc_ctx *t)
{
	if (t == NULL)
		return;
	if (t->magic != TLSC_CTX_MAGIC)
		log_panic("%s: bad magic", __func__);
	SSL_CTX_free(t->ctx);
	free(t->key);
	t->magic = 0;
	free(t);
}

void
tlsc_ctx_release(struct tlsc_ctx *t)
{
	if (t == NULL)
		return;
	if (t->magic != TLSC_CTX_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (atomic_fetch_sub(&t->refs, 1) == 1)
		tlsc_ctx_destroy(t);
}

/* tlsc_evict_locked - unlink the LRU unreferenced entry beyond the bound */
static struct tlsc_ctx *
tlsc_evict_locked(void)
{
	struct tlsc_ctx *t, **pp, **victim = NULL;

	if (tlsc_nlist <= TLSC_CTX_CACHE_MAX)
		return (NULL);
	for (pp = &tlsc_list; (t = *pp) != NULL; pp = &t->next)
		if (atomic_load(&t->refs) == 1 &&
		    (victim == NULL || t->used < (*victim)->used))
			victim = pp;
	if (victim == NULL)
		return (NULL);		/* all in use: shrink later */
	t = *victim;
	*victim = t->next;
	tlsc_nlist--;
	return (t);
}

struct tlsc_ctx *
tlsc_ctx_get(const struct tlsc_init_props *p, char *err, size_t errlen)
{
	struct tlsc_ctx *t, *mine, *old;
	char	*key;

	pthread_once(&tlsc_once, tlsc_once_init);
	if ((key = tlsc_props_key(p)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	pthread_mutex_lock(&tlsc_lock);
	for (t = tlsc_list; t != NULL; t = t->next) {
		if (strcmp(t->key, key) == 0) {
			atomic_fetch_add(&t->refs, 1);
			t->used = ++tlsc_clock;
			break;
		}
	}
	pthread_mutex_unlock(&tlsc_lock);
	if (t != NULL) {
		free(key);
		return (t);
	}

	/* Build without the lock; another worker may race us to it. */
	if ((mine = calloc(1, sizeof(*mine))) == NULL) {
		free(key);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	mine->magic = TLSC_CTX_MAGIC;
	mine->key = key;
	mine->loglevel = p->loglevel;
	mine->verifydepth = p->verifydepth;
	snprintf(mine->mdalg, sizeof(mine->mdalg), "%s", p->mdalg);
	snprintf(mine->cache_type, sizeof(mine->cache_type), "%s", p->cache_type);
	atomic_init(&mine->refs, 2);		/* the cache's and the caller's */
	if ((mine->ctx = tlsc_build(p, err, errlen)) == NULL) {
		tlsc_ctx_destroy(mine);
		return (NULL);
	}
	pthread_mutex_lock(&tlsc_lock);
	for (t = tlsc_list; t != NULL; t = t->next)
		if (strcmp(t->key, key) == 0)
			break;
	if (t != NULL) {
		atomic_fetch_add(&t->refs, 1);
		t->used = ++tlsc_clock;
	} else {
		mine->used = ++tlsc_clock;
		mine->next = tlsc_list;
		tlsc_list = mine;
		tlsc_nlist++;
	}
	old = tlsc_evict_locked();
	pthread_mutex_unlock(&tlsc_lock);
	if (t != NULL)
		tlsc_ctx_destroy(mine);		/* never published */
	tlsc_ctx_release(old);			/* the cache's reference */
	return (t != NULL ? t : mine);
}

void
tlsc_ctx_flush(void)
{
	struct tlsc_ctx *list, *t;

	pthread_mutex_lock(&tlsc_lock);
	list = tlsc_list;
	tlsc_list = NULL;
	tlsc_nlist = 0;
	pthread_mutex_unlock(&tlsc_lock);
	while ((t = list) != NULL) {
		list = t->next;
		tlsc_ctx_release(t);
	}
}

size_t
tlsc_ctx_cached(void)
{
	size_t	 n;

	pthread_mutex_lock(&tlsc_lock);
	n = tlsc_nlist;
	pthread_mutex_unlock(&tlsc_lock);
	return (n);
}

/*
 * Sessions.
 */

/* tlsc_hash_str - length-prefixed field into the key digest */
static void
tlsc_hash_str(EVP_MD_CTX *md, const char *s)
{
	uint32_t len = (uint32_t)strlen(s);

	EVP_DigestUpdate(md, &len, sizeof(len));
	EVP_DigestUpdate(md, s, len);
}

/*
 * tlsc_session_key - what a cached session must have been made under;
 * -1 when the digest fails (never an all-zero key that unrelated
 * policies would share).
 */
static int
tlsc_session_key(const struct tlsc_ctx *t, const struct tlsc_start_props *p,
    const struct tlsc_conn *cn, const char *sni, unsigned char *out)
{
	EVP_MD_CTX *md;
	unsigned int len = 0;
	char	 num[64];
	size_t	 i;
	int	 ok;

	memset(out, 0, TLSC_KEY_LEN);
	if ((md = EVP_MD_CTX_new()) == NULL)
		return (-1);
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return (-1);
	}
	tlsc_hash_str(md, t->key);
	tlsc_hash_str(md, t->cache_type);
	tlsc_hash_str(md, p->serverid);
	tlsc_hash_str(md, p->helo);
	tlsc_hash_str(md, p->host);		/* what "hostname" and */
	tlsc_hash_str(md, p->nexthop);		/* "nexthop" stand for */
	tlsc_hash_str(md, sni ? sni : "");
	snprintf(num, sizeof(num), "%u", cn->level);
	tlsc_hash_str(md, num);
	tlsc_hash_str(md, p->protocols);
	tlsc_hash_str(md, p->cipherlist);
	tlsc_hash_str(md, p->mdalg);
	for (i = 0; i < p->nmatch; i++)
		tlsc_hash_str(md, p->match[i]);
	tlsc_hash_str(md, p->dane_domain);
	for (i = 0; i < p->ntlsa; i++) {
		snprintf(num, sizeof(num), "%u %u %u %zu", p->tlsa[i].usage,
		    p->tlsa[i].selector, p->tlsa[i].mtype, p->tlsa[i].len);
		tlsc_hash_str(md, num);
		EVP_DigestUpdate(md, p->tlsa[i].data, p->tlsa[i].len);
	}
	ok = EVP_DigestFinal_ex(md, out, &len) == 1 && len == TLSC_KEY_LEN;
	EVP_MD_CTX_free(md);
	return (ok ? 0 : -1);
}

/* tlsc_add_names - host name checks from the match list; count added */
static int
tlsc_add_names(SSL *ssl, const struct tlsc_start_props *p, const char *namaddr)
{
	char	 dot[512];
	const char *name;
	size_t	 i;
	int	 sub, n = 0;

	/* RFC 6125: no partial-label wildcards ("foo*.example.com") for SMTP. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (i = 0; i < p->nmatch; i++) {
		name = p->match[i];
		sub = 0;
		if (strcasecmp(name, "nexthop") == 0) {
			name = p->nexthop;
		} else if (strcasecmp(name, "dot-nexthop") == 0) {
			name = p->nexthop;
			sub = 1;
		} else if (strcasecmp(name, "hostname") == 0) {
			name = p->host;
		} else if (*name == '.') {
			if (*++name == '\0') {
				log_warnx("%s: ignoring invalid match name: \".\"", namaddr);
				continue;
			}
			sub = 1;
		}
		/* A leading dot asks OpenSSL for any sub-domain of the name. */
		snprintf(dot, sizeof(dot), "%s%s", sub ? "." : "", name);
		if (*name != '\0' && SSL_add1_host(ssl, dot) == 1)
			n++;
		else
			log_warnx("%s: error loading match name: \"%s\"", namaddr, dot);
	}
	ERR_clear_error();
	return (n);
}

/* tlsc_add_tlsa - give OpenSSL the TLSA records; number usable, -1 error */
static int
tlsc_add_tlsa(SSL *ssl, const struct tlsc_start_props *p)
{
	size_t	 i;
	int	 r, usable = 0;

	for (i = 0; i < p->ntlsa; i++) {
		if (p->tlsa[i].usage > 255 || p->tlsa[i].selector > 255 ||
		    p->tlsa[i].mtype > 255)
			continue;
		r = SSL_dane_tlsa_add(ssl, (uint8_t)p->tlsa[i].usage,
		    (uint8_t)p->tlsa[i].selector, (uint8_t)p->tlsa[i].mtype,
		    p->tlsa[i].data, p->tlsa[i].len);
		if (r > 0)
			usable++;
		else if (r < 0)
			return (-1);
	}
	ERR_clear_error();
	return (usable);
}

SSL *
tlsc_ssl_new(struct tlsc_ctx *t, const struct tlsc_start_props *p, char *err,
    size_t errlen)
{
	struct tls_protocols prot;
	struct tlsc_conn *cn;
	SSL_SESSION *sess;
	const unsigned char *der;
	const char *sni = NULL;
	SSL	*ssl;
	char	 ebuf[256], *c;
	void	*val;
	size_t	 vlen;
	int	 usable, dane = 0, names = 0;

	if (t == NULL || t->magic != TLSC_CTX_MAGIC)
		log_panic("%s: bad context", __func__);
	if (tls_parse_protocols(p->protocols, &prot, ebuf, sizeof(ebuf)) < 0) {
		snprintf(err, errlen, "Invalid TLS protocol list \"%s\": %s",
		    p->protocols, ebuf);
		return (NULL);
	}
	if ((cn = calloc(1, sizeof(*cn))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	cn->magic = TLSC_CONN_MAGIC;
	cn->level = p->level;
	cn->loglevel = t->loglevel;
	cn->verifydepth = t->verifydepth;
	cn->legacy_pkey_fprint = p->legacy_pkey_fprint;
	cn->cache = p->cache;
	cn->err_depth = -1;
	cn->pf_version = p->pf_version ? p->pf_version : TLS_PF_CURRENT;
	if (p->forced_failure != NULL && *p->forced_failure != '\0') {
		/* An outside policy (MTA-STS) already failed: no authentication. */
		sys_printable(cn->forced, sizeof(cn->forced), p->forced_failure);
		cn->must_fail = 1;
	}
	snprintf(cn->mdalg, sizeof(cn->mdalg), "%s", *p->mdalg ? p->mdalg : t->mdalg);
	snprintf(cn->namaddr, sizeof(cn->namaddr), "%s", p->namaddr);
	for (c = cn->namaddr; *c; c++)
		*c = (char)tolower((unsigned char)*c);

	ERR_clear_error();
	if ((ssl = SSL_new(t->ctx)) == NULL) {
		tlsc_conn_free(NULL, cn, NULL, 0, 0, NULL);
		snprintf(err, errlen, "SSL_new: %s", tls_errstr(ebuf, sizeof(ebuf)));
		return (NULL);
	}
	if (SSL_set_ex_data(ssl, tlsc_conn_idx, cn) != 1) {
		tlsc_conn_free(NULL, cn, NULL, 0, 0, NULL);
		snprintf(err, errlen, "SSL_set_ex_data failed");
		goto fail;
	}
	SSL_set_connect_state(ssl);
	SSL_set_options(ssl, prot.options);
	if (SSL_set_min_proto_version(ssl, prot.min_version) != 1 ||
	    SSL_set_max_proto_version(ssl, prot.max_version) != 1) {
		snprintf(err, errlen, "cannot use the protocol range of \"%s\"",
		    p->protocols);
		goto fail;
	}
	if (SSL_set_cipher_list(ssl, p->cipherlist) != 1) {
		snprintf(err, errlen, "error setting the cipher list \"%s\": %s",
		    p->cipherlist, tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}

	if (*p->sni != '\0') {
		if (strcmp(p->sni, "hostname") == 0)
			sni = p->host;
		else if (strcmp(p->sni, "nexthop") == 0)
			sni = p->nexthop;
		else
			sni = p->sni;
	}
	switch (p->level) {
	case TPROPS_LEV_HALF_DANE:
	case TPROPS_LEV_DANE:
	case TPROPS_LEV_DANE_ONLY:
		dane = 1;
		/* RFC 7672: the SNI name is the TLSA base domain. */
		sni = *p->dane_domain ? p->dane_domain : sni;
		names = 1;
		break;
	case TPROPS_LEV_FPRINT:
		dane = 1;
		break;
	case TPROPS_LEV_VERIFY:
	case TPROPS_LEV_SECURE:
		dane = p->ntlsa > 0;		/* local trust anchors */
		names = 1;
		break;
	default:
		break;
	}
	if (dane) {
		if (SSL_dane_enable(ssl, NULL) <= 0) {
			snprintf(err, errlen, "error enabling DANE-based certificate "
			    "validation: %s", tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		/* RFC 7672 3.1.1: no name checks for DANE-EE(3). */
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	}
	if (names && tlsc_add_names(ssl, p, cn->namaddr) == 0) {
		log_warnx("%s: could not configure peer name checks", cn->namaddr);
		cn->must_fail = 1;
	}
	if (dane) {
		if ((usable = tlsc_add_tlsa(ssl, p)) < 0) {
			snprintf(err, errlen, "error loading TLSA records: %s",
			    tls_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		if (usable == 0) {
			switch (p->level) {
			case TPROPS_LEV_HALF_DANE:
			case TPROPS_LEV_DANE:
				log_warnx("%s: all TLSA records unusable, fallback to "
				    "unauthenticated TLS", cn->namaddr);
				cn->level = TPROPS_LEV_ENCRYPT;
				cn->start_fail = "tlsa-invalid";
				break;
			case TPROPS_LEV_FPRINT:
				log_warnx("%s: all fingerprints unusable", cn->namaddr);
				cn->must_fail = 1;
				cn->start_fail = "validation-failure";
				break;
			case TPROPS_LEV_DANE_ONLY:
				log_warnx("%s: all TLSA records unusable", cn->namaddr);
				cn->must_fail = 1;
				cn->start_fail = "tlsa-invalid";
				break;
			default:
				log_warnx("%s: all trust anchors unusable", cn->namaddr);
				cn->must_fail = 1;
				cn->start_fail = "validation-failure";
				break;
			}
		}
	}
	/* When authenticating the peer: OpenSSL security level 1 (80 bits). */
	if (cn->level > TPROPS_LEV_ENCRYPT)
		SSL_set_security_level(ssl, 1);
	if (sni != NULL && *sni != '\0') {
		if (strlen(sni) > TLSEXT_MAXLEN_host_name ||
		    SSL_set_tlsext_host_name(ssl, sni) != 1) {
			snprintf(err, errlen, "error setting SNI hostname to: %.100s",
			    sni);
			ERR_clear_error();
			goto fail;
		}
		if (cn->loglevel >= 4)
			log_info("%s: SNI hostname: %s", cn->namaddr, sni);
	}

	if (tlsc_session_key(t, p, cn, sni, cn->key) < 0) {
		snprintf(err, errlen, "cannot compute the session cache key: %s",
		    tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (p->cache && tlsc_scache != NULL &&
	    scache_get(tlsc_scache, cn->key, sizeof(cn->key), &val, &vlen,
	    sys_now_ms()) == 1) {
		der = val;
		if ((sess = d2i_SSL_SESSION(NULL, &der, (long)vlen)) != NULL) {
			if (cn->loglevel >= 2)
				log_info("%s: reloaded session from client cache",
				    cn->namaddr);
			(void)SSL_set_session(ssl, sess);
			SSL_SESSION_free(sess);
		}
		OPENSSL_cleanse(val, vlen);
		free(val);
		ERR_clear_error();
	}
	return (ssl);
fail:
	SSL_free(ssl);			/* frees cn with it */
	return (NULL);
}

unsigned int
tlsc_level(SSL *ssl)
{
	struct tlsc_conn *cn = tlsc_conn_get(ssl);

	return (cn ? cn->level : 0);
}

/*
 * After the handshake.
 */

/* tlsc_fprint - "AB:CD:..." digest of bytes */
static void
tlsc_fprint(const char *mdalg, const unsigned char *p, size_t len, char *out,
    size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	size_t	 n = 0;
	const EVP_MD *alg = EVP_get_digestbyname(mdalg);

	out[0] = '\0';
	if (alg == NULL || EVP_Digest(p, len, md, &mdlen, alg, NULL) != 1)
		return;
	for (i = 0; i < mdlen && n + 4 <= outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%02X", i ? ":" : "", md[i]);
}

/* tlsc_name_text - first NID entry of a name, printable; "" if none */
static int
tlsc_name_text(X509_NAME *name, int nid, char *out, size_t outlen)
{
	X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	char	 raw[256];
	int	 pos, len;

	out[0] = '\0';
	if (name == NULL || (pos = X509_NAME_get_index_by_NID(name, nid, -1)) < 0 ||
	    (e = X509_NAME_get_entry(name, pos)) == NULL ||
	    (len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e))) < 0) {
		ERR_clear_error();
		return (0);
	}
	snprintf(raw, sizeof(raw), "%.*s", len, (const char *)utf8);
	OPENSSL_free(utf8);
	if (strlen(raw) != (size_t)len && len < (int)sizeof(raw))
		return (0);		/* embedded NUL: not a usable name */
	sys_printable(out, outlen, raw);
	return (1);
}

/* tlsc_key_name - Postfix's name of a signing key, its curve and size */
static void
tlsc_key_name(EVP_PKEY *pkey, char *name, size_t namelen, char *curve,
    size_t curvelen, unsigned int *bits)
{
	size_t	 len;
	int	 id = EVP_PKEY_get_base_id(pkey);

	name[0] = curve[0] = '\0';
	*bits = 0;
	if (id == EVP_PKEY_RSA) {
		snprintf(name, namelen, "RSA-PSS");	/* TLS 1.3 signs RSA with PSS */
		*bits = (unsigned int)EVP_PKEY_get_bits(pkey);
	} else if (id == EVP_PKEY_EC) {
		snprintf(name, namelen, "ECDSA");
		if (EVP_PKEY_get_group_name(pkey, curve, curvelen, &len) != 1)
			curve[0] = '\0';
	} else if (id != NID_undef && id > 0) {
		snprintf(name, namelen, "%s", OBJ_nid2sn(id));
	} else {
		snprintf(name, namelen, "%s", EVP_PKEY_get0_type_name(pkey) ?
		    EVP_PKEY_get0_type_name(pkey) : "");
	}
	ERR_clear_error();
}

/* tlsc_sig_params - TLS 1.3 key exchange and signature details */
static void
tlsc_sig_params(SSL *ssl, unsigned int pf_version, struct tprops_context *x)
{
	EVP_PKEY *pkey;
	X509	*cert;
	int	 nid;

	if (SSL_version(ssl) < TLS1_3_VERSION)
		return;
	tls_kex(ssl, pf_version, x->key_exchange, sizeof(x->key_exchange),
	    x->key_exchange_curve, sizeof(x->key_exchange_curve),
	    &x->key_exchange_bits);
	/* A resumed session has no signatures to show, as in Postfix. */
	if (SSL_session_reused(ssl))
		return;
	/* Our own certificate counts only if we signed with it. */
	if (SSL_get_signature_nid(ssl, &nid) == 1 &&
	    (cert = SSL_get_certificate(ssl)) != NULL &&
	    (pkey = X509_get0_pubkey(cert)) != NULL) {
		tlsc_key_name(pkey, x->clnt_signature, sizeof(x->clnt_signature),
		    x->clnt_signature_curve, sizeof(x->clnt_signature_curve),
		    &x->clnt_signature_bits);
		if (nid != NID_undef)
			snprintf(x->clnt_signature_digest,
			    sizeof(x->clnt_signature_digest), "%s", OBJ_nid2sn(nid));
	}
	if ((cert = SSL_get0_peer_certificate(ssl)) != NULL &&
	    (pkey = X509_get0_pubkey(cert)) != NULL) {
		tlsc_key_name(pkey, x->srvr_signature, sizeof(x->srvr_signature),
		    x->srvr_signature_curve, sizeof(x->srvr_signature_curve),
		    &x->srvr_signature_bits);
		if (SSL_get_peer_signature_nid(ssl, &nid) == 1 && nid != NID_undef)
			snprintf(x->srvr_signature_digest,
			    sizeof(x->srvr_signature_digest), "%s", OBJ_nid2sn(nid));
	}
	ERR_clear_error();
}

/* tlsc_log_verify_error - why the server certificate was not trusted */
static void
tlsc_log_verify_error(const struct tlsc_conn *cn)
{
	const char *purpose = cn->err_depth > 0 ? "CA" : "server";

	if (cn->forced[0] != '\0') {
		log_info("certificate verification failed for %s: external policy "
		    "failure (%s)", cn->namaddr, cn->forced);
		return;
	}
	switch (cn->err_code) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_UNTRUSTED:
		log_info("certificate verification failed for %s: not trusted by "
		    "local or TLSA policy", cn->namaddr);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		log_info("certificate verification failed for %s: self-signed "
		    "certificate", cn->namaddr);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		log_info("certificate verification failed for %s: untrusted issuer "
		    "%s", cn->namaddr, cn->err_issuer);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		log_info("%s certificate verification failed for %s: certificate "
		    "not yet valid", purpose, cn->namaddr);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		log_info("%s certificate verification failed for %s: certificate "
		    "has expired", purpose, cn->namaddr);
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		log_info("certificate verification failed for %s: not designated for "
		    "use as a %s certificate", cn->namaddr, purpose);
		break;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		log_info("certificate verification failed for %s: certificate chain "
		    "longer than limit(%d)", cn->namaddr, cn->verifydepth);
		break;
	default:
		log_info("%s certificate verification failed for %s: num=%d:%s",
		    purpose, cn->namaddr, cn->err_code,
		    X509_verify_cert_error_string(cn->err_code));
		break;
	}
}

const char *
tlsc_rpt_failure(SSL *ssl, const struct tprops_context *x)
{
	struct tlsc_conn *cn = tlsc_conn_get(ssl);

	if (cn == NULL)
		return (NULL);
	if (cn->forced[0] != '\0')
		return (cn->forced);
	if (cn->start_fail != NULL)
		return (cn->start_fail);
	/* Name mismatches are smtp(8)'s to report, as in Postfix. */
	if (cn->level <= TPROPS_LEV_ENCRYPT || (x->peer_status & TPROPS_PEER_TRUSTED))
		return (NULL);
	switch (cn->err_code) {
	case X509_V_OK:
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return (NULL);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return ("certificate-expired");
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return ("certificate-not-trusted");
	default:
		return ("validation-failure");
	}
}

void
tlsc_finish(SSL *ssl, struct tprops_context *x)
{
	struct tlsc_conn *cn = tlsc_conn_get(ssl);
	const SSL_CIPHER *c;
	X509	*cert;
	const ASN1_BIT_STRING *bits;
	unsigned char *der = NULL;
	char	 summary[1024];
	int	 len, alg = 0, reused;

	if (cn == NULL)
		log_panic("%s: not a client session", __func__);
	memset(x, 0, sizeof(*x));
	x->level = cn->level;
	snprintf(x->namaddr, sizeof(x->namaddr), "%s", cn->namaddr);
	reused = SSL_session_reused(ssl);
	if (reused && cn->loglevel >= 2)
		log_info("%s: Reusing old session", cn->namaddr);

	if ((cert = SSL_get0_peer_certificate(ssl)) != NULL) {
		x->peer_status |= TPROPS_PEER_PRESENT;
		tlsc_name_text(X509_get_subject_name(cert), NID_commonName, x->peer_CN,
		    sizeof(x->peer_CN));
		/* The issuer's CN, or its organization when it has none. */
		if (!tlsc_name_text(X509_get_issuer_name(cert), NID_commonName,
		    x->issuer_CN, sizeof(x->issuer_CN)))
			(void)tlsc_name_text(X509_get_issuer_name(cert),
			    NID_organizationName, x->issuer_CN, sizeof(x->issuer_CN));
		if ((len = i2d_X509(cert, &der)) > 0)
			tlsc_fprint(cn->mdalg, der, (size_t)len, x->peer_fingerprint,
			    sizeof(x->peer_fingerprint));
		OPENSSL_free(der);
		der = NULL;
		if (cn->legacy_pkey_fprint) {
			/* Postfix 2.9.0-2.9.5 digested the key bits only. */
			if ((bits = X509_get0_pubkey_bitstr(cert)) != NULL)
				tlsc_fprint(cn->mdalg, bits->data, (size_t)bits->length,
				    x->peer_pubkey_fingerprint,
				    sizeof(x->peer_pubkey_fingerprint));
		} else if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert),
		    &der)) > 0) {
			tlsc_fprint(cn->mdalg, der, (size_t)len,
			    x->peer_pubkey_fingerprint,
			    sizeof(x->peer_pubkey_fingerprint));
		}
		OPENSSL_free(der);

		/* Name and TLSA checks happened inside OpenSSL's verification. */
		if (SSL_get_verify_result(ssl) == X509_V_OK && !cn->must_fail) {
			x->peer_status |= TPROPS_PEER_TRUSTED;
			if (cn->level > TPROPS_LEV_ENCRYPT) {
				x->peer_status |= TPROPS_PEER_MATCHED;
				if (cn->level != TPROPS_LEV_HALF_DANE)
					x->peer_status |= TPROPS_PEER_SECURED;
				if (cn->loglevel >= 2 && SSL_get0_peername(ssl) != NULL)
					log_info("%s: matched peername: %s", cn->namaddr,
					    SSL_get0_peername(ssl));
			}
		} else if (cn->pf_version >= 310 && cn->level > TPROPS_LEV_ENCRYPT &&
		    !cn->must_fail && cn->err_code == X509_V_ERR_HOSTNAME_MISMATCH) {
			/* 3.10.4 and later: a good chain with the wrong name. */
			x->peer_status |= TPROPS_PEER_TRUSTED;
		}
		if (!(x->peer_status & TPROPS_PEER_MATCHED) &&
		    (cn->level > TPROPS_LEV_ENCRYPT || cn->loglevel >= 2)) {
			if (!reused)
				tlsc_log_verify_error(cn);
			else if (!(x->peer_status & TPROPS_PEER_TRUSTED))
				log_info("%s: re-using session with untrusted certificate, "
				    "look for details earlier in the log", cn->namaddr);
		}
		if (cn->loglevel >= 2)
			log_info("%s: subject_CN=%s, issuer_CN=%s, fingerprint=%s, "
			    "pkey_fingerprint=%s", cn->namaddr, x->peer_CN, x->issuer_CN,
			    x->peer_fingerprint, x->peer_pubkey_fingerprint);
	}

	snprintf(x->cipher_protocol, sizeof(x->cipher_protocol), "%s",
	    SSL_get_version(ssl));
	if ((c = SSL_get_current_cipher(ssl)) != NULL) {
		snprintf(x->cipher_name, sizeof(x->cipher_name), "%s",
		    SSL_CIPHER_get_name(c));
		x->cipher_usebits = (unsigned int)SSL_CIPHER_get_bits(c, &alg);
		x->cipher_algbits = (unsigned int)alg;
	}
	tlsc_sig_params(ssl, cn->pf_version, x);
	if (cn->loglevel >= 1) {
		tprops_context_summary(x, summary, sizeof(summary));
		log_info("%s TLS connection established to %s: %s",
		    tprops_trust(x->peer_status), cn->namaddr, summary);
	}
}
