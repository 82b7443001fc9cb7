/*
 * NAME
 *	starttls - SMTP STARTTLS frontend: the backend speaks SMTP, we add TLS
 * DESCRIPTION
 *	See starttls.h. One heap-allocated state per session (worker
 *	stacks are small) holds the two read buffers: the client's, which
 *	is what makes pipelined bytes after STARTTLS visible, and the
 *	backend's. Both fds, the SSL and the session belong to the
 *	caller; nothing here closes or frees them.
 *
 *	Replies we make ourselves follow Postfix's smtpd wording, so a
 *	client sees the same texts as from a Postfix server.
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
#include "log.h"
#include "relay.h"
#include "session.h"
#include "smtp.h"
#include "starttls.h"
#include "stats.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_server.h"

#define STLS_BUFSIZE	(2 * SMTP_LINE_MAX)	/* a whole line fits after compaction */

/* Results of the I/O helpers. */
#define STLS_OK		1
#define STLS_EOF	0
#define STLS_ERR	(-1)
#define STLS_TIMEOUT	(-2)
#define STLS_LONG	(-3)

/* Replies of our own. */
#define STLS_R_READY	"220 2.0.0 Ready to start TLS\r\n"
#define STLS_R_530	"530 5.7.0 Must issue a STARTTLS command first\r\n"
#define STLS_R_502	"502 5.5.1 Error: command not implemented\r\n"
#define STLS_R_501	"501 5.5.4 Syntax: STARTTLS\r\n"
#define STLS_R_554	"554 5.5.1 Error: TLS already active\r\n"
#define STLS_R_XCLIENT	"550 5.7.0 Error: insufficient authorization\r\n"
#define STLS_R_LONG	"500 5.5.2 Error: line too long\r\n"
#define STLS_R_LONG421	"421 4.7.0 Error: line too long; closing connection\r\n"
#define STLS_R_MANY	"421 4.7.0 Error: too many commands; closing connection\r\n"
#define STLS_R_TIMEOUT	"421 4.4.2 Error: timeout exceeded\r\n"
#define STLS_R_BACKEND	"421 4.3.0 Error: service not available; closing connection\r\n"
#define STLS_R_TLSFAIL	"454 4.7.0 TLS not available due to local problem\r\n"

enum stls_next {
	STLS_NEXT_END,		/* the session is over */
	STLS_NEXT_TLS,		/* 220 sent: run the handshake */
	STLS_NEXT_RELAY,	/* relay bytes from here on */
};

struct stls_in {
	size_t	 off;
	size_t	 len;
	char	 data[STLS_BUFSIZE];
};

struct stls {
	struct sess	*s;		/* borrowed */
	enum snap_level	 level;		/* none when there is no TLS context */
	int		 xclient;	/* the backend trusts XCLIENT from us */
	int		 cmd_ms;	/* command_timeout */
	int		 tls;		/* handshake done: client I/O via s->ssl */
	int		 auth;		/* last reply was 334: an AUTH response follows */
	int		 ncmds;		/* commands handled line by line */
	uint64_t	 from_client;	/* bytes read from the client (plaintext) */
	uint64_t	 to_client;	/* bytes written to the client (plaintext) */
	const char	*end;		/* how it ended (static text) */
	struct stls_in	 cin;		/* client bytes not yet handled */
	struct stls_in	 bin;		/* backend bytes not yet handled */
	struct smtp_reply reply;	/* the backend's last reply */
	char		 out[SMTP_EHLO_OUT_MAX];	/* edited reply, saved greeting */
	char		 cmd[SMTP_LINE_MAX + 2];	/* command to the backend */
};

/* stls_wait - wait for fd under the deadline; STLS_OK, _TIMEOUT or _ERR */
static int
stls_wait(int fd, short events, int64_t deadline)
{
	int	 r;

	if ((r = sys_wait(fd, events, deadline)) == 0)
		return (STLS_TIMEOUT);
	return (r < 0 ? STLS_ERR : STLS_OK);
}

/*
 * stls_read - some bytes from the client (through TLS once it is up)
 * or the backend, waiting until the deadline
 */
static int
stls_read(struct stls *st, int client, char *buf, size_t len, int64_t deadline,
    size_t *got)
{
	struct sess *s = st->s;
	int	 fd = client ? s->net_fd : s->plain_fd, r, e;
	short	 ev;
	ssize_t	 k;

	for (;;) {
		ev = POLLIN;
		if (client && st->tls) {
			ERR_clear_error();
			errno = 0;
			s->busy = sys_now_ms();
			r = SSL_read(s->ssl, buf, (int)len);
			s->busy = 0;
			if (r > 0) {
				*got = (size_t)r;
				return (STLS_OK);
			}
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
			    ERR_peek_error() == 0 && errno == 0))
				return (STLS_EOF);
			if (e == SSL_ERROR_WANT_WRITE)
				ev = POLLOUT;
			else if (e != SSL_ERROR_WANT_READ)
				return (STLS_ERR);
		} else {
			s->busy = sys_now_ms();
			k = read(fd, buf, len);
			s->busy = 0;
			if (k > 0) {
				*got = (size_t)k;
				return (STLS_OK);
			}
			if (k == 0)
				return (STLS_EOF);
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return (STLS_ERR);
		}
		if ((r = stls_wait(fd, ev, deadline)) != STLS_OK)
			return (r);
	}
}

/* stls_write - all of buf to the client or the backend by the deadline */
static int
stls_write(struct stls *st, int client, const char *buf, size_t len,
    int64_t deadline)
{
	struct sess *s = st->s;
	int	 r, e;

	if (client)
		st->to_client += len;
	if (!client || !st->tls)
		return (sys_write_all(client ? s->net_fd : s->plain_fd, buf, len,
		    deadline) < 0 ? STLS_ERR : STLS_OK);
	while (len > 0) {
		ERR_clear_error();
		s->busy = sys_now_ms();
		r = SSL_write(s->ssl, buf, (int)len);
		s->busy = 0;
		if (r > 0) {
			buf += r;
			len -= (size_t)r;
			continue;
		}
		e = SSL_get_error(s->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return (STLS_ERR);
		if ((r = stls_wait(s->net_fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline)) != STLS_OK)
			return (r);
	}
	return (STLS_OK);
}

/* stls_say - one reply of our own to the client; best effort */
static int
stls_say(struct stls *st, const char *text)
{
	return (stls_write(st, 1, text, strlen(text),
	    sys_now_ms() + st->cmd_ms));
}

/* stls_compact - move the unread bytes to the front of the buffer */
static void
stls_compact(struct stls_in *b)
{
	if (b->off > 0 && b->len > 0)
		memmove(b->data, b->data + b->off, b->len);
	b->off = 0;
}

/*
 * stls_line - the next line (LF included) from the client or backend.
 * *line points into the buffer and stays valid until the next read
 * from the same side. STLS_LONG: SMTP_LINE_MAX bytes without an LF.
 */
static int
stls_line(struct stls *st, int client, const char **line, size_t *len,
    int64_t deadline)
{
	struct stls_in *b = client ? &st->cin : &st->bin;
	size_t	 n, got;
	int	 r;

	for (;;) {
		switch (smtp_line_find(b->data + b->off, b->len, SMTP_LINE_MAX, &n)) {
		case SMTP_LINE_OK:
			*line = b->data + b->off;
			*len = n;
			b->off += n;
			b->len -= n;
			return (STLS_OK);
		case SMTP_LINE_LONG:
			return (STLS_LONG);
		case SMTP_LINE_NONE:
			break;
		}
		stls_compact(b);
		if ((r = stls_read(st, client, b->data + b->len,
		    sizeof(b->data) - b->len, deadline, &got)) != STLS_OK)
			return (r);
		b->len += got;
		if (client)
			st->from_client += got;
	}
}

/*
 * stls_skip_line - drop the rest of an over-long client line, LF
 * included; gives up after STARTTLS_MAX_DISCARD bytes
 */
static int
stls_skip_line(struct stls *st, int64_t deadline)
{
	struct stls_in *b = &st->cin;
	size_t	 skipped = 0, got;
	char	*lf;
	int	 r;

	for (;;) {
		if ((lf = memchr(b->data + b->off, '\n', b->len)) != NULL) {
			b->len -= (size_t)(lf + 1 - (b->data + b->off));
			b->off = (size_t)(lf + 1 - b->data);
			return (STLS_OK);
		}
		skipped += b->len;
		b->off = b->len = 0;
		if (skipped > STARTTLS_MAX_DISCARD)
			return (STLS_ERR);
		if ((r = stls_read(st, 1, b->data, sizeof(b->data), deadline,
		    &got)) != STLS_OK)
			return (r);
		b->len = got;
		st->from_client += got;
	}
}

/* stls_io_end - what a failed client or backend operation means */
static void
stls_io_end(struct stls *st, int client, int r)
{
	switch (r) {
	case STLS_EOF:
		st->end = client ? "client disconnected" : "backend disconnected";
		break;
	case STLS_TIMEOUT:
		st->end = client ? "timeout waiting for the client" :
		    "timeout waiting for the backend";
		STATS_INC(STAT_TIMEOUTS);
		break;
	default:
		st->end = client ? "client I/O error" : "backend I/O error";
		break;
	}
}

/*
 * stls_reply - read one whole reply from the backend into st->reply.
 * On failure the client gets a 421 and st->end says why.
 */
static int
stls_reply(struct stls *st)
{
	const char *line;
	size_t	 len;
	int64_t	 deadline = sys_now_ms() + st->cmd_ms;
	int	 r;

	smtp_reply_init(&st->reply);
	while (!st->reply.done) {
		r = stls_line(st, 0, &line, &len, deadline);
		if (r == STLS_OK && smtp_reply_add(&st->reply, line, len) < 0)
			r = STLS_LONG;
		if (r == STLS_LONG) {
			log_warnx("%s: malformed or over-long SMTP reply from "
			    "backend %s", st->s->peer, st->s->backend_label);
			st->end = "backend protocol error";
		} else if (r != STLS_OK) {
			stls_io_end(st, 0, r);
		}
		if (r != STLS_OK) {
			(void)stls_say(st, r == STLS_TIMEOUT ? STLS_R_TIMEOUT :
			    STLS_R_BACKEND);
			return (-1);
		}
	}
	return (0);
}

/*
 * stls_pass_reply - the backend's reply to the client, with the EHLO
 * edit when edit >= 0. -1 (st->end set) when the session is over.
 */
static int
stls_pass_reply(struct stls *st, int edit)
{
	const char *text = st->reply.buf;
	ssize_t	 n = (ssize_t)st->reply.len;
	int	 changed, r;

	if (edit >= 0 && (n = smtp_ehlo_edit(st->reply.buf, st->reply.len,
	    (enum smtp_ehlo_edit)edit, st->out, sizeof(st->out), &changed)) >= 0)
		text = st->out;
	if (n < 0) {			/* cannot happen: out has room */
		text = st->reply.buf;
		n = (ssize_t)st->reply.len;
	}
	st->auth = st->reply.code == 334;
	if ((r = stls_write(st, 1, text, (size_t)n, sys_now_ms() +
	    st->cmd_ms)) != STLS_OK) {
		stls_io_end(st, 1, r);
		return (-1);
	}
	if (st->reply.code == 421) {
		st->end = "backend sent 421";
		return (-1);
	}
	return (0);
}

/* stls_forward - one command line to the backend, with CRLF */
static int
stls_forward(struct stls *st, const char *line, size_t n)
{
	int	 r;

	memcpy(st->cmd, line, n);
	memcpy(st->cmd + n, "\r\n", 2);
	if ((r = stls_write(st, 0, st->cmd, n + 2, sys_now_ms() +
	    st->cmd_ms)) != STLS_OK) {
		stls_io_end(st, 0, r);
		(void)stls_say(st, STLS_R_BACKEND);
		return (-1);
	}
	return (0);
}

/* stls_command - relay one command and its reply; -1: session over */
static int
stls_command(struct stls *st, const char *line, size_t n, int edit)
{
	if (stls_forward(st, line, n) < 0 || stls_reply(st) < 0)
		return (-1);
	return (stls_pass_reply(st, edit));
}

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

	st->cin.off = st->cin.len = 0;
	for (;;) {
		k = recv(st->s->net_fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (k > 0) {
			n += (size_t)k;
			st->from_client += (uint64_t)k;
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

/* stls_encrypt_ok - may this command go to the backend before TLS (encrypt)? */
static int
stls_encrypt_ok(enum smtp_verb v)
{
	return (v == SMTP_V_EHLO || v == SMTP_V_HELO || v == SMTP_V_NOOP ||
	    v == SMTP_V_RSET || v == SMTP_V_QUIT || v == SMTP_V_STARTTLS);
}

/*
 * stls_dialogue - commands line by line until STARTTLS, MAIL (DATA,
 * BDAT), which starts the byte relay, or the end. Before TLS it
 * applies the level's rules and EHLO replies get STARTTLS; after TLS
 * they lose the backend's STARTTLS and STARTTLS itself gets 554.
 */
static enum stls_next
stls_dialogue(struct stls *st)
{
	enum smtp_verb v;
	const char *line;
	size_t	 len, n;
	int64_t	 deadline;
	int	 r, args, ours;

	for (;;) {
		deadline = sys_now_ms() + st->cmd_ms;
		r = stls_line(st, 1, &line, &len, deadline);
		if (r == STLS_LONG) {
			if (++st->ncmds > STARTTLS_MAX_COMMANDS) {
				st->end = "too many commands";
				(void)stls_say(st, STLS_R_MANY);
				return (STLS_NEXT_END);
			}
			if (stls_skip_line(st, deadline) != STLS_OK) {
				st->end = "line too long";
				(void)stls_say(st, STLS_R_LONG421);
				return (STLS_NEXT_END);
			}
			if (stls_say(st, STLS_R_LONG) != STLS_OK) {
				stls_io_end(st, 1, STLS_ERR);
				return (STLS_NEXT_END);
			}
			continue;
		}
		if (r != STLS_OK) {
			stls_io_end(st, 1, r);
			if (r == STLS_TIMEOUT)
				(void)stls_say(st, STLS_R_TIMEOUT);
			return (STLS_NEXT_END);
		}
		if (++st->ncmds > STARTTLS_MAX_COMMANDS) {
			st->end = "too many commands";
			(void)stls_say(st, STLS_R_MANY);
			return (STLS_NEXT_END);
		}
		n = smtp_line_strip(line, len);
		if (st->auth) {		/* an AUTH response, not a command */
			if (stls_command(st, line, n, -1) < 0)
				return (STLS_NEXT_END);
			continue;
		}
		v = smtp_cmd_verb(line, n, &args);

		/* Never ours to relay: STARTTLS, and XCLIENT when we use it. */
		if (v == SMTP_V_STARTTLS) {
			if (st->tls)
				r = stls_say(st, STLS_R_554);
			else if (st->level == SNAP_LEVEL_NONE)
				r = stls_say(st, STLS_R_502);
			else if (args)
				r = stls_say(st, STLS_R_501);
			else {
				if (stls_discard(st) < 0)
					return (STLS_NEXT_END);
				if ((r = stls_say(st, STLS_R_READY)) != STLS_OK) {
					stls_io_end(st, 1, r);
					return (STLS_NEXT_END);
				}
				return (STLS_NEXT_TLS);
			}
			ours = 1;
		} else if (v == SMTP_V_XCLIENT && st->xclient) {
			r = stls_say(st, STLS_R_XCLIENT);
			ours = 1;
		} else if (!st->tls && st->level == SNAP_LEVEL_ENCRYPT &&
		    !stls_encrypt_ok(v)) {
			r = stls_say(st, STLS_R_530);
			ours = 1;
		} else
			ours = 0;
		if (ours) {
			if (r == STLS_OK)
				continue;
			stls_io_end(st, 1, r);
			return (STLS_NEXT_END);
		}

		switch (v) {
		case SMTP_V_EHLO:
			if (stls_command(st, line, n, st->tls || st->level ==
			    SNAP_LEVEL_NONE ? SMTP_EHLO_DEL_STARTTLS :
			    SMTP_EHLO_ADD_STARTTLS) < 0)
				return (STLS_NEXT_END);
			break;
		case SMTP_V_QUIT:
			if (stls_command(st, line, n, -1) == 0)
				st->end = "QUIT";
			return (STLS_NEXT_END);
		case SMTP_V_HELO:
		case SMTP_V_NOOP:
		case SMTP_V_RSET:
			if (stls_command(st, line, n, -1) < 0)
				return (STLS_NEXT_END);
			break;
		case SMTP_V_MAIL:
		case SMTP_V_DATA:
		case SMTP_V_BDAT:
			/*
			 * Mail begins: nothing left to edit or refuse (a
			 * plaintext client has chosen not to use TLS), and
			 * DATA and BDAT are not one line, one reply.
			 */
			if (stls_forward(st, line, n) < 0)
				return (STLS_NEXT_END);
			return (STLS_NEXT_RELAY);
		default:
			if (stls_command(st, line, n, -1) < 0)
				return (STLS_NEXT_END);
			break;
		}
	}
}

/*
 * stls_greeting - the backend's greeting to the client, after XCLIENT
 * when configured. -1 (st->end set) when the session is over.
 */
static int
stls_greeting(struct stls *st)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char	 xc[256], why[256];
	size_t	 glen;
	ssize_t	 n;
	int	 r;

	if (stls_reply(st) < 0)
		return (-1);
	if (!st->xclient || st->reply.code != 220)
		return (stls_pass_reply(st, -1));
	/* Keep the greeting; XCLIENT's reply is a greeting of its own. */
	glen = st->reply.len;
	memcpy(st->out, st->reply.buf, glen);
	if (getpeername(st->s->net_fd, (struct sockaddr *)&ss, &sslen) < 0 ||
	    (n = smtp_xclient_format((struct sockaddr *)&ss, xc,
	    sizeof(xc))) < 0) {
		log_warnx("%s: cannot describe the client for XCLIENT",
		    st->s->peer);
		st->end = "XCLIENT not possible";
		(void)stls_say(st, STLS_R_BACKEND);
		return (-1);
	}
	if (stls_forward(st, xc, smtp_line_strip(xc, (size_t)n)) < 0 ||
	    stls_reply(st) < 0)
		return (-1);
	if (st->reply.code / 100 != 2) {
		/* The backend's text, first line, printable. */
		snprintf(xc, sizeof(xc), "%.*s", (int)smtp_line_strip(st->reply.buf,
		    (size_t)((char *)memchr(st->reply.buf, '\n', st->reply.len) -
		    st->reply.buf) + 1), st->reply.buf);
		sys_printable(why, sizeof(why), xc);
		log_warnx("%s: backend %s refused XCLIENT: %s", st->s->peer,
		    st->s->backend_label, why);
		st->end = "XCLIENT refused";
		(void)stls_say(st, STLS_R_BACKEND);
		return (-1);
	}
	if ((r = stls_write(st, 1, st->out, glen, sys_now_ms() + st->cmd_ms)) !=
	    STLS_OK) {
		stls_io_end(st, 1, r);
		return (-1);
	}
	return (0);
}

/* stls_relay_end - how a byte relay ended, in this module's words */
static const char *
stls_relay_end(enum relay_end e)
{
	switch (e) {
	case RELAY_LOCAL_EOF:
		return ("backend disconnected");
	case RELAY_REMOTE_EOF:
		return ("client disconnected");
	case RELAY_LOCAL_ERROR:
		return ("backend I/O error");
	case RELAY_REMOTE_ERROR:
		return ("client I/O error");
	case RELAY_TIMEOUT:
		return ("idle timeout");
	}
	return ("unknown");
}

/* stls_flush - what the line reader still holds, to its destination */
static int
stls_flush(struct stls *st)
{
	int64_t	 deadline = sys_now_ms() + st->cmd_ms;
	int	 r;

	if (st->cin.len > 0) {
		if ((r = stls_write(st, 0, st->cin.data + st->cin.off, st->cin.len,
		    deadline)) != STLS_OK) {
			stls_io_end(st, 0, r);
			return (-1);
		}
		st->cin.off = st->cin.len = 0;
	}
	if (st->bin.len > 0) {
		if ((r = stls_write(st, 1, st->bin.data + st->bin.off, st->bin.len,
		    deadline)) != STLS_OK) {
			stls_io_end(st, 1, r);
			return (-1);
		}
		st->bin.off = st->bin.len = 0;
	}
	return (0);
}

/* stls_handshake - TLS on the client socket after our 220; -1 on failure */
static int
stls_handshake(struct stls *st)
{
	struct sess *s = st->s;
	enum tlss_result hr;

	/* The backend going away ends the handshake too. */
	hr = sess_tls_accept(s, s->plain_fd, sys_now_ms() + s->handshake_ms, NULL);
	if (hr != TLSS_OK) {
		st->end = s->ssl == NULL ? "TLS setup failed" :
		    hr == TLSS_LOCAL_GONE ? "backend disconnected" :
		    "TLS handshake failed";
		return (-1);
	}
	st->tls = 1;
	return (0);
}

void
starttls_run(struct sess *s, const struct cfg_listener *lc)
{
	struct relay_result res;
	struct stls *st;
	enum stls_next next;
	char	 summary[512];

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warnx("%s: out of memory", s->peer);
		return;
	}
	st->s = s;
	/* No server context (level none) means no STARTTLS. */
	st->level = s->tls->tls != NULL ? s->tls->level : SNAP_LEVEL_NONE;
	st->xclient = lc->xclient;
	st->cmd_ms = lc->command_timeout * 1000;
	memset(&res, 0, sizeof(res));

	if (stls_greeting(st) < 0)
		goto done;
	next = stls_dialogue(st);
	if (next == STLS_NEXT_TLS) {
		if (stls_handshake(st) < 0)
			goto done;
		next = stls_dialogue(st);
	}
	if (next != STLS_NEXT_RELAY || stls_flush(st) < 0)
		goto done;
	/* Without TLS (level may, no STARTTLS) the same relay moves plain bytes. */
	relay_run(s->plain_fd, st->tls ? s->ssl : NULL, s->net_fd, s->idle_ms,
	    &s->busy, &res);
	sess_relay_done(s, st->tls ? s->ssl : NULL, &res);
	st->from_client += res.to_local;
	st->to_client += res.to_remote;
	st->end = stls_relay_end(res.end);

done:
	if (st->tls)
		tls_summary(s->ssl, 1, summary, sizeof(summary));
	log_info("%s: SMTP session ended (%s): STARTTLS %s%s%s, %llu bytes from "
	    "client, %llu bytes to client", s->peer, st->end ? st->end : "unknown",
	    st->tls ? "taken" : "not taken", st->tls ? ", " : "",
	    st->tls ? summary : "", (unsigned long long)st->from_client,
	    (unsigned long long)st->to_client);
	free(st);
}
