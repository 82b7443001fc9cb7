/*
 * NAME
 *	test_smtp - unit tests for the SMTP line, reply, command and EHLO code
 * DESCRIPTION
 *	Line framing (CRLF, bare LF, partial and over-long lines), the
 *	reply collector (multi-line replies, continuation, code checks,
 *	bounds), the command classifier, both EHLO edits byte for byte,
 *	and the XCLIENT command for IPv4, IPv6 and v4-mapped clients.
 * DIAGNOSTICS
 *	Exit status is the number of failed assertions (0 = pass).
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "unit.h"

#define S(lit)	(lit), (sizeof(lit) - 1)

static void
test_line_find(void)
{
	char	 big[SMTP_LINE_MAX + 8];
	size_t	 n;

	CU_ASSERT_EQUAL(smtp_line_find(S("EHLO x\r\nQUIT\r\n"), SMTP_LINE_MAX, &n),
	    SMTP_LINE_OK);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(smtp_line_find(S("EHLO x\nQUIT"), SMTP_LINE_MAX, &n),
	    SMTP_LINE_OK);
	CU_ASSERT_EQUAL(n, 7);			/* bare LF ends a line */
	CU_ASSERT_EQUAL(smtp_line_find(S("EHLO x\r"), SMTP_LINE_MAX, &n),
	    SMTP_LINE_NONE);
	CU_ASSERT_EQUAL(smtp_line_find("", 0, SMTP_LINE_MAX, &n), SMTP_LINE_NONE);
	CU_ASSERT_EQUAL(smtp_line_find(S("\n"), SMTP_LINE_MAX, &n), SMTP_LINE_OK);
	CU_ASSERT_EQUAL(n, 1);

	/* The bound: max bytes without an LF is too long; LF at max-1 is fine. */
	memset(big, 'a', sizeof(big));
	CU_ASSERT_EQUAL(smtp_line_find(big, SMTP_LINE_MAX - 1, SMTP_LINE_MAX, &n),
	    SMTP_LINE_NONE);
	CU_ASSERT_EQUAL(smtp_line_find(big, SMTP_LINE_MAX, SMTP_LINE_MAX, &n),
	    SMTP_LINE_LONG);
	CU_ASSERT_EQUAL(smtp_line_find(big, sizeof(big), SMTP_LINE_MAX, &n),
	    SMTP_LINE_LONG);
	big[SMTP_LINE_MAX - 1] = '\n';
	CU_ASSERT_EQUAL(smtp_line_find(big, sizeof(big), SMTP_LINE_MAX, &n),
	    SMTP_LINE_OK);
	CU_ASSERT_EQUAL(n, SMTP_LINE_MAX);
	big[SMTP_LINE_MAX - 1] = 'a';
	big[SMTP_LINE_MAX] = '\n';		/* one byte too far */
	CU_ASSERT_EQUAL(smtp_line_find(big, sizeof(big), SMTP_LINE_MAX, &n),
	    SMTP_LINE_LONG);
}

static void
test_line_strip(void)
{
	CU_ASSERT_EQUAL(smtp_line_strip(S("QUIT\r\n")), 4);
	CU_ASSERT_EQUAL(smtp_line_strip(S("QUIT\n")), 4);
	CU_ASSERT_EQUAL(smtp_line_strip(S("QUIT\r\r\n")), 5);	/* one CR only */
	CU_ASSERT_EQUAL(smtp_line_strip(S("QUIT")), 4);
	CU_ASSERT_EQUAL(smtp_line_strip(S("\r\n")), 0);
	CU_ASSERT_EQUAL(smtp_line_strip("", 0), 0);
}

/* add_all - add each line of text; the result of the last add */
static int
add_all(struct smtp_reply *r, const char *text)
{
	const char *p = text, *lf;
	int	 rc = 0;

	smtp_reply_init(r);
	while (*p != '\0' && rc == 0) {
		lf = strchr(p, '\n');
		rc = smtp_reply_add(r, p, (size_t)(lf - p) + 1);
		p = lf + 1;
	}
	return (rc);
}

static void
test_reply_multiline(void)
{
	struct smtp_reply *r = malloc(sizeof(*r));
	const char *ehlo = "250-mx.example.com\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250 CHUNKING\r\n";

	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(add_all(r, ehlo), 0);
	CU_ASSERT_EQUAL(r->code, 250);
	CU_ASSERT_EQUAL(r->nlines, 4);
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(r->len, strlen(ehlo));
	CU_ASSERT(memcmp(r->buf, ehlo, r->len) == 0);

	/* Continuation: not done until the line with a space. */
	smtp_reply_init(r);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("220-first\r\n")), 0);
	CU_ASSERT(!r->done);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("220-second\n")), 0);	/* bare LF */
	CU_ASSERT(!r->done);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("220 last\r\n")), 0);
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("220 more\r\n")), -1);	/* after the end */

	/* A bare code is a complete last line; "ddd-" with no text continues. */
	CU_ASSERT_EQUAL(add_all(r, "250\r\n"), 0);
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(add_all(r, "250-\r\n250 \r\n"), 0);
	CU_ASSERT(r->done);
	CU_ASSERT_EQUAL(r->nlines, 2);
	free(r);
}

static void
test_reply_malformed(void)
{
	struct smtp_reply *r = malloc(sizeof(*r));

	CU_ASSERT_FATAL(r != NULL);
	CU_ASSERT_EQUAL(add_all(r, "250-a\r\n251 b\r\n"), -1);	/* code changes */
	CU_ASSERT_EQUAL(add_all(r, "250x\r\n"), -1);
	CU_ASSERT_EQUAL(add_all(r, "25\r\n"), -1);
	CU_ASSERT_EQUAL(add_all(r, "199 no\r\n"), -1);
	CU_ASSERT_EQUAL(add_all(r, "600 no\r\n"), -1);
	CU_ASSERT_EQUAL(add_all(r, "260 no\r\n"), -1);		/* 2nd digit 0-5 */
	CU_ASSERT_EQUAL(add_all(r, "2a0 no\r\n"), -1);
	CU_ASSERT_EQUAL(add_all(r, "\r\n"), -1);
	smtp_reply_init(r);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("250 no LF")), -1);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("250 a\n250 b\n")), -1);	/* two lines */
	CU_ASSERT_EQUAL(r->nlines, 0);
	free(r);
}

static void
test_reply_bounds(void)
{
	struct smtp_reply *r = malloc(sizeof(*r));
	char	 line[SMTP_LINE_MAX];
	size_t	 i;

	CU_ASSERT_FATAL(r != NULL);
	smtp_reply_init(r);
	for (i = 0; i < SMTP_REPLY_LINES; i++)
		CU_ASSERT_EQUAL(smtp_reply_add(r, S("250-x\r\n")), 0);
	CU_ASSERT_EQUAL(smtp_reply_add(r, S("250 x\r\n")), -1);	/* one line too many */

	/* Long lines: the byte bound is hit before the line bound. */
	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	smtp_reply_init(r);
	for (i = 0; i < SMTP_REPLY_MAX / sizeof(line); i++)
		CU_ASSERT_EQUAL(smtp_reply_add(r, line, sizeof(line)), 0);
	CU_ASSERT_EQUAL(smtp_reply_add(r, line, sizeof(line)), -1);
	CU_ASSERT_EQUAL(r->len, SMTP_REPLY_MAX / sizeof(line) * sizeof(line));
	free(r);
}

static void
test_cmd_verb(void)
{
	int	 a;

	CU_ASSERT_EQUAL(smtp_cmd_verb(S("EHLO client.test"), &a), SMTP_V_EHLO);
	CU_ASSERT(a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("ehlo"), &a), SMTP_V_EHLO);
	CU_ASSERT(!a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("StartTLS"), &a), SMTP_V_STARTTLS);
	CU_ASSERT(!a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("STARTTLS   "), &a), SMTP_V_STARTTLS);
	CU_ASSERT(!a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("STARTTLS x"), &a), SMTP_V_STARTTLS);
	CU_ASSERT(a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("STARTTLSX"), &a), SMTP_V_OTHER);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("STARTTL"), &a), SMTP_V_OTHER);
	/* Postfix's tokenizer: leading whitespace skipped, any whitespace ends. */
	CU_ASSERT_EQUAL(smtp_cmd_verb(S(" STARTTLS"), &a), SMTP_V_STARTTLS);
	CU_ASSERT(!a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("\t XCLIENT\tADDR=127.0.0.1"), &a),
	    SMTP_V_XCLIENT);
	CU_ASSERT(a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("XCLIENT\vADDR=1"), &a), SMTP_V_XCLIENT);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("xforward\fADDR=1"), &a), SMTP_V_XFORWARD);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("XFORWARD"), &a), SMTP_V_XFORWARD);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("   "), &a), SMTP_V_OTHER);
	CU_ASSERT(!a);
	/* Quotes and escapes stay part of the word, as in Postfix. */
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("\"XCLIENT\" ADDR=1"), &a), SMTP_V_OTHER);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("X\\CLIENT ADDR=1"), &a), SMTP_V_OTHER);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("MAIL FROM:<a@b>"), &a), SMTP_V_MAIL);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("rcpt TO:<a@b>"), &a), SMTP_V_RCPT);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("DATA"), &a), SMTP_V_DATA);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("BDAT 10 LAST"), &a), SMTP_V_BDAT);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("AUTH PLAIN"), &a), SMTP_V_AUTH);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("XCLIENT ADDR=1.2.3.4"), &a), SMTP_V_XCLIENT);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("HELO x"), &a), SMTP_V_HELO);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("NOOP"), &a), SMTP_V_NOOP);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("RSET"), &a), SMTP_V_RSET);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("QUIT"), &a), SMTP_V_QUIT);
	CU_ASSERT_EQUAL(smtp_cmd_verb("", 0, &a), SMTP_V_OTHER);
	CU_ASSERT(!a);
	CU_ASSERT_EQUAL(smtp_cmd_verb(S("QUIT\0x"), &a), SMTP_V_OTHER);
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(SMTP_V_STARTTLS), "STARTTLS");
	CU_ASSERT_STRING_EQUAL(smtp_verb_name(SMTP_V_OTHER), "other");
}

/* edit - run one edit; compare with want (NULL: expect -1) */
static void
edit(const char *in, int how, const char *want, int want_changed)
{
	char	 out[SMTP_EHLO_OUT_MAX];
	ssize_t	 n;
	int	 changed = -1;

	n = smtp_ehlo_edit(in, strlen(in), how, out, sizeof(out), &changed);
	if (want == NULL) {
		CU_ASSERT_EQUAL(n, -1);
		return;
	}
	CU_ASSERT_EQUAL(n, (ssize_t)strlen(want));
	if (n >= 0) {
		out[n] = '\0';
		CU_ASSERT_STRING_EQUAL(out, want);
		if (strcmp(out, want) != 0)
			fprintf(stderr, "\n  got  %s\n  want %s\n", out, want);
	}
	CU_ASSERT_EQUAL(changed, want_changed);
}

static void
test_ehlo_add(void)
{
	edit("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 STARTTLS\r\n", 1);
	/* Present already, in any case or position, with or without args. */
	edit("250-mx\r\n250-starttls\r\n250 CHUNKING\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\r\n250-starttls\r\n250 CHUNKING\r\n", 0);
	edit("250-mx\r\n250 STARTTLS\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\r\n250 STARTTLS\r\n", 0);
	edit("250-mx\r\n250 STARTTLS X\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\r\n250 STARTTLS X\r\n", 0);
	/* Not the keyword: a longer word, or the server's own name. */
	edit("250-mx\r\n250 STARTTLSX\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\r\n250-STARTTLSX\r\n250 STARTTLS\r\n", 1);
	edit("250 STARTTLS\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-STARTTLS\r\n250 STARTTLS\r\n", 1);
	/* One line; bare LF kept as it is; a bare code gets its mark. */
	edit("250 mx greets you\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx greets you\r\n250 STARTTLS\r\n", 1);
	edit("250-mx\n250 8BITMIME\n", SMTP_EHLO_ADD_STARTTLS,
	    "250-mx\n250-8BITMIME\n250 STARTTLS\r\n", 1);
	edit("250\r\n", SMTP_EHLO_ADD_STARTTLS, "250-\r\n250 STARTTLS\r\n", 1);
	/* Not a 250: untouched. */
	edit("502 5.5.2 Error: command not recognized\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "502 5.5.2 Error: command not recognized\r\n", 0);
	edit("554-no\r\n554 go away\r\n", SMTP_EHLO_ADD_STARTTLS,
	    "554-no\r\n554 go away\r\n", 0);
	/* Not whole lines. */
	edit("250 mx", SMTP_EHLO_ADD_STARTTLS, NULL, 0);
}

static void
test_ehlo_del(void)
{
	edit("250-mx\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 CHUNKING\r\n",
	    SMTP_EHLO_DEL_STARTTLS,
	    "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n", 1);
	/* The last line goes: the one before becomes the last. */
	edit("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n", SMTP_EHLO_DEL_STARTTLS,
	    "250-mx\r\n250 PIPELINING\r\n", 1);
	edit("250-mx\r\n250 starttls\r\n", SMTP_EHLO_DEL_STARTTLS, "250 mx\r\n", 1);
	/* Every STARTTLS line; bare LF lines kept; arguments too. */
	edit("250-mx\n250-STARTTLS\n250-SIZE 1\n250-StartTLS now\r\n250 8BITMIME\n",
	    SMTP_EHLO_DEL_STARTTLS, "250-mx\n250-SIZE 1\n250 8BITMIME\n", 1);
	/* None to remove, or only the server name: unchanged. */
	edit("250-mx\r\n250 CHUNKING\r\n", SMTP_EHLO_DEL_STARTTLS,
	    "250-mx\r\n250 CHUNKING\r\n", 0);
	edit("250 STARTTLS\r\n", SMTP_EHLO_DEL_STARTTLS, "250 STARTTLS\r\n", 0);
	edit("250-STARTTLS\r\n250 STARTTLS\r\n", SMTP_EHLO_DEL_STARTTLS,
	    "250 STARTTLS\r\n", 1);
	edit("550-x\r\n550 STARTTLS\r\n", SMTP_EHLO_DEL_STARTTLS,
	    "550-x\r\n550 STARTTLS\r\n", 0);
}

static void
test_ehlo_del_more(void)
{
	const char *pf = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
	    "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT\r\n"
	    "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\r\n"
	    "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

	/* What the client gets before TLS with auth_only: no AUTH, no X*. */
	edit(pf, SMTP_EHLO_ADD_STARTTLS | SMTP_EHLO_DEL_XCLIENT | SMTP_EHLO_DEL_AUTH,
	    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n", 1);
	/* After TLS: AUTH stays, STARTTLS and X* go. */
	edit(pf, SMTP_EHLO_DEL_STARTTLS | SMTP_EHLO_DEL_XCLIENT,
	    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
	    "250-VRFY\r\n250-ETRN\r\n250-AUTH PLAIN LOGIN\r\n"
	    "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n", 1);
	/* Any case, as the last line, the keyword alone. */
	edit("250-mx\r\n250-xforward\r\n250 XClient ADDR\r\n",
	    SMTP_EHLO_DEL_XCLIENT, "250 mx\r\n", 1);
	/* Longer words are other keywords. */
	edit("250-mx\r\n250-XCLIENTS\r\n250-AUTHX\r\n250 XFORWARDED\r\n",
	    SMTP_EHLO_DEL_XCLIENT | SMTP_EHLO_DEL_AUTH,
	    "250-mx\r\n250-XCLIENTS\r\n250-AUTHX\r\n250 XFORWARDED\r\n", 0);
	/* Removing and adding at once: the new last line is ours. */
	edit("250-mx\r\n250 XCLIENT ADDR\r\n",
	    SMTP_EHLO_ADD_STARTTLS | SMTP_EHLO_DEL_XCLIENT,
	    "250-mx\r\n250 STARTTLS\r\n", 1);
	/* Only the server name is left. */
	edit("250-AUTH\r\n250 AUTH PLAIN\r\n", SMTP_EHLO_DEL_AUTH,
	    "250 AUTH\r\n", 1);
}

static void
test_ehlo_out_bounds(void)
{
	const char *in = "250-mx\r\n250 CHUNKING\r\n";
	const char *want = "250-mx\r\n250-CHUNKING\r\n250 STARTTLS\r\n";
	char	*out;
	size_t	 len, need = strlen(want);
	ssize_t	 n;
	int	 changed;

	/* Exactly sized heap buffers, so an overrun is an ASan report. */
	for (len = 0; len <= need; len++) {
		out = malloc(len > 0 ? len : 1);
		CU_ASSERT_FATAL(out != NULL);
		n = smtp_ehlo_edit(in, strlen(in), SMTP_EHLO_ADD_STARTTLS, out,
		    len, &changed);
		CU_ASSERT_EQUAL(n, len == need ? (ssize_t)need : -1);
		free(out);
	}
}

/* A reply of the most lines gets one more; the result edits unchanged. */
static void
test_ehlo_full_reply(void)
{
	char	 in[SMTP_REPLY_LINES * 16], out[SMTP_EHLO_OUT_MAX],
		 again[SMTP_EHLO_OUT_MAX];
	size_t	 len = 0, i;
	ssize_t	 n, m;
	int	 changed, changed2;

	for (i = 0; i < SMTP_REPLY_LINES; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len, "250%cX%zu\r\n",
		    i + 1 < SMTP_REPLY_LINES ? '-' : ' ', i);
	n = smtp_ehlo_edit(in, len, SMTP_EHLO_ADD_STARTTLS, out, sizeof(out),
	    &changed);
	CU_ASSERT_EQUAL_FATAL(n, (ssize_t)(len + strlen("250 STARTTLS\r\n")));
	CU_ASSERT_EQUAL(changed, 1);
	m = smtp_ehlo_edit(out, (size_t)n, SMTP_EHLO_ADD_STARTTLS, again,
	    sizeof(again), &changed2);
	CU_ASSERT_EQUAL(m, n);
	CU_ASSERT_EQUAL(changed2, 0);
	CU_ASSERT(m == n && memcmp(again, out, (size_t)n) == 0);
}

static void
test_xclient(void)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct sockaddr_un su;
	char	 out[128];
	ssize_t	 n;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr);
	n = smtp_xclient_format((struct sockaddr *)&s4, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out,
	    "XCLIENT ADDR=192.0.2.7 PORT=40000 NAME=[UNAVAILABLE]\r\n");
	CU_ASSERT_EQUAL(n, (ssize_t)strlen(out));

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(25);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	(void)smtp_xclient_format((struct sockaddr *)&s6, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out,
	    "XCLIENT ADDR=IPV6:2001:db8::1 PORT=25 NAME=[UNAVAILABLE]\r\n");
	inet_pton(AF_INET6, "::ffff:198.51.100.9", &s6.sin6_addr);
	(void)smtp_xclient_format((struct sockaddr *)&s6, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out,
	    "XCLIENT ADDR=198.51.100.9 PORT=25 NAME=[UNAVAILABLE]\r\n");

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CU_ASSERT_EQUAL(smtp_xclient_format((struct sockaddr *)&su, out,
	    sizeof(out)), -1);
	CU_ASSERT_EQUAL(smtp_xclient_format((struct sockaddr *)&s4, out, 20), -1);
}

static const struct unit_test tests[] = {
	{ "line framing: CRLF, bare LF, partial, over-long", test_line_find },
	{ "line strip", test_line_strip },
	{ "reply: multi-line and continuation", test_reply_multiline },
	{ "reply: malformed", test_reply_malformed },
	{ "reply: line and byte bounds", test_reply_bounds },
	{ "command verbs", test_cmd_verb },
	{ "EHLO edit: add STARTTLS", test_ehlo_add },
	{ "EHLO edit: remove STARTTLS", test_ehlo_del },
	{ "EHLO edit: XCLIENT, XFORWARD, AUTH", test_ehlo_del_more },
	{ "EHLO edit: output bounds", test_ehlo_out_bounds },
	{ "EHLO edit: a reply of the most lines, edited twice", test_ehlo_full_reply },
	{ "XCLIENT command", test_xclient },
	{ NULL, NULL },
};

int
main(void)
{
	return (unit_run("smtp", tests, NULL, NULL));
}
