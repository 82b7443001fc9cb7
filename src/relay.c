/*
 * NAME
 *	relay - poll() loop between a plaintext fd and a TLS session
 * DESCRIPTION
 *	See relay.h. Each round first tries every operation that might
 *	make progress without waiting (OpenSSL may hold decrypted bytes
 *	that poll() cannot see), and polls only when nothing moved. What
 *	each side waits for is remembered from the last SSL_get_error()
 *	so a TLS read that needs to write (or the other way round) is
 *	polled for the right event.
 */
#include <errno.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"
#include "relay.h"
#include "sys.h"

#define RELAY_BUFSIZE	16384	/* one TLS record of plaintext */

struct relay_buf {
	size_t	 off;
	size_t	 len;
	unsigned char data[RELAY_BUFSIZE];
};

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

/* relay_close_notify - one close_notify, briefly waiting for socket space */
static void
relay_close_notify(SSL *ssl, int net_fd, _Atomic int64_t *busy)
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
		if (sys_wait(net_fd, relay_want_events(e), deadline) <= 0)
			break;
	}
	ERR_clear_error();
}

void
relay_run(int plain_fd, SSL *ssl, int net_fd, int idle_ms,
    _Atomic int64_t *busy, struct relay_result *res)
{
	struct relay_buf *up = NULL, *down = NULL;	/* to remote, to local */
	struct pollfd pfd[2];
	int	 local_eof = 0, remote_eof = 0, progress, n, r, e;
	int	 plain_hup = 0, net_hup = 0;
	int	 rd_want = SSL_ERROR_WANT_READ, wr_want = 0;
	int64_t	 idle_deadline;
	ssize_t	 k;

	memset(res, 0, sizeof(*res));
	/* Two buffers in one allocation; freed at the end. */
	if ((up = malloc(2 * sizeof(*up))) == NULL) {
		res->end = RELAY_LOCAL_ERROR;
		return;
	}
	down = up + 1;
	up->off = up->len = down->off = down->len = 0;
	idle_deadline = sys_now_ms() + idle_ms;

	for (;;) {
		progress = 0;

		/* Plaintext in -> up buffer. */
		if (!local_eof && up->len == 0) {
			if (busy)
				*busy = sys_now_ms();
			k = read(plain_fd, up->data, sizeof(up->data));
			if (busy)
				*busy = 0;
			if (k > 0) {
				up->off = 0;
				up->len = (size_t)k;
				progress = 1;
			} else if (k == 0) {
				local_eof = 1;
				res->end = RELAY_LOCAL_EOF;
				progress = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				local_eof = 1;
				res->end = RELAY_LOCAL_ERROR;
				up->len = 0;	/* nothing sensible left to send */
				progress = 1;
			}
		}
		/* Up buffer -> TLS. */
		if (up->len > 0 && !remote_eof) {
			ERR_clear_error();
			if (busy)
				*busy = sys_now_ms();
			r = SSL_write(ssl, up->data + up->off, (int)up->len);
			if (busy)
				*busy = 0;
			if (r > 0) {
				up->off += (size_t)r;
				up->len -= (size_t)r;
				res->to_remote += (uint64_t)r;
				wr_want = 0;
				progress = 1;
			} else {
				e = SSL_get_error(ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					wr_want = e;
				} else {
					remote_eof = 1;
					res->end = RELAY_REMOTE_ERROR;
					up->len = 0;
					progress = 1;
				}
			}
		}
		/* TLS -> down buffer. */
		if (!remote_eof && down->len == 0) {
			ERR_clear_error();
			if (busy)
				*busy = sys_now_ms();
			errno = 0;
			r = SSL_read(ssl, down->data, sizeof(down->data));
			if (busy)
				*busy = 0;
			if (r > 0) {
				down->off = 0;
				down->len = (size_t)r;
				rd_want = SSL_ERROR_WANT_READ;
				progress = 1;
			} else {
				e = SSL_get_error(ssl, r);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					rd_want = e;
				} else {
					remote_eof = 1;
					/* A plain EOF is an end; a reset is an error. */
					res->end = (e == SSL_ERROR_ZERO_RETURN ||
					    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
					    errno == 0)) ? RELAY_REMOTE_EOF : RELAY_REMOTE_ERROR;
					progress = 1;
				}
			}
		}
		/* Down buffer -> plaintext out. */
		if (down->len > 0) {
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
			} else if (k < 0 && errno != EAGAIN && errno != EINTR) {
				/* Local side gone: nothing more can be delivered. */
				down->len = 0;
				if (!local_eof) {
					local_eof = 1;
					if (!remote_eof)
						res->end = RELAY_LOCAL_ERROR;
				}
				progress = 1;
			}
		}

		/* Ends: local EOF once pending plaintext went out; remote EOF once flushed. */
		if (local_eof && (up->len == 0 || remote_eof)) {
			if (!remote_eof)
				relay_close_notify(ssl, net_fd, busy);
			break;
		}
		if (remote_eof && (down->len == 0 || local_eof))
			break;

		if (progress) {
			idle_deadline = sys_now_ms() + idle_ms;
			continue;
		}

		/* Nothing moved: wait for whatever can unblock us. */
		pfd[0].fd = plain_fd;
		pfd[0].events = 0;
		if (!local_eof && up->len == 0)
			pfd[0].events |= POLLIN;
		if (down->len > 0)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = net_fd;
		pfd[1].events = 0;
		if (up->len > 0 && wr_want)
			pfd[1].events |= relay_want_events(wr_want);
		if (down->len == 0 && !remote_eof)
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
		n = poll(pfd, 2, sys_ms_left(idle_deadline));
		if (n > 0) {
			if (pfd[0].revents & (POLLHUP | POLLERR))
				plain_hup = 1;
			if (pfd[1].revents & (POLLHUP | POLLERR))
				net_hup = 1;
		}
		if (n < 0 && errno != EINTR) {
			res->end = RELAY_LOCAL_ERROR;
			break;
		}
		if (n == 0) {
			res->end = RELAY_TIMEOUT;
			break;
		}
		/*
		 * POLLHUP/POLLERR with no readable data: the next read or
		 * write reports the condition, so just loop.
		 */
	}
	free(up);
}
