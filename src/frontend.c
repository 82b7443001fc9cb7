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
#include "relay.h"
#include "session.h"
#include "starttls.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

/* frontend_connect - non-blocking connect by deadline; fd or -1 with err */
static int
frontend_connect(struct sess *s, char *err, size_t errlen)
{
	int	 fd, soerr = 0, r, on = 1;
	socklen_t len = sizeof(soerr);

	fd = socket(s->backend.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	sess_set_plain_fd(s, fd);	/* owned by the session from here */
	if (s->backend.ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(fd, (struct sockaddr *)&s->backend.ss, s->backend.len) == 0)
		return (fd);
	if (errno != EINPROGRESS && errno != EAGAIN) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	r = sys_wait(fd, POLLOUT, sys_now_ms() + s->connect_ms);
	if (r == 0) {
		snprintf(err, errlen, "connection timed out after %d s", s->connect_ms / 1000);
		return (-1);
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (soerr != 0) {
		snprintf(err, errlen, "%s", strerror(soerr));
		return (-1);
	}
	return (fd);
}

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

/*
 * frontend_smtp - a STARTTLS listener: the backend at once (it greets
 * first), the PROXY header without TLS TLVs (there is no TLS yet),
 * then the SMTP dialogue
 */
static void
frontend_smtp(struct sess *s, const struct cfg_listener *lc)
{
	static const char unavail[] =
	    "421 4.3.0 Error: service not available; closing connection\r\n";
	char	 err[256];

	if (frontend_connect(s, err, sizeof(err)) < 0) {
		log_warnx("backend connect to %s failed for %s: %s", s->backend_label,
		    s->peer, err);
		(void)sys_write_all(s->net_fd, unavail, sizeof(unavail) - 1,
		    sys_now_ms() + 1000);
		return;
	}
	if (lc->proxy_protocol != CFG_PROXY_NONE &&
	    frontend_proxy(s, lc->proxy_protocol, NULL) < 0) {
		(void)sys_write_all(s->net_fd, unavail, sizeof(unavail) - 1,
		    sys_now_ms() + 1000);
		return;
	}
	starttls_run(s, lc);
}

void
frontend_run(struct sess *s)
{
	const struct cfg_listener *lc = s->tls->lcfg;
	struct relay_result res;
	char	 err[256];
	int	 on = 1;

	log_info("CONNECT from %s", s->peer);
	(void)setsockopt(s->net_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (lc != NULL && lc->starttls != CFG_STARTTLS_NONE) {
		frontend_smtp(s, lc);
		goto done;
	}
	if (s->tls->tls == NULL) {	/* excluded by configuration checks */
		log_warnx("%s: %s", s->lst_label, s->tls->off_reason);
		goto done;
	}
	if (sess_tls_accept(s, -1, sys_now_ms() + s->handshake_ms, NULL) != TLSS_OK)
		goto done;
	if (frontend_connect(s, err, sizeof(err)) < 0) {
		log_warnx("backend connect to %s failed for %s: %s", s->backend_label,
		    s->peer, err);
		(void)SSL_shutdown(s->ssl);	/* best effort close_notify */
		goto done;
	}
	if (lc != NULL && lc->proxy_protocol != CFG_PROXY_NONE &&
	    frontend_proxy(s, lc->proxy_protocol, s->ssl) < 0) {
		(void)SSL_shutdown(s->ssl);
		goto done;
	}
	relay_run(s->plain_fd, s->ssl, s->net_fd, s->idle_ms, 1, &s->busy, &res);
	sess_relay_done(s, s->ssl, &res);
	log_debug("%s: session ended (%s): %llu bytes to client, %llu to backend",
	    s->peer, relay_end_str(res.end), (unsigned long long)res.to_remote,
	    (unsigned long long)res.to_local);
done:
	log_info("DISCONNECT %s", s->peer);
}
