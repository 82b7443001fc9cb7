/*
 * NAME
 *	test_dialogue - CUnit tests for the SMTP dialogue tracker
 * DESCRIPTION
 *	A rig plays client and backend with byte strings: what the
 *	client sends goes into cin, what the backend sends into bin,
 *	and after each dlg_run() the tracker's output is drained into
 *	"what the backend got" and "what the client got", which the
 *	tests compare byte for byte. Feeding byte by byte checks that
 *	nothing depends on how the input is cut.
 */
#include <stdlib.h>
#include <string.h>

#include "dialogue.h"
#include "unit.h"

#define RIG_OUT	(1 << 20)

struct rig {
	struct dlg	 d;
	struct dlg_buf	 cin, bin, bout, cout;
	char		 cin_d[16384], bin_d[16384], bout_d[32768], cout_d[16384];
	char		*backend;	/* everything the backend got */
	size_t		 nbackend;
	char		*client;	/* everything the client got */
	size_t		 nclient;
	enum dlg_status	 st;
};

static struct rig *
rig_new(enum dlg_level level, int auth_only, const char *xclient)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct dlg_conf c = { level, auth_only, xclient };

	CU_ASSERT_FATAL(r != NULL);
	r->backend = calloc(1, RIG_OUT);
	r->client = calloc(1, RIG_OUT);
	CU_ASSERT_FATAL(r->backend != NULL && r->client != NULL);
	r->cin = (struct dlg_buf){ r->cin_d, sizeof(r->cin_d), 0, 0 };
	r->bin = (struct dlg_buf){ r->bin_d, sizeof(r->bin_d), 0, 0 };
	r->bout = (struct dlg_buf){ r->bout_d, sizeof(r->bout_d), 0, 0 };
	r->cout = (struct dlg_buf){ r->cout_d, sizeof(r->cout_d), 0, 0 };
	dlg_init(&r->d, &c);
	return (r);
}

static void
rig_free(struct rig *r)
{
	free(r->backend);
	free(r->client);
	free(r);
}

/* rig_run - one dlg_run, then drain both outputs */
static void
rig_run(struct rig *r)
{
	r->st = dlg_run(&r->d, &r->cin, &r->bin, &r->bout, &r->cout);
	CU_ASSERT_FATAL(r->nbackend + r->bout.len < RIG_OUT);
	CU_ASSERT_FATAL(r->nclient + r->cout.len < RIG_OUT);
	memcpy(r->backend + r->nbackend, r->bout.data + r->bout.off, r->bout.len);
	r->nbackend += r->bout.len;
	dlg_buf_drop(&r->bout, r->bout.len);
	memcpy(r->client + r->nclient, r->cout.data + r->cout.off, r->cout.len);
	r->nclient += r->cout.len;
	dlg_buf_drop(&r->cout, r->cout.len);
}

/* rig_feed - n bytes into buf, in pieces of step bytes (0: all at once) */
static void
rig_feed(struct rig *r, struct dlg_buf *buf, const char *p, size_t n,
    size_t step)
{
	size_t	 k;

	while (n > 0) {
		k = step == 0 || step > n ? n : step;
		if (k > dlg_buf_room(buf))
			k = dlg_buf_room(buf);
		if (k == 0) {
			rig_run(r);
			CU_ASSERT_FATAL(dlg_buf_room(buf) > 0);
			continue;
		}
		CU_ASSERT_FATAL(dlg_buf_put(buf, p, k) == 0);
		p += k;
		n -= k;
		rig_run(r);
	}
}

#define CLIENT(r, s)	rig_feed((r), &(r)->cin, (s), strlen(s), 0)
#define CLIENT1(r, s)	rig_feed((r), &(r)->cin, (s), strlen(s), 1)
#define BACKEND(r, s)	rig_feed((r), &(r)->bin, (s), strlen(s), 0)

/* got - compare what one side got with want, and forget it */
static void
got(char *buf, size_t *n, const char *want, const char *side)
{
	int	 ok = *n == strlen(want) && memcmp(buf, want, *n) == 0;

	CU_ASSERT(ok);
	if (!ok)
		fprintf(stderr, "\n  %s got  [%.*s]\n  %s want [%s]\n", side,
		    (int)*n, buf, side, want);
	*n = 0;
}
#define BACKEND_GOT(r, w)	got((r)->backend, &(r)->nbackend, (w), "backend")
#define CLIENT_GOT(r, w)	got((r)->client, &(r)->nclient, (w), "client")

static const char GREET[] = "220 mx.example ESMTP\r\n";
static const char EHLO_R[] = "250-mx.example\r\n250-PIPELINING\r\n"
    "250-XCLIENT NAME ADDR PORT\r\n250-XFORWARD NAME ADDR\r\n"
    "250-AUTH PLAIN\r\n250 CHUNKING\r\n";

/* rig_hello - greeting and EHLO done, outputs forgotten */
static struct rig *
rig_hello(enum dlg_level level, int auth_only)
{
	struct rig *r = rig_new(level, auth_only, NULL);

	BACKEND(r, GREET);
	CLIENT(r, "EHLO client.test\r\n");
	BACKEND(r, EHLO_R);
	r->nclient = r->nbackend = 0;
	return (r);
}

static void
test_greeting_and_ehlo(void)
{
	struct rig *r = rig_new(DLG_LEVEL_MAY, 0, NULL);

	/* Nothing the client sends is looked at before the greeting. */
	CLIENT(r, "EHLO early\r\n");
	BACKEND_GOT(r, "");
	BACKEND(r, GREET);
	CLIENT_GOT(r, GREET);
	BACKEND_GOT(r, "EHLO early\r\n");
	BACKEND(r, EHLO_R);
	/* XCLIENT and XFORWARD never shown; STARTTLS added; AUTH kept. */
	CLIENT_GOT(r, "250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n"
	    "250-CHUNKING\r\n250 STARTTLS\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_MORE);
	rig_free(r);
}

static void
test_spoofing_refused(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);
	static const char *const spoof[] = {
		"XCLIENT ADDR=127.0.0.1 NAME=localhost\r\n",
		"xclient ADDR=127.0.0.1\r\n",
		" XCLIENT ADDR=127.0.0.1\r\n",
		"XCLIENT\tADDR=127.0.0.1\r\n",
		"XFORWARD ADDR=127.0.0.1\r\n",
		"XCLIENT\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(spoof) / sizeof(spoof[0]); i++) {
		CLIENT(r, spoof[i]);
		BACKEND_GOT(r, "");
		CLIENT_GOT(r, "550 5.7.0 Error: insufficient authorization\r\n");
	}
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_XCLIENT], 5);
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_XFORWARD], 1);
	CU_ASSERT_EQUAL(r->d.events, (1u << DLG_REF_XCLIENT) |
	    (1u << DLG_REF_XFORWARD));

	/* After a rejected MAIL: still parsed. */
	CLIENT(r, "MAIL FROM:<broken\r\n");
	BACKEND_GOT(r, "MAIL FROM:<broken\r\n");
	BACKEND(r, "501 5.1.7 Bad sender address syntax\r\n");
	CLIENT(r, "XCLIENT ADDR=127.0.0.1\r\n");
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "501 5.1.7 Bad sender address syntax\r\n"
	    "550 5.7.0 Error: insufficient authorization\r\n");

	/* After MAIL and RSET. */
	CLIENT(r, "MAIL FROM:<a@example.org>\r\nRSET\r\n");
	BACKEND_GOT(r, "MAIL FROM:<a@example.org>\r\nRSET\r\n");
	BACKEND(r, "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n");
	CLIENT(r, "XFORWARD ADDR=127.0.0.1\r\n");
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n"
	    "550 5.7.0 Error: insufficient authorization\r\n");

	/* After a whole message, and inside TLS. */
	CLIENT(r, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
	BACKEND(r, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
	CLIENT(r, "Subject: x\r\n\r\nXCLIENT ADDR=127.0.0.1\r\n.\r\n");
	BACKEND_GOT(r, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
	    "DATA\r\nSubject: x\r\n\r\nXCLIENT ADDR=127.0.0.1\r\n.\r\n");
	BACKEND(r, "250 2.0.0 Ok: queued as 1234\r\n");
	CU_ASSERT_EQUAL(r->d.messages, 1);
	dlg_tls(&r->d);
	CLIENT(r, "XCLIENT ADDR=127.0.0.1\r\n");
	BACKEND_GOT(r, "");
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_XCLIENT], 7);
	rig_free(r);
}

static void
test_pipelining_order(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);

	/* Ours waits for the replies before it; what follows waits too. */
	CLIENT(r, "MAIL FROM:<a@b>\r\nXCLIENT ADDR=1.2.3.4\r\nRCPT TO:<c@d>\r\n");
	BACKEND_GOT(r, "MAIL FROM:<a@b>\r\n");
	CLIENT_GOT(r, "");
	BACKEND(r, "250 2.1.0 Ok\r\n");
	CLIENT_GOT(r, "250 2.1.0 Ok\r\n550 5.7.0 Error: insufficient authorization\r\n");
	BACKEND_GOT(r, "RCPT TO:<c@d>\r\n");
	BACKEND(r, "250 2.1.5 Ok\r\n");
	CLIENT_GOT(r, "250 2.1.5 Ok\r\n");

	/* MAIL, RCPT, DATA and the content in one packet (improper, but
	 * the content is only content after the 354). */
	CLIENT(r, "RSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n");
	BACKEND_GOT(r, "RSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	CU_ASSERT_EQUAL(dlg_pending(&r->d), 4);
	BACKEND(r, "250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
	BACKEND_GOT(r, "hello\r\n.\r\nQUIT\r\n");
	BACKEND(r, "250 queued\r\n221 Bye\r\n");
	CLIENT_GOT(r, "250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n250 queued\r\n221 Bye\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	CU_ASSERT_STRING_EQUAL(r->d.end, "QUIT");
	rig_free(r);
}

static void
test_data_rejected(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);

	/* DATA refused: what follows is commands again. */
	CLIENT(r, "DATA\r\nXCLIENT ADDR=1.2.3.4\r\n");
	BACKEND_GOT(r, "DATA\r\n");
	BACKEND(r, "554 5.5.1 Error: no valid recipients\r\n");
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "554 5.5.1 Error: no valid recipients\r\n"
	    "550 5.7.0 Error: insufficient authorization\r\n");
	rig_free(r);
}

/* data_case - DATA content in, what the backend must get, byte by byte too */
static void
data_case(const char *content, const char *want, const char *after)
{
	struct rig *r;
	char	 expect[4096];
	int	 step;

	for (step = 0; step < 2; step++) {
		r = rig_hello(DLG_LEVEL_MAY, 0);
		CLIENT(r, "DATA\r\n");
		BACKEND(r, "354 go\r\n");
		r->nbackend = 0;
		rig_feed(r, &r->cin, content, strlen(content), (size_t)step);
		snprintf(expect, sizeof(expect), "%s%s", want, after);
		BACKEND_GOT(r, expect);
		rig_free(r);
	}
}

static void
test_data_content(void)
{
	/* Dot-stuffing passes as it is; only "." alone ends the content. */
	data_case("a\r\n..b\r\n.c\r\n. \r\n.\r\nNOOP\r\n",
	    "a\r\n..b\r\n.c\r\n. \r\n.\r\n", "NOOP\r\n");
	/* A command-looking line inside the content is content. */
	data_case("XCLIENT ADDR=127.0.0.1\r\n.\r\n",
	    "XCLIENT ADDR=127.0.0.1\r\n.\r\n", "");
	/* Empty content. */
	data_case(".\r\nQUIT\r\n", ".\r\n", "QUIT\r\n");
	/* A dot between bare LFs ends it too (Postfix 3.7 would end
	 * there): the backend gets CRLF "." CRLF, so any backend agrees;
	 * other bare line ends pass as they are. */
	data_case("a\nb\n.\nXCLIENT ADDR=1\r\n", "a\nb\n\r\n.\r\n", "");
	data_case("a\r\n.\nRSET\r\n", "a\r\n.\r\n", "RSET\r\n");
	/* CRs before the final LF (Postfix strips them). */
	data_case("a\r\r\n.\r\r\r\nRSET\r\n", "a\r\r\n.\r\n", "RSET\r\n");
	/* A bare CR as a line end (some servers take it). */
	data_case("a\rb\r.\rRSET\r\n", "a\rb\r\r\n.\r\n", "RSET\r\n");
	/* A dot that is not alone on its line. */
	data_case("\r\n.x\r\n.\r\n", "\r\n.x\r\n.\r\n", "");
	data_case(".\t\r\n.\r\n", ".\t\r\n.\r\n", "");
	/* A dot not at a line start. */
	data_case("x.\r\n\r\n.\r\n", "x.\r\n\r\n.\r\n", "");
}

static void
test_data_split_terminator(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);

	CLIENT(r, "DATA\r\n");
	BACKEND(r, "354 go\r\n");
	r->nbackend = r->nclient = 0;
	CLIENT(r, "line\r");
	CLIENT(r, "\n.");
	CU_ASSERT(dlg_in_content(&r->d));
	CLIENT(r, "\r");
	CU_ASSERT(dlg_in_content(&r->d));
	CLIENT(r, "\nXCLIENT ADDR=1\r\n");
	CU_ASSERT(!dlg_in_content(&r->d));
	BACKEND_GOT(r, "line\r\n.\r\n");
	BACKEND(r, "250 Ok\r\n");
	CLIENT_GOT(r, "250 Ok\r\n550 5.7.0 Error: insufficient authorization\r\n");
	rig_free(r);
}

static void
test_data_bulk(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);
	size_t	 i, n = 3 * 1024 * 1024 / 80;
	char	 line[81];

	/* Megabytes pass in buffer-sized steps, byte exact. */
	CLIENT(r, "DATA\r\n");
	BACKEND(r, "354 go\r\n");
	r->nbackend = 0;
	memset(line, 'x', sizeof(line));
	line[78] = '\r';
	line[79] = '\n';
	line[80] = '\0';
	for (i = 0; i < n; i++) {
		line[0] = i % 7 == 0 ? '.' : 'x';
		CLIENT(r, line);
		CU_ASSERT_FATAL(r->nbackend == 80);
		CU_ASSERT_FATAL(memcmp(r->backend, line, 80) == 0);
		r->nbackend = 0;
	}
	CU_ASSERT(dlg_in_content(&r->d));
	rig_free(r);
}

static void
test_content_direct(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);
	const char *c1 = "big\r\nbody.\r\n..stuffed\r\n.\r\nQUIT\r\n";

	/* The caller sends plain content itself, up to a dot that may end
	 * it (one after a line end, followed by a line end). */
	CLIENT(r, "DATA\r\n");
	BACKEND(r, "354 go\r\n");
	r->nbackend = 0;
	CU_ASSERT_FATAL(dlg_buf_put(&r->cin, c1, strlen(c1)) == 0);
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 23);
	dlg_content_sent(&r->d, &r->cin, 5);	/* a partial send */
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 18);
	dlg_content_sent(&r->d, &r->cin, 18);
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 0);
	rig_run(r);			/* the tracker takes the end */
	BACKEND_GOT(r, ".\r\nQUIT\r\n");
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 0);	/* commands */
	rig_free(r);

	/* A dot at the end of what came so far stops the span too. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "DATA\r\n");
	BACKEND(r, "354 go\r\n");
	CU_ASSERT_FATAL(dlg_buf_put(&r->cin, "x\r\n.", 4) == 0);
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 3);
	rig_free(r);

	/* BDAT: the announced count, no more. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "BDAT 4 LAST\r\n");
	r->nbackend = 0;
	CU_ASSERT_FATAL(dlg_buf_put(&r->cin, "a.\r\nNOOP\r\n", 11) == 0);
	CU_ASSERT_EQUAL(dlg_content_span(&r->d, &r->cin), 4);
	dlg_content_sent(&r->d, &r->cin, 4);
	CU_ASSERT(!dlg_in_content(&r->d));
	rig_run(r);
	BACKEND_GOT(r, "NOOP\r\n");
	rig_free(r);
}

static void
test_bdat(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);

	/* Chunks pass raw, whatever they hold; commands resume after. */
	CLIENT(r, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 27\r\nXCLIENT ADDR=127.0.0.1\r\n.\r\n");
	BACKEND_GOT(r, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 27\r\n"
	    "XCLIENT ADDR=127.0.0.1\r\n.\r\n");
	CU_ASSERT(!dlg_in_content(&r->d));
	CLIENT1(r, "bdat 5 last\r\nab\n\rcXCLIENT ADDR=1\r\n");
	BACKEND_GOT(r, "bdat 5 last\r\nab\n\rc");
	BACKEND(r, "250 Ok\r\n250 Ok\r\n250 2.0.0 27 bytes\r\n250 2.0.0 Ok: queued\r\n");
	CU_ASSERT_EQUAL(r->d.messages, 1);
	CLIENT_GOT(r, "250 Ok\r\n250 Ok\r\n250 2.0.0 27 bytes\r\n"
	    "250 2.0.0 Ok: queued\r\n550 5.7.0 Error: insufficient authorization\r\n");
	/* BDAT 0 LAST has no chunk. */
	CLIENT(r, "BDAT 0 LAST\r\nNOOP\r\n");
	BACKEND_GOT(r, "BDAT 0 LAST\r\nNOOP\r\n");
	rig_free(r);

	/* Anything else ends the session: the chunk's extent is unknown. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "BDAT 10 LAST EXTRA\r\n0123456789");
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "521 5.5.4 Syntax: BDAT count [LAST]\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	rig_free(r);
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "BDAT 1x\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	rig_free(r);
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "BDAT 9999999999999999\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	rig_free(r);
}

static void
test_auth(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 1);

	/* auth_only before TLS: no AUTH in EHLO, AUTH refused here. */
	CLIENT(r, "EHLO client.test\r\n");
	BACKEND(r, EHLO_R);
	CLIENT_GOT(r, "250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
	    "250 STARTTLS\r\n");
	CLIENT(r, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	BACKEND_GOT(r, "EHLO client.test\r\n");
	CLIENT_GOT(r, "538 5.7.11 Encryption required for requested "
	    "authentication mechanism\r\n");
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_AUTH_PLAIN], 1);
	/* After TLS: relayed; the line after a 334 is a response. */
	dlg_tls(&r->d);
	CLIENT(r, "EHLO client.test\r\n");
	BACKEND(r, EHLO_R);
	CLIENT_GOT(r, "250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n"
	    "250 CHUNKING\r\n");
	CLIENT(r, "AUTH LOGIN\r\nXCLIENT\r\n");
	BACKEND_GOT(r, "EHLO client.test\r\nAUTH LOGIN\r\n");
	BACKEND(r, "334 VXNlcm5hbWU6\r\n");
	BACKEND_GOT(r, "XCLIENT\r\n");	/* a response, not a command */
	BACKEND(r, "334 UGFzc3dvcmQ6\r\n");
	CLIENT(r, "cGFzcw==\r\n");
	BACKEND(r, "235 2.7.0 Authentication successful\r\n");
	CLIENT(r, "XCLIENT ADDR=1\r\n");
	BACKEND_GOT(r, "cGFzcw==\r\n");
	CLIENT_GOT(r, "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
	    "235 2.7.0 Authentication successful\r\n"
	    "550 5.7.0 Error: insufficient authorization\r\n");
	rig_free(r);

	/* Without auth_only, level may: AUTH before TLS is relayed. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	BACKEND_GOT(r, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	rig_free(r);
}

static void
test_encrypt_level(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_ENCRYPT, 0);
	static const char *const refused[] = {
		"MAIL FROM:<a@b>\r\n", "RSET\r\n", "RCPT TO:<a@b>\r\n", "DATA\r\n",
		"VRFY root\r\n", "AUTH PLAIN AAAA\r\n", "BDAT 3 LAST\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		CLIENT(r, refused[i]);
		BACKEND_GOT(r, "");
		CLIENT_GOT(r, "530 5.7.0 Must issue a STARTTLS command first\r\n");
	}
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_AUTH_PLAIN], 1);
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_ENCRYPT], 6);
	CLIENT(r, "NOOP\r\nHELO x\r\nEHLO x\r\n");
	BACKEND_GOT(r, "NOOP\r\nHELO x\r\nEHLO x\r\n");
	CLIENT(r, "STARTTLS\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_MORE);	/* replies still pending */
	BACKEND(r, "250 Ok\r\n250 mx\r\n250-mx\r\n250 8BITMIME\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_STARTTLS);
	CLIENT_GOT(r, "250 Ok\r\n250 mx\r\n250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
	dlg_tls(&r->d);
	CLIENT(r, "MAIL FROM:<a@b>\r\nSTARTTLS\r\n");
	BACKEND_GOT(r, "MAIL FROM:<a@b>\r\n");
	BACKEND(r, "250 Ok\r\n");
	CLIENT_GOT(r, "250 Ok\r\n554 5.5.1 Error: TLS already active\r\n");
	rig_free(r);
}

static void
test_starttls_answers(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_NONE, 0);

	CLIENT(r, "EHLO x\r\n");
	BACKEND(r, "250-mx\r\n250 STARTTLS\r\n");
	CLIENT(r, "STARTTLS\r\n");
	CLIENT_GOT(r, "250 mx\r\n502 5.5.1 Error: command not implemented\r\n");
	rig_free(r);
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "STARTTLS now\r\n");
	CLIENT_GOT(r, "501 5.5.4 Syntax: STARTTLS\r\n");
	CLIENT(r, "starttls\r\nRSET\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_STARTTLS);
	/* The tracker stops right after STARTTLS: the rest is the caller's. */
	CU_ASSERT_EQUAL(r->cin.len, 6);
	BACKEND_GOT(r, "");
	rig_free(r);
}

static void
test_xclient_greeting(void)
{
	const char *xc = "XCLIENT ADDR=192.0.2.1 PORT=4000 NAME=[UNAVAILABLE]\r\n";
	struct rig *r = rig_new(DLG_LEVEL_MAY, 0, xc);

	CLIENT(r, "EHLO early\r\n");
	BACKEND(r, "220-mx first\r\n220 mx\r\n");
	BACKEND_GOT(r, xc);
	CLIENT_GOT(r, "");
	BACKEND(r, "220 mx ESMTP for you\r\n");
	CLIENT_GOT(r, "220 mx ESMTP for you\r\n");
	BACKEND_GOT(r, "EHLO early\r\n");
	rig_free(r);

	r = rig_new(DLG_LEVEL_MAY, 0, xc);
	BACKEND(r, GREET);
	BACKEND(r, "550 5.7.0 Error: insufficient authorization\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	CU_ASSERT_STRING_EQUAL(r->d.end, "XCLIENT refused");
	CLIENT_GOT(r, "421 4.3.0 Error: service not available; closing connection\r\n");
	/* The refusal stays in bin, for the log. */
	CU_ASSERT(r->bin.len > 0);
	rig_free(r);

	/* A greeting that is not 220 goes to the client; no XCLIENT. */
	r = rig_new(DLG_LEVEL_MAY, 0, xc);
	BACKEND(r, "554 5.7.1 go away\r\n");
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "554 5.7.1 go away\r\n");
	rig_free(r);
}

static void
test_malformed_lines(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);
	char	 longline[3000];

	/* A CR inside a line or a NUL: a backend might see two commands. */
	CLIENT(r, "NOOP\rXCLIENT ADDR=127.0.0.1\r\n");
	rig_feed(r, &r->cin, "NOOP\0XCLIENT\r\n", 14, 0);
	BACKEND_GOT(r, "");
	CLIENT_GOT(r, "500 5.5.2 Error: bad syntax\r\n500 5.5.2 Error: bad syntax\r\n");
	CU_ASSERT_EQUAL(r->d.refused[DLG_REF_SYNTAX], 2);
	/* CRs right before the LF are dropped, as Postfix does. */
	CLIENT(r, "NOOP\r\r\n");
	BACKEND_GOT(r, "NOOP\r\n");
	BACKEND(r, "250 Ok\r\n");
	CLIENT_GOT(r, "250 Ok\r\n");
	/* Over-long: dropped, answered once its end came. */
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "NOOP ", 5);
	longline[sizeof(longline) - 1] = '\0';
	CLIENT(r, longline);
	CLIENT_GOT(r, "");
	CLIENT(r, "\r\nNOOP\r\n");
	BACKEND_GOT(r, "NOOP\r\n");
	CLIENT_GOT(r, "500 5.5.2 Error: line too long\r\n");
	rig_free(r);
}

static void
test_limits_and_ends(void)
{
	struct rig *r = rig_hello(DLG_LEVEL_MAY, 0);
	int	 i;

	for (i = 0; i < DLG_MAX_COMMANDS - 1 && r->st == DLG_MORE; i++) {
		CLIENT(r, "NOOP\r\n");
		BACKEND(r, "250 Ok\r\n");
	}
	CU_ASSERT_EQUAL(r->st, DLG_MORE);
	r->nclient = 0;
	CLIENT(r, "NOOP\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	CU_ASSERT_STRING_EQUAL(r->d.end, "too many commands");
	CLIENT_GOT(r, "421 4.7.0 Error: too many commands; closing connection\r\n");
	rig_free(r);

	/* A backend 421 ends it after it is passed on. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "NOOP\r\n");
	BACKEND(r, "421 4.4.2 mx Error: timeout exceeded\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	CLIENT_GOT(r, "421 4.4.2 mx Error: timeout exceeded\r\n");
	rig_free(r);

	/* Malformed reply. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	CLIENT(r, "NOOP\r\n");
	BACKEND(r, "hello\r\n");
	CU_ASSERT_EQUAL(r->st, DLG_END);
	CU_ASSERT_STRING_EQUAL(r->d.end, "backend protocol error");
	rig_free(r);

	/* Backend bytes nobody asked for stay put, and are reported. */
	r = rig_hello(DLG_LEVEL_MAY, 0);
	BACKEND(r, "250 surprise\r\n");
	CLIENT_GOT(r, "");
	CU_ASSERT_EQUAL(dlg_unsolicited(&r->d, &r->bin), 14);
	rig_free(r);
}

static const struct unit_test tests[] = {
	{ "greeting first; EHLO edits", test_greeting_and_ehlo },
	{ "XCLIENT/XFORWARD refused in every phase", test_spoofing_refused },
	{ "pipelining keeps reply order", test_pipelining_order },
	{ "DATA refused: commands again", test_data_rejected },
	{ "DATA content: dot-stuffing, line ends, end", test_data_content },
	{ "DATA terminator split across reads", test_data_split_terminator },
	{ "DATA bulk, byte exact", test_data_bulk },
	{ "content sent directly by the caller", test_content_direct },
	{ "BDAT with and without LAST, malformed", test_bdat },
	{ "AUTH: auth_only, 334 responses", test_auth },
	{ "level encrypt before TLS", test_encrypt_level },
	{ "STARTTLS answers", test_starttls_answers },
	{ "XCLIENT after the greeting", test_xclient_greeting },
	{ "CR, NUL, over-long lines", test_malformed_lines },
	{ "command limit, 421, malformed and unsolicited replies",
	    test_limits_and_ends },
	{ NULL, NULL }
};

int
main(void)
{
	return (unit_run("dialogue", tests, NULL, NULL));
}
