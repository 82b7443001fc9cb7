/*
 * NAME
 *	fuzz_dialogue - libFuzzer harness for the SMTP dialogue tracker
 * DESCRIPTION
 *	A differential test: the tracker (dialogue.c) sits between a
 *	client that sends whatever the fuzzer makes and a model backend
 *	written separately from it, which reads what the tracker lets
 *	through the way Postfix's smtpd does (lines end at LF, trailing
 *	CRs stripped, the verb is the first whitespace-delimited word,
 *	DATA content ends at the line ".", BDAT chunks by their count,
 *	AUTH responses after 334) and answers every command.
 *
 *	Input: byte 0 chooses the level (none, may, encrypt), auth_only,
 *	whether our XCLIENT is sent, whether the backend accepts DATA and
 *	whether content goes out directly (dlg_content_span/_sent, as
 *	starttls.c does) or through bout;
 *	byte 1 is the TLS point (after how many client chunks STARTTLS,
 *	if asked for, is completed); the rest is client bytes, cut into
 *	chunks at 0xff bytes.
 *
 *	Checked, whatever the client sends:
 *	- the backend never reads an XCLIENT or XFORWARD command but our
 *	  own, first one;
 *	- before TLS at level encrypt it reads no command but EHLO,
 *	  HELO, NOOP and QUIT (and our XCLIENT); with auth_only no AUTH;
 *	- every BDAT the backend reads is well-formed by Postfix's rules
 *	  (the tracker never lets through one whose extent the backend
 *	  would see differently);
 *	- no command line the backend reads is over Postfix's limit or
 *	  holds a NUL;
 *	- the tracker never writes past its buffers (ASan) and always
 *	  makes progress or asks for more.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dialogue.h"
#include "fuzz_util.h"

#define FZ_LINE		4096

enum fz_state { FZ_CMD, FZ_DATA, FZ_CHUNK, FZ_AUTHRESP, FZ_DEAD };

struct fz_model {
	enum fz_state	 state;
	int		 tls, level, auth_only, accept_data, xclient_seen;
	int		 ours_pending;	/* our XCLIENT still to come */
	uint64_t	 chunk;
	char		 line[FZ_LINE];
	size_t		 llen;
	int		 longline;
};

/* fz_reply - one reply from the model backend into bin */
static void
fz_reply(struct dlg_buf *bin, const char *text)
{
	FUZZ_CHECK(dlg_buf_put(bin, text, strlen(text)) == 0);
}

/* fz_word - the verb as Postfix's tokenizer sees it, upper-cased */
static void
fz_word(const char *l, size_t n, char *w, size_t wlen)
{
	size_t	 i = 0, k = 0;

	while (i < n && isspace((unsigned char)l[i]))
		i++;
	while (i < n && !isspace((unsigned char)l[i]) && k + 1 < wlen)
		w[k++] = (char)toupper((unsigned char)l[i++]);
	w[k] = '\0';
}

/* fz_bdat - Postfix's bdat_cmd argument check; the count, or -1 */
static long long
fz_bdat(const char *l, size_t n, int *last)
{
	char	 tok[3][64];
	size_t	 i = 0, k;
	int	 argc = 0;

	while (i < n) {
		while (i < n && isspace((unsigned char)l[i]))
			i++;
		if (i == n)
			break;
		if (argc == 3)
			return (-1);
		for (k = 0; i < n && !isspace((unsigned char)l[i]); i++)
			if (k + 1 < sizeof(tok[0]))
				tok[argc][k++] = l[i];
		tok[argc++][k] = '\0';
	}
	if (argc < 2 || tok[1][0] == '\0' || strlen(tok[1]) > 18)
		return (-1);
	for (k = 0; tok[1][k]; k++)
		if (!isdigit((unsigned char)tok[1][k]))
			return (-1);
	*last = argc == 3;
	if (argc == 3 && strcasecmp(tok[2], "LAST") != 0)
		return (-1);
	return (strtoll(tok[1], NULL, 10));
}

/* fz_command - the model backend reads one command line */
static void
fz_command(struct fz_model *m, struct dlg_buf *bin)
{
	char	 w[32];
	long long n;
	int	 last;

	FUZZ_CHECK(!m->longline);
	FUZZ_CHECK(memchr(m->line, '\0', m->llen) == NULL);
	fz_word(m->line, m->llen, w, sizeof(w));
	if (m->ours_pending) {
		/* The first command after the greeting is ours. */
		FUZZ_CHECK(strcmp(w, "XCLIENT") == 0);
		m->ours_pending = 0;
		fz_reply(bin, "220 model ESMTP\r\n");
		return;
	}
	FUZZ_CHECK(strcmp(w, "XCLIENT") != 0 && strcmp(w, "XFORWARD") != 0);
	FUZZ_CHECK(strcmp(w, "STARTTLS") != 0);
	if (!m->tls && m->level == DLG_LEVEL_ENCRYPT)
		FUZZ_CHECK(strcmp(w, "EHLO") == 0 || strcmp(w, "HELO") == 0 ||
		    strcmp(w, "NOOP") == 0 || strcmp(w, "QUIT") == 0);
	if (!m->tls && m->auth_only)
		FUZZ_CHECK(strcmp(w, "AUTH") != 0);
	if (strcmp(w, "EHLO") == 0) {
		fz_reply(bin, "250-model\r\n250-PIPELINING\r\n250-XCLIENT ADDR\r\n"
		    "250-XFORWARD ADDR\r\n250-AUTH PLAIN\r\n250-STARTTLS\r\n"
		    "250 CHUNKING\r\n");
	} else if (strcmp(w, "DATA") == 0) {
		if (m->accept_data) {
			m->state = FZ_DATA;
			fz_reply(bin, "354 go ahead\r\n");
		} else
			fz_reply(bin, "554 5.5.1 Error: no valid recipients\r\n");
	} else if (strcmp(w, "BDAT") == 0) {
		n = fz_bdat(m->line, m->llen, &last);
		FUZZ_CHECK(n >= 0);	/* Postfix would hang up: out of step */
		m->chunk = (uint64_t)n;
		if (n > 0)
			m->state = FZ_CHUNK;
		else
			fz_reply(bin, "250 2.0.0 Ok: 0 bytes\r\n");
	} else if (strcmp(w, "AUTH") == 0) {
		m->state = FZ_AUTHRESP;
		fz_reply(bin, "334 \r\n");
	} else if (strcmp(w, "QUIT") == 0) {
		fz_reply(bin, "221 2.0.0 Bye\r\n");
		m->state = FZ_DEAD;
	} else
		fz_reply(bin, "250 2.0.0 Ok\r\n");
}

/* fz_backend - the model reads what the tracker sent it */
static void
fz_backend(struct fz_model *m, struct dlg_buf *bout, struct dlg_buf *bin)
{
	const char *p;
	size_t	 k;

	while (bout->len > 0 && m->state != FZ_DEAD &&
	    dlg_buf_room(bin) >= 256) {
		p = bout->data + bout->off;
		if (m->state == FZ_CHUNK) {
			k = bout->len < m->chunk ? bout->len : (size_t)m->chunk;
			dlg_buf_drop(bout, k);
			if ((m->chunk -= k) == 0) {
				m->state = FZ_CMD;
				fz_reply(bin, "250 2.0.0 Ok: chunk\r\n");
			}
			continue;
		}
		/* One byte at a time into the line, as smtp_get() does. */
		dlg_buf_drop(bout, 1);
		if (*p != '\n') {
			if (m->llen < sizeof(m->line))
				m->line[m->llen++] = *p;
			else
				m->longline = 1;
			continue;
		}
		while (m->llen > 0 && m->line[m->llen - 1] == '\r')
			m->llen--;
		switch (m->state) {
		case FZ_CMD:
			FUZZ_CHECK(m->llen <= 2048);
			fz_command(m, bin);
			break;
		case FZ_DATA:
			if (m->llen == 1 && m->line[0] == '.') {
				m->state = FZ_CMD;
				fz_reply(bin, "250 2.0.0 Ok: queued\r\n");
			}
			m->longline = 0;
			break;
		case FZ_AUTHRESP:
			m->state = FZ_CMD;
			fz_reply(bin, "235 2.7.0 Authentication successful\r\n");
			break;
		default:
			break;
		}
		m->llen = 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char cin_d[16384], bin_d[16384], bout_d[32768], cout_d[16384];
	struct dlg_buf cin = { cin_d, sizeof(cin_d), 0, 0 };
	struct dlg_buf bin = { bin_d, sizeof(bin_d), 0, 0 };
	struct dlg_buf bout = { bout_d, sizeof(bout_d), 0, 0 };
	struct dlg_buf cout = { cout_d, sizeof(cout_d), 0, 0 };
	struct dlg_conf conf;
	struct fz_model m;
	struct dlg d;
	enum dlg_status st = DLG_MORE;
	const uint8_t *p, *end, *cut;
	size_t	 chunk = 0, tls_at, n, k;
	int	 starttls = 0, rounds, direct;

	if (size < 2)
		return (0);
	memset(&conf, 0, sizeof(conf));
	memset(&m, 0, sizeof(m));
	conf.level = (enum dlg_level)(data[0] % 3);
	conf.auth_only = (data[0] >> 2) & 1;
	conf.xclient = (data[0] >> 3) & 1 ?
	    "XCLIENT ADDR=192.0.2.1 PORT=1 NAME=[UNAVAILABLE]\r\n" : NULL;
	m.level = (int)conf.level;
	m.auth_only = conf.auth_only;
	m.accept_data = (data[0] >> 4) & 1;
	direct = (data[0] >> 5) & 1;
	m.ours_pending = conf.xclient != NULL;
	tls_at = data[1];
	dlg_init(&d, &conf);
	fz_reply(&bin, "220 model ESMTP\r\n");

	p = data + 2;
	end = data + size;
	while (st != DLG_END) {
		/* The next client chunk, as far as it fits. */
		if (p < end && dlg_buf_room(&cin) > 0) {
			cut = memchr(p, 0xff, (size_t)(end - p));
			n = (size_t)((cut != NULL ? cut : end) - p);
			k = n < dlg_buf_room(&cin) ? n : dlg_buf_room(&cin);
			FUZZ_CHECK(dlg_buf_put(&cin, p, k) == 0);
			p += k;
			if (k == n && cut != NULL)
				p++;
			chunk++;
		} else if (p >= end)
			break;
		/* Run both sides until nothing moves. */
		for (rounds = 0; rounds < 10000; rounds++) {
			size_t before = cin.len + bin.len + bout.len + cout.len;

			if (direct && bout.len == 0 && (k = dlg_content_span(&d,
			    &cin)) > 0) {
				/* Sent straight to the backend, in two parts. */
				n = k > 1 ? k / 2 : k;
				FUZZ_CHECK(dlg_buf_put(&bout, cin.data + cin.off, n) == 0);
				dlg_content_sent(&d, &cin, n);
				fz_backend(&m, &bout, &bin);
				continue;
			}
			st = dlg_run(&d, &cin, &bin, &bout, &cout);
			FUZZ_CHECK(cin.len <= cin.cap && bout.len <= bout.cap);
			dlg_buf_drop(&cout, cout.len);	/* the client reads all */
			fz_backend(&m, &bout, &bin);
			if (st == DLG_STARTTLS) {
				starttls = 1;
				FUZZ_CHECK(dlg_pending(&d) == 0);
			}
			if (starttls && chunk >= tls_at) {
				/* The caller drops what came after STARTTLS. */
				dlg_buf_drop(&cin, cin.len);
				dlg_tls(&d);
				m.tls = 1;
				starttls = 0;
				continue;
			}
			if (st == DLG_END || m.state == FZ_DEAD)
				break;
			if (before == cin.len + bin.len + bout.len + cout.len)
				break;
		}
		FUZZ_CHECK(rounds < 10000);
		if (m.state == FZ_DEAD)
			break;
		/* Input the tracker cannot take must not fill it for good. */
		if (st == DLG_MORE && dlg_buf_room(&cin) == 0 && !starttls &&
		    d.cmode != DLG_C_CLOSED && d.cmode != DLG_C_WAIT)
			FUZZ_CHECK(0);
	}
	return (0);
}
