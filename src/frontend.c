/*
 * NAME
 *	frontend - implicit-TLS TCP frontend: TLS in, plaintext to a backend
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

#include "frontend.h"
#include "log.h"
#include "relay.h"
#include "session.h"
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

void
frontend_run(struct sess *s)
{
	struct relay_result res;
	enum tlss_result hr;
	char	 err[256];
	int	 on = 1;

	log_info("CONNECT from %s", s->peer);
	(void)setsockopt(s->net_fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (s->tls->tls == NULL) {	/* excluded by configuration checks */
		log_warnx("%s: %s", s->lst_label, s->tls->off_reason);
		goto done;
	}
	if ((s->ssl = tlss_ssl_new(s->tls->tls, s->net_fd, s->peer,
	    s->sid_ctx)) == NULL) {
		tls_log_errors();
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		goto done;
	}
	hr = tlss_handshake(s->ssl, s->net_fd, -1, sys_now_ms() + s->handshake_ms,
	    &s->busy);
	if (hr != TLSS_OK) {
		STATS_INC(STAT_HANDSHAKE_FAILED);
		if (hr == TLSS_TIMEOUT)
			log_warnx("ciphertext read/write timeout for %s", s->peer);
		tls_log_errors();
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		goto done;
	}
	tlss_count_handshake(s->ssl);
	tlss_log_established(s->tls->tls, s->ssl, s->peer);
	if (frontend_connect(s, err, sizeof(err)) < 0) {
		log_warnx("backend connect to %s failed for %s: %s", s->backend_label,
		    s->peer, err);
		(void)SSL_shutdown(s->ssl);	/* best effort close_notify */
		goto done;
	}
	relay_run(s->plain_fd, s->ssl, s->net_fd, s->idle_ms, &s->busy, &res);
	if (res.end == RELAY_LOCAL_EOF || res.end == RELAY_REMOTE_EOF)
		tlss_mark_clean(s->ssl);
	STATS_ADD(STAT_BYTES_TO_REMOTE, res.to_remote);
	STATS_ADD(STAT_BYTES_TO_LOCAL, res.to_local);
	if (res.end == RELAY_TIMEOUT) {
		STATS_INC(STAT_TIMEOUTS);
		log_warnx("ciphertext read/write timeout for %s", s->peer);
	}
	else if (res.end == RELAY_REMOTE_ERROR)
		tls_log_errors();
	log_debug("%s: session ended (%s): %llu bytes to client, %llu to backend",
	    s->peer, relay_end_str(res.end), (unsigned long long)res.to_remote,
	    (unsigned long long)res.to_local);
done:
	log_info("DISCONNECT %s", s->peer);
}
