/*
 * NAME
 *	tls_common - OpenSSL glue shared by the TLS roles
 * DESCRIPTION
 *	See tls_common.h.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "sys.h"
#include "tls_common.h"

static const struct {
	const char *name;
	int	 version;
	uint64_t no_op;
} tls_versions[] = {
	{ "SSLv3", SSL3_VERSION, SSL_OP_NO_SSLv3 },
	{ "TLSv1", TLS1_VERSION, SSL_OP_NO_TLSv1 },
	{ "TLSv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
	{ "TLSv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
	{ "TLSv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};
#define TLS_NVERSIONS	(sizeof(tls_versions) / sizeof(tls_versions[0]))

void
tls_init(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_LOAD_CONFIG, NULL);
}

void
tls_log_errors(void)
{
	const char *file, *data, *func;
	char	 buf[256];
	unsigned long code;
	int	 line, flags;

	while ((code = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(code, buf, sizeof(buf));
		/* Postfix's form: the data field only when there is one. */
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
			log_warnx("TLS library problem: %s:%s:%d:%s:", buf, file,
			    line, data);
		else
			log_warnx("TLS library problem: %s:%s:%d:", buf, file, line);
	}
}

/* tls_errstr - last OpenSSL error as text (and clear the queue) */
const char *
tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return (buf);
}

int
tls_close_notify(SSL *ssl, int fd, _Atomic int64_t *busy)
{
	int64_t	 deadline = sys_now_ms() + 1000;
	int	 r, e;

	for (;;) {
		ERR_clear_error();
		if (busy)
			*busy = sys_now_ms();
		r = SSL_shutdown(ssl);
		if (busy)
			*busy = 0;
		if (r >= 0)
			break;		/* sent; we do not wait for the peer's */
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			break;
		if (sys_wait(fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
		    deadline) <= 0)
			break;
	}
	ERR_clear_error();
	return (r >= 0 ? 0 : -1);
}

void
tls_key_update_answer(SSL *ssl)
{
	if (SSL_version(ssl) < TLS1_3_VERSION ||
	    SSL_get_key_update_type(ssl) == SSL_KEY_UPDATE_NONE)
		return;
	/*
	 * OpenSSL only notes the peer's request and answers with the next
	 * SSL_write; SSL_key_update() makes it a handshake that
	 * SSL_do_handshake() sends now (if the socket is full, the next
	 * write or read finishes it).
	 */
	ERR_clear_error();
	if (SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1)
		(void)SSL_do_handshake(ssl);
	ERR_clear_error();
}

void
tls_mark_clean(SSL *ssl)
{
	SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

const char *
tls_version_name(int version)
{
	size_t	 i;

	for (i = 0; i < TLS_NVERSIONS; i++)
		if (tls_versions[i].version == version)
			return (tls_versions[i].name);
	return ("unknown");
}

/* tls_version_index - index of a protocol name; -2 for SSLv2, -1 unknown */
static int
tls_version_index(const char *name)
{
	size_t	 i;

	if (strcasecmp(name, "SSLv2") == 0)
		return (-2);
	for (i = 0; i < TLS_NVERSIONS; i++)
		if (strcasecmp(name, tls_versions[i].name) == 0)
			return ((int)i);
	return (-1);
}

int
tls_parse_protocols(const char *spec, struct tls_protocols *p,
    char *err, size_t errlen)
{
	char	 buf[512], *tok, *save, *name;
	int	 incl = 0, excl = 0, lo = 0, hi = (int)TLS_NVERSIONS - 1;
	int	 any_incl = 0, idx, i, first = -1, last = -1;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "protocol list too long");
		return (-1);
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, " \t,:", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,:", &save)) {
		name = tok;
		if (tok[0] == '!')
			name = tok + 1;
		else if (strncmp(tok, ">=", 2) == 0 || strncmp(tok, "<=", 2) == 0)
			name = tok + 2;
		if ((idx = tls_version_index(name)) == -1) {
			snprintf(err, errlen, "unknown TLS protocol \"%s\" (known: SSLv2, "
			    "SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", name);
			return (-1);
		}
		if (tok[0] == '!') {
			if (idx >= 0)
				excl |= 1 << idx;
		} else if (tok[0] == '>') {
			lo = idx < 0 ? 0 : idx;
		} else if (tok[0] == '<') {
			if (idx == -2) {
				snprintf(err, errlen, "\"%s\" leaves no usable protocol", tok);
				return (-1);
			}
			hi = idx;
		} else {
			any_incl = 1;
			if (idx >= 0)
				incl |= 1 << idx;
		}
	}
	/* Old inclusion syntax: only the listed protocols. */
	for (i = 0; i < (int)TLS_NVERSIONS; i++) {
		int on = (!any_incl || (incl & (1 << i))) && !(excl & (1 << i)) &&
		    i >= lo && i <= hi;
		if (on) {
			if (first < 0)
				first = i;
			last = i;
		}
	}
	if (first < 0) {
		snprintf(err, errlen, "\"%s\" leaves no usable protocol", spec);
		return (-1);
	}
	p->min_version = tls_versions[first].version;
	p->max_version = tls_versions[last].version;
	p->options = 0;
	for (i = first; i <= last; i++) {
		int on = (!any_incl || (incl & (1 << i))) && !(excl & (1 << i));
		if (!on)
			p->options |= tls_versions[i].no_op;
	}
	return (0);
}

int
tls_cipher_list(const char *grade, const char *high, const char *medium,
    const char *low, const char *export_, const char *null,
    const char *exclusions, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *base;
	char	 buf[1024], *tok, *save;
	size_t	 n;

	if (strcasecmp(grade, "high") == 0)
		base = high;
	else if (strcasecmp(grade, "medium") == 0)
		base = medium;
	/* Postfix >= 3.8: low and export mean medium, unless a list is set. */
	else if (strcasecmp(grade, "low") == 0)
		base = *low != '\0' ? low : medium;
	else if (strcasecmp(grade, "export") == 0)
		base = *export_ != '\0' ? export_ : medium;
	else if (strcasecmp(grade, "null") == 0)
		base = null;
	else {
		snprintf(err, errlen, "unknown cipher grade \"%s\"", grade);
		return (-1);
	}
	if ((n = (size_t)snprintf(out, outlen, "%s", base)) >= outlen)
		goto toolong;
	if (strlen(exclusions) >= sizeof(buf))
		goto toolong;
	strcpy(buf, exclusions);
	for (tok = strtok_r(buf, " \t,:", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,:", &save)) {
		n += (size_t)snprintf(out + n, outlen - n, ":!%s", tok);
		if (n >= outlen)
			goto toolong;
	}
	return (0);
toolong:
	snprintf(err, errlen, "cipher list too long");
	return (-1);
}

/* tls_key_desc - "RSA-PSS (2048 bits)" style description of a signing key */
static void
tls_key_desc(EVP_PKEY *pkey, int sig_nid, char *name, size_t namelen,
    char *detail, size_t detlen)
{
	char	 curve[80];
	size_t	 clen;

	detail[0] = '\0';
	if (sig_nid == NID_rsassaPss || sig_nid == EVP_PKEY_RSA_PSS)
		snprintf(name, namelen, "RSA-PSS");
	else if (EVP_PKEY_is_a(pkey, "RSA"))
		snprintf(name, namelen, "RSA");
	else if (EVP_PKEY_is_a(pkey, "EC"))
		snprintf(name, namelen, "ECDSA");
	else
		snprintf(name, namelen, "%s", OBJ_nid2sn(EVP_PKEY_get_id(pkey)));
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pkey, "group", curve,
		    sizeof(curve), &clen) == 1)
			snprintf(detail, detlen, " (%s)", curve);
	} else if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS") ||
	    EVP_PKEY_is_a(pkey, "DSA")) {
		snprintf(detail, detlen, " (%d bits)", EVP_PKEY_get_bits(pkey));
	}
}

void
tls_kex(SSL *ssl, unsigned int pf_version, char *name, size_t namelen,
    char *curve, size_t curvelen, unsigned int *bits)
{
	const char *group;
	EVP_PKEY *kex = NULL;
	size_t	 clen;

	*name = *curve = '\0';
	*bits = 0;
	if (SSL_version(ssl) < TLS1_3_VERSION)
		return;
	/* 3.10 and later: OpenSSL's name of the negotiated group, alone. */
	if (pf_version >= 310 && (group = SSL_group_to_name(ssl,
	    SSL_get_negotiated_group(ssl))) != NULL) {
		snprintf(name, namelen, "%s", group);
		return;
	}
	if (SSL_get_peer_tmp_key(ssl, &kex) != 1 || kex == NULL) {
		ERR_clear_error();
		return;
	}
	if (EVP_PKEY_is_a(kex, "EC")) {
		snprintf(name, namelen, "ECDHE");
		if (EVP_PKEY_get_utf8_string_param(kex, "group", curve, curvelen,
		    &clen) != 1)
			snprintf(curve, curvelen, "unknown");
	} else if (EVP_PKEY_is_a(kex, "DH")) {
		snprintf(name, namelen, "DHE");
		*bits = (unsigned int)EVP_PKEY_get_bits(kex);
	} else if (EVP_PKEY_get_id(kex) > 0) {
		snprintf(name, namelen, "%s", OBJ_nid2sn(EVP_PKEY_get_id(kex)));
	} else if (EVP_PKEY_get0_type_name(kex) != NULL) {
		snprintf(name, namelen, "%s", EVP_PKEY_get0_type_name(kex));
	}
	EVP_PKEY_free(kex);
}

void
tls_summary(SSL *ssl, int server, char *buf, size_t buflen)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	EVP_PKEY *sigkey = NULL;
	X509	*cert;
	char	 name[64], detail[96], curve[80];
	int	 alg = 0, use, nid = NID_undef, type_nid = NID_undef;
	unsigned int bits;
	size_t	 n;

	use = c ? SSL_CIPHER_get_bits(c, &alg) : 0;
	n = (size_t)snprintf(buf, buflen, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), c ? SSL_CIPHER_get_name(c) : "unknown", use, alg);
	/* As Postfix: key exchange and signature details for TLS 1.3 only. */
	if (SSL_version(ssl) < TLS1_3_VERSION || n >= buflen)
		return;
	tls_kex(ssl, TLS_PF_CURRENT, name, sizeof(name), curve, sizeof(curve),
	    &bits);
	if (*name != '\0')
		n += (size_t)snprintf(buf + n, buflen - n, " key-exchange %s", name);
	if (n < buflen && *curve != '\0')
		n += (size_t)snprintf(buf + n, buflen - n, " (%s)", curve);
	else if (n < buflen && bits > 0)
		n += (size_t)snprintf(buf + n, buflen - n, " (%u bits)", bits);
	/* A resumed session shows no signatures, as in Postfix. */
	if (n >= buflen || SSL_session_reused(ssl))
		return;
	if (!server)
		return;
	if ((cert = SSL_get_certificate(ssl)) != NULL &&
	    (sigkey = X509_get0_pubkey(cert)) != NULL) {
		SSL_get_signature_type_nid(ssl, &type_nid);
		tls_key_desc(sigkey, type_nid, name, sizeof(name), detail,
		    sizeof(detail));
		n += (size_t)snprintf(buf + n, buflen - n, " server-signature %s%s",
		    name, detail);
		if (n < buflen && SSL_get_signature_nid(ssl, &nid) == 1 &&
		    nid != NID_undef)
			n += (size_t)snprintf(buf + n, buflen - n, " server-digest %s",
			    OBJ_nid2sn(nid));
		if (n >= buflen)
			return;
	}
	/* A client certificate: its signature, as Postfix logs it. */
	if ((cert = SSL_get0_peer_certificate(ssl)) != NULL &&
	    (sigkey = X509_get0_pubkey(cert)) != NULL) {
		type_nid = NID_undef;
		SSL_get_peer_signature_type_nid(ssl, &type_nid);
		tls_key_desc(sigkey, type_nid, name, sizeof(name), detail,
		    sizeof(detail));
		n += (size_t)snprintf(buf + n, buflen - n, " client-signature %s%s",
		    name, detail);
		nid = NID_undef;
		if (n < buflen && SSL_get_peer_signature_nid(ssl, &nid) == 1 &&
		    nid != NID_undef)
			snprintf(buf + n, buflen - n, " client-digest %s", OBJ_nid2sn(nid));
	}
}

enum tls_hs
tls_handshake_run(SSL *ssl, int fd, int watch_fd, int64_t deadline,
    int grace_ms, _Atomic int64_t *busy)
{
	struct pollfd pfd[2];
	int64_t	 grace_end = grace_ms >= 0 ? sys_now_ms() + grace_ms : -1;
	int	 r, e, n, ms;

	for (;;) {
		ERR_clear_error();
		if (busy)
			*busy = sys_now_ms();
		r = SSL_do_handshake(ssl);
		if (busy)
			*busy = 0;
		if (r == 1)
			return (TLS_HS_OK);
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return (TLS_HS_FAIL);
		pfd[0].fd = fd;
		pfd[0].events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		pfd[1].fd = watch_fd;
		pfd[1].events = POLLRDHUP;	/* hang-up only; leave its data alone */
		for (;;) {
			pfd[0].revents = pfd[1].revents = 0;
			/* One grace per call, however the peer trickles. */
			ms = sys_ms_left(deadline);
			if (grace_end >= 0 && sys_ms_left(grace_end) < ms)
				ms = sys_ms_left(grace_end);
			n = poll(pfd, watch_fd >= 0 ? 2 : 1, ms);
			if (n >= 0 || errno != EINTR)
				break;
		}
		if (n == 0)
			return (sys_ms_left(deadline) == 0 ? TLS_HS_TIMEOUT :
			    TLS_HS_WAIT);
		if (n < 0)
			return (TLS_HS_FAIL);
		if (watch_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return (TLS_HS_LOCAL_GONE);
		/* A dead socket with nothing left to read would spin: give up. */
		if ((pfd[0].revents & (POLLERR | POLLNVAL)) ||
		    ((pfd[0].revents & POLLHUP) && !(pfd[0].revents & POLLIN)))
			return (TLS_HS_FAIL);
	}
}

short
tls_handshake_want(const SSL *ssl)
{
	return (SSL_want_write(ssl) ? POLLOUT : POLLIN);
}

void
tls_log_state(const SSL *ssl, const char *label, int where, int ret)
{
	const char *op = SSL_is_server(ssl) ? "SSL_accept" : "SSL_connect";

	if (where & SSL_CB_LOOP)
		log_trace("%s: %s:%s", label, op, SSL_state_string_long(ssl));
	else if ((where & SSL_CB_ALERT) && (ret & 0xff) != SSL3_AD_CLOSE_NOTIFY)
		log_trace("%s: SSL3 alert %s:%s:%s", label,
		    (where & SSL_CB_READ) ? "read" : "write",
		    SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
	else if ((where & SSL_CB_EXIT) && ret == 0)
		log_trace("%s: %s:failed in %s", label, op,
		    SSL_state_string_long(ssl));
}
