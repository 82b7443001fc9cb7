/*
 * NAME
 *	tls_server - server SSL_CTX from properties; SSL_accept by deadline
 * DESCRIPTION
 *	See tls_server.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

static int tlss_label_idx = -1;
static pthread_once_t tlss_once = PTHREAD_ONCE_INIT;

static void
tlss_once_init(void)
{
	tlss_label_idx = SSL_get_ex_new_index(0, "tlsproxy peer label", NULL,
	    NULL, NULL);
}

/* tlss_errstr - first OpenSSL error as text (and clear the queue) */
static const char *
tlss_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return (buf);
}

/* tlss_load_pair - load one certificate chain file and its key */
static int
tlss_load_pair(SSL_CTX *ctx, const char *cert, const char *key, const char *what,
    char *err, size_t errlen)
{
	char	 ebuf[256];

	if (*cert == '\0' && *key == '\0')
		return (0);
	if (*cert == '\0' || *key == '\0') {
		snprintf(err, errlen, "%s certificate and key must be set together "
		    "(certificate \"%s\", key \"%s\")", what, cert, key);
		return (-1);
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "cannot load %s certificate chain from %s: %s",
		    what, cert, tlss_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load %s private key from %s: %s",
		    what, key, tlss_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s private key in %s does not match the "
		    "certificate in %s", what, key, cert);
		ERR_clear_error();
		return (-1);
	}
	return (1);
}

/*
 * tlss_load_chain_file - every key + chain group of one PEM file.
 * Postfix's rule: each key is immediately preceded or followed by its
 * certificate, then come that certificate's issuers.
 */
static int
tlss_load_chain_file(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *objs;
	STACK_OF(X509) *chain = NULL;
	X509_INFO *o;
	X509	*leaf;
	EVP_PKEY *key;
	BIO	*bio;
	char	 ebuf[256];
	int	 i, j, n, loaded = 0, used_prev;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot open chain file %s: %s", path,
		    tlss_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	objs = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (objs == NULL) {
		snprintf(err, errlen, "cannot read PEM objects from chain file %s: %s",
		    path, tlss_errstr(ebuf, sizeof(ebuf)));
		return (-1);
	}
	/*
	 * PEM_X509_INFO_read_bio() attaches a key to the X509_INFO of the
	 * certificate read just before it, or gives it an entry of its own.
	 */
	n = sk_X509_INFO_num(objs);
	for (i = 0; i < n; i++) {
		o = sk_X509_INFO_value(objs, i);
		if (o->x_pkey == NULL || o->x_pkey->dec_pkey == NULL)
			continue;
		key = o->x_pkey->dec_pkey;
		leaf = NULL;
		used_prev = 0;
		if (o->x509 != NULL && X509_check_private_key(o->x509, key) == 1)
			leaf = o->x509;		/* "cert, key" order */
		else if (i + 1 < n && sk_X509_INFO_value(objs, i + 1)->x509 != NULL &&
		    X509_check_private_key(sk_X509_INFO_value(objs, i + 1)->x509, key) == 1) {
			leaf = sk_X509_INFO_value(objs, i + 1)->x509;	/* "key, cert" */
			used_prev = 1;
		}
		ERR_clear_error();
		if (leaf == NULL) {
			snprintf(err, errlen, "chain file %s: private key #%d is not "
			    "next to its certificate", path, loaded + 1);
			goto fail;
		}
		if ((chain = sk_X509_new_null()) == NULL)
			goto oom;
		for (j = i + 1 + used_prev; j < n; j++) {
			X509_INFO *c = sk_X509_INFO_value(objs, j);
			if (c->x_pkey != NULL || c->x509 == NULL)
				break;
			/* A cert followed by its own key starts the next group. */
			if (j + 1 < n && sk_X509_INFO_value(objs, j + 1)->x_pkey != NULL &&
			    sk_X509_INFO_value(objs, j + 1)->x509 == NULL)
				break;
			if (sk_X509_push(chain, c->x509) == 0)
				goto oom;
		}
		if (SSL_CTX_use_cert_and_key(ctx, leaf, key, chain, 1) != 1) {
			snprintf(err, errlen, "chain file %s: cannot use key #%d with "
			    "its certificate chain: %s", path, loaded + 1,
			    tlss_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
		sk_X509_free(chain);
		chain = NULL;
		loaded++;
	}
	sk_X509_INFO_pop_free(objs, X509_INFO_free);
	if (loaded == 0) {
		snprintf(err, errlen, "chain file %s holds no private key", path);
		return (-1);
	}
	return (loaded);
oom:
	snprintf(err, errlen, "out of memory");
fail:
	sk_X509_free(chain);
	sk_X509_INFO_pop_free(objs, X509_INFO_free);
	return (-1);
}

/* tlss_info_cb - loglevel >= 2: handshake progress, as Postfix does */
static void
tlss_info_cb(const SSL *ssl, int where, int ret)
{
	const char *label = SSL_get_ex_data(ssl, tlss_label_idx);

	if (label == NULL)
		label = "unknown";
	if (where & SSL_CB_LOOP)
		log_info("%s: SSL_accept:%s", label, SSL_state_string_long(ssl));
	else if (where & SSL_CB_ALERT)
		log_info("%s: SSL3 alert %s:%s:%s", label,
		    (where & SSL_CB_READ) ? "read" : "write",
		    SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
	else if ((where & SSL_CB_EXIT) && ret == 0)
		log_info("%s: SSL_accept:failed in %s", label,
		    SSL_state_string_long(ssl));
}

struct tlss_ctx *
tlss_ctx_new(const struct tlss_props *p, char *err, size_t errlen)
{
	struct tlss_ctx *t;
	struct tls_protocols prot;
	char	 ebuf[256], files[2048], *tok, *save;
	int	 r;

	pthread_once(&tlss_once, tlss_once_init);
	if (tls_parse_protocols(p->protocols, &prot, err, errlen) < 0)
		return (NULL);
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	t->magic = TLSS_CTX_MAGIC;
	t->loglevel = p->loglevel;
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tlss_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, prot.min_version);
	SSL_CTX_set_max_proto_version(t->ctx, prot.max_version);
	/*
	 * No renegotiation (a DoS vector, and Postfix refuses it too);
	 * partial writes so the relay can use bounded buffers.
	 */
	SSL_CTX_set_options(t->ctx, prot.options | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(t->ctx, p->cipherlist) != 1) {
		snprintf(err, errlen, "invalid cipher list \"%s\": %s", p->cipherlist,
		    tlss_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"tlsproxy", 8);
	if ((r = tlss_load_pair(t->ctx, p->cert_file, p->key_file, "RSA", err, errlen)) < 0)
		goto fail;
	t->ncerts += r;
	if ((r = tlss_load_pair(t->ctx, p->eccert_file, p->eckey_file, "ECDSA", err, errlen)) < 0)
		goto fail;
	t->ncerts += r;
	if ((r = tlss_load_pair(t->ctx, p->dcert_file, p->dkey_file, "DSA", err, errlen)) < 0)
		goto fail;
	t->ncerts += r;
	if (strlen(p->chain_files) >= sizeof(files)) {
		snprintf(err, errlen, "chain file list too long");
		goto fail;
	}
	strcpy(files, p->chain_files);
	for (tok = strtok_r(files, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if ((r = tlss_load_chain_file(t->ctx, tok, err, errlen)) < 0)
			goto fail;
		t->ncerts += r;
	}
	if (*p->CAfile != '\0' || *p->CApath != '\0') {
		if (SSL_CTX_load_verify_locations(t->ctx,
		    *p->CAfile ? p->CAfile : NULL, *p->CApath ? p->CApath : NULL) != 1) {
			snprintf(err, errlen, "cannot load CA certificates from %s%s%s: %s",
			    p->CAfile, *p->CAfile && *p->CApath ? " and " : "", p->CApath,
			    tlss_errstr(ebuf, sizeof(ebuf)));
			goto fail;
		}
	}
	if (p->loglevel >= 2)
		SSL_CTX_set_info_callback(t->ctx, tlss_info_cb);
	return (t);
fail:
	tlss_ctx_free(t);
	return (NULL);
}

void
tlss_ctx_free(struct tlss_ctx *t)
{
	if (t == NULL)
		return;
	if (t->magic != TLSS_CTX_MAGIC)
		log_panic("%s: bad magic", __func__);
	SSL_CTX_free(t->ctx);
	t->magic = 0;
	free(t);
}

SSL *
tlss_ssl_new(struct tlss_ctx *t, int fd, const char *label)
{
	SSL	*ssl;

	if ((ssl = SSL_new(t->ctx)) == NULL)
		return (NULL);
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_ex_data(ssl, tlss_label_idx, (void *)label);
	return (ssl);
}

enum tlss_result
tlss_handshake(SSL *ssl, int fd, int watch_fd, int64_t deadline,
    _Atomic int64_t *busy)
{
	struct pollfd pfd[2];
	int	 r, e, n;

	for (;;) {
		ERR_clear_error();
		if (busy)
			*busy = sys_now_ms();
		r = SSL_accept(ssl);
		if (busy)
			*busy = 0;
		if (r == 1)
			return (TLSS_OK);
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return (TLSS_FAIL);
		pfd[0].fd = fd;
		pfd[0].events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		pfd[1].fd = watch_fd;
		pfd[1].events = POLLRDHUP;	/* hang-up only; leave its data alone */
		for (;;) {
			pfd[0].revents = pfd[1].revents = 0;
			n = poll(pfd, watch_fd >= 0 ? 2 : 1, sys_ms_left(deadline));
			if (n >= 0 || errno != EINTR)
				break;
		}
		if (n == 0)
			return (TLSS_TIMEOUT);
		if (n < 0)
			return (TLSS_FAIL);
		if (watch_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return (TLSS_LOCAL_GONE);
	}
}
