/*
 * NAME
 *	dialogue - the SMTP dialogue tracker of the STARTTLS frontend
 * SYNOPSIS
 *	#include "dialogue.h"
 * DESCRIPTION
 *	A pure state machine over four byte buffers, no I/O: what the
 *	client sent (cin), what the backend sent (bin), what goes to
 *	the backend (bout) and what goes to the client (cout).
 *	dlg_run() moves as much as it can and says what the caller must
 *	do next. The caller (starttls.c) reads, writes, runs the TLS
 *	handshake and keeps time; this module decides, for every byte,
 *	what it is and where it may go, for the whole session.
 *
 *	Client bytes are one of:
 *	- a command line (at most SMTP_LINE_MAX bytes, LF or CRLF): it
 *	  is relayed as the line plus CRLF, or answered by us and never
 *	  relayed;
 *	- DATA content, only after the backend answered DATA with 354:
 *	  passed in bulk, byte for byte, until a "." between two line-end
 *	  bytes (CR or LF) ends it; the backend then gets "\r\n.\r\n"
 *	  there (without the first CRLF when the content already ends in
 *	  one), so it sees the end exactly where we do, whichever line
 *	  ends it accepts;
 *	- a BDAT chunk: exactly the announced number of bytes, raw;
 *	- the response to a 334 AUTH challenge: one line, relayed.
 *	After the content, command parsing resumes.
 *
 *	Answered by us, never relayed, in every phase:
 *	- XCLIENT and XFORWARD: "550 5.7.0 Error: insufficient
 *	  authorization" (only we may speak for the client);
 *	- STARTTLS: handed to the caller (DLG_STARTTLS) at level may or
 *	  encrypt before TLS; 554 once TLS is up, 502 at level none, 501
 *	  with arguments;
 *	- before TLS at level encrypt, anything but EHLO, HELO, NOOP,
 *	  QUIT and STARTTLS: 530;
 *	- before TLS with auth_only, AUTH: 538;
 *	- a line with a CR inside (CRs right before the LF are dropped, as
 *	  Postfix does) or a NUL (a backend might split it where we do
 *	  not): 500; an over-long line: 500 (its bytes are dropped);
 *	- a BDAT line that is not "BDAT count [LAST]": 521, and the
 *	  session ends (the chunk's extent is unknown, as Postfix does).
 *	The verb is the first whitespace-delimited word after any leading
 *	whitespace (space, tab, VT, FF), compared without case, as
 *	Postfix's smtpd tokenizes it.
 *
 *	Order: commands are relayed as they arrive (pipelining works),
 *	and their replies come back in order. A reply of our own goes
 *	out only when every relayed command has had its reply, so it is
 *	never out of order; the client bytes behind it wait meanwhile.
 *	After DATA, AUTH (and each AUTH response) and QUIT the client
 *	waits for the reply too, since the reply decides what the next
 *	bytes are. Nothing the client sends is looked at before the
 *	greeting (and, with xclient, our XCLIENT's reply) has gone out.
 *
 *	Backend bytes are read as replies to what is pending, each whole
 *	reply at once. An EHLO reply loses its XCLIENT and XFORWARD
 *	lines; before TLS it gains STARTTLS (level may or encrypt) and
 *	loses AUTH (auth_only); after TLS or at level none it loses
 *	STARTTLS. A 421 ends the session after it is passed on. Bytes
 *	the backend sends when nothing is pending stay in bin: they are
 *	passed on raw when the backend closes, and dlg_unsolicited()
 *	tells the caller about them before it answers STARTTLS.
 *
 *	With xclient (conf.xclient: our XCLIENT line, CRLF included), the
 *	backend's 220 greeting is not passed on: the XCLIENT line goes
 *	to the backend instead, and its 2xx reply (Postfix: a fresh 220
 *	greeting for the real client) is the client's greeting. Any
 *	other reply ends the session (DLG_END, end = "XCLIENT refused").
 *
 *	Commands other than MAIL, RCPT, DATA and BDAT are counted; more
 *	than DLG_MAX_COMMANDS between two accepted messages gets 421 and
 *	the end (NOOP floods, AUTH guessing).
 *
 *	Every refusal counts in refused[] (DLG_REF_*) and sets its bit
 *	in events; the caller logs and clears events.
 * DIAGNOSTICS
 *	dlg_run(): DLG_MORE (read or write more, then call again),
 *	DLG_STARTTLS (the line was consumed; the caller sends
 *	DLG_R_READY, runs the handshake and calls dlg_tls()), or
 *	DLG_END (flush cout and bout, then close; end says why, reply
 *	says whether the client got a closing reply).
 */
#ifndef TLSPROXY_DIALOGUE_H
#define TLSPROXY_DIALOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "smtp.h"

#define DLG_MAX_COMMANDS	100	/* between two accepted messages */
#define DLG_MAX_PENDING		64	/* relayed commands awaiting a reply */
#define DLG_MAX_DISCARD		65536	/* bytes of one over-long line */

/* Buffer sizes the caller must provide at least. */
#define DLG_CIN_MIN		SMTP_LINE_MAX
#define DLG_BIN_MIN		(SMTP_REPLY_MAX + SMTP_LINE_MAX)
#define DLG_COUT_MIN		(SMTP_EHLO_OUT_MAX + 512)
#define DLG_BOUT_MIN		(SMTP_LINE_MAX + 2)

#define DLG_R_READY	"220 2.0.0 Ready to start TLS\r\n"

/* A byte buffer: data[off, off + len) is unread; cap is its size. */
struct dlg_buf {
	char	*data;
	size_t	 cap;
	size_t	 off;
	size_t	 len;
};

/* Room after the unread bytes, once they are moved to the front. */
size_t	 dlg_buf_room(const struct dlg_buf *);
/* Append n bytes; -1 (nothing appended) when they do not fit. */
int	 dlg_buf_put(struct dlg_buf *, const void *, size_t n);
/* Drop n bytes from the front. */
void	 dlg_buf_drop(struct dlg_buf *, size_t n);
/* Where to read into (after moving the unread bytes to the front). */
char	*dlg_buf_tail(struct dlg_buf *, size_t *room);

enum dlg_level { DLG_LEVEL_NONE, DLG_LEVEL_MAY, DLG_LEVEL_ENCRYPT };

struct dlg_conf {
	enum dlg_level	 level;
	int		 auth_only;	/* smtpd_tls_auth_only */
	const char	*xclient;	/* our XCLIENT line (CRLF), or NULL */
};

enum dlg_status { DLG_MORE, DLG_STARTTLS, DLG_END };

/* Refusals, counted and reported. */
enum dlg_refusal {
	DLG_REF_XCLIENT,	/* XCLIENT from the client */
	DLG_REF_XFORWARD,	/* XFORWARD from the client */
	DLG_REF_AUTH_PLAIN,	/* AUTH before TLS (auth_only or encrypt) */
	DLG_REF_ENCRYPT,	/* other commands before TLS at encrypt */
	DLG_REF_SYNTAX,		/* CR or NUL inside a line, over-long line */
	DLG_NREFUSALS
};

/* What the client's next bytes are. */
enum dlg_cmode {
	DLG_C_GREETING,		/* not ours to read yet: greeting pending */
	DLG_C_COMMAND,		/* command lines */
	DLG_C_WAIT,		/* until the pending replies decide */
	DLG_C_DATA,		/* DATA content up to "." */
	DLG_C_CHUNK,		/* BDAT chunk bytes */
	DLG_C_AUTHRESP,		/* one line: the response to a 334 */
	DLG_C_SKIP,		/* the rest of an over-long line */
	DLG_C_CLOSED,		/* after QUIT or a closing reply */
};

/* What a pending reply answers. */
enum dlg_pend {
	DLG_P_GREETING, DLG_P_XCLIENT, DLG_P_EHLO, DLG_P_DATA, DLG_P_DOT,
	DLG_P_BDAT, DLG_P_BDAT_LAST, DLG_P_AUTH, DLG_P_QUIT, DLG_P_OTHER,
};

struct dlg {
	struct dlg_conf	 conf;
	int		 tls;		/* TLS is up on the client side */
	enum dlg_cmode	 cmode;
	/* Relayed commands awaiting replies: a ring. */
	unsigned char	 pend[DLG_MAX_PENDING];
	unsigned int	 phead, npend;
	char		 tail[2];	/* DATA content: the last two bytes sent */
	uint64_t	 chunk_left;	/* BDAT bytes still to pass */
	size_t		 skipped;	/* bytes of an over-long line dropped */
	int		 owe_long;	/* an over-long line wants its 500 */
	unsigned int	 ncmds;		/* counted commands since the last message */
	uint64_t	 refused[DLG_NREFUSALS];
	unsigned int	 events;	/* 1 << DLG_REF_*, cleared by the caller */
	uint64_t	 messages;	/* accepted (2xx after "." or BDAT LAST) */
	const char	*end;		/* why it ended (static text) */
};

void		 dlg_init(struct dlg *, const struct dlg_conf *);
enum dlg_status	 dlg_run(struct dlg *, struct dlg_buf *cin, struct dlg_buf *bin,
		    struct dlg_buf *bout, struct dlg_buf *cout);
/* The handshake after DLG_STARTTLS is done. */
void		 dlg_tls(struct dlg *);
/* Relayed commands still without a reply. */
unsigned int	 dlg_pending(const struct dlg *);
/* In DATA content or a BDAT chunk (bulk transfer). */
int		 dlg_in_content(const struct dlg *);
/*
 * Content the caller may send from cin to the backend itself, without
 * the copy into bout (only while bout is empty, to keep the order):
 * dlg_content_span() says how many bytes at the front of cin are
 * plain content, dlg_content_sent() takes the n of them that went out.
 */
size_t		 dlg_content_span(const struct dlg *, const struct dlg_buf *cin);
void		 dlg_content_sent(struct dlg *, struct dlg_buf *cin, size_t n);
/* Backend bytes nobody asked for (in bin, with nothing pending). */
size_t		 dlg_unsolicited(const struct dlg *, const struct dlg_buf *bin);
const char	*dlg_refusal_name(enum dlg_refusal);

#endif
