/*
 * NAME
 *	starttls - SMTP STARTTLS frontend: the backend speaks SMTP, we add TLS
 * DESCRIPTION
 *	See starttls.h. What every byte means is decided by the dialogue
 *	tracker (dialogue.c); this module does the I/O around it: one
 *	loop over the client socket (through TLS once it is up) and the
 *	backend socket, non-blocking reads and writes, poll() when
 *	nothing can move, the deadlines, the STARTTLS handshake and the
 *	log lines. Both fds, the SSL and the session belong to the
 *	caller; nothing here closes or frees them.
 *
 *	One heap-allocated state per session (worker stacks are small)
 *	holds the four buffers.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "config.h"
#include "dialogue.h"
#include "log.h"
#include "session.h"
#include "smtp.h"
#include "starttls.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

#define STLS_CIN	16384	/* one TLS record of plaintext */
#define STLS_BIN	16384
#define STLS_BOUT	32768	/* DATA content may grow (bare LF -> CRLF) */
#define STLS_COUT	16384
#define STLS_FLUSH_MS	10000	/* last words to a slow reader, at most */

/* Replies of our own that the tracker does not make. */
#define STLS_R_TIMEOUT	"421 4.4.2 Error: timeout exceeded\r\n"
#define STLS_R_BACKEND	"421 4.3.0 Error: service not available; closing connection\r\n"
#define STLS_R_UNSOLICITED \
	"421 4.7.0 Error: unexpected server data before STARTTLS; closing connection\r\n"

/* One side's I/O state. */
struct stls_side {
	int	 fd;
	int	 eof;		/* read EOF or an error: no more reading */
	int	 broken;	/* an I/O error (not an orderly EOF) */
	int	 rd;		/* may be readable: try a read */
	short	 rd_want;	/* what a blocked read waits for */
	short	 wr_want;	/* what a blocked write waits for; 0: not blocked */
	int	 hup;		/* poll() saw a hang-up */
	uint64_t in, out;	/* bytes read, written */
};

struct stls {
	struct sess	*s;		/* borrowed */
	struct dlg	 d;
	int		 tls;		/* handshake done: client I/O via s->ssl */
	int		 cmd_ms;	/* command_timeout */
	int		 idle_ms;	/* idle_timeout: message content */
	const char	*end;		/* how it ended (static text) */
	int		 b_shut;	/* the client's EOF passed on to the backend */
	uint64_t	 counted[DLG_NREFUSALS];	/* refusals in the stats */
	unsigned int	 logged;	/* refusal kinds logged (1 << DLG_REF_*) */
	struct stls_side c, b;		/* client, backend */
	struct dlg_buf	 cin, bin, bout, cout;
	char		 xclient[256];
	char		 cin_data[STLS_CIN];
	char		 bin_data[STLS_BIN];
	char		 bout_data[STLS_BOUT];
	char		 cout_data[STLS_COUT];
};

static const enum stat_id stls_refusal_stat[DLG_NREFUSALS] = {
	[DLG_REF_XCLIENT] = STAT_SMTP_REFUSED_XCLIENT,
	[DLG_REF_XFORWARD] = STAT_SMTP_REFUSED_XFORWARD,
	[DLG_REF_AUTH_PLAIN] = STAT_SMTP_REFUSED_AUTH_PLAINTEXT,
	[DLG_REF_ENCRYPT] = STAT_SMTP_REFUSED_ENCRYPT,
	[DLG_REF_SYNTAX] = STAT_SMTP_REFUSED_SYNTAX,
};

/* ------------------------------------------------------------ I/O */

/* stls_tls_fail - what SSL_get_error() says about a failed call on side x */
static int
stls_tls_fail(struct stls *st, int r, short *want)
{
	int	 e = SSL_get_error(st->s->ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		return (0);
	}
	st->c.eof = 1;
	/* close_notify, or a plain EOF, is an end; anything else an error. */
	if (e == SSL_ERROR_ZERO_RETURN)
		STATS_INC(STAT_CLOSE_NOTIFY_RECEIVED);
	else if (!(e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 &&
	    errno == 0)) {
		st->c.broken = 1;
		tls_log_errors();
	}
	return (-1);
}

/*
 * stls_read - what side x has into buf: 1 (bytes), 0 (would block) or
 * -1 (EOF or error: x->eof set)
 */
static int
stls_read(struct stls *st, struct stls_side *x, struct dlg_buf *buf)
{
	size_t	 room;
	char	*p = dlg_buf_tail(buf, &room);
	ssize_t	 k;
	int	 r;

	if (room == 0)
		return (0);
	if (x == &st->c && st->tls) {
		ERR_clear_error();
		errno = 0;
		st->s->busy = sys_now_ms();
		r = SSL_read(st->s->ssl, p, room > INT32_MAX ? INT32_MAX : (int)room);
		st->s->busy = 0;
		if (r > 0) {
			buf->len += (size_t)r;
			x->in += (uint64_t)r;
			/* A KeyUpdate the client asked for goes out now. */
			tls_key_update_answer(st->s->ssl);
			return (1);
		}
		if ((r = stls_tls_fail(st, r, &x->rd_want)) == 0) {
			x->rd = 0;
			tls_key_update_answer(st->s->ssl);
		}
		return (r);
	}
	k = read(x->fd, p, room);
	if (k > 0) {
		buf->len += (size_t)k;
		x->in += (uint64_t)k;
		return (1);
	}
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		x->rd = errno == EINTR;
		x->rd_want = POLLIN;
		return (0);
	}
	x->eof = 1;
	x->broken = k < 0;
	return (-1);
}

/*
 * stls_write - buf to side x as far as it goes: 1 (bytes), 0 (would
 * block or nothing to do) or -1 (error: x->eof set)
 */
static int
stls_write(struct stls *st, struct stls_side *x, struct dlg_buf *buf)
{
	const char *p;
	ssize_t	 k;
	int	 r, moved = 0;

	while (buf->len > 0 && x->wr_want == 0 && !x->broken) {
		p = buf->data + buf->off;
		if (x == &st->c && st->tls) {
			ERR_clear_error();
			errno = 0;
			st->s->busy = sys_now_ms();
			r = SSL_write(st->s->ssl, p, buf->len > INT32_MAX ?
			    INT32_MAX : (int)buf->len);
			st->s->busy = 0;
			if (r <= 0) {
				if (stls_tls_fail(st, r, &x->wr_want) < 0) {
					x->broken = 1;
					return (-1);
				}
				break;
			}
			k = r;
		} else {
			k = send(x->fd, p, buf->len, MSG_NOSIGNAL);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				x->wr_want = POLLOUT;
				break;
			}
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				x->eof = x->broken = 1;
				return (-1);
			}
		}
		dlg_buf_drop(buf, (size_t)k);
		x->out += (uint64_t)k;
		moved = 1;
	}
	return (moved);
}

/*
 * stls_content - message content straight from cin to the backend
 * when nothing else is queued for it: the bulk of a message is not
 * copied. 1 (bytes), 0 or -1, as stls_write().
 */
static int
stls_content(struct stls *st)
{
	struct dlg_buf view;
	size_t	 k;
	int	 r;

	if (st->bout.len > 0 || st->b.eof ||
	    (k = dlg_content_span(&st->d, &st->cin)) == 0)
		return (0);
	view = (struct dlg_buf){ st->cin.data + st->cin.off, k, 0, k };
	r = stls_write(st, &st->b, &view);
	dlg_content_sent(&st->d, &st->cin, k - view.len);
	return (r);
}

/* stls_flush - buf to side x, waiting up to ms; 0 or -1 */
static int
stls_flush(struct stls *st, struct stls_side *x, struct dlg_buf *buf, int ms)
{
	int64_t	 deadline = sys_now_ms() + ms;

	while (buf->len > 0) {
		if (stls_write(st, x, buf) < 0)
			return (-1);
		if (buf->len == 0)
			break;
		if (sys_wait(x->fd, x->wr_want ? x->wr_want : POLLOUT, deadline) <= 0)
			return (-1);
		x->wr_want = 0;
	}
	return (0);
}

/* stls_say - one closing reply of ours after what the client is owed */
static void
stls_say(struct stls *st, const char *text)
{
	(void)dlg_buf_put(&st->cout, text, strlen(text));
}

/* ------------------------------------------------------------ events */

/* stls_report - count new refusals and log each kind once per session */
static void
stls_report(struct stls *st)
{
	unsigned int ev = st->d.events;
	int	 r;

	st->d.events = 0;
	for (r = 0; r < DLG_NREFUSALS; r++) {
		if (st->d.refused[r] > st->counted[r]) {
			STATS_ADD(stls_refusal_stat[r], st->d.refused[r] -
			    st->counted[r]);
			st->counted[r] = st->d.refused[r];
		}
		if ((ev & (1u << r)) && !(st->logged & (1u << r))) {
			st->logged |= 1u << r;
			log_warnx("%s: %s refused", st->s->peer,
			    dlg_refusal_name((enum dlg_refusal)r));
		}
	}
}

/* stls_xclient_refused - the backend's reply to our XCLIENT, in the log */
static void
stls_xclient_refused(struct stls *st)
{
	char	 text[256], why[256];
	size_t	 n = st->bin.len;
	const char *p = st->bin.data + st->bin.off, *lf;

	if ((lf = memchr(p, '\n', n)) != NULL)
		n = (size_t)(lf - p) + 1;
	n = smtp_line_strip(p, n);
	snprintf(text, sizeof(text), "%.*s", (int)(n < 255 ? n : 255), p);
	sys_printable(why, sizeof(why), text);
	log_warnx("%s: backend %s refused XCLIENT: %s", st->s->peer,
	    st->s->backend_label, why);
}

/* ------------------------------------------------------------ STARTTLS */

/*
 * stls_discard - STARTTLS was the last thing the client may send in
 * plaintext: drop what is buffered after it and what has already
 * arrived, so none of it can be taken as a command inside TLS
 */
static int
stls_discard(struct stls *st)
{
	size_t	 n = st->cin.len;
	char	 junk[4096];
	ssize_t	 k;

	dlg_buf_drop(&st->cin, st->cin.len);
	for (;;) {
		k = recv(st->c.fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (k > 0) {
			n += (size_t)k;
			st->c.in += (uint64_t)k;
			if (n > STARTTLS_MAX_DISCARD)
				break;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n > 0)
		log_warnx("%s: discarding %zu bytes pipelined after STARTTLS",
		    st->s->peer, n);
	if (n > STARTTLS_MAX_DISCARD) {
		st->end = "too much data pipelined after STARTTLS";
		return (-1);
	}
	return (0);
}

/* stls_unsolicited - backend bytes nobody asked for, buffered or queued */
static size_t
stls_unsolicited(struct stls *st)
{
	char	 peek[4096];
	size_t	 n = dlg_unsolicited(&st->d, &st->bin);
	ssize_t	 k;

	if (!st->b.eof && (k = recv(st->b.fd, peek, sizeof(peek),
	    MSG_PEEK | MSG_DONTWAIT)) > 0)
		n += (size_t)k;
	return (n);
}

/*
 * stls_starttls - the client may have TLS: nothing of the backend's
 * may be pending, our 220, then the handshake. -1: the session is over.
 */
static int
stls_starttls(struct stls *st)
{
	struct sess *s = st->s;
	enum tlss_result hr;
	size_t	 n;

	/* What the client is owed from before STARTTLS goes out first. */
	if (stls_flush(st, &st->c, &st->cout, st->cmd_ms) < 0) {
		st->end = "client I/O error";
		return (-1);
	}
	if ((n = stls_unsolicited(st)) > 0) {
		/* Sent inside TLS, it would answer the client's next command. */
		log_warnx("%s: backend %s sent %zu unrequested bytes before "
		    "STARTTLS; closing the session", s->peer, s->backend_label, n);
		st->end = "backend data before STARTTLS";
		stls_say(st, STLS_R_UNSOLICITED);
		return (-1);
	}
	if (stls_discard(st) < 0)
		return (-1);
	stls_say(st, DLG_R_READY);
	if (stls_flush(st, &st->c, &st->cout, st->cmd_ms) < 0) {
		st->end = "client I/O error";
		return (-1);
	}
	/* The backend going away ends the handshake too. */
	hr = sess_tls_accept(s, st->b.fd, sys_now_ms() + s->handshake_ms, NULL);
	if (hr != TLSS_OK) {
		st->end = s->ssl == NULL ? "TLS setup failed" :
		    hr == TLSS_LOCAL_GONE ? "backend disconnected" :
		    "TLS handshake failed";
		st->c.broken = 1;	/* no close_notify, no plaintext reply */
		return (-1);
	}
	st->tls = 1;
	dlg_tls(&st->d);
	st->c.rd = 1;		/* OpenSSL may hold bytes read with the handshake */
	st->c.rd_want = POLLIN;
	st->c.wr_want = 0;
	return (0);
}

/* ------------------------------------------------------------ the loop */

/* stls_poll - wait for whatever can unblock us; 0, or -1 on timeout */
static int
stls_poll(struct stls *st, int64_t deadline)
{
	struct pollfd pfd[2];
	struct stls_side *x[2] = { &st->c, &st->b };
	struct dlg_buf *in[2] = { &st->cin, &st->bin };
	int	 i, n, ms;

	for (i = 0; i < 2; i++) {
		pfd[i].fd = x[i]->fd;
		pfd[i].events = 0;
		pfd[i].revents = 0;
		if (!x[i]->eof && !x[i]->rd && dlg_buf_room(in[i]) > 0)
			pfd[i].events |= x[i]->rd_want;
		/* Set only when a write is waiting (bout, cout or content). */
		if (x[i]->wr_want)
			pfd[i].events |= x[i]->wr_want;
		/* A hung-up fd polls ready forever: only a read reports it. */
		if (x[i]->hup && !(pfd[i].events & POLLIN))
			pfd[i].fd = -1;
	}
	if ((ms = sys_ms_left(deadline)) == 0)
		return (-1);
	if ((n = poll(pfd, 2, ms)) < 0)
		return (errno == EINTR ? 0 : -1);
	if (n == 0)
		return (sys_ms_left(deadline) == 0 ? -1 : 0);
	for (i = 0; i < 2; i++) {
		if (pfd[i].revents & (POLLHUP | POLLERR))
			x[i]->hup = 1;
		if (pfd[i].revents & (x[i]->rd_want | POLLHUP | POLLERR))
			x[i]->rd = 1;
		if (pfd[i].revents & (x[i]->wr_want | POLLHUP | POLLERR))
			x[i]->wr_want = 0;
	}
	return (0);
}

/* stls_timeout - who kept us waiting, in the session's end */
static void
stls_timeout(struct stls *st)
{
	int	 backend = st->cout.len == 0 && (st->bout.len > 0 ||
		    (dlg_pending(&st->d) > 0 && !dlg_in_content(&st->d)));

	st->end = backend ? "timeout waiting for the backend" :
	    "timeout waiting for the client";
	STATS_INC(STAT_TIMEOUTS);
	STATS_LST_INC(st->s->lstats, timeouts);
	stls_say(st, STLS_R_TIMEOUT);
}

/* stls_loop - the whole SMTP session after the backend connect */
static void
stls_loop(struct stls *st)
{
	enum dlg_status ds;
	int64_t	 last = sys_now_ms();
	size_t	 before;
	int	 progress, ms;

	for (;;) {
		progress = 0;
		if (!st->c.eof && st->c.rd && stls_read(st, &st->c, &st->cin) != 0)
			progress = 1;
		if (!st->b.eof && st->b.rd && stls_read(st, &st->b, &st->bin) != 0)
			progress = 1;
		if (stls_content(st) != 0)
			progress = 1;
		before = st->cin.len + st->bin.len + st->bout.len + st->cout.len;
		ds = dlg_run(&st->d, &st->cin, &st->bin, &st->bout, &st->cout);
		if (before != st->cin.len + st->bin.len + st->bout.len +
		    st->cout.len)
			progress = 1;
		stls_report(st);
		if (stls_write(st, &st->b, &st->bout) != 0)
			progress = 1;
		if (stls_write(st, &st->c, &st->cout) != 0)
			progress = 1;

		if (ds == DLG_END) {
			st->end = st->d.end;
			if (strcmp(st->end, "XCLIENT refused") == 0)
				stls_xclient_refused(st);
			return;
		}
		if (ds == DLG_STARTTLS) {
			if (stls_starttls(st) < 0)
				return;
			last = sys_now_ms();
			continue;
		}
		if (st->b.eof) {
			/* Whatever the backend said last reaches the client as it is. */
			(void)dlg_buf_put(&st->cout, st->bin.data + st->bin.off,
			    st->bin.len);
			if (st->end == NULL || st->b.broken)
				st->end = st->b.broken ? "backend I/O error" :
				    "backend disconnected";
			return;
		}
		if (st->c.eof) {
			if (st->c.broken) {
				st->end = "client I/O error";
				return;
			}
			/*
			 * A half-close: what the client sent goes to the backend,
			 * then its EOF; the backend's answers still reach the
			 * client until the backend closes.
			 */
			if (st->end == NULL)
				st->end = "client disconnected";
			if (!st->b_shut && st->bout.len == 0) {
				(void)shutdown(st->b.fd, SHUT_WR);
				st->b_shut = 1;
				STATS_INC(STAT_HALF_CLOSES);
				progress = 1;
			}
		}
		if (progress) {
			last = sys_now_ms();
			continue;
		}
		ms = dlg_in_content(&st->d) ? st->idle_ms : st->cmd_ms;
		if (stls_poll(st, last + ms) < 0) {
			stls_timeout(st);
			return;
		}
	}
}

/* stls_finish - last words both ways, then an orderly TLS close */
static void
stls_finish(struct stls *st)
{
	struct sess *s = st->s;

	if (!st->b.broken)
		(void)stls_flush(st, &st->b, &st->bout, STLS_FLUSH_MS);
	if (!st->c.broken && stls_flush(st, &st->c, &st->cout, STLS_FLUSH_MS) < 0)
		st->c.broken = 1;
	if (st->tls && !st->c.broken) {
		/* Our close_notify, and the session stays resumable. */
		if (tls_close_notify(s->ssl, s->net_fd, &s->busy) == 0)
			STATS_INC(STAT_CLOSE_NOTIFY_SENT);
		tls_mark_clean(s->ssl);
	}
	sess_count_bytes(s, st->c.out, st->b.out);
}

void
starttls_run(struct sess *s, const struct cfg_listener *lc)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct dlg_conf conf;
	struct stls *st;
	char	 summary[512];
	ssize_t	 n;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warnx("%s: out of memory", s->peer);
		return;
	}
	st->s = s;
	st->cmd_ms = lc->command_timeout * 1000;
	st->idle_ms = s->idle_ms;
	st->c.fd = s->net_fd;
	st->b.fd = s->plain_fd;
	st->c.rd = st->b.rd = 1;
	st->c.rd_want = st->b.rd_want = POLLIN;
	st->cin = (struct dlg_buf){ st->cin_data, sizeof(st->cin_data), 0, 0 };
	st->bin = (struct dlg_buf){ st->bin_data, sizeof(st->bin_data), 0, 0 };
	st->bout = (struct dlg_buf){ st->bout_data, sizeof(st->bout_data), 0, 0 };
	st->cout = (struct dlg_buf){ st->cout_data, sizeof(st->cout_data), 0, 0 };

	memset(&conf, 0, sizeof(conf));
	/* No server context (level none) means no STARTTLS. */
	conf.level = s->tls->tls == NULL ? DLG_LEVEL_NONE :
	    s->tls->level == SNAP_LEVEL_ENCRYPT ? DLG_LEVEL_ENCRYPT :
	    s->tls->level == SNAP_LEVEL_MAY ? DLG_LEVEL_MAY : DLG_LEVEL_NONE;
	conf.auth_only = s->tls->auth_only;
	if (lc->xclient) {
		if (getpeername(s->net_fd, (struct sockaddr *)&ss, &sslen) < 0 ||
		    (n = smtp_xclient_format((struct sockaddr *)&ss, st->xclient,
		    sizeof(st->xclient))) < 0) {
			log_warnx("%s: cannot describe the client for XCLIENT",
			    s->peer);
			st->end = "XCLIENT not possible";
			stls_say(st, STLS_R_BACKEND);
			goto done;
		}
		conf.xclient = st->xclient;
	}
	dlg_init(&st->d, &conf);
	stls_loop(st);

done:
	stls_finish(st);
	if (st->tls)
		tls_summary(s->ssl, 1, summary, sizeof(summary));
	log_info("%s: SMTP session ended (%s): STARTTLS %s%s%s, %llu bytes from "
	    "client, %llu bytes to client", s->peer, st->end ? st->end : "unknown",
	    st->tls ? "taken" : "not taken", st->tls ? ", " : "",
	    st->tls ? summary : "", (unsigned long long)st->c.in,
	    (unsigned long long)st->c.out);
	free(st);
}
