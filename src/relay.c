/*
 * NAME
 *	relay - poll() loop between a plaintext fd and a TLS session
 * DESCRIPTION
 *	See relay.h. Each side remembers whether it may be ready: an
 *	operation is tried only then, a would-block clears the flag, and
 *	poll() sets it again, so a quiet side costs no failed read per
 *	round. The TLS side starts ready: OpenSSL may already hold
 *	records read ahead during the handshake, which poll() cannot see;
 *	after a would-block it holds no complete record. What each
 *	TLS operation waits for is remembered from the last
 *	SSL_get_error(), so a TLS read that needs to write (or the other
 *	way round) is polled for the right event.
 *
 *	Memory: the two buffers are allocated when first needed. A session
 *	quiet for RELAY_PARK_MS parks: its empty buffers, OpenSSL's record
 *	buffers and the stack pages its worker touched during the
 *	handshake go back to the system, so a thread held by an idle
 *	session costs a few pages, not the handshake's peak.
 */
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"
#include "relay.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"

#define RELAY_BUFSIZE	16384	/* one TLS record of plaintext */
#define RELAY_PARK_MS	2000	/* quiet this long: give memory back */
#define RELAY_STACK_KEEP 1024	/* below our frame: the calls we make next */

struct relay_buf {
	size_t	 off;
	size_t	 len;
	unsigned char data[RELAY_BUFSIZE];
};

/* relay_stack_trim - release this thread's stack pages below the caller */
static void
relay_stack_trim(void)
{
	pthread_attr_t attr;
	void	*addr;
	size_t	 size, guard = 0;
	uintptr_t lo, hi, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
		(void)pthread_attr_getguardsize(&attr, &guard);
		lo = ((uintptr_t)addr + guard + page - 1) & ~(page - 1);
		hi = ((uintptr_t)__builtin_frame_address(0) - RELAY_STACK_KEEP) &
		    ~(page - 1);
		/* Everything below hi is dead: no frame lives there now. */
		if (hi > lo && hi < (uintptr_t)addr + size)
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	pthread_attr_destroy(&attr);
}

static struct relay_buf *
relay_buf_get(struct relay_buf **bp)
{
	if (*bp == NULL && (*bp = malloc(sizeof(**bp))) != NULL)
		(*bp)->off = (*bp)->len = 0;
	return (*bp);
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
relay_run(int plain_fd, SSL *ssl, int net_fd, int idle_ms, int half_close,
    _Atomic int64_t *busy, struct relay_result *res)
{
	struct relay_buf *up = NULL, *down = NULL;	/* to remote, to local */
	struct pollfd pfd[2];
	/*
	 * Per side: *_eof, no more reading (an EOF, a close_notify or an
	 * error); *_dead, no more writing either (an error). With a TLS
	 * side, sent_notify: our close_notify went out.
	 */
	int	 local_eof = 0, remote_eof = 0, local_dead = 0, remote_dead = 0;
	int	 sent_notify = 0, plain_shut = 0, progress, n, r, e = 0, timeout;
	int	 plain_hup = 0, net_hup = 0, parked = 0;
	/* Readiness: the plaintext side is polled first; TLS may hold data. */
	int	 plain_rd = 0, plain_wr = 1, ssl_rd = 1, ssl_wr = 1;
	int	 rd_want = SSL_ERROR_WANT_READ, wr_want = 0;
	int64_t	 idle_deadline, now;
	ssize_t	 k;

	memset(res, 0, sizeof(*res));
	idle_deadline = sys_now_ms() + idle_ms;

	for (;;) {
		progress = 0;

		/* Plaintext in -> up buffer. */
		if (!local_eof && plain_rd && (up == NULL || up->len == 0)) {
			if (relay_buf_get(&up) == NULL) {
				res->end = RELAY_LOCAL_ERROR;
				break;
			}
			if (busy)
				*busy = sys_now_ms();
			k = read(plain_fd, up->data, sizeof(up->data));
			if (busy)
				*busy = 0;
			if (k > 0) {
				up->off = 0;
				up->len = (size_t)k;
				progress = 1;
				/* A short read drained the socket: poll before the next. */
				if ((size_t)k < sizeof(up->data))
					plain_rd = 0;
			} else if (k == 0) {
				local_eof = 1;
				if (res->end == 0)
					res->end = RELAY_LOCAL_EOF;
				progress = 1;
			} else if (errno == EAGAIN || errno == EINTR) {
				plain_rd = (errno == EINTR);
			} else {
				local_eof = local_dead = 1;
				if (res->end == 0 || res->end == RELAY_REMOTE_EOF)
					res->end = RELAY_LOCAL_ERROR;
				up->len = 0;	/* nothing sensible left to send */
				progress = 1;
			}
		}
		/* Up buffer -> TLS (also after the peer's close_notify: half-close). */
		if (up != NULL && up->len > 0 && !remote_dead && ssl_wr) {
			ERR_clear_error();
			if (busy)
				*busy = sys_now_ms();
			r = relay_net_write(ssl, net_fd, up->data + up->off, up->len, &e);
			if (busy)
				*busy = 0;
			if (r > 0) {
				up->off += (size_t)r;
				up->len -= (size_t)r;
				res->to_remote += (uint64_t)r;
				wr_want = 0;
				ssl_rd = 1;	/* likewise, a read waiting on a write */
				progress = 1;
			} else {
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					wr_want = e;
					ssl_wr = 0;
				} else {
					remote_eof = remote_dead = 1;
					res->end = RELAY_REMOTE_ERROR;
					up->len = 0;
					progress = 1;
				}
			}
		}
		/* TLS -> down buffer. */
		if (!remote_eof && ssl_rd && (down == NULL || down->len == 0)) {
			if (relay_buf_get(&down) == NULL) {
				res->end = RELAY_LOCAL_ERROR;
				break;
			}
			ERR_clear_error();
			if (busy)
				*busy = sys_now_ms();
			errno = 0;
			r = relay_net_read(ssl, net_fd, down->data, sizeof(down->data), &e);
			if (busy)
				*busy = 0;
			/*
			 * A KeyUpdate the peer asked for goes out now, not with our
			 * next data (the read that took it may have had no data).
			 */
			if (ssl != NULL && (r > 0 || e == SSL_ERROR_WANT_READ))
				tls_key_update_answer(ssl);
			if (r > 0) {
				down->off = 0;
				down->len = (size_t)r;
				rd_want = SSL_ERROR_WANT_READ;
				ssl_wr = 1;	/* a write waiting on a read may go now */
				progress = 1;
			} else {
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					rd_want = e;
					ssl_rd = 0;
				} else {
					remote_eof = 1;
					/* close_notify or a plain EOF is an end; a reset is an error. */
					if (e == SSL_ERROR_ZERO_RETURN) {
						if (ssl != NULL)
							STATS_INC(STAT_CLOSE_NOTIFY_RECEIVED);
						if (res->end == 0)
							res->end = RELAY_REMOTE_EOF;
					} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
					    errno == 0) {
						if (res->end == 0)
							res->end = RELAY_REMOTE_EOF;
					} else {
						remote_dead = 1;
						res->end = RELAY_REMOTE_ERROR;
					}
					progress = 1;
				}
			}
		}
		/* Down buffer -> plaintext out. */
		if (down != NULL && down->len > 0 && !local_dead && plain_wr) {
			if (busy)
				*busy = sys_now_ms();
			k = send(plain_fd, down->data + down->off, down->len, MSG_NOSIGNAL);
			if (busy)
				*busy = 0;
			if (k > 0) {
				down->off += (size_t)k;
				down->len -= (size_t)k;
				res->to_local += (uint64_t)k;
				progress = 1;
			} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
				plain_wr = (errno == EINTR);
			} else if (k < 0) {
				/* Local side gone: nothing more can be delivered. */
				down->len = 0;
				local_eof = local_dead = 1;
				if (res->end == 0 || res->end == RELAY_REMOTE_EOF)
					res->end = RELAY_LOCAL_ERROR;
				progress = 1;
			}
		}

		/*
		 * Ends. An error ends the session at once. Without half_close,
		 * either side's end ends it once what it sent was passed on.
		 * With half_close, each direction ends by itself: the peer's
		 * close_notify or EOF becomes shutdown(SHUT_WR) toward the local
		 * side, the local side's EOF our close_notify, and the session
		 * ends when both directions have.
		 */
		if (remote_dead || local_dead)
			break;
		if (remote_eof && (down == NULL || down->len == 0)) {
			if (!half_close || local_eof)
				break;
			if (!plain_shut) {
				(void)shutdown(plain_fd, SHUT_WR);
				plain_shut = 1;
				STATS_INC(STAT_HALF_CLOSES);
				progress = 1;
			}
		}
		if (local_eof && (up == NULL || up->len == 0)) {
			if (!half_close || remote_eof)
				break;
			if (!sent_notify && ssl != NULL) {
				sent_notify = 1;
				STATS_INC(STAT_HALF_CLOSES);
				if (tls_close_notify(ssl, net_fd, busy) == 0)
					STATS_INC(STAT_CLOSE_NOTIFY_SENT);
				progress = 1;
			} else if (ssl == NULL && !sent_notify) {
				sent_notify = 1;
				(void)shutdown(net_fd, SHUT_WR);
				STATS_INC(STAT_HALF_CLOSES);
				progress = 1;
			}
		}

		if (progress) {
			parked = 0;
			idle_deadline = sys_now_ms() + idle_ms;
			continue;
		}

		/* Nothing can move: wait for whatever can unblock us. */
		pfd[0].fd = plain_fd;
		pfd[0].events = 0;
		if (!local_eof && (up == NULL || up->len == 0))
			pfd[0].events |= POLLIN;
		if (down != NULL && down->len > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = net_fd;
		pfd[1].events = 0;
		if (up != NULL && up->len > 0 && wr_want)
			pfd[1].events |= relay_want_events(wr_want);
		if ((down == NULL || down->len == 0) && !remote_eof)
			pfd[1].events |= relay_want_events(rd_want);
		/*
		 * A hung-up fd polls ready forever; once seen, stop polling it
		 * until we actually read it again (the read reports the EOF).
		 */
		if (plain_hup && !(pfd[0].events & POLLIN))
			pfd[0].fd = -1;
		if (net_hup && !(pfd[1].events & POLLIN))
			pfd[1].fd = -1;
		pfd[0].revents = pfd[1].revents = 0;
		timeout = sys_ms_left(idle_deadline);
		if (!parked && (timeout < 0 || timeout > RELAY_PARK_MS))
			timeout = RELAY_PARK_MS;
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR) {
			res->end = RELAY_LOCAL_ERROR;
			break;
		}
		if (n == 0) {
			now = sys_now_ms();
			if (idle_ms >= 0 && now >= idle_deadline) {
				res->end = RELAY_TIMEOUT;
				break;
			}
			if (!parked) {
				/* Quiet: hand back what an idle session need not hold. */
				if (up != NULL && up->len == 0) {
					free(up);
					up = NULL;
				}
				if (down != NULL && down->len == 0) {
					free(down);
					down = NULL;
				}
				if (ssl != NULL)
					(void)SSL_free_buffers(ssl);
				relay_stack_trim();
				parked = 1;
			}
			continue;
		}
		if (n < 0)
			continue;	/* EINTR */
		/*
		 * Ready, hung up or in error: the next operation on that side
		 * reports which.
		 */
		if (pfd[0].revents & (POLLHUP | POLLERR))
			plain_hup = 1;
		if (pfd[1].revents & (POLLHUP | POLLERR))
			net_hup = 1;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			plain_rd = 1;
		if (pfd[0].revents & (POLLOUT | POLLHUP | POLLERR))
			plain_wr = 1;
		if (pfd[1].revents & (relay_want_events(rd_want) | POLLHUP | POLLERR))
			ssl_rd = 1;
		if (pfd[1].revents & (relay_want_events(wr_want ? wr_want :
		    SSL_ERROR_WANT_WRITE) | POLLHUP | POLLERR))
			ssl_wr = 1;
	}
	/*
	 * A healthy TLS session ends with our close_notify (answering the
	 * peer's, if any), an idle one too; not after a TLS error or reset.
	 */
	if (ssl != NULL && !sent_notify && !remote_dead &&
	    tls_close_notify(ssl, net_fd, busy) == 0)
		STATS_INC(STAT_CLOSE_NOTIFY_SENT);
	free(up);
	free(down);
}
