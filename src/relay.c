/*
 * NAME
 *	relay - moving bytes between a plaintext fd and a TLS session
 * DESCRIPTION
 *	See relay.h. Each side remembers whether it may be ready: an
 *	operation is tried only then, a would-block clears the flag, and
 *	a readiness check sets it again, so a quiet side costs no failed
 *	read per round. The TLS side starts ready: OpenSSL may already hold
 *	records read ahead during the handshake, which poll() cannot see;
 *	after a would-block it holds no complete record. What each TLS
 *	operation waits for is remembered from the last SSL_get_error(), so
 *	a TLS read that needs to write (or the other way round) waits for
 *	the right event.
 *
 *	relay_step() moves what it can; when nothing can move it waits a
 *	short grace in poll() (a stream's next segment usually comes
 *	within it, and the session keeps its worker), then says what to
 *	wait for and gives the memory an idle session need not hold back
 *	(empty buffers, OpenSSL's record buffers). Back from the wait, one
 *	poll() with no timeout tells which side is ready.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"
#include "park.h"
#include "relay.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"

#define RELAY_BUFSIZE	16384	/* one TLS record of plaintext */

struct relay_buf {
	size_t	 off;
	size_t	 len;
	unsigned char data[RELAY_BUFSIZE];
};

static struct relay_buf *
relay_buf_get(struct relay_buf **bp)
{
	if (*bp == NULL && (*bp = malloc(sizeof(**bp))) != NULL)
		(*bp)->off = (*bp)->len = 0;
	return (*bp);
}

static int
relay_buf_empty(const struct relay_buf *b)
{
	return (b == NULL || b->len == 0);
}

const char *
relay_end_str(enum relay_end e)
{
	switch (e) {
	case RELAY_LOCAL_EOF:
		return ("local EOF");
	case RELAY_REMOTE_EOF:
		return ("remote EOF");
	case RELAY_LOCAL_ERROR:
		return ("local I/O error");
	case RELAY_REMOTE_ERROR:
		return ("remote I/O error");
	case RELAY_TIMEOUT:
		return ("idle timeout");
	}
	return ("unknown");
}

static short
relay_want_events(int ssl_err)
{
	return (ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN);
}

/*
 * relay_net_write, relay_net_read - one TLS operation, or with no SSL
 * one socket call; > 0 bytes moved, else an SSL_ERROR_* code in *e
 * (a plain socket's EOF reads as SSL_ERROR_ZERO_RETURN).
 */
static int
relay_net_write(SSL *ssl, int net_fd, const void *buf, size_t len, int *e)
{
	ssize_t	 k;
	int	 r;

	if (ssl != NULL) {
		if ((r = SSL_write(ssl, buf, (int)len)) <= 0)
			*e = SSL_get_error(ssl, r);
		return (r);
	}
	if ((k = send(net_fd, buf, len, MSG_NOSIGNAL)) > 0)
		return ((int)k);
	*e = (errno == EAGAIN || errno == EINTR) ? SSL_ERROR_WANT_WRITE :
	    SSL_ERROR_SYSCALL;
	return (-1);
}

static int
relay_net_read(SSL *ssl, int net_fd, void *buf, size_t len, int *e)
{
	ssize_t	 k;
	int	 r;

	if (ssl != NULL) {
		if ((r = SSL_read(ssl, buf, (int)len)) <= 0)
			*e = SSL_get_error(ssl, r);
		return (r);
	}
	if ((k = read(net_fd, buf, len)) > 0)
		return ((int)k);
	if (k == 0)
		*e = SSL_ERROR_ZERO_RETURN;
	else
		*e = (errno == EAGAIN || errno == EINTR) ? SSL_ERROR_WANT_READ :
		    SSL_ERROR_SYSCALL;
	return (-1);
}

void
relay_init(struct relay *r, int plain_fd, SSL *ssl, int net_fd, int idle_ms,
    int half_close, _Atomic int64_t *busy, int (*grace)(void))
{
	memset(r, 0, sizeof(*r));
	r->grace = grace;
	r->plain_fd = plain_fd;
	r->ssl = ssl;
	r->net_fd = net_fd;
	r->idle_ms = idle_ms;
	r->half_close = half_close;
	r->busy = busy;
	/* The plaintext side is polled first; TLS may hold data already. */
	r->plain_wr = r->ssl_rd = r->ssl_wr = 1;
	r->rd_want = SSL_ERROR_WANT_READ;
	r->idle_deadline = sys_now_ms() + idle_ms;
}

/* relay_stamp - the watchdog's mark around one I/O call */
static void
relay_stamp(struct relay *r, int on)
{
	if (r->busy != NULL)
		*r->busy = on ? sys_now_ms() : 0;
}

/* relay_move - every operation that may go now; 1 when a byte moved or a state changed */
static int
relay_move(struct relay *r)
{
	struct relay_result *res = &r->res;
	int	 progress = 0, n, e = 0;
	ssize_t	 k;

	/* Plaintext in -> up buffer. */
	if (!r->local_eof && r->plain_rd && relay_buf_empty(r->up)) {
		if (relay_buf_get(&r->up) == NULL) {
			res->end = RELAY_LOCAL_ERROR;
			r->local_eof = r->local_dead = 1;
			return (1);
		}
		relay_stamp(r, 1);
		k = read(r->plain_fd, r->up->data, sizeof(r->up->data));
		relay_stamp(r, 0);
		if (k > 0) {
			r->up->off = 0;
			r->up->len = (size_t)k;
			progress = 1;
			/* A short read drained the socket: poll before the next. */
			if ((size_t)k < sizeof(r->up->data))
				r->plain_rd = 0;
		} else if (k == 0) {
			r->local_eof = 1;
			if (res->end == 0)
				res->end = RELAY_LOCAL_EOF;
			progress = 1;
		} else if (errno == EAGAIN || errno == EINTR) {
			r->plain_rd = (errno == EINTR);
		} else {
			r->local_eof = r->local_dead = 1;
			if (res->end == 0 || res->end == RELAY_REMOTE_EOF)
				res->end = RELAY_LOCAL_ERROR;
			r->up->len = 0;	/* nothing sensible left to send */
			progress = 1;
		}
	}
	/* Up buffer -> TLS (also after the peer's close_notify: half-close). */
	if (!relay_buf_empty(r->up) && !r->remote_dead && r->ssl_wr) {
		ERR_clear_error();
		relay_stamp(r, 1);
		n = relay_net_write(r->ssl, r->net_fd, r->up->data + r->up->off,
		    r->up->len, &e);
		relay_stamp(r, 0);
		if (n > 0) {
			r->up->off += (size_t)n;
			r->up->len -= (size_t)n;
			res->to_remote += (uint64_t)n;
			r->wr_want = 0;
			r->ssl_rd = 1;	/* likewise, a read waiting on a write */
			progress = 1;
		} else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r->wr_want = e;
			r->ssl_wr = 0;
		} else {
			r->remote_eof = r->remote_dead = 1;
			res->end = RELAY_REMOTE_ERROR;
			r->up->len = 0;
			progress = 1;
		}
	}
	/* TLS -> down buffer. */
	if (!r->remote_eof && r->ssl_rd && relay_buf_empty(r->down)) {
		if (relay_buf_get(&r->down) == NULL) {
			res->end = RELAY_LOCAL_ERROR;
			r->local_eof = r->local_dead = 1;
			return (1);
		}
		ERR_clear_error();
		relay_stamp(r, 1);
		errno = 0;
		n = relay_net_read(r->ssl, r->net_fd, r->down->data,
		    sizeof(r->down->data), &e);
		relay_stamp(r, 0);
		/*
		 * A KeyUpdate the peer asked for goes out now, not with our
		 * next data (the read that took it may have had no data).
		 */
		if (r->ssl != NULL && (n > 0 || e == SSL_ERROR_WANT_READ))
			tls_key_update_answer(r->ssl);
		if (n > 0) {
			r->down->off = 0;
			r->down->len = (size_t)n;
			r->rd_want = SSL_ERROR_WANT_READ;
			r->ssl_wr = 1;	/* a write waiting on a read may go now */
			progress = 1;
		} else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r->rd_want = e;
			r->ssl_rd = 0;
		} else {
			r->remote_eof = 1;
			/* close_notify or a plain EOF is an end; a reset is an error. */
			if (e == SSL_ERROR_ZERO_RETURN) {
				if (r->ssl != NULL)
					STATS_INC(STAT_CLOSE_NOTIFY_RECEIVED);
				if (res->end == 0)
					res->end = RELAY_REMOTE_EOF;
			} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
			    errno == 0) {
				if (res->end == 0)
					res->end = RELAY_REMOTE_EOF;
			} else {
				r->remote_dead = 1;
				res->end = RELAY_REMOTE_ERROR;
			}
			progress = 1;
		}
	}
	/* Down buffer -> plaintext out. */
	if (!relay_buf_empty(r->down) && !r->local_dead && r->plain_wr) {
		relay_stamp(r, 1);
		k = send(r->plain_fd, r->down->data + r->down->off, r->down->len,
		    MSG_NOSIGNAL);
		relay_stamp(r, 0);
		if (k > 0) {
			r->down->off += (size_t)k;
			r->down->len -= (size_t)k;
			res->to_local += (uint64_t)k;
			progress = 1;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			r->plain_wr = (errno == EINTR);
		} else if (k < 0) {
			/* Local side gone: nothing more can be delivered. */
			r->down->len = 0;
			r->local_eof = r->local_dead = 1;
			if (res->end == 0 || res->end == RELAY_REMOTE_EOF)
				res->end = RELAY_LOCAL_ERROR;
			progress = 1;
		}
	}
	return (progress);
}

/*
 * relay_ends - the direction ends; 1 when the session is over. An
 * error ends it at once. Without half_close, either side's end ends it
 * once what it sent was passed on. With half_close, each direction
 * ends by itself: the peer's close_notify or EOF becomes
 * shutdown(SHUT_WR) toward the local side, the local side's EOF our
 * close_notify; the session ends when both directions have.
 */
static int
relay_ends(struct relay *r, int *progress)
{
	if (r->remote_dead || r->local_dead)
		return (1);
	if (r->remote_eof && relay_buf_empty(r->down)) {
		if (!r->half_close || r->local_eof)
			return (1);
		if (!r->plain_shut) {
			(void)shutdown(r->plain_fd, SHUT_WR);
			r->plain_shut = 1;
			STATS_INC(STAT_HALF_CLOSES);
			*progress = 1;
		}
	}
	if (r->local_eof && relay_buf_empty(r->up)) {
		if (!r->half_close || r->remote_eof)
			return (1);
		if (!r->sent_notify) {
			r->sent_notify = 1;
			STATS_INC(STAT_HALF_CLOSES);
			if (r->ssl == NULL)
				(void)shutdown(r->net_fd, SHUT_WR);
			else if (tls_close_notify(r->ssl, r->net_fd, r->busy) == 0)
				STATS_INC(STAT_CLOSE_NOTIFY_SENT);
			*progress = 1;
		}
	}
	return (0);
}

/* relay_pollfds - what each side waits for now; 0 when nothing can come */
static int
relay_pollfds(struct relay *r, struct pollfd pfd[2])
{
	pfd[0].fd = r->plain_fd;
	pfd[0].events = 0;
	if (!r->local_eof && relay_buf_empty(r->up))
		pfd[0].events |= POLLIN;
	if (!relay_buf_empty(r->down))
		pfd[0].events |= POLLOUT;
	pfd[1].fd = r->net_fd;
	pfd[1].events = 0;
	if (!relay_buf_empty(r->up) && r->wr_want)
		pfd[1].events |= relay_want_events(r->wr_want);
	if (relay_buf_empty(r->down) && !r->remote_eof)
		pfd[1].events |= relay_want_events(r->rd_want);
	/*
	 * A hung-up fd is ready forever; once seen, wait on it only to read
	 * it again (the read reports the EOF).
	 */
	if (r->plain_hup && !(pfd[0].events & POLLIN))
		pfd[0].fd = -1;
	if (r->net_hup && !(pfd[1].events & POLLIN))
		pfd[1].fd = -1;
	pfd[0].revents = pfd[1].revents = 0;
	return ((pfd[0].fd >= 0 && pfd[0].events) || (pfd[1].fd >= 0 &&
	    pfd[1].events));
}

/* relay_ready - take poll()'s answer: which side may move */
static void
relay_ready(struct relay *r, const struct pollfd pfd[2])
{
	if (pfd[0].revents & (POLLHUP | POLLERR))
		r->plain_hup = 1;
	if (pfd[1].revents & (POLLHUP | POLLERR))
		r->net_hup = 1;
	if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
		r->plain_rd = 1;
	if (pfd[0].revents & (POLLOUT | POLLHUP | POLLERR))
		r->plain_wr = 1;
	if (pfd[1].revents & (relay_want_events(r->rd_want) | POLLHUP | POLLERR))
		r->ssl_rd = 1;
	if (pfd[1].revents & (relay_want_events(r->wr_want ? r->wr_want :
	    SSL_ERROR_WANT_WRITE) | POLLHUP | POLLERR))
		r->ssl_wr = 1;
}

/* relay_grace - how long to wait on the worker before giving it back */
static int
relay_grace(struct relay *r)
{
	return (r->grace != NULL ? r->grace() : 0);
}

enum relay_step
relay_step(struct relay *r, struct park_item *wait)
{
	struct pollfd pfd[2];
	int	 progress, n, grace = relay_grace(r);

	if (r->resumed) {
		/* Back from the waiting set: which side woke us? */
		r->resumed = 0;
		if (relay_pollfds(r, pfd) && poll(pfd, 2, 0) > 0)
			relay_ready(r, pfd);
	}
	for (;;) {
		progress = relay_move(r);
		if (relay_ends(r, &progress))
			return (RELAY_STEP_DONE);
		if (progress) {
			r->idle_deadline = sys_now_ms() + r->idle_ms;
			grace = relay_grace(r);
			continue;
		}
		if (r->idle_ms >= 0 && sys_ms_left(r->idle_deadline) == 0) {
			r->res.end = RELAY_TIMEOUT;
			return (RELAY_STEP_DONE);
		}
		relay_pollfds(r, pfd);
		if (grace > 0) {
			n = poll(pfd, 2, grace);
			grace = 0;
			if (n > 0) {
				relay_ready(r, pfd);
				continue;
			}
			if (n < 0 && errno != EINTR) {
				r->res.end = RELAY_LOCAL_ERROR;
				return (RELAY_STEP_DONE);
			}
			continue;	/* the deadline check, then the wait */
		}
		/* Quiet: hand back what an idle session need not hold. */
		if (r->up != NULL && r->up->len == 0) {
			free(r->up);
			r->up = NULL;
		}
		if (r->down != NULL && r->down->len == 0) {
			free(r->down);
			r->down = NULL;
		}
		if (r->ssl != NULL)
			(void)SSL_free_buffers(r->ssl);
		park_item_set(wait, pfd[0].fd, pfd[0].events, pfd[1].fd,
		    pfd[1].events, r->idle_ms >= 0 ? r->idle_deadline : -1);
		r->resumed = 1;
		return (RELAY_STEP_WAIT);
	}
}

void
relay_finish(struct relay *r)
{
	/*
	 * A healthy TLS session ends with our close_notify (answering the
	 * peer's, if any), an idle one too; not after a TLS error or reset.
	 */
	if (r->ssl != NULL && !r->sent_notify && !r->remote_dead &&
	    tls_close_notify(r->ssl, r->net_fd, r->busy) == 0)
		STATS_INC(STAT_CLOSE_NOTIFY_SENT);
	r->sent_notify = 1;
	free(r->up);
	free(r->down);
	r->up = r->down = NULL;
}

