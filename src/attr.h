/*
 * NAME
 *	attr - Postfix "attr0" attribute record codec over byte buffers
 * SYNOPSIS
 *	#include "attr.h"
 * DESCRIPTION
 *	A record is a flat, ordered list of name/value pairs, each written
 *	as name NUL value NUL, closed by an empty name (one extra NUL).
 *	Values may be empty. No escaping, no length prefix. This module
 *	only frames and unframes records; it does no I/O.
 *
 *	attr_decode() is incremental: feed it what has arrived so far; it
 *	says whether a complete record is there, and how many bytes it
 *	took. It enforces sane bounds (ATTR_NAME_MAX, ATTR_VALUE_MAX,
 *	ATTR_COUNT_MAX) so a hostile peer cannot make us buffer without
 *	limit.
 *
 *	attr_expect() matches a decoded record against an expected schema
 *	by position, leniently: attributes whose names are not in the
 *	schema are skipped, but the expected names must come in order and
 *	all of them must be present.
 *
 *	attr_encode() writes a record byte-exactly.
 * DIAGNOSTICS
 *	Functions that can fail return -1 and leave a human readable
 *	reason in the caller's buffer (errbuf/errlen).
 */
#ifndef TLSPROXY_ATTR_H
#define TLSPROXY_ATTR_H

#include <stddef.h>

#define ATTR_NAME_MAX	256		/* longest accepted attribute name */
#define ATTR_VALUE_MAX	(64 * 1024)	/* longest accepted value */
#define ATTR_COUNT_MAX	1024		/* most attributes in one record */

struct attr {
	char	*name;		/* NUL-terminated copy, owned by the record */
	char	*value;		/* NUL-terminated copy, owned by the record */
	size_t	 vlen;		/* value length (values contain no NUL) */
};

struct attr_rec {
	struct attr *v;		/* owned array */
	size_t	 n;
	size_t	 cap;
};

void	attr_rec_init(struct attr_rec *);
void	attr_rec_free(struct attr_rec *);	/* frees contents; rec reusable */

/* Append an attribute (copies name and value); 0 or -1 (ENOMEM). */
int	attr_rec_add(struct attr_rec *, const char *name, const char *value);
int	attr_rec_add_uint(struct attr_rec *, const char *name, unsigned int);

/* First value of NAME in REC, or NULL. */
const char *attr_rec_get(const struct attr_rec *, const char *name);

/*
 * Decode one record from buf[0..len).
 * Returns 1 when a complete record was decoded into REC (which must be
 * empty) and *used is set to the bytes it took; 0 when more input is
 * needed (REC untouched, no bytes consumed); -1 on malformed input
 * (oversized name/value, too many attributes) with a reason in errbuf.
 */
int	attr_decode(const unsigned char *buf, size_t len, struct attr_rec *rec,
	    size_t *used, char *errbuf, size_t errlen);

/*
 * Encode REC into out[0..outlen). Returns the number of bytes written,
 * or -1 if it does not fit.
 */
long	attr_encode(const struct attr_rec *, unsigned char *out, size_t outlen);
/* Bytes attr_encode() would write. */
size_t	attr_encoded_len(const struct attr_rec *);

/* Strict unsigned decimal ("%u"): digits only, no sign, fits 32 bits. */
int	attr_parse_uint(const char *, unsigned int *);

/*
 * Schema matching. Each wanted entry names an attribute and where to
 * put its value. STR: *(const char **)dst = value (borrowed from REC).
 * UINT: *(unsigned *)dst = attr_parse_uint(value). The same name may
 * appear several times in a schema (e.g. "timeout" twice): they match
 * successive occurrences in order.
 *
 * Returns 0, or -1 with a reason in errbuf: a wanted attribute missing
 * ("missing attribute timeout"), a wanted name appearing out of order
 * (a later wanted name seen before an earlier one: "unexpected
 * attribute flags (expecting: remote_endpoint)"), or malformed
 * numerical data ("malformed numerical data for flags: 1x").
 * Attributes not named anywhere in the schema are skipped (lenient
 * reading for other Postfix versions). On success, if pos_out is not
 * NULL it is set to the index just after the last wanted attribute.
 */
enum attr_type { ATTR_TYPE_STR, ATTR_TYPE_UINT };
struct attr_want {
	const char	*name;
	enum attr_type	 type;
	void		*dst;
};
int	attr_expect(const struct attr_rec *, const struct attr_want *, size_t nwant,
	    size_t *pos_out, char *errbuf, size_t errlen);

#endif
