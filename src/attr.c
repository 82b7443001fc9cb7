/*
 * NAME
 *	attr - Postfix "attr0" attribute record codec over byte buffers
 * SYNOPSIS
 *	#include "attr.h"
 *
 *	void	attr_rec_init(struct attr_rec *rec);
 *	void	attr_rec_free(struct attr_rec *rec);
 *	int	attr_rec_add(struct attr_rec *rec, const char *name,
 *		    const char *value);
 *	int	attr_rec_add_uint(struct attr_rec *rec, const char *name,
 *		    unsigned int value);
 *	const char *attr_rec_get(const struct attr_rec *rec,
 *		    const char *name);
 *	int	attr_decode(const unsigned char *buf, size_t len,
 *		    struct attr_rec *rec, size_t *used,
 *		    char *errbuf, size_t errlen);
 *	long	attr_encode(const struct attr_rec *rec,
 *		    unsigned char *out, size_t outlen);
 *	size_t	attr_encoded_len(const struct attr_rec *rec);
 *	int	attr_parse_uint(const char *str, unsigned int *val);
 *	int	attr_expect(const struct attr_rec *rec,
 *		    const struct attr_want *want, size_t nwant,
 *		    size_t *pos_out, char *errbuf, size_t errlen);
 * DESCRIPTION
 *	A record is name NUL value NUL pairs closed by one more NUL. In
 *	name position an empty string ends the record; in value position
 *	it is a legal empty value. Names and values are bytes without NUL,
 *	with no escaping and no length prefix.
 *
 *	attr_decode() looks at what has arrived so far. It first walks
 *	the buffer without allocating anything, checking the bounds as it
 *	goes, and copies only once it has seen the terminator. A caller
 *	that polls it after every read therefore pays a memchr() scan,
 *	not an allocation, for each partial record. Because it keeps no
 *	state between calls it rescans from the start each time; callers
 *	should cap how much they buffer for one record.
 *
 *	The bounds are checked against the bytes seen so far, not against
 *	the finished string: a peer that sends a name without ever
 *	sending its NUL is rejected after ATTR_NAME_MAX + 1 bytes instead
 *	of making us wait and buffer forever.
 *
 *	Storage: each attribute's name and value live in one allocation
 *	("name\0value\0"), owned through attr.name; attr.value points into
 *	it. That halves the allocations per attribute and lets a decoded
 *	pair be copied from the wire in one memcpy(), since it already has
 *	exactly that layout there. Only attr_rec_free() frees them.
 *
 *	attr_expect() matches by position, leniently: the next wanted name
 *	must come next among the names the schema still wants, but names
 *	the rest of the schema does not want are skipped. That lets a
 *	reader built for one Postfix version accept records from another
 *	that added attributes, while still catching reordering and loss.
 * DIAGNOSTICS
 *	Functions that can fail return -1 (or NULL) and, where they take
 *	one, leave a one-line reason in errbuf. Reasons mirror Postfix's
 *	own wording where Postfix has one ("missing attribute NAME",
 *	"unexpected attribute NAME (expecting: WANTED)", "malformed
 *	numerical data for NAME: VALUE"). Peer-supplied text in a reason is
 *	truncated and has its non-printable bytes escaped, so it is safe to
 *	log.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"

#define ATTR_ESC_MAX	64		/* peer bytes shown in a message */
#define ATTR_ESC_BUFSZ	(ATTR_ESC_MAX * 4 + 4)	/* worst case: all \xHH, "..." */
#define ATTR_REC_MINCAP	8		/* first allocation of rec->v */

static void	attr_err(char *, size_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

/* attr_err - format a reason into the caller's buffer, if any */
static void
attr_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/*
 * attr_escape - render peer bytes for a log line
 *
 * Peer data ends up in our logs, so it must not be able to inject
 * newlines or terminal escapes, nor flood a line: keep printable ASCII,
 * write everything else (and the backslash) as an escape, and stop
 * after ATTR_ESC_MAX input bytes with a "..." marker.
 */
static const char *
attr_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;
	unsigned char c;

	if (dstlen < ATTR_ESC_BUFSZ)	/* internal misuse; stay safe */
		return ("");
	for (i = 0; i < srclen && i < ATTR_ESC_MAX; i++) {
		c = (unsigned char)src[i];
		if (c == '\\') {
			dst[o++] = '\\';
			dst[o++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0x0f];
		}
	}
	if (srclen > ATTR_ESC_MAX) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return (dst);
}

/* attr_rec_init - make an empty record */
void
attr_rec_init(struct attr_rec *rec)
{
	rec->v = NULL;
	rec->n = 0;
	rec->cap = 0;
}

/* attr_rec_free - release all attributes; the record stays usable */
void
attr_rec_free(struct attr_rec *rec)
{
	size_t	 i;

	if (rec == NULL)
		return;
	for (i = 0; i < rec->n; i++)
		free(rec->v[i].name);	/* value shares this allocation */
	free(rec->v);
	attr_rec_init(rec);
}

/* attr_rec_reserve - make room for at least want attributes */
static int
attr_rec_reserve(struct attr_rec *rec, size_t want)
{
	struct attr *nv;
	size_t	 ncap;

	if (want <= rec->cap)
		return (0);
	ncap = rec->cap < ATTR_REC_MINCAP ? ATTR_REC_MINCAP : rec->cap;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			goto nomem;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / sizeof(*nv))
		goto nomem;
	if ((nv = realloc(rec->v, ncap * sizeof(*nv))) == NULL)
		return (-1);
	rec->v = nv;
	rec->cap = ncap;
	return (0);
 nomem:
	errno = ENOMEM;
	return (-1);
}

/*
 * attr_pair_set - fill *a with one allocation holding "name\0value\0"
 *
 * Taking name and value separately serves both callers: the decoder
 * passes two pointers into the wire bytes, attr_rec_add() two strings.
 */
static int
attr_pair_set(struct attr *a, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	char	*p;

	if (nlen > SIZE_MAX - vlen - 2) {
		errno = ENOMEM;
		return (-1);
	}
	if ((p = malloc(nlen + vlen + 2)) == NULL)
		return (-1);
	memcpy(p, name, nlen);
	p[nlen] = '\0';
	memcpy(p + nlen + 1, value, vlen);
	p[nlen + 1 + vlen] = '\0';
	a->name = p;
	a->value = p + nlen + 1;
	a->vlen = vlen;
	return (0);
}

/* attr_rec_add - append a copy of name=value */
int
attr_rec_add(struct attr_rec *rec, const char *name, const char *value)
{
	/*
	 * An empty name would be read back as the record terminator, so
	 * accepting it would make us write a record we cannot parse.
	 */
	if (name == NULL || *name == '\0') {
		errno = EINVAL;
		return (-1);
	}
	if (value == NULL)
		value = "";
	if (rec->n == SIZE_MAX || attr_rec_reserve(rec, rec->n + 1) == -1)
		return (-1);
	if (attr_pair_set(&rec->v[rec->n], name, strlen(name),
	    value, strlen(value)) == -1)
		return (-1);
	rec->n++;
	return (0);
}

/* attr_rec_add_uint - append name=value in Postfix's "%u" form */
int
attr_rec_add_uint(struct attr_rec *rec, const char *name, unsigned int value)
{
	char	 buf[sizeof(value) * CHAR_BIT / 3 + 2];

	(void)snprintf(buf, sizeof(buf), "%u", value);
	return (attr_rec_add(rec, name, buf));
}

/* attr_rec_get - first value of name, or NULL */
const char *
attr_rec_get(const struct attr_rec *rec, const char *name)
{
	size_t	 i;

	for (i = 0; i < rec->n; i++)
		if (strcmp(rec->v[i].name, name) == 0)
			return (rec->v[i].value);
	return (NULL);
}

/*
 * attr_scan - find the end of one string, honouring its bound
 *
 * Looks for the NUL that ends the string starting at buf[off]. Returns
 * 1 and sets *slen when found; 0 when the string is still incomplete
 * but within max; -1 when more than max non-NUL bytes have already
 * arrived, which no later input can make legal.
 */
static int
attr_scan(const unsigned char *buf, size_t len, size_t off, size_t max,
    size_t *slen)
{
	const unsigned char *nul;
	size_t	 avail = len - off;
	size_t	 look = avail > max ? max + 1 : avail;

	if ((nul = memchr(buf + off, '\0', look)) != NULL) {
		*slen = (size_t)(nul - (buf + off));
		return (1);
	}
	return (avail > max ? -1 : 0);
}

/* attr_decode - decode one complete record, or say that more is needed */
int
attr_decode(const unsigned char *buf, size_t len, struct attr_rec *rec,
    size_t *used, char *errbuf, size_t errlen)
{
	char	 esc[ATTR_ESC_BUFSZ];
	size_t	 off, count, nlen, vlen, i;
	int	 r;

	if (rec->n != 0) {
		attr_err(errbuf, errlen, "attr_decode: record not empty");
		return (-1);
	}

	/*
	 * Pass 1: validate framing and bounds and find the terminator,
	 * without allocating. Most calls on a partial record end here.
	 */
	for (off = 0, count = 0;; count++) {
		if (off >= len)
			return (0);
		if (buf[off] == '\0')
			break;
		/*
		 * One more non-empty name after ATTR_COUNT_MAX pairs is
		 * already too many, whatever follows.
		 */
		if (count >= ATTR_COUNT_MAX) {
			attr_err(errbuf, errlen,
			    "too many attributes (more than %d)",
			    ATTR_COUNT_MAX);
			return (-1);
		}
		if ((r = attr_scan(buf, len, off, ATTR_NAME_MAX, &nlen)) != 1) {
			if (r == -1)
				attr_err(errbuf, errlen,
				    "attribute name too long (more than %d bytes)",
				    ATTR_NAME_MAX);
			return (r);
		}
		off += nlen + 1;
		if (off >= len)
			return (0);
		if ((r = attr_scan(buf, len, off, ATTR_VALUE_MAX, &vlen)) != 1) {
			if (r == -1)
				attr_err(errbuf, errlen,
				    "attribute value of \"%s\" too long "
				    "(more than %d bytes)",
				    attr_escape(esc, sizeof(esc),
				    (const char *)buf + off - nlen - 1, nlen),
				    ATTR_VALUE_MAX);
			return (r);
		}
		off += vlen + 1;
	}

	/*
	 * Pass 2: the record is complete and sane; copy it. Each pair is
	 * already "name\0value\0" on the wire, which is exactly how we
	 * store it.
	 */
	if (attr_rec_reserve(rec, count) == -1)
		goto nomem;
	for (off = 0, i = 0; i < count; i++) {
		nlen = strlen((const char *)buf + off);
		vlen = strlen((const char *)buf + off + nlen + 1);
		if (attr_pair_set(&rec->v[i], (const char *)buf + off, nlen,
		    (const char *)buf + off + nlen + 1, vlen) == -1)
			goto nomem;
		rec->n = i + 1;		/* attr_rec_free() sees what we made */
		off += nlen + vlen + 2;
	}
	*used = off + 1;		/* the terminator */
	return (1);

 nomem:
	attr_rec_free(rec);
	attr_err(errbuf, errlen, "attribute record: out of memory");
	return (-1);
}

/* attr_encoded_len - bytes attr_encode() will write */
size_t
attr_encoded_len(const struct attr_rec *rec)
{
	size_t	 i, total = 1;		/* terminator */

	for (i = 0; i < rec->n; i++)
		total += strlen(rec->v[i].name) + 1 + rec->v[i].vlen + 1;
	return (total);
}

/* attr_encode - write rec in attr0 form */
long
attr_encode(const struct attr_rec *rec, unsigned char *out, size_t outlen)
{
	size_t	 i, nlen, total, off = 0;

	total = attr_encoded_len(rec);
	if (total > outlen || total > LONG_MAX)
		return (-1);
	for (i = 0; i < rec->n; i++) {
		nlen = strlen(rec->v[i].name);
		memcpy(out + off, rec->v[i].name, nlen + 1);
		off += nlen + 1;
		memcpy(out + off, rec->v[i].value, rec->v[i].vlen);
		off += rec->v[i].vlen;
		out[off++] = '\0';
	}
	out[off++] = '\0';
	return ((long)off);
}

/*
 * attr_parse_uint - strict "%u" reader
 *
 * Stricter than Postfix's sscanf()-based reader on purpose: no sign, no
 * blanks, no trailing junk, and overflow is an error rather than a
 * wrap. Nothing in this protocol is sent in any other form.
 */
int
attr_parse_uint(const char *str, unsigned int *val)
{
	unsigned int acc = 0, d;
	const char *p;

	if (str == NULL || *str == '\0')
		return (-1);
	for (p = str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		d = (unsigned int)(*p - '0');
		if (acc > (UINT_MAX - d) / 10)
			return (-1);
		acc = acc * 10 + d;
	}
	if (val != NULL)
		*val = acc;
	return (0);
}

/* attr_want_later - is name wanted anywhere in want[from..nwant) */
static int
attr_want_later(const struct attr_want *want, size_t from, size_t nwant,
    const char *name)
{
	for (; from < nwant; from++)
		if (strcmp(want[from].name, name) == 0)
			return (1);
	return (0);
}

/* attr_expect - lenient positional schema match */
int
attr_expect(const struct attr_rec *rec, const struct attr_want *want,
    size_t nwant, size_t *pos_out, char *errbuf, size_t errlen)
{
	char	 esc[ATTR_ESC_BUFSZ], esc2[ATTR_ESC_BUFSZ];
	const struct attr *a;
	size_t	 i, w = 0, pos = 0;
	unsigned int u;

	for (i = 0; i < rec->n && w < nwant; i++) {
		a = &rec->v[i];
		if (strcmp(a->name, want[w].name) != 0) {
			/*
			 * A name the schema wants later, seen now, means
			 * the one we want is missing or misplaced: the
			 * sender does not speak our schema. Anything else
			 * (unknown, or only wanted earlier and repeated)
			 * is another version's addition: skip it.
			 */
			if (attr_want_later(want, w + 1, nwant, a->name)) {
				attr_err(errbuf, errlen,
				    "unexpected attribute %s (expecting: %s)",
				    attr_escape(esc, sizeof(esc), a->name,
				    strlen(a->name)), want[w].name);
				return (-1);
			}
			continue;
		}
		switch (want[w].type) {
		case ATTR_TYPE_STR:
			if (want[w].dst != NULL)
				*(const char **)want[w].dst = a->value;
			break;
		case ATTR_TYPE_UINT:
			if (attr_parse_uint(a->value, &u) == -1) {
				attr_err(errbuf, errlen,
				    "malformed numerical data for %s: %s",
				    want[w].name, attr_escape(esc2,
				    sizeof(esc2), a->value, a->vlen));
				return (-1);
			}
			if (want[w].dst != NULL)
				*(unsigned int *)want[w].dst = u;
			break;
		default:
			attr_err(errbuf, errlen,
			    "attr_expect: bad type %d for %s",
			    (int)want[w].type, want[w].name);
			return (-1);
		}
		w++;
		pos = i + 1;
	}
	if (w < nwant) {
		attr_err(errbuf, errlen, "missing attribute %s", want[w].name);
		return (-1);
	}
	if (pos_out != NULL)
		*pos_out = pos;
	return (0);
}
