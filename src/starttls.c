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
 *	session; nothing here closes or frees them.
 *
 *	The session's state (s->ctx) is one heap object, so that the
 *	session can wait without its worker: when neither socket has
 *	anything for PARK_GRACE_MS, the session parks (session.h) and
 *	stls_go() takes it up again on whatever worker is free, in the
 *	phase where it stopped: the dialogue, the steps of STARTTLS, the
 *	last words. A parked session with nothing buffered gives its four
 *	buffers back; they come again when it wakes.
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
#define STLS_BUFS	(STLS_CIN + STLS_BIN + STLS_BOUT + STLS_COUT)

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

enum stls_phase {
	STLS_DIALOGUE,		/* commands, replies, content */
	STLS_OWED,		/* STARTTLS: the client's owed replies go out */
	STLS_READY,		/* STARTTLS: our 220 goes out */
	STLS_HANDSHAKE,		/* STARTTLS: in sess_tls_accept() */
	STLS_LAST_WORDS,	/* the end: what is queued goes out, each way */
};

struct stls {
	struct sess	*s;		/* borrowed */
	void		(*done)(struct sess *);
	enum stls_phase	 phase;
	int64_t		 last;		/* last progress (the dialogue) */
	int64_t		 deadline;	/* of the phase, other than the dialogue */
	struct dlg	 d;
	int		 tls;		/* handshake done: client I/O via s->ssl */
	int		 cmd_ms;	/* command_timeout */
	int64_t		 plain_end;	/* plaintext_timeout, from the connection */
	int		 idle_ms;	/* idle_timeout: message content */
	const char	*end;		/* how it ended (static text) */
	int		 b_shut;	/* the client's EOF passed on to the backend */
	uint64_t	 counted[DLG_NREFUSALS];	/* refusals in the stats */
	unsigned int	 logged;	/* refusal kinds logged (1 << DLG_REF_*) */
	struct stls_side c, b;		/* client, backend */
	struct dlg_buf	 cin, bin, bout, cout;	/* in bufs */
	char		*bufs;		/* owned; NULL while parked empty */
	char		 xclient[256];
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

/* ------------------------------------------------------------ waiting */

/* stls_last_words_begin - the end: STLS_FLUSH_MS for what is queued */
static void
stls_last_words_begin(struct stls *st)
{
	st->phase = STLS_LAST_WORDS;
	st->deadline = sys_now_ms() + STLS_FLUSH_MS;
}

/* stls_go - take the session up where it stopped (also the park's cont) */
static void stls_go(struct sess *);

/*
 * stls_bufs - the four buffers, back from the allocator after a wait
 * with nothing buffered; -1 when out of memory
 */
static int
stls_bufs(struct stls *st)
{
	char	*p;

	if (st->bufs != NULL)
		return (0);
	if ((p = st->bufs = malloc(STLS_BUFS)) == NULL)
		return (-1);
	st->cin = (struct dlg_buf){ p, STLS_CIN, 0, 0 };
	p += STLS_CIN;
	st->bin = (struct dlg_buf){ p, STLS_BIN, 0, 0 };
	p += STLS_BIN;
	st->bout = (struct dlg_buf){ p, STLS_BOUT, 0, 0 };
	p += STLS_BOUT;
	st->cout = (struct dlg_buf){ p, STLS_COUT, 0, 0 };
	return (0);
}

/* stls_bufs_release - empty buffers go back while the session waits */
static void
stls_bufs_release(struct stls *st)
{
	if (st->cin.len + st->bin.len + st->bout.len + st->cout.len != 0)
		return;
	free(st->bufs);
	st->bufs = NULL;
	memset(&st->cin, 0, sizeof(st->cin));
	st->bin = st->bout = st->cout = st->cin;
}

/* stls_park - wait in the waiting set, holding as little as it can */
static void
stls_park(struct stls *st)
{
	stls_bufs_release(st);
	if (st->tls)
		(void)SSL_free_buffers(st->s->ssl);
	sess_park(st->s, stls_go);
}

/*
 * stls_flush - buf to side x by st->deadline: 1 when it is all out, -1
 * on an error or the deadline, 0 when the session parked (return at
 * once; stls_go() comes back here)
 */
static int
stls_flush(struct stls *st, struct stls_side *x, struct dlg_buf *buf)
{
	struct sess *s = st->s;

	for (;;) {
		/* Back from a wait (here or in the waiting set): which was it? */
		if (s->pk.timed_out) {
			s->pk.timed_out = 0;
			return (-1);
		}
		x->wr_want = 0;		/* try; a blocked write sets it again */
		if (stls_write(st, x, buf) < 0)
			return (-1);
		if (buf->len == 0)
			return (1);
		park_item_set(&s->pk, x->fd, x->wr_want ? x->wr_want : POLLOUT, -1,
		    0, st->deadline);
		if (!sess_wait(s, stls_go))
			return (0);
	}
}

/* ------------------------------------------------------------ STARTTLS */

/* stls_hs_done - the STARTTLS handshake is over: back to the dialogue, or the end */
static void
stls_hs_done(struct sess *s, enum tls_hs hr)
{
	struct stls *st = s->ctx;

	if (hr != TLS_HS_OK) {
		st->end = s->ssl == NULL && hr == TLS_HS_FAIL ? "TLS setup failed" :
		    hr == TLS_HS_LOCAL_GONE ? "backend disconnected" :
		    "TLS handshake failed";
		st->c.broken = 1;	/* no close_notify, no plaintext reply */
		stls_last_words_begin(st);
	} else {
		st->tls = 1;
		dlg_tls(&st->d);
		st->c.rd = 1;	/* OpenSSL may hold bytes read with the handshake */
		st->c.rd_want = POLLIN;
		st->c.wr_want = 0;
		st->phase = STLS_DIALOGUE;
		st->last = sys_now_ms();
	}
	stls_go(s);
}

/*
 * stls_starttls - the client may have TLS: what it is owed goes out
 * first, nothing of the backend's may be pending, our 220, then the
 * handshake. 1: next phase; 0: parked or handed to the handshake
 * (return at once); -1: the session is over.
 */
static int
stls_starttls(struct stls *st)
{
	struct sess *s = st->s;
	size_t	 n;
	int	 r;

	if (st->phase == STLS_OWED) {
		if ((r = stls_flush(st, &st->c, &st->cout)) <= 0) {
			if (r < 0)
				st->end = "client I/O error";
			return (r);
		}
		if ((n = stls_unsolicited(st)) > 0) {
			/* Sent inside TLS, it would answer the client's next command. */
			log_warnx("%s: backend %s sent %zu unrequested bytes before "
			    "STARTTLS; closing the session", s->peer, s->backend_label,
			    n);
			st->end = "backend data before STARTTLS";
			stls_say(st, STLS_R_UNSOLICITED);
			return (-1);
		}
		if (stls_discard(st) < 0)
			return (-1);
		stls_say(st, DLG_R_READY);
		st->phase = STLS_READY;
	}
	if ((r = stls_flush(st, &st->c, &st->cout)) <= 0) {
		if (r < 0)
			st->end = "client I/O error";
		return (r);
	}
	/* The backend going away ends the handshake too. */
	st->phase = STLS_HANDSHAKE;
	stls_bufs_release(st);
	sess_tls_accept(s, st->b.fd, sys_now_ms() + s->handshake_ms, NULL,
	    stls_hs_done);
	return (0);
}

/* ------------------------------------------------------------ the loop */

/* stls_pollfds - what can unblock us */
static void
stls_pollfds(struct stls *st, struct pollfd pfd[2])
{
	struct stls_side *x[2] = { &st->c, &st->b };
	struct dlg_buf *in[2] = { &st->cin, &st->bin };
	int	 i;

	for (i = 0; i < 2; i++) {
		pfd[i].fd = x[i]->fd;
		pfd[i].events = 0;
		pfd[i].revents = 0;
		/* (Buffers given back while parked are empty: room.) */
		if (!x[i]->eof && !x[i]->rd && (in[i]->data == NULL ||
		    dlg_buf_room(in[i]) > 0))
			pfd[i].events |= x[i]->rd_want;
		/* Set only when a write is waiting (bout, cout or content). */
		if (x[i]->wr_want)
			pfd[i].events |= x[i]->wr_want;
		/* A hung-up fd polls ready forever: only a read reports it. */
		if (x[i]->hup && !(pfd[i].events & POLLIN))
			pfd[i].fd = -1;
	}
}

/*
 * stls_poll - wait up to ms (the deadline bounds it) for whatever can
 * unblock us: 1 when something may move, 0 when nothing did, -1 when
 * the deadline has passed
 */
static int
stls_poll(struct stls *st, int64_t deadline, int ms)
{
	struct pollfd pfd[2];
	struct stls_side *x[2] = { &st->c, &st->b };
	int	 i, n, left;

	stls_pollfds(st, pfd);
	if ((left = sys_ms_left(deadline)) == 0)
		return (-1);
	if (ms < 0 || ms > left)
		ms = left;
	if ((n = poll(pfd, 2, ms)) < 0)
		return (errno == EINTR ? 1 : -1);
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
	return (1);
}

/*
 * stls_deadline - until when the dialogue may wait now: the command or
 * content timeout from the last progress; while the client, without
 * TLS and without a message yet, owes its next command, no later than
 * plaintext_timeout after the connection
 */
static int64_t
stls_deadline(const struct stls *st, int *capped)
{
	int64_t	 t = st->last + (dlg_in_content(&st->d) ? st->idle_ms : st->cmd_ms);

	*capped = 0;
	if (!st->tls && st->d.messages == 0 && !dlg_in_content(&st->d) &&
	    dlg_pending(&st->d) == 0 && st->plain_end < t) {
		t = st->plain_end;
		*capped = 1;
	}
	return (t);
}

/* stls_timeout - who kept us waiting, in the session's end */
static void
stls_timeout(struct stls *st, int capped)
{
	int	 backend = st->cout.len == 0 && (st->bout.len > 0 ||
		    (dlg_pending(&st->d) > 0 && !dlg_in_content(&st->d)));

	st->end = capped ? "plaintext_timeout: no TLS and no message in time" :
	    backend ? "timeout waiting for the backend" :
	    "timeout waiting for the client";
	STATS_INC(STAT_TIMEOUTS);
	STATS_LST_INC(st->s->lstats, timeouts);
	stls_say(st, STLS_R_TIMEOUT);
}

/*
 * stls_dialogue - the SMTP session between the STARTTLS steps: 1 when
 * it moves to another phase, 0 when it parked (return at once)
 */
static int
stls_dialogue(struct stls *st)
{
	struct pollfd pfd[2];
	enum dlg_status ds;
	size_t	 before;
	int64_t	 deadline;
	int	 progress, r, late, capped;

	/* Woken by the deadline (or early, as timed out, at shutdown)? */
	late = st->s->pk.timed_out;
	st->s->pk.timed_out = 0;
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
			return (1);
		}
		if (ds == DLG_STARTTLS) {
			st->phase = STLS_OWED;
			st->deadline = sys_now_ms() + st->cmd_ms;
			return (1);
		}
		if (st->b.eof) {
			/* Whatever the backend said last reaches the client as it is. */
			(void)dlg_buf_put(&st->cout, st->bin.data + st->bin.off,
			    st->bin.len);
			if (st->end == NULL || st->b.broken)
				st->end = st->b.broken ? "backend I/O error" :
				    "backend disconnected";
			return (1);
		}
		if (st->c.eof) {
			if (st->c.broken) {
				st->end = "client I/O error";
				return (1);
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
			st->last = sys_now_ms();
			late = 0;
			continue;
		}
		deadline = stls_deadline(st, &capped);
		r = stls_poll(st, deadline, late ? 0 : sess_grace_ms());
		if (r < 0 || (r == 0 && late)) {
			stls_timeout(st, capped);
			return (1);
		}
		if (r == 0) {
			stls_pollfds(st, pfd);
			park_item_set(&st->s->pk, pfd[0].fd, pfd[0].events, pfd[1].fd,
			    pfd[1].events, deadline);
			stls_park(st);
			return (0);
		}
	}
}

/*
 * stls_last_words - what is queued goes out, each way, within
 * STLS_FLUSH_MS, then an orderly TLS close: 1 when done, 0 when parked
 */
static int
stls_last_words(struct stls *st)
{
	struct sess *s = st->s;
	int	 r;

	if (!st->b.broken && st->bout.len > 0) {
		if ((r = stls_flush(st, &st->b, &st->bout)) == 0)
			return (0);
		if (r < 0)
			st->b.broken = 1;
	}
	if (!st->c.broken && st->cout.len > 0) {
		if ((r = stls_flush(st, &st->c, &st->cout)) == 0)
			return (0);
		if (r < 0)
			st->c.broken = 1;
	}
	if (st->tls && !st->c.broken) {
		/* Our close_notify, and the session stays resumable. */
		if (tls_close_notify(s->ssl, s->net_fd, &s->busy) == 0)
			STATS_INC(STAT_CLOSE_NOTIFY_SENT);
		tls_mark_clean(s->ssl);
	}
	return (1);
}

/* stls_end - the session's one log line; then the caller's end */
static void
stls_end(struct stls *st)
{
	struct sess *s = st->s;
	char	 summary[512];

	sess_count_bytes(s, st->c.out, st->b.out);
	if (st->tls)
		tls_summary(s->ssl, 1, summary, sizeof(summary));
	log_info("%s: SMTP session ended (%s): STARTTLS %s%s%s, %llu bytes from "
	    "client, %llu bytes to client", s->peer, st->end ? st->end : "unknown",
	    st->tls ? "taken" : "not taken", st->tls ? ", " : "",
	    st->tls ? summary : "", (unsigned long long)st->c.in,
	    (unsigned long long)st->c.out);
	st->done(s);
}

static void
stls_go(struct sess *s)
{
	struct stls *st = s->ctx;
	int	 r;

	if (stls_bufs(st) < 0) {
		log_warnx("%s: out of memory", s->peer);
		st->end = "out of memory";
		st->b.broken = st->c.broken = 1;
		stls_last_words_begin(st);
	}
	for (;;) {
		switch (st->phase) {
		case STLS_DIALOGUE:
			if (stls_dialogue(st) == 0)
				return;
			if (st->phase == STLS_DIALOGUE) {
				stls_last_words_begin(st);
			}
			break;
		case STLS_OWED:
		case STLS_READY:
			if ((r = stls_starttls(st)) == 0)
				return;
			if (r < 0) {
				stls_last_words_begin(st);
			}
			break;
		case STLS_HANDSHAKE:
			log_panic("%s: resumed inside the handshake", __func__);
			return;
		case STLS_LAST_WORDS:
			if (stls_last_words(st) == 0)
				return;
			stls_end(st);
			return;
		}
	}
}

static void
stls_free(void *p)
{
	struct stls *st = p;

	free(st->bufs);
	free(st);
}

void
starttls_run(struct sess *s, const struct cfg_listener *lc,
    void (*done)(struct sess *))
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct dlg_conf conf;
	struct stls *st;
	ssize_t	 n;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warnx("%s: out of memory", s->peer);
		done(s);
		return;
	}
	s->ctx = st;
	s->ctx_free = stls_free;
	st->s = s;
	st->done = done;
	st->cmd_ms = lc->command_timeout * 1000;
	st->plain_end = sys_now_ms() + (int64_t)lc->plaintext_timeout * 1000;
	st->idle_ms = s->idle_ms;
	st->c.fd = s->net_fd;
	st->b.fd = s->plain_fd;
	st->c.rd = st->b.rd = 1;
	st->c.rd_want = st->b.rd_want = POLLIN;
	st->phase = STLS_DIALOGUE;
	st->last = sys_now_ms();
	s->pk.timed_out = 0;

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
			stls_last_words_begin(st);
			if (stls_bufs(st) == 0)
				stls_say(st, STLS_R_BACKEND);
		}
		conf.xclient = st->xclient;
	}
	dlg_init(&st->d, &conf);
	stls_go(s);
}
