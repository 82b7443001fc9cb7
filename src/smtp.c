/*
 * NAME
 *	smtp - SMTP lines, replies, commands and the EHLO reply editor
 * DESCRIPTION
 *	See smtp.h. Everything here works on caller-owned buffers and
 *	never allocates, so it is cheap on the session path and easy to
 *	fuzz.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp.h"

enum smtp_line
smtp_line_find(const char *buf, size_t len, size_t max, size_t *linelen)
{
	const char *lf;
	size_t	 n = len < max ? len : max;

	if ((lf = memchr(buf, '\n', n)) != NULL) {
		*linelen = (size_t)(lf - buf) + 1;
		return (SMTP_LINE_OK);
	}
	*linelen = 0;
	return (len >= max ? SMTP_LINE_LONG : SMTP_LINE_NONE);
}

size_t
smtp_line_strip(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return (len);
}

void
smtp_reply_init(struct smtp_reply *r)
{
	r->code = 0;
	r->done = 0;
	r->nlines = 0;
	r->len = 0;
}

int
smtp_reply_line(const char *line, size_t len, int *code, int *last)
{
	len = smtp_line_strip(line, len);
	/* RFC 5321 4.2: 2-5, 0-5, 0-9. */
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9')
		return (-1);
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3 || line[3] == ' ')
		*last = 1;
	else if (line[3] == '-')
		*last = 0;
	else
		return (-1);
	return (0);
}

int
smtp_reply_add(struct smtp_reply *r, const char *line, size_t len)
{
	int	 code, last;

	if (r->done || len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		return (-1);
	if (smtp_reply_line(line, len, &code, &last) < 0)
		return (-1);
	if (r->nlines > 0 && code != r->code)
		return (-1);
	if (r->nlines >= SMTP_REPLY_LINES || len > sizeof(r->buf) - r->len)
		return (-1);
	memcpy(r->buf + r->len, line, len);
	r->len += len;
	r->code = code;
	r->nlines++;
	r->done = last;
	return (0);
}

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} smtp_verbs[] = {
	{ "EHLO", SMTP_V_EHLO },
	{ "HELO", SMTP_V_HELO },
	{ "STARTTLS", SMTP_V_STARTTLS },
	{ "NOOP", SMTP_V_NOOP },
	{ "RSET", SMTP_V_RSET },
	{ "QUIT", SMTP_V_QUIT },
	{ "MAIL", SMTP_V_MAIL },
	{ "RCPT", SMTP_V_RCPT },
	{ "DATA", SMTP_V_DATA },
	{ "BDAT", SMTP_V_BDAT },
	{ "AUTH", SMTP_V_AUTH },
	{ "XCLIENT", SMTP_V_XCLIENT },
	{ "XFORWARD", SMTP_V_XFORWARD },
};
#define SMTP_NVERBS	(sizeof(smtp_verbs) / sizeof(smtp_verbs[0]))

/* smtp_space - whitespace between words, as Postfix's tokenizer skips it */
static int
smtp_space(char c)
{
	return (c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' ||
	    c == '\n');
}

enum smtp_verb
smtp_cmd_verb(const char *line, size_t len, int *has_args)
{
	size_t	 start, n, i;

	for (start = 0; start < len && smtp_space(line[start]); start++)
		;
	for (n = start; n < len && !smtp_space(line[n]); n++)
		;
	*has_args = 0;
	for (i = n; i < len; i++)
		if (!smtp_space(line[i])) {
			*has_args = 1;
			break;
		}
	n -= start;
	for (i = 0; i < SMTP_NVERBS; i++)
		if (strlen(smtp_verbs[i].name) == n &&
		    strncasecmp(smtp_verbs[i].name, line + start, n) == 0)
			return (smtp_verbs[i].verb);
	return (SMTP_V_OTHER);
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t	 i;

	for (i = 0; i < SMTP_NVERBS; i++)
		if (smtp_verbs[i].verb == v)
			return (smtp_verbs[i].name);
	return ("other");
}

/*
 * smtp_ehlo_kw - the SMTP_EHLO_DEL_* class of an EHLO reply line's
 * keyword (STARTTLS, XCLIENT/XFORWARD, AUTH/AUTH=), or 0
 */
static int
smtp_ehlo_kw(const char *line, size_t len)
{
	static const struct {
		const char	*kw;
		int		 cls;
		int		 eq;	/* "kw=" counts too */
	} kws[] = {
		{ "STARTTLS", SMTP_EHLO_DEL_STARTTLS, 0 },
		{ "XCLIENT", SMTP_EHLO_DEL_XCLIENT, 0 },
		{ "XFORWARD", SMTP_EHLO_DEL_XCLIENT, 0 },
		{ "AUTH", SMTP_EHLO_DEL_AUTH, 1 },
	};
	size_t	 i, n;

	len = smtp_line_strip(line, len);
	if (len < 4)
		return (0);
	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		n = strlen(kws[i].kw);
		if (len < 4 + n || strncasecmp(line + 4, kws[i].kw, n) != 0)
			continue;
		if (len == 4 + n || line[4 + n] == ' ' ||
		    (kws[i].eq && line[4 + n] == '='))
			return (kws[i].cls);
	}
	return (0);
}

/* smtp_put_line - one line with continuation mark sep; 0 or -1 (no room) */
static int
smtp_put_line(char *out, size_t outlen, size_t *o, const char *line,
    size_t len, char sep)
{
	size_t	 need = len + (len > 3 && line[3] != '\r' && line[3] != '\n' ?
		    0 : 1);

	if (need > outlen - *o)
		return (-1);
	memcpy(out + *o, line, 3);
	out[*o + 3] = sep;
	if (need == len)
		memcpy(out + *o + 4, line + 4, len - 4);
	else
		memcpy(out + *o + 4, line + 3, len - 3);	/* bare "ddd" EOL */
	*o += need;
	return (0);
}

ssize_t
smtp_ehlo_edit(const char *in, size_t inlen, int how, char *out, size_t outlen,
    int *changed)
{
	static const char add[] = "250 STARTTLS\r\n";
	/* One line more than a reply may have: an edited one (the added
	   STARTTLS line) can be edited again. */
	const char *p, *lf, *line[SMTP_REPLY_LINES + 1];
	size_t	 len[SMTP_REPLY_LINES + 1], n = 0, i, o = 0, lastkeep = 0;
	int	 drop[SMTP_REPLY_LINES + 1], ndrop = 0, found = 0, code, last, cls;
	int	 adding;

	*changed = 0;
	for (p = in; p < in + inlen; p = lf + 1) {
		if ((lf = memchr(p, '\n', (size_t)(in + inlen - p))) == NULL ||
		    n == SMTP_REPLY_LINES + 1)
			return (-1);	/* not as smtp_reply_add() takes it */
		line[n] = p;
		len[n] = (size_t)(lf - p) + 1;
		cls = n > 0 ? smtp_ehlo_kw(p, len[n]) : 0;
		drop[n] = (cls & how) != 0;
		ndrop += drop[n];
		if (cls == SMTP_EHLO_DEL_STARTTLS && !drop[n])
			found = 1;
		n++;
	}
	adding = (how & SMTP_EHLO_ADD_STARTTLS) && !found;
	if (n == 0 || smtp_reply_line(line[0], len[0], &code, &last) < 0 ||
	    code != 250 || (ndrop == 0 && !adding)) {
		if (inlen > outlen)
			return (-1);
		memcpy(out, in, inlen);
		return ((ssize_t)inlen);
	}
	for (i = 0; i < n; i++)
		if (!drop[i])
			lastkeep = i;
	for (i = 0; i < n; i++) {
		if (drop[i])
			continue;
		if (smtp_put_line(out, outlen, &o, line[i], len[i],
		    i == lastkeep && !adding ? ' ' : '-') < 0)
			return (-1);
	}
	if (adding) {
		if (sizeof(add) - 1 > outlen - o)
			return (-1);
		memcpy(out + o, add, sizeof(add) - 1);
		o += sizeof(add) - 1;
	}
	*changed = 1;
	return ((ssize_t)o);
}

ssize_t
smtp_xclient_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;
	struct in_addr a4;
	char	 addr[INET6_ADDRSTRLEN + 8];
	unsigned int port;
	int	 n;

	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr)) == NULL)
			return (-1);
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(&a4, &s6->sin6_addr.s6_addr[12], sizeof(a4));
			if (inet_ntop(AF_INET, &a4, addr, sizeof(addr)) == NULL)
				return (-1);
		} else {
			/* Postfix's form for IPv6 in XCLIENT. */
			memcpy(addr, "IPV6:", 5);
			if (inet_ntop(AF_INET6, &s6->sin6_addr, addr + 5,
			    sizeof(addr) - 5) == NULL)
				return (-1);
		}
	} else
		return (-1);
	/*
	 * NAME: we do no DNS lookups on the session path (a slow resolver
	 * would hold a worker); [UNAVAILABLE] is XCLIENT's "no name".
	 */
	n = snprintf(out, outlen, "XCLIENT ADDR=%s PORT=%u NAME=[UNAVAILABLE]\r\n",
	    addr, port);
	if (n < 0 || (size_t)n >= outlen)
		return (-1);
	return (n);
}
