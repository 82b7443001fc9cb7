/*
 * NAME
 *	handoff - the Postfix tlsproxy protocol on an accepted UNIX connection
 * DESCRIPTION
 *	See handoff.h and the protocol description (R1, Q1[, Q2], R2,
 *	descriptor, handshake, plaintext). Timers follow the real
 *	tlsproxy: 100 s for the request and for the descriptor, the
 *	request's first timeout for the handshake, its second timeout
 *	+ 10 s of inactivity after it. Our own writes on the local
 *	socket are bounded by tlsproxy_watchdog_timeout.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "fdpass.h"
#include "handoff.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

#define HANDOFF_REQ_TIMEOUT_MS	(100 * 1000)	/* request, then descriptor */
#define HANDOFF_EOF_WAIT_MS	(10 * 1000)	/* after status=0 */
#define HANDOFF_REQ_MAX		(256 * 1024)	/* Q1 + Q2 never come near */

#define HANDOFF_ROLE_SERVER	(1 << 0)
#define HANDOFF_ROLE_CLIENT	(1 << 1)
#define HANDOFF_SEND_CONTEXT	(1 << 2)
#define HANDOFF_PROBE_ONLY	(1 << 3)

static const unsigned char handoff_r1[] = "protocol\0tlsproxy_protocol\0";	/* + NUL */
static const unsigned char handoff_refuse[] =
    "protocol\0tlsproxy_protocol\0\0status\0" "0\0";			/* + NUL */

const unsigned char *
handoff_refuse_bytes(size_t *len)
{
	*len = sizeof(handoff_refuse);	/* includes the final terminator NUL */
	return (handoff_refuse);
}

/* Buffered reader for request records; never reads descriptors. */
struct handoff_in {
	unsigned char *buf;		/* owned */
	size_t	 len;
	size_t	 cap;
};

/*
 * handoff_read_record - next complete record, reading as needed.
 * Returns 1 with rec filled, 0 at EOF before a complete record, -1 on error.
 */
static int
handoff_read_record(int fd, struct handoff_in *in, struct attr_rec *rec,
    int64_t deadline, char *err, size_t errlen)
{
	size_t	 used;
	ssize_t	 n;
	int	 r;

	for (;;) {
		r = attr_decode(in->buf, in->len, rec, &used, err, errlen);
		if (r < 0)
			return (-1);
		if (r == 1) {
			memmove(in->buf, in->buf + used, in->len - used);
			in->len -= used;
			return (1);
		}
		if (in->len == in->cap) {
			if (in->cap >= HANDOFF_REQ_MAX) {
				snprintf(err, errlen, "request larger than %d bytes",
				    HANDOFF_REQ_MAX);
				return (-1);
			}
			in->cap = in->cap ? in->cap * 2 : 4096;
			if ((in->buf = realloc(in->buf, in->cap)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return (-1);
			}
		}
		n = fdpass_read(fd, in->buf + in->len, in->cap - in->len, deadline,
		    err, errlen);
		if (n < 0)
			return (-1);
		if (n == 0) {
			snprintf(err, errlen, in->len ? "premature end-of-input in the "
			    "middle of a request" : "unexpected EOF before the request");
			return (0);
		}
		in->len += (size_t)n;
	}
}

/* handoff_status - write R2 */
static int
handoff_status(struct sess *s, int ok)
{
	static const unsigned char ok1[] = "status\0" "1\0";
	static const unsigned char ok0[] = "status\0" "0\0";
	int64_t	 deadline = sys_now_ms() + s->snap->watchdog_ms;

	if (sys_write_all(s->plain_fd, ok ? ok1 : ok0, sizeof(ok1), deadline) < 0) {
		log_warn("handoff: write status attribute");
		return (-1);
	}
	return (0);
}

/* handoff_wait_eof - after status=0 the client closes; let it, within bounds */
static void
handoff_wait_eof(struct sess *s)
{
	unsigned char buf[512];
	char	 err[128];
	int64_t	 deadline = sys_now_ms() + HANDOFF_EOF_WAIT_MS;

	while (fdpass_read(s->plain_fd, buf, sizeof(buf), deadline, err,
	    sizeof(err)) > 0)
		;
}

/* handoff_check_fd - the descriptor must be a connected stream socket */
static int
handoff_check_fd(int fd, char *err, size_t errlen)
{
	struct stat st;
	int	 type = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "received descriptor is not a socket");
		return (-1);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM) {
		snprintf(err, errlen, "received descriptor is not a stream socket");
		return (-1);
	}
	return (0);
}

/* handoff_tls - handshake and relay on the received peer socket */
static void
handoff_tls(struct sess *s, unsigned int hs_timeout, unsigned int idle_timeout)
{
	struct relay_result res;
	enum tlss_result hr;
	int64_t	 hs_deadline;

	char	 scope[600];

	/* Postfix keys server sessions by service id: never resume across them. */
	snprintf(scope, sizeof(scope), "%s|%s", s->scope, s->serverid);
	tlss_sid_ctx(scope, s->sid_ctx);
	if ((s->ssl = tlss_ssl_new(s->tls->tls, s->net_fd, s->peer,
	    s->sid_ctx)) == NULL) {
		tls_log_errors();
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		return;
	}
	hs_deadline = sys_now_ms() + (int64_t)(hs_timeout ? hs_timeout : 1) * 1000;
	hr = tlss_handshake(s->ssl, s->net_fd, s->plain_fd, hs_deadline, &s->busy);
	if (hr != TLSS_OK) {
		STATS_INC(STAT_HANDSHAKE_FAILED);
		if (hr == TLSS_TIMEOUT)
			log_warnx("ciphertext read/write timeout for %s", s->peer);
		else if (hr == TLSS_LOCAL_GONE)
			log_warnx("handoff: local client closed the connection during "
			    "the TLS handshake with %s", s->peer);
		tls_log_errors();
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		return;
	}
	tlss_count_handshake(s->ssl);
	tlss_log_established(s->tls->tls, s->ssl, s->peer);
	relay_run(s->plain_fd, s->ssl, s->net_fd,
	    (int)((idle_timeout + 10) > 86400 ? 86400 : idle_timeout + 10) * 1000,
	    &s->busy, &res);
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
	log_debug("%s: session ended (%s): %llu bytes to remote, %llu to local",
	    s->peer, relay_end_str(res.end), (unsigned long long)res.to_remote,
	    (unsigned long long)res.to_local);
}

void
handoff_run(struct sess *s)
{
	struct handoff_in in = { NULL, 0, 0 };
	struct attr_rec q1, q2;
	const char *endpoint = NULL, *serverid = NULL;
	unsigned int flags = 0, t1 = 0, t2 = 0;
	char	 err[256];
	int64_t	 deadline;
	int	 fd, r, connected = 0;
	struct attr_want want[] = {
		{ "remote_endpoint", ATTR_TYPE_STR, &endpoint },
		{ "flags", ATTR_TYPE_UINT, &flags },
		{ "timeout", ATTR_TYPE_UINT, &t1 },
		{ "timeout", ATTR_TYPE_UINT, &t2 },
		{ "serverid", ATTR_TYPE_STR, &serverid },
	};

	attr_rec_init(&q1);
	attr_rec_init(&q2);

	/* R1 goes out before we read anything. */
	deadline = sys_now_ms() + s->snap->watchdog_ms;
	if (sys_write_all(s->plain_fd, handoff_r1, sizeof(handoff_r1), deadline) < 0) {
		log_warn("handoff: write protocol attribute");
		goto done;
	}

	deadline = sys_now_ms() + HANDOFF_REQ_TIMEOUT_MS;
	if ((r = handoff_read_record(s->plain_fd, &in, &q1, deadline, err,
	    sizeof(err))) <= 0 ||
	    attr_expect(&q1, want, sizeof(want) / sizeof(want[0]), NULL, err,
	    sizeof(err)) < 0) {
		log_warnx("handoff: receive request attributes: %s", err);
		goto done;
	}
	sess_set_peer(s, endpoint, serverid);

	if (((flags & HANDOFF_ROLE_SERVER) != 0) == ((flags & HANDOFF_ROLE_CLIENT) != 0)) {
		log_info("CONNECT (bogus_direction) %s", s->peer);
		connected = 1;
		log_warnx("handoff: bad request flags: 0x%x", flags);
		if (handoff_status(s, 0) == 0)
			handoff_wait_eof(s);
		goto done;
	}
	if (flags & HANDOFF_ROLE_CLIENT) {
		log_info("CONNECT to %s", s->peer);
		connected = 1;
		/* Q2 follows Q1 at once; read it so the client is not cut off mid-write. */
		if (handoff_read_record(s->plain_fd, &in, &q2, deadline, err,
		    sizeof(err)) <= 0) {
			log_warnx("handoff: receive client TLS settings: %s", err);
			goto done;
		}
		log_warnx("handoff: TLS client role (flags=0x%x) is not supported yet; "
		    "answered status=0", flags);
		if (handoff_status(s, 0) == 0)
			handoff_wait_eof(s);
		goto done;
	}

	log_info("CONNECT from %s", s->peer);
	connected = 1;
	if (s->tls->tls == NULL) {
		log_warnx("handoff: %s; answered status=0", s->tls->off_reason);
		if (handoff_status(s, 0) == 0)
			handoff_wait_eof(s);
		goto done;
	}
	if (handoff_status(s, 1) < 0)
		goto done;
	if (flags & HANDOFF_PROBE_ONLY) {	/* 3.12: status only, no descriptor */
		handoff_wait_eof(s);
		goto done;
	}

	deadline = sys_now_ms() + HANDOFF_REQ_TIMEOUT_MS;
	if (fdpass_recv(s->plain_fd, &fd, deadline, err, sizeof(err)) < 0) {
		log_warnx("handoff: receive remote SMTP peer file descriptor: %s", err);
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		goto done;
	}
	sess_set_net_fd(s, fd);
	err[0] = '\0';
	if (handoff_check_fd(fd, err, sizeof(err)) == 0 &&
	    sys_set_nonblock(fd, 1) < 0)
		snprintf(err, sizeof(err), "fcntl: %s", strerror(errno));
	if (err[0] != '\0') {
		log_warnx("handoff: receive remote SMTP peer file descriptor: %s", err);
		log_info("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		goto done;
	}
	handoff_tls(s, t1, t2);
done:
	if (connected)
		log_info("DISCONNECT %s", s->peer);
	attr_rec_free(&q1);
	attr_rec_free(&q2);
	free(in.buf);
}
