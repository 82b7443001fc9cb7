/*
 * NAME
 *	smtp - SMTP lines, replies, commands and the EHLO reply editor
 * SYNOPSIS
 *	#include "smtp.h"
 * DESCRIPTION
 *	Pure functions over byte buffers, no I/O, for the STARTTLS
 *	frontend (starttls.c), the unit tests and the fuzzer.
 *
 *	smtp_line_find() finds the end of the first line of a buffer. A
 *	line ends with LF; CRLF and a bare LF are both accepted, as
 *	Postfix's smtpd does. A buffer that holds max bytes without an
 *	LF is an over-long line.
 *
 *	smtp_line_strip() is the length of a line without its LF and
 *	the one CR before it.
 *
 *	smtp_reply_add() collects the lines of one reply: "ddd-text"
 *	continues it, "ddd text" or a bare "ddd" ends it; every line
 *	must carry the same code, and the code must be a valid reply
 *	code (2-5, 0-5, 0-9). It refuses anything else, and replies
 *	over SMTP_REPLY_MAX bytes or SMTP_REPLY_LINES lines.
 *
 *	smtp_cmd_verb() classifies a command line by its verb, the first
 *	word after any leading whitespace, ended by whitespace (space,
 *	tab, VT, FF: what Postfix's smtpd tokenizer skips) or the end of
 *	the line, compared without case; it says whether anything but
 *	whitespace follows the verb.
 *
 *	smtp_ehlo_edit() copies a 250 EHLO reply with the edits the
 *	STARTTLS frontend makes (a mask of SMTP_EHLO_*), and no other
 *	change to the bytes of the lines it keeps than their
 *	continuation mark:
 *	- SMTP_EHLO_DEL_STARTTLS, _DEL_XCLIENT, _DEL_AUTH: every line
 *	  after the first whose keyword is STARTTLS; XCLIENT or XFORWARD;
 *	  AUTH (also the "AUTH=mechanisms" form) is removed; when that
 *	  was the last line, the new last line gets " ";
 *	- SMTP_EHLO_ADD_STARTTLS: when no line after the first has the
 *	  keyword STARTTLS, "250 STARTTLS" CRLF is appended as the new
 *	  last line (the old last line gets "-").
 *	The first line (the server's name) is never a keyword. Replies
 *	other than 250 are copied unchanged.
 *
 *	smtp_xclient_format() writes the XCLIENT command that tells a
 *	Postfix backend the client's address and port.
 * DIAGNOSTICS
 *	See each function.
 */
#ifndef TLSPROXY_SMTP_H
#define TLSPROXY_SMTP_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Longest line, LF included: Postfix's default line_length_limit. */
#define SMTP_LINE_MAX		2048
/* Bounds of one reply from the backend. */
#define SMTP_REPLY_MAX		8192
#define SMTP_REPLY_LINES	100
/* Room for an edited EHLO reply: the reply plus "250 STARTTLS\r\n"
   and a byte for each bare "250" line. */
#define SMTP_EHLO_OUT_MAX	(SMTP_REPLY_MAX + SMTP_REPLY_LINES + 16)

enum smtp_line {
	SMTP_LINE_NONE,		/* no LF yet; read more */
	SMTP_LINE_OK,		/* *linelen bytes, LF included */
	SMTP_LINE_LONG,		/* max bytes without an LF */
};

enum smtp_line	 smtp_line_find(const char *buf, size_t len, size_t max,
		    size_t *linelen);
size_t		 smtp_line_strip(const char *line, size_t len);

struct smtp_reply {
	int	 code;		/* 0 until the first line */
	int	 done;		/* the last line was added */
	size_t	 nlines;
	size_t	 len;
	char	 buf[SMTP_REPLY_MAX];	/* the lines as received */
};

void	 smtp_reply_init(struct smtp_reply *);
/* Add one line (LF included). 0, or -1 when malformed or too big. */
int	 smtp_reply_add(struct smtp_reply *, const char *line, size_t len);
/* 0 and the code of one reply line, or -1; *last: no continuation. */
int	 smtp_reply_line(const char *line, size_t len, int *code, int *last);

enum smtp_verb {
	SMTP_V_OTHER = 0,
	SMTP_V_EHLO,
	SMTP_V_HELO,
	SMTP_V_STARTTLS,
	SMTP_V_NOOP,
	SMTP_V_RSET,
	SMTP_V_QUIT,
	SMTP_V_MAIL,
	SMTP_V_RCPT,
	SMTP_V_DATA,
	SMTP_V_BDAT,
	SMTP_V_AUTH,
	SMTP_V_XCLIENT,
	SMTP_V_XFORWARD,
};

/* line: without CRLF. *has_args: something other than spaces follows. */
enum smtp_verb	 smtp_cmd_verb(const char *line, size_t len, int *has_args);
const char	*smtp_verb_name(enum smtp_verb);

#define SMTP_EHLO_ADD_STARTTLS	0x01
#define SMTP_EHLO_DEL_STARTTLS	0x02
#define SMTP_EHLO_DEL_XCLIENT	0x04	/* XCLIENT and XFORWARD */
#define SMTP_EHLO_DEL_AUTH	0x08

/*
 * Copy reply in[0..inlen) (complete lines, as smtp_reply_add() took
 * them, or one of its own results: one line more) to out with the
 * edits in mask how. Returns the length of out, or -1 when out is too
 * small. *changed: an edit changed something.
 */
ssize_t	 smtp_ehlo_edit(const char *in, size_t inlen, int how,
	    char *out, size_t outlen, int *changed);

/*
 * "XCLIENT ADDR=a PORT=p NAME=[UNAVAILABLE]" CRLF for an IPv4 or
 * IPv6 client (IPv6 as "IPV6:addr", a v4-mapped one as IPv4). Length
 * written, or -1 (not an inet address, or out too small).
 */
ssize_t	 smtp_xclient_format(const struct sockaddr *, char *out, size_t outlen);

#endif
