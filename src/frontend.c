/*
 * NAME
 *	frontend - TCP frontend: TLS in, plaintext to a backend
 * DESCRIPTION
 *	See frontend.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "frontend.h"
#include "log.h"
#include "proxyproto.h"
#include "session.h"
#include "starttls.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

/*
 * frontend_proxy - the PROXY protocol header to the backend, before any
 * other byte: the client's address and the address it connected to.
 * ssl: the client's TLS session, for the v2 TLS TLVs, or NULL.
 */
static int
frontend_proxy(struct sess *s, int version, SSL *ssl)
{
	struct sockaddr_storage src, dst;
	socklen_t slen = sizeof(src), dlen = sizeof(dst);
	unsigned char buf[PP_V2_MAX];
	struct pp_tls t, *tp = NULL;
	char	 cn[256];
	X509	*cert;
	ssize_t	 n;

	if (getpeername(s->net_fd, (struct sockaddr *)&src, &slen) < 0 ||
	    getsockname(s->net_fd, (struct sockaddr *)&dst, &dlen) < 0) {
		log_warn("%s: cannot get the connection's addresses", s->peer);
		return (-1);
	}
	if (version == CFG_PROXY_V1) {
		n = pp_v1_encode((struct sockaddr *)&src, (struct sockaddr *)&dst,
		    (char *)buf, sizeof(buf));
	} else {
		if (ssl != NULL) {
			memset(&t, 0, sizeof(t));
			t.version = SSL_get_version(ssl);
			t.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
			t.sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
			/* The specification: non-zero unless a certificate was verified. */
			t.verify = X509_V_ERR_UNSPECIFIED;
			if ((cert = SSL_get0_peer_certificate(ssl)) != NULL) {
				t.cert_sess = 1;
				t.cert_conn = !SSL_session_reused(ssl);
				t.verify = (uint32_t)SSL_get_verify_result(ssl);
				if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
				    NID_commonName, cn, sizeof(cn)) > 0)
					t.cn = cn;
			}
			tp = &t;
		}
		n = pp_v2_encode((struct sockaddr *)&src, (struct sockaddr *)&dst,
		    tp, buf, sizeof(buf));
	}
	if (n < 0) {
		log_warnx("%s: cannot encode the PROXY protocol header", s->peer);
		return (-1);
	}
	if (sys_write_all(s->plain_fd, buf, (size_t)n, sys_now_ms() +
	    s->connect_ms) < 0) {
		log_warn("%s: cannot send the PROXY protocol header to %s", s->peer,
		    s->backend_label);
		return (-1);
	}
	return (0);
}

/* frontend_end - the session is over; the worker frees it */
static void
frontend_end(struct sess *s)
{
	log_info("DISCONNECT %s", s->peer);
}

/*
 * frontend_connected - the backend connect is over (err: why it failed,
 * or NULL): the PROXY header, then the relay (implicit TLS) or the
 * SMTP dialogue (STARTTLS, which has no TLS yet, so no TLVs)
 */
static void
frontend_connected(struct sess *s, const char *err)
{
	static const char unavail[] =
	    "421 4.3.0 Error: service not available; closing connection\r\n";
	const struct cfg_listener *lc = s->tls->lcfg;
	int	 smtp = lc != NULL && lc->starttls != CFG_STARTTLS_NONE;

	if (err != NULL)
		log_warnx("backend connect to %s failed for %s: %s",
		    s->backend_label, s->peer, err);
	if (err != NULL || (lc != NULL && lc->proxy_protocol != CFG_PROXY_NONE &&
	    frontend_proxy(s, lc->proxy_protocol, smtp ? NULL : s->ssl) < 0)) {
		/* Nothing sent to the client yet: these never block long. */
		if (smtp)
			(void)sys_write_all(s->net_fd, unavail, sizeof(unavail) - 1,
			    sys_now_ms() + 1000);
		else
			(void)SSL_shutdown(s->ssl);	/* best effort close_notify */
		frontend_end(s);
		return;
	}
	if (smtp)
		starttls_run(s, lc, frontend_end);
	else
		sess_relay_start(s, s->ssl, s->idle_ms, 1, frontend_end);
}

/* frontend_connect_wait - the connect has had its chance: how did it go? */
static void
frontend_connect_wait(struct sess *s)
{
	char	 err[128];
	int	 soerr = 0;
	socklen_t len = sizeof(soerr);

	if (s->pk.timed_out) {
		s->pk.timed_out = 0;
		snprintf(err, sizeof(err), "connection timed out after %d s",
		    s->connect_ms / 1000);
		frontend_connected(s, err);
		return;
	}
	if (getsockopt(s->plain_fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	frontend_connected(s, soerr != 0 ? strerror(soerr) : NULL);
}

/* frontend_connect - a non-blocking connect to the backend, by its deadline */
static void
frontend_connect(struct sess *s)
{
	int	 fd, on = 1;

	fd = socket(s->backend.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0) {
		frontend_connected(s, strerror(errno));
		return;
	}
	sess_set_plain_fd(s, fd);	/* owned by the session from here */
	if (s->backend.ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (struct sockaddr *)&s->backend.ss, s->backend.len) == 0) {
		frontend_connected(s, NULL);
		return;
	}
	if (errno != EINPROGRESS && errno != EAGAIN) {
		frontend_connected(s, strerror(errno));
		return;
	}
	park_item_set(&s->pk, fd, POLLOUT, -1, 0, sys_now_ms() + s->connect_ms);
	s->pk.timed_out = 0;
	if (sess_wait(s, frontend_connect_wait))
		frontend_connect_wait(s);
}

/* frontend_tls_done - the implicit-TLS handshake is over */
static void
frontend_tls_done(struct sess *s, enum tls_hs hr)
{
	if (hr != TLS_HS_OK) {
		frontend_end(s);
		return;
	}
	/* Only now: failed or abusive handshakes never reach the backend. */
	frontend_connect(s);
}

void
frontend_run(struct sess *s)
{
	const struct cfg_listener *lc = s->tls->lcfg;
	int	 on = 1;

	log_info("CONNECT from %s", s->peer);
	(void)setsockopt(s->net_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (lc != NULL && lc->starttls != CFG_STARTTLS_NONE) {
		frontend_connect(s);	/* the backend greets first */
		return;
	}
	if (s->tls->tls == NULL) {	/* excluded by configuration checks */
		log_warnx("%s: %s", s->lst_label, s->tls->off_reason);
		frontend_end(s);
		return;
	}
	sess_tls_accept(s, -1, sys_now_ms() + s->handshake_ms, NULL,
	    frontend_tls_done);
}
