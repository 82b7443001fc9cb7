/*
 * NAME
 *	fuzz_smtp - libFuzzer harness for the SMTP line, reply and EHLO code
 * DESCRIPTION
 *	The input is what a peer sends: it is cut into lines with
 *	smtp_line_find() (SMTP_LINE_MAX, an over-long line is skipped to
 *	its LF, as starttls.c does); every line is classified as a
 *	command and added to a reply. Each complete reply gets both EHLO
 *	edits, and the combined ones the STARTTLS frontend makes, into
 *	heap buffers of exactly the size needed.
 *
 *	Checked: lines end with their first LF and respect the bound;
 *	the reply collector agrees with smtp_reply_line() and keeps its
 *	bounds; an edited reply is again a complete, valid reply with the
 *	same code, keeps every line it does not add or remove (up to the
 *	continuation mark), has exactly one STARTTLS keyword line after
 *	an add and none after a remove; editing the result again changes
 *	nothing; a buffer one byte short is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "smtp.h"

#define FZ_MAX	(64 * 1024)

/* fz_kw - is line i>0 of a reply a STARTTLS keyword line? */
static int
fz_kw(const char *l, size_t n)
{
	n = smtp_line_strip(l, n);
	return (n >= 12 && strncasecmp(l + 4, "STARTTLS", 8) == 0 &&
	    (n == 12 || l[12] == ' '));
}

/* fz_count - lines of a reply and STARTTLS keyword lines after the first */
static size_t
fz_count(const char *p, size_t len, size_t *kw)
{
	const char *lf;
	size_t	 n = 0;

	*kw = 0;
	while (len > 0) {
		lf = memchr(p, '\n', len);
		FUZZ_CHECK(lf != NULL);
		if (n > 0 && fz_kw(p, (size_t)(lf - p) + 1))
			(*kw)++;
		len -= (size_t)(lf - p) + 1;
		p = lf + 1;
		n++;
	}
	return (n);
}

/*
 * fz_has_kw - does a line after the first have keyword kw (eq: or
 * "kw=...")?
 */
static int
fz_has_kw(const char *p, size_t len, const char *kw, int eq)
{
	const char *lf;
	size_t	 n = strlen(kw), l, i = 0;

	while (len > 0 && (lf = memchr(p, '\n', len)) != NULL) {
		l = smtp_line_strip(p, (size_t)(lf - p) + 1);
		if (i++ > 0 && l >= 4 + n && strncasecmp(p + 4, kw, n) == 0 &&
		    (l == 4 + n || p[4 + n] == ' ' || (eq && p[4 + n] == '=')))
			return (1);
		len -= (size_t)(lf - p) + 1;
		p = lf + 1;
	}
	return (0);
}

/* fz_valid - out is a complete reply with the given code */
static void
fz_valid(const char *out, size_t len, int code)
{
	struct smtp_reply *r;
	const char *p = out, *lf;

	if ((r = malloc(sizeof(*r))) == NULL)
		abort();
	smtp_reply_init(r);
	while (p < out + len) {
		lf = memchr(p, '\n', (size_t)(out + len - p));
		FUZZ_CHECK(lf != NULL);
		/* An edit may add one line and one byte per line. */
		if (smtp_reply_add(r, p, (size_t)(lf - p) + 1) < 0) {
			FUZZ_CHECK(r->nlines >= SMTP_REPLY_LINES ||
			    r->len + (size_t)(lf - p) + 1 > SMTP_REPLY_MAX);
			free(r);
			return;
		}
		p = lf + 1;
	}
	FUZZ_CHECK(r->done);
	FUZZ_CHECK(r->code == code);
	free(r);
}

static void
fz_edit(const struct smtp_reply *r, int how)
{
	char	*out, *again;
	ssize_t	 n, m;
	size_t	 kw_in, kw_out, lines_in, lines_out;
	int	 changed, changed2;

	if ((out = malloc(SMTP_EHLO_OUT_MAX)) == NULL)
		abort();
	n = smtp_ehlo_edit(r->buf, r->len, how, out, SMTP_EHLO_OUT_MAX, &changed);
	FUZZ_CHECK(n >= 0);
	FUZZ_CHECK((size_t)n <= r->len + r->nlines + 14);
	lines_in = fz_count(r->buf, r->len, &kw_in);
	lines_out = fz_count(out, (size_t)n, &kw_out);
	if (r->code != 250) {
		FUZZ_CHECK(!changed);
	}
	if (!changed) {
		FUZZ_CHECK((size_t)n == r->len && memcmp(out, r->buf, r->len) == 0);
	} else if (how == SMTP_EHLO_ADD_STARTTLS) {
		FUZZ_CHECK(kw_in == 0 && kw_out == 1);
		FUZZ_CHECK(lines_out == lines_in + 1);
	} else if (how == SMTP_EHLO_DEL_STARTTLS) {
		FUZZ_CHECK(kw_in > 0 && kw_out == 0);
		FUZZ_CHECK(lines_out == lines_in - kw_in);
	} else {
		FUZZ_CHECK(lines_out <= lines_in + 1);
	}
	if (r->code == 250 && (how & SMTP_EHLO_DEL_XCLIENT))
		FUZZ_CHECK(!fz_has_kw(out, (size_t)n, "XCLIENT", 0) &&
		    !fz_has_kw(out, (size_t)n, "XFORWARD", 0));
	if (r->code == 250 && (how & SMTP_EHLO_DEL_AUTH))
		FUZZ_CHECK(!fz_has_kw(out, (size_t)n, "AUTH", 1));
	if (r->code == 250 && (how & SMTP_EHLO_ADD_STARTTLS))
		FUZZ_CHECK(kw_out >= 1);
	if (r->code == 250 && (how & SMTP_EHLO_DEL_STARTTLS))
		FUZZ_CHECK(kw_out == 0);
	fz_valid(out, (size_t)n, r->code);

	/* Idempotent. */
	if ((again = malloc(SMTP_EHLO_OUT_MAX)) == NULL)
		abort();
	m = smtp_ehlo_edit(out, (size_t)n, how, again, SMTP_EHLO_OUT_MAX, &changed2);
	FUZZ_CHECK(m == n && !changed2 && memcmp(again, out, (size_t)n) == 0);
	free(again);

	/* Exact and one-short buffers. */
	if ((again = malloc((size_t)n + 1)) == NULL)
		abort();
	FUZZ_CHECK(smtp_ehlo_edit(r->buf, r->len, how, again, (size_t)n,
	    &changed2) == n);
	FUZZ_CHECK(memcmp(again, out, (size_t)n) == 0);
	if (n > 0)
		FUZZ_CHECK(smtp_ehlo_edit(r->buf, r->len, how, again,
		    (size_t)n - 1, &changed2) == -1);
	free(again);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *lf;
	struct smtp_reply *r;
	size_t	 left = size, n, before;
	int	 code, last, args, rc;

	if (size > FZ_MAX)
		return (-1);
	if ((r = malloc(sizeof(*r))) == NULL)
		abort();
	smtp_reply_init(r);
	while (left > 0) {
		switch (smtp_line_find(p, left, SMTP_LINE_MAX, &n)) {
		case SMTP_LINE_NONE:
			FUZZ_CHECK(left < SMTP_LINE_MAX);
			FUZZ_CHECK(memchr(p, '\n', left) == NULL);
			left = 0;
			continue;
		case SMTP_LINE_LONG:
			FUZZ_CHECK(memchr(p, '\n', SMTP_LINE_MAX) == NULL);
			if ((lf = memchr(p, '\n', left)) == NULL)
				left = 0;
			else {
				left -= (size_t)(lf - p) + 1;
				p = lf + 1;
			}
			continue;
		case SMTP_LINE_OK:
			break;
		}
		FUZZ_CHECK(n >= 1 && n <= SMTP_LINE_MAX && n <= left);
		FUZZ_CHECK(p[n - 1] == '\n' && memchr(p, '\n', n - 1) == NULL);
		FUZZ_CHECK(smtp_line_strip(p, n) <= n - 1);

		(void)smtp_cmd_verb(p, smtp_line_strip(p, n), &args);

		before = r->len;
		rc = smtp_reply_add(r, p, n);
		if (rc == 0) {
			FUZZ_CHECK(smtp_reply_line(p, n, &code, &last) == 0);
			FUZZ_CHECK(code == r->code && last == r->done);
			FUZZ_CHECK(code >= 200 && code <= 559);
			FUZZ_CHECK(r->len == before + n && r->len <= SMTP_REPLY_MAX);
			FUZZ_CHECK(r->nlines <= SMTP_REPLY_LINES);
			if (r->done) {
				fz_edit(r, SMTP_EHLO_ADD_STARTTLS);
				fz_edit(r, SMTP_EHLO_DEL_STARTTLS);
				fz_edit(r, SMTP_EHLO_ADD_STARTTLS |
				    SMTP_EHLO_DEL_XCLIENT | SMTP_EHLO_DEL_AUTH);
				fz_edit(r, SMTP_EHLO_DEL_STARTTLS |
				    SMTP_EHLO_DEL_XCLIENT);
				smtp_reply_init(r);
			}
		} else {
			FUZZ_CHECK(r->len == before);
			smtp_reply_init(r);
		}
		p += n;
		left -= n;
	}
	free(r);
	return (0);
}
