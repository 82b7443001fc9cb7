/*
 * NAME
 *	dialogue - the SMTP dialogue tracker of the STARTTLS frontend
 * DESCRIPTION
 *	See dialogue.h. Nothing here allocates, blocks or logs, so the
 *	unit tests and the fuzzer drive it with plain byte strings.
 *
 *	Why "one reply at a time" needs no copy of the reply: a reply is
 *	taken from bin only when all of its lines are there, so what is
 *	left in bin is always raw backend bytes that can be passed on
 *	as they are when the backend closes.
 */
#include <string.h>
#include <strings.h>

#include "dialogue.h"
#include "smtp.h"

/* Replies of our own, in Postfix smtpd's words. */
#define DLG_R_530	"530 5.7.0 Must issue a STARTTLS command first\r\n"
#define DLG_R_538	"538 5.7.11 Encryption required for requested " \
			"authentication mechanism\r\n"
#define DLG_R_502	"502 5.5.1 Error: command not implemented\r\n"
#define DLG_R_501	"501 5.5.4 Syntax: STARTTLS\r\n"
#define DLG_R_554	"554 5.5.1 Error: TLS already active\r\n"
#define DLG_R_550	"550 5.7.0 Error: insufficient authorization\r\n"
#define DLG_R_SYNTAX	"500 5.5.2 Error: bad syntax\r\n"
#define DLG_R_LONG	"500 5.5.2 Error: line too long\r\n"
#define DLG_R_LONG421	"421 4.7.0 Error: line too long; closing connection\r\n"
#define DLG_R_MANY	"421 4.7.0 Error: too many commands; closing connection\r\n"
#define DLG_R_BDAT	"521 5.5.4 Syntax: BDAT count [LAST]\r\n"
#define DLG_R_BACKEND	"421 4.3.0 Error: service not available; " \
			"closing connection\r\n"
/* Room kept in cout for any one reply of ours. */
#define DLG_OWN_ROOM	128
/* An EHLO edit adds one line and at most one byte per line. */
#define DLG_EDIT_GROWTH	(SMTP_REPLY_LINES + 16)

/* ------------------------------------------------------------ buffers */

static void
dlg_buf_compact(struct dlg_buf *b)
{
	if (b->off > 0) {
		if (b->len > 0)
			memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
}

size_t
dlg_buf_room(const struct dlg_buf *b)
{
	return (b->cap - b->len);
}

int
dlg_buf_put(struct dlg_buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len)
		return (-1);
	if (n > b->cap - b->off - b->len)
		dlg_buf_compact(b);
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return (0);
}

void
dlg_buf_drop(struct dlg_buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

char *
dlg_buf_tail(struct dlg_buf *b, size_t *room)
{
	dlg_buf_compact(b);
	*room = b->cap - b->len;
	return (b->data + b->len);
}

/* ------------------------------------------------------------ state */

void
dlg_init(struct dlg *d, const struct dlg_conf *conf)
{
	memset(d, 0, sizeof(*d));
	d->conf = *conf;
	d->cmode = DLG_C_GREETING;
	d->pend[0] = DLG_P_GREETING;
	d->npend = 1;
}

void
dlg_tls(struct dlg *d)
{
	d->tls = 1;
	d->cmode = DLG_C_COMMAND;
}

unsigned int
dlg_pending(const struct dlg *d)
{
	return (d->npend);
}

int
dlg_in_content(const struct dlg *d)
{
	return (d->cmode == DLG_C_DATA || d->cmode == DLG_C_CHUNK);
}

size_t
dlg_unsolicited(const struct dlg *d, const struct dlg_buf *bin)
{
	return (d->npend == 0 ? bin->len : 0);
}

const char *
dlg_refusal_name(enum dlg_refusal r)
{
	switch (r) {
	case DLG_REF_XCLIENT:
		return ("XCLIENT from client");
	case DLG_REF_XFORWARD:
		return ("XFORWARD from client");
	case DLG_REF_AUTH_PLAIN:
		return ("AUTH before STARTTLS");
	case DLG_REF_ENCRYPT:
		return ("command before STARTTLS");
	case DLG_REF_SYNTAX:
		return ("malformed command line");
	case DLG_NREFUSALS:
		break;
	}
	return ("unknown");
}

static void
dlg_push(struct dlg *d, enum dlg_pend p)
{
	d->pend[(d->phead + d->npend) % DLG_MAX_PENDING] = (unsigned char)p;
	d->npend++;
}

static enum dlg_pend
dlg_pop(struct dlg *d)
{
	enum dlg_pend p = d->pend[d->phead];

	d->phead = (d->phead + 1) % DLG_MAX_PENDING;
	d->npend--;
	return (p);
}

/* dlg_end - the session is over; the closing reply, if any, is queued */
static enum dlg_status
dlg_end(struct dlg *d, const char *why, const char *reply, struct dlg_buf *cout)
{
	if (reply != NULL)
		(void)dlg_buf_put(cout, reply, strlen(reply));
	d->end = why;
	d->cmode = DLG_C_CLOSED;
	return (DLG_END);
}

static void
dlg_refuse(struct dlg *d, enum dlg_refusal r)
{
	d->refused[r]++;
	d->events |= 1u << r;
}

/* ------------------------------------------------------------ backend */

/*
 * dlg_reply_find - the extent of the first whole reply in bin: its
 * length and code, 0 (not all there yet) or -1 (malformed, too big)
 */
static int
dlg_reply_find(const struct dlg_buf *bin, size_t *rlen, int *code)
{
	const char *p = bin->data + bin->off, *lf;
	size_t	 left = bin->len, n = 0, nlines = 0;
	int	 c, last;

	for (;;) {
		if ((lf = memchr(p + n, '\n', left - n)) == NULL)
			return (left >= SMTP_REPLY_MAX ? -1 : 0);
		if (smtp_reply_line(p + n, (size_t)(lf - (p + n)) + 1, &c,
		    &last) < 0 || (nlines > 0 && c != *code) ||
		    ++nlines > SMTP_REPLY_LINES)
			return (-1);
		*code = c;
		n = (size_t)(lf - p) + 1;
		if (n > SMTP_REPLY_MAX)
			return (-1);
		if (last) {
			*rlen = n;
			return (1);
		}
	}
}

/* dlg_ehlo_how - the edits an EHLO reply gets now */
static int
dlg_ehlo_how(const struct dlg *d)
{
	int	 how = SMTP_EHLO_DEL_XCLIENT;

	if (d->tls || d->conf.level == DLG_LEVEL_NONE)
		how |= SMTP_EHLO_DEL_STARTTLS;
	else
		how |= SMTP_EHLO_ADD_STARTTLS;
	if (!d->tls && d->conf.auth_only)
		how |= SMTP_EHLO_DEL_AUTH;
	return (how);
}

/*
 * dlg_backend - whole replies to pending commands, from bin to cout;
 * DLG_MORE or DLG_END
 */
static enum dlg_status
dlg_backend(struct dlg *d, struct dlg_buf *bin, struct dlg_buf *bout,
    struct dlg_buf *cout, int *progress)
{
	const char *reply;
	enum dlg_pend what;
	size_t	 rlen = 0, room;
	ssize_t	 n;
	char	*out;
	int	 code = 0, r, changed;

	while (d->npend > 0) {
		if ((r = dlg_reply_find(bin, &rlen, &code)) == 0)
			return (DLG_MORE);
		if (r < 0)
			return (dlg_end(d, "backend protocol error", DLG_R_BACKEND,
			    cout));
		if (dlg_buf_room(cout) < rlen + DLG_EDIT_GROWTH)
			return (DLG_MORE);
		reply = bin->data + bin->off;
		what = d->pend[d->phead];
		if (what == DLG_P_GREETING && code == 220 &&
		    d->conf.xclient != NULL) {
			/* Not for the client: the reply to XCLIENT is its greeting. */
			if (dlg_buf_put(bout, d->conf.xclient,
			    strlen(d->conf.xclient)) < 0)
				return (DLG_MORE);
			(void)dlg_pop(d);
			dlg_push(d, DLG_P_XCLIENT);
			dlg_buf_drop(bin, rlen);
			*progress = 1;
			continue;
		}
		if (what == DLG_P_XCLIENT && code / 100 != 2)
			return (dlg_end(d, "XCLIENT refused", DLG_R_BACKEND, cout));
		(void)dlg_pop(d);
		if (what == DLG_P_EHLO) {
			out = dlg_buf_tail(cout, &room);
			n = smtp_ehlo_edit(reply, rlen, dlg_ehlo_how(d), out,
			    room, &changed);
			if (n < 0)	/* cannot happen: the room was checked */
				return (dlg_end(d, "backend protocol error",
				    DLG_R_BACKEND, cout));
			cout->len += (size_t)n;
		} else
			(void)dlg_buf_put(cout, reply, rlen);
		dlg_buf_drop(bin, rlen);
		*progress = 1;

		switch (what) {
		case DLG_P_GREETING:
		case DLG_P_XCLIENT:
			d->cmode = DLG_C_COMMAND;
			break;
		case DLG_P_DATA:
			if (code == 354) {
				/* The DATA line's CRLF precedes the content. */
				d->cmode = DLG_C_DATA;
				d->tail[0] = '\r';
				d->tail[1] = '\n';
			} else
				d->cmode = DLG_C_COMMAND;
			break;
		case DLG_P_AUTH:
			d->cmode = code == 334 ? DLG_C_AUTHRESP : DLG_C_COMMAND;
			break;
		case DLG_P_DOT:
		case DLG_P_BDAT_LAST:
			if (code / 100 == 2) {
				d->messages++;
				d->ncmds = 0;
			}
			break;
		case DLG_P_QUIT:
			return (dlg_end(d, "QUIT", NULL, cout));
		default:
			break;
		}
		if (code == 421)
			return (dlg_end(d, "backend sent 421", NULL, cout));
	}
	return (DLG_MORE);
}

/* ------------------------------------------------------------ client */

/* dlg_eol - a line-end byte, for any backend's idea of a line */
static int
dlg_eol(char c)
{
	return (c == '\r' || c == '\n');
}

size_t
dlg_content_span(const struct dlg *d, const struct dlg_buf *cin)
{
	const char *p = cin->data + cin->off, *q;
	size_t	 i = 0, n = cin->len;

	if (d->cmode == DLG_C_CHUNK)
		return (n < d->chunk_left ? n : (size_t)d->chunk_left);
	if (d->cmode != DLG_C_DATA)
		return (0);
	/* Up to a dot that may end the content: after a line end, and
	 * followed by one or by nothing yet. */
	while ((q = memchr(p + i, '.', n - i)) != NULL) {
		i = (size_t)(q - p);
		if (dlg_eol(i > 0 ? p[i - 1] : d->tail[1]) &&
		    (i + 1 == n || dlg_eol(p[i + 1])))
			return (i);
		i++;
	}
	return (n);
}

void
dlg_content_sent(struct dlg *d, struct dlg_buf *cin, size_t n)
{
	const char *p = cin->data + cin->off;

	if (n == 0)
		return;
	if (d->cmode == DLG_C_CHUNK) {
		if ((d->chunk_left -= n) == 0)
			d->cmode = DLG_C_COMMAND;
	} else if (n >= 2) {
		d->tail[0] = p[n - 2];
		d->tail[1] = p[n - 1];
	} else {
		d->tail[0] = d->tail[1];
		d->tail[1] = p[0];
	}
	dlg_buf_drop(cin, n);
}

/* dlg_pass - n content bytes from cin to bout, as they are */
static void
dlg_pass(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout, size_t n)
{
	(void)dlg_buf_put(bout, cin->data + cin->off, n);
	dlg_content_sent(d, cin, n);
}

/*
 * dlg_data - DATA content from cin to bout until the line "." has
 * been passed (returns 1) or nothing more can move.
 *
 * Backends disagree on what ends the content (Postfix 3.7 takes
 * LF "." CR* LF, a strict one only CRLF "." CRLF, others a bare CR
 * too), and a disagreement is how commands are smuggled past us. So
 * a "." between two line-end bytes (CR or LF, either side) ends the
 * content here, and the backend is sent "\r\n.\r\n" at that point
 * (the leading CRLF only when the content does not already end in
 * one): every backend then ends where we do. Everything else passes
 * byte for byte. The search is for "." only, so bulk content such as
 * base64 moves with one memchr() per buffer.
 */
static int
dlg_data(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout,
    int *progress)
{
	const char *p;
	size_t	 n, room, k, j;

	for (;;) {
		n = cin->len;
		room = dlg_buf_room(bout);
		if (n == 0 || room < 6)
			return (0);
		p = cin->data + cin->off;
		if ((k = dlg_content_span(d, cin)) > room - 5)
			k = room - 5;
		if (k > 0) {
			dlg_pass(d, cin, bout, k);
			*progress = 1;
			continue;
		}
		/* p[0] is a dot after a line end: alone, or nothing yet after it. */
		if (n < 2)
			return (0);	/* what follows decides */
		/* The end: its line end is CR* LF, or CRs up to something else. */
		for (j = 1; j < n && p[j] == '\r'; j++)
			;
		if (j == n && n < cin->cap)
			return (0);	/* an LF may still follow */
		if (j < n && p[j] == '\n')
			j++;
		if (d->tail[0] == '\r' && d->tail[1] == '\n')
			(void)dlg_buf_put(bout, ".\r\n", 3);
		else
			(void)dlg_buf_put(bout, "\r\n.\r\n", 5);
		dlg_buf_drop(cin, j);
		*progress = 1;
		return (1);
	}
}

/* dlg_chunk - BDAT chunk bytes from cin to bout, raw */
static void
dlg_chunk(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout,
    int *progress)
{
	size_t	 k = dlg_content_span(d, cin), room = dlg_buf_room(bout);

	if (k > room)
		k = room;
	if (k == 0)
		return;
	dlg_pass(d, cin, bout, k);
	*progress = 1;
}

/* dlg_space - Postfix's ISSPACE, without the line ends (never in a line) */
static int
dlg_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\v' || c == '\f');
}

/*
 * dlg_bdat_args - "count [LAST]" after the verb, as Postfix's bdat_cmd
 * accepts it; 0 with *count and *last, or -1
 */
static int
dlg_bdat_args(const char *c, size_t n, uint64_t *count, int *last)
{
	size_t	 i = 0, digits = 0, w;

	while (i < n && !dlg_space(c[i]))	/* the verb */
		i++;
	while (i < n && dlg_space(c[i]))
		i++;
	*count = 0;
	for (; i < n && c[i] >= '0' && c[i] <= '9'; i++) {
		if (++digits > 15)	/* far beyond any message size */
			return (-1);
		*count = *count * 10 + (uint64_t)(c[i] - '0');
	}
	if (digits == 0 || (i < n && !dlg_space(c[i])))
		return (-1);
	while (i < n && dlg_space(c[i]))
		i++;
	*last = 0;
	if (i < n) {
		for (w = 0; i + w < n && !dlg_space(c[i + w]); w++)
			;
		if (w != 4 || strncasecmp(c + i, "LAST", 4) != 0)
			return (-1);
		*last = 1;
		for (i += w; i < n && dlg_space(c[i]); i++)
			;
		if (i < n)
			return (-1);
	}
	return (0);
}

/* What to do with one command line. */
enum dlg_act {
	DLG_A_FORWARD,		/* relay it */
	DLG_A_REPLY,		/* answer with reply */
	DLG_A_STARTTLS,		/* hand STARTTLS to the caller */
	DLG_A_CLOSE,		/* answer with reply and end */
};

/* dlg_classify - the fate of command c[0..n) (no CRLF) */
static enum dlg_act
dlg_classify(const struct dlg *d, const char *c, size_t n, enum smtp_verb *vp,
    const char **reply, int *refusal)
{
	enum smtp_verb v;
	int	 args;

	*refusal = -1;
	*vp = SMTP_V_OTHER;
	if (memchr(c, '\r', n) != NULL || memchr(c, '\0', n) != NULL) {
		*refusal = DLG_REF_SYNTAX;
		*reply = DLG_R_SYNTAX;
		return (DLG_A_REPLY);
	}
	*vp = v = smtp_cmd_verb(c, n, &args);
	switch (v) {
	case SMTP_V_STARTTLS:
		if (d->tls)
			*reply = DLG_R_554;
		else if (d->conf.level == DLG_LEVEL_NONE)
			*reply = DLG_R_502;
		else if (args)
			*reply = DLG_R_501;
		else
			return (DLG_A_STARTTLS);
		return (DLG_A_REPLY);
	case SMTP_V_XCLIENT:
	case SMTP_V_XFORWARD:
		*refusal = v == SMTP_V_XCLIENT ? DLG_REF_XCLIENT : DLG_REF_XFORWARD;
		*reply = DLG_R_550;
		return (DLG_A_REPLY);
	default:
		break;
	}
	if (!d->tls && d->conf.level == DLG_LEVEL_ENCRYPT && v != SMTP_V_EHLO &&
	    v != SMTP_V_HELO && v != SMTP_V_NOOP && v != SMTP_V_QUIT) {
		*refusal = v == SMTP_V_AUTH ? DLG_REF_AUTH_PLAIN : DLG_REF_ENCRYPT;
		*reply = DLG_R_530;
		return (DLG_A_REPLY);
	}
	if (!d->tls && d->conf.auth_only && v == SMTP_V_AUTH) {
		*refusal = DLG_REF_AUTH_PLAIN;
		*reply = DLG_R_538;
		return (DLG_A_REPLY);
	}
	return (DLG_A_FORWARD);
}

/* dlg_counted - does this command count against DLG_MAX_COMMANDS? */
static int
dlg_counted(enum smtp_verb v)
{
	return (v != SMTP_V_MAIL && v != SMTP_V_RCPT && v != SMTP_V_DATA &&
	    v != SMTP_V_BDAT);
}

/* dlg_forward - relay command c[0..n) with CRLF; the pending reply's kind */
static void
dlg_forward(struct dlg *d, struct dlg_buf *bout, const char *c, size_t n,
    enum smtp_verb v, uint64_t count, int last)
{
	(void)dlg_buf_put(bout, c, n);
	(void)dlg_buf_put(bout, "\r\n", 2);
	switch (v) {
	case SMTP_V_EHLO:
		dlg_push(d, DLG_P_EHLO);
		break;
	case SMTP_V_DATA:
		dlg_push(d, DLG_P_DATA);
		d->cmode = DLG_C_WAIT;
		break;
	case SMTP_V_AUTH:
		dlg_push(d, DLG_P_AUTH);
		d->cmode = DLG_C_WAIT;
		break;
	case SMTP_V_QUIT:
		dlg_push(d, DLG_P_QUIT);
		d->cmode = DLG_C_CLOSED;
		break;
	case SMTP_V_BDAT:
		dlg_push(d, last ? DLG_P_BDAT_LAST : DLG_P_BDAT);
		d->chunk_left = count;
		if (count > 0)
			d->cmode = DLG_C_CHUNK;
		break;
	default:
		dlg_push(d, DLG_P_OTHER);
		break;
	}
}

/* dlg_command - one command line from cin, if it may go now */
static enum dlg_status
dlg_command(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout,
    struct dlg_buf *cout, int *progress)
{
	const char *line = cin->data + cin->off, *reply = NULL;
	enum smtp_verb v;
	enum dlg_act act;
	uint64_t count = 0;
	size_t	 len, n;
	int	 refusal, last = 0;

	if (d->owe_long) {
		if (d->npend > 0 || dlg_buf_room(cout) < DLG_OWN_ROOM)
			return (DLG_MORE);
		d->owe_long = 0;
		*progress = 1;
		dlg_refuse(d, DLG_REF_SYNTAX);
		if (++d->ncmds > DLG_MAX_COMMANDS)
			return (dlg_end(d, "too many commands", DLG_R_MANY, cout));
		(void)dlg_buf_put(cout, DLG_R_LONG, sizeof(DLG_R_LONG) - 1);
		return (DLG_MORE);
	}
	switch (smtp_line_find(line, cin->len, SMTP_LINE_MAX, &len)) {
	case SMTP_LINE_NONE:
		return (DLG_MORE);
	case SMTP_LINE_LONG:
		d->cmode = DLG_C_SKIP;
		d->skipped = 0;
		*progress = 1;
		return (DLG_MORE);
	case SMTP_LINE_OK:
		break;
	}
	/* Every CR before the LF goes, as Postfix's smtp_get() strips them. */
	for (n = smtp_line_strip(line, len); n > 0 && line[n - 1] == '\r'; n--)
		;
	act = dlg_classify(d, line, n, &v, &reply, &refusal);
	if (act == DLG_A_FORWARD && v == SMTP_V_BDAT &&
	    dlg_bdat_args(line, n, &count, &last) < 0) {
		act = DLG_A_CLOSE;
		reply = DLG_R_BDAT;
	}
	/* Ours go out only after every reply before them. */
	if (act != DLG_A_FORWARD &&
	    (d->npend > 0 || dlg_buf_room(cout) < DLG_OWN_ROOM))
		return (DLG_MORE);
	if (act == DLG_A_FORWARD && (d->npend >= DLG_MAX_PENDING ||
	    dlg_buf_room(bout) < n + 2))
		return (DLG_MORE);
	*progress = 1;
	if (dlg_counted(v) && ++d->ncmds > DLG_MAX_COMMANDS) {
		dlg_buf_drop(cin, len);
		return (dlg_end(d, "too many commands", DLG_R_MANY, cout));
	}
	switch (act) {
	case DLG_A_FORWARD:
		dlg_forward(d, bout, line, n, v, count, last);
		dlg_buf_drop(cin, len);
		return (DLG_MORE);
	case DLG_A_REPLY:
		dlg_buf_drop(cin, len);
		if (refusal >= 0)
			dlg_refuse(d, (enum dlg_refusal)refusal);
		(void)dlg_buf_put(cout, reply, strlen(reply));
		return (DLG_MORE);
	case DLG_A_STARTTLS:
		dlg_buf_drop(cin, len);
		d->cmode = DLG_C_WAIT;	/* until dlg_tls() */
		return (DLG_STARTTLS);
	case DLG_A_CLOSE:
		dlg_buf_drop(cin, len);
		return (dlg_end(d, "malformed BDAT command", reply, cout));
	}
	return (DLG_MORE);
}

/* dlg_skip - drop the rest of an over-long line, LF included */
static enum dlg_status
dlg_skip(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *cout,
    int *progress)
{
	const char *lf = memchr(cin->data + cin->off, '\n', cin->len);
	size_t	 n = lf != NULL ? (size_t)(lf - (cin->data + cin->off)) + 1 :
		    cin->len;

	if (n == 0)
		return (DLG_MORE);
	*progress = 1;
	dlg_buf_drop(cin, n);
	d->skipped += n;
	if (d->skipped > DLG_MAX_DISCARD)
		return (dlg_end(d, "line too long", DLG_R_LONG421, cout));
	if (lf != NULL) {
		d->cmode = DLG_C_COMMAND;
		d->owe_long = 1;
	}
	return (DLG_MORE);
}

/* dlg_authresp - the one line that answers a 334 */
static enum dlg_status
dlg_authresp(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout,
    struct dlg_buf *cout, int *progress)
{
	const char *line = cin->data + cin->off;
	size_t	 len, n;

	switch (smtp_line_find(line, cin->len, SMTP_LINE_MAX, &len)) {
	case SMTP_LINE_NONE:
		return (DLG_MORE);
	case SMTP_LINE_LONG:
		return (dlg_end(d, "line too long", DLG_R_LONG421, cout));
	case SMTP_LINE_OK:
		break;
	}
	for (n = smtp_line_strip(line, len); n > 0 && line[n - 1] == '\r'; n--)
		;
	if (memchr(line, '\r', n) != NULL || memchr(line, '\0', n) != NULL) {
		dlg_refuse(d, DLG_REF_SYNTAX);
		return (dlg_end(d, "malformed AUTH response", DLG_R_BACKEND, cout));
	}
	if (dlg_buf_room(bout) < n + 2)
		return (DLG_MORE);
	(void)dlg_buf_put(bout, line, n);
	(void)dlg_buf_put(bout, "\r\n", 2);
	dlg_buf_drop(cin, len);
	dlg_push(d, DLG_P_AUTH);
	d->cmode = DLG_C_WAIT;
	*progress = 1;
	return (DLG_MORE);
}

/* dlg_client - client bytes in cin, by what they are now */
static enum dlg_status
dlg_client(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bout,
    struct dlg_buf *cout, int *progress)
{
	enum dlg_status st;

	for (;;) {
		int	 moved = 0;

		switch (d->cmode) {
		case DLG_C_GREETING:
		case DLG_C_WAIT:
		case DLG_C_CLOSED:
			return (DLG_MORE);
		case DLG_C_DATA:
			if (dlg_data(d, cin, bout, &moved)) {
				dlg_push(d, DLG_P_DOT);
				d->cmode = DLG_C_COMMAND;
			}
			break;
		case DLG_C_CHUNK:
			dlg_chunk(d, cin, bout, &moved);
			break;
		case DLG_C_SKIP:
			if ((st = dlg_skip(d, cin, cout, &moved)) != DLG_MORE)
				return (st);
			break;
		case DLG_C_AUTHRESP:
			if ((st = dlg_authresp(d, cin, bout, cout, &moved)) !=
			    DLG_MORE)
				return (st);
			break;
		case DLG_C_COMMAND:
			if ((st = dlg_command(d, cin, bout, cout, &moved)) !=
			    DLG_MORE) {
				*progress = 1;
				return (st);
			}
			break;
		}
		if (!moved)
			return (DLG_MORE);
		*progress = 1;
	}
}

enum dlg_status
dlg_run(struct dlg *d, struct dlg_buf *cin, struct dlg_buf *bin,
    struct dlg_buf *bout, struct dlg_buf *cout)
{
	enum dlg_status st;
	int	 progress;

	if (d->cmode == DLG_C_CLOSED && d->end != NULL)
		return (DLG_END);
	do {
		progress = 0;
		if ((st = dlg_backend(d, bin, bout, cout, &progress)) != DLG_MORE)
			return (st);
		if ((st = dlg_client(d, cin, bout, cout, &progress)) != DLG_MORE)
			return (st);
	} while (progress);
	return (DLG_MORE);
}
