/*
 * NAME
 *	sni_map - tls_server_sni_maps: SNI name to key/certificate chain files
 * SYNOPSIS
 *	#include "sni_map.h"
 *
 *	struct sni_map *sni_map_parse(const char *spec, char *err,
 *	    size_t errlen);
 *	void sni_map_free(struct sni_map *map);
 *	const char *sni_map_lookup(const struct sni_map *map,
 *	    const char *name);
 *	const char *sni_map_value(const struct sni_map *map, size_t n);
 *	size_t sni_map_count(const struct sni_map *map);
 * DESCRIPTION
 *	sni_map_parse() reads the value of tls_server_sni_maps: zero or
 *	more tables separated by commas and/or whitespace. Two table
 *	types are read, because both are interpreted at run time and
 *	need no database library:
 *
 *	texthash:/path
 *		A text file in postmap(1) input format: "name value" with
 *		whitespace between them; empty lines, whitespace-only lines
 *		and lines whose first non-blank character is '#' are
 *		ignored; a line that starts with whitespace continues the
 *		previous logical line (comment lines in between do not end
 *		it). A '#' after the start of a line is data. Names do not
 *		support postmap(1)'s double-quote syntax: SNI names cannot
 *		contain whitespace anyway.
 *
 *	inline:{ name = value, { name = value with, commas }, ... }
 *		Elements separated by commas and/or whitespace. An element
 *		is "name=value" (whitespace around '=' is allowed) or, when
 *		the value needs whitespace or commas, "{ name = value }",
 *		which may nest braces. The table must not be empty.
 *
 *	Names are folded to lowercase (ASCII). A value is a list of PEM
 *	files separated by whitespace and/or commas; it is stored with
 *	single spaces between the files, so that equal lists compare
 *	equal in sni_map_value().
 *
 *	A name that appears more than once keeps its first value, both
 *	within a table (postmap(1): "duplicate entries are skipped") and
 *	across tables (the first table that has the name answers). The
 *	map therefore folds all tables into one sorted array, and a
 *	lookup is one binary search per candidate name.
 *
 *	sni_map_lookup() looks up the SNI name, folded to lowercase and
 *	minus one trailing dot, then its parent domains with a leading
 *	dot, nearest first ("a.b.example.com", ".b.example.com",
 *	".example.com", ".com"). Each candidate is tried in every table
 *	before the next, as Postfix does, so an exact name in a later
 *	table beats a parent domain in an earlier one. Names that are
 *	NULL, empty, longer than 253 bytes, or have an empty label
 *	(leading dot, "..") find nothing.
 *
 *	sni_map_value() enumerates the distinct values (in byte order),
 *	so that the caller can load every chain file once at startup.
 *	sni_map_count() is the number of distinct names.
 *
 *	The map is immutable after sni_map_parse() returns: any number
 *	of threads may call the lookup functions without locks. Parsing
 *	itself touches no shared state and may run on any thread.
 * DIAGNOSTICS
 *	sni_map_parse() returns NULL and writes one line to err: an
 *	unsupported table type (only texthash: and inline: are
 *	supported), a file that cannot be opened or read (with the
 *	system error), a file over 1 MiB or a line over 8 KiB, a name
 *	without a value ("path:line: ..." for texthash), unbalanced
 *	braces, an empty or overlong name, an empty inline table.
 *	sni_map_lookup() and friends abort on a map that is not one
 *	(bad magic): that is a bug in the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privsep.h"
#include "sni_map.h"

#define SNI_MAGIC	0x534e494dU	/* "SNIM" */
#define SNI_FILE_MAX	(1024 * 1024)	/* a texthash file, in bytes */
#define SNI_LINE_MAX	8192		/* a (logical) line or a value */
#define SNI_NAME_MAX	253		/* longest DNS name (RFC 1035) */
#define SNI_SHOW_MAX	60		/* bytes of input quoted in errors */

struct sni_ent {
	char		*key;		/* owned; lowercase */
	char		*value;		/* owned; files, single-spaced */
	size_t		 seq;		/* parse order: the first one wins */
};

struct sni_map {
	unsigned int	 magic;		/* SNI_MAGIC */
	struct sni_ent	*ents;		/* owned; sorted by key, unique */
	size_t		 nents;
	size_t		 cap;		/* of ents, while parsing */
	const char	**values;	/* owned array; strings borrowed
					 * from ents; sorted, unique */
	size_t		 nvalues;
};

static void sni_err(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* sni_err - format one diagnostic line, tolerating a missing buffer */
static void
sni_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* sni_strerror - strerror that is safe while workers run (reload) */
static const char *
sni_strerror(int errnum, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return (strerror_r(errnum, buf, len));
#else
	if (strerror_r(errnum, buf, len) != 0)
		(void)snprintf(buf, len, "error %d", errnum);
	return (buf);
#endif
}

/* sni_isspace - ASCII whitespace, independent of the locale */
static int
sni_isspace(int c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f');
}

/* sni_issep - separator between tables, elements and files */
static int
sni_issep(int c)
{
	return (c == ',' || sni_isspace(c));
}

/* sni_lower - ASCII case folding; the locale must not change DNS names */
static char
sni_lower(char c)
{
	return (c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
}

/* sni_show - how many bytes of input to quote in a diagnostic */
static int
sni_show(size_t len)
{
	return ((int)(len > SNI_SHOW_MAX ? SNI_SHOW_MAX : len));
}

/* sni_trim - strip surrounding whitespace from [*sp, *sp + *lenp) */
static void
sni_trim(const char **sp, size_t *lenp)
{
	while (*lenp > 0 && sni_isspace((unsigned char)**sp)) {
		(*sp)++;
		(*lenp)--;
	}
	while (*lenp > 0 && sni_isspace((unsigned char)(*sp)[*lenp - 1]))
		(*lenp)--;
}

/*
 * sni_brace_end - offset of the '}' that closes the '{' at s[0], or -1
 * when it is missing. Braces nest, as in Postfix's {...} syntax.
 */
static long
sni_brace_end(const char *s, size_t len)
{
	size_t	 i;
	long	 depth = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return ((long)i);
	}
	return (-1);
}

/*
 * sni_add - append one entry. WHERE prefixes the diagnostics (a
 * "path:line" or the table type). Duplicates are resolved later, in
 * sni_finish(), by parse order.
 */
static int
sni_add(struct sni_map *map, const char *where, const char *key,
    size_t klen, const char *val, size_t vlen, char *err, size_t errlen)
{
	struct sni_ent	*e, *n;
	size_t		 i, o, ncap;
	int		 gap;

	if (klen == 0) {
		sni_err(err, errlen, "%s: empty name in \"%.*s\"", where,
		    sni_show(vlen), val);
		return (-1);
	}
	/* Such a name can never equal a DNS name or a parent of one. */
	if (klen > SNI_NAME_MAX) {
		sni_err(err, errlen, "%s: name \"%.*s...\" is longer than "
		    "%d bytes", where, sni_show(klen), key, SNI_NAME_MAX);
		return (-1);
	}
	if (vlen > SNI_LINE_MAX) {
		sni_err(err, errlen, "%s: value for \"%.*s\" is longer than "
		    "%d bytes", where, (int)klen, key, SNI_LINE_MAX);
		return (-1);
	}
	if (map->nents == map->cap) {
		ncap = map->cap == 0 ? 16 : map->cap * 2;
		if ((n = realloc(map->ents, ncap * sizeof(*n))) == NULL) {
			sni_err(err, errlen, "%s: out of memory", where);
			return (-1);
		}
		map->ents = n;
		map->cap = ncap;
	}
	e = &map->ents[map->nents];
	e->key = malloc(klen + 1);
	e->value = malloc(vlen + 1);
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		sni_err(err, errlen, "%s: out of memory", where);
		return (-1);
	}
	for (i = 0; i < klen; i++)
		e->key[i] = sni_lower(key[i]);
	e->key[klen] = '\0';

	/* One space between files: "a.pem,\n\t b.pem" == "a.pem b.pem". */
	for (i = o = 0, gap = 0; i < vlen; i++) {
		if (sni_issep((unsigned char)val[i])) {
			gap = (o > 0);
			continue;
		}
		if (gap)
			e->value[o++] = ' ';
		gap = 0;
		e->value[o++] = val[i];
	}
	e->value[o] = '\0';
	if (o == 0) {
		sni_err(err, errlen, "%s: no value for \"%s\"", where, e->key);
		free(e->key);
		free(e->value);
		return (-1);
	}
	e->seq = map->nents++;
	return (0);
}

/*
 * sni_text_entry - one logical texthash line: the name ends at the first
 * whitespace, the value is the rest. LINE has no surrounding blanks.
 */
static int
sni_text_entry(struct sni_map *map, const char *path, unsigned int lineno,
    const char *line, size_t len, char *err, size_t errlen)
{
	char		 where[1024];	/* "path:line", path cut if huge */
	const char	*val;
	size_t		 klen, vlen;

	for (klen = 0; klen < len && !sni_isspace((unsigned char)line[klen]);
	    klen++)
		;
	val = line + klen;
	vlen = len - klen;
	sni_trim(&val, &vlen);
	(void)snprintf(where, sizeof(where), "%s:%u", path, lineno);
	if (vlen == 0) {
		sni_err(err, errlen, "%s: missing value after \"%.*s\" "
		    "(expected \"name whitespace value\")", where,
		    sni_show(klen), line);
		return (-1);
	}
	return (sni_add(map, where, line, klen, val, vlen, err, errlen));
}

/*
 * sni_text_lines - split a texthash file into logical lines. Comment
 * and blank lines do not end a logical line, as in postmap(1).
 */
static int
sni_text_lines(struct sni_map *map, const char *path, const char *buf,
    size_t size, char *err, size_t errlen)
{
	char		 logical[SNI_LINE_MAX + 1];
	size_t		 llen = 0, len;
	unsigned int	 lineno = 0, start = 0;
	const char	*p, *nl, *t, *end = buf + size;

	for (p = buf; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len > SNI_LINE_MAX) {
			sni_err(err, errlen, "%s:%u: line is longer than %d "
			    "bytes", path, lineno, SNI_LINE_MAX);
			return (-1);
		}
		/* A NUL would silently cut the key or value short. */
		if (memchr(p, '\0', len) != NULL) {
			sni_err(err, errlen, "%s:%u: NUL byte in line", path,
			    lineno);
			return (-1);
		}
		t = p;
		sni_trim(&t, &len);
		if (len == 0 || *t == '#')
			continue;
		if (t == p) {
			/* A new logical line: the previous one is complete. */
			if (llen > 0 && sni_text_entry(map, path, start,
			    logical, llen, err, errlen) == -1)
				return (-1);
			memcpy(logical, t, len);
			llen = len;
			start = lineno;
			continue;
		}
		if (llen == 0) {
			sni_err(err, errlen, "%s:%u: continuation line (starts "
			    "with whitespace) without a preceding entry",
			    path, lineno);
			return (-1);
		}
		if (llen + 1 + len > SNI_LINE_MAX) {
			sni_err(err, errlen, "%s:%u: logical line is longer "
			    "than %d bytes", path, start, SNI_LINE_MAX);
			return (-1);
		}
		logical[llen++] = ' ';
		memcpy(logical + llen, t, len);
		llen += len;
	}
	if (llen > 0)
		return (sni_text_entry(map, path, start, logical, llen, err,
		    errlen));
	return (0);
}

/*
 * sni_text_read - read a whole texthash file into memory, up to
 * SNI_FILE_MAX bytes. The size is checked while reading as well,
 * because the file may grow (or not be a regular file).
 */
static char *
sni_text_read(const char *path, size_t *sizep, char *err, size_t errlen)
{
	char		 ebuf[128];
	struct stat	 st;
	char		*buf = NULL, *n;
	size_t		 cap, size = 0;
	ssize_t		 r;
	int		 fd, saved;

	/* Through the privileged helper, if there is one (privsep.h). */
	if ((fd = priv_open_file(path, ebuf, sizeof(ebuf))) == -1) {
		sni_err(err, errlen, "texthash:%s: cannot open: %s", path, ebuf);
		return (NULL);
	}
	if (fstat(fd, &st) == -1)
		goto syserr;
	if (S_ISREG(st.st_mode) && st.st_size > SNI_FILE_MAX)
		goto toobig;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	if ((buf = malloc(cap)) == NULL)
		goto syserr;
	for (;;) {
		if (size == cap) {
			if (cap > SNI_FILE_MAX)
				goto toobig;
			cap = cap * 2 > SNI_FILE_MAX + 1 ?
			    SNI_FILE_MAX + 1 : cap * 2;
			if ((n = realloc(buf, cap)) == NULL)
				goto syserr;
			buf = n;
		}
		if ((r = read(fd, buf + size, cap - size)) == -1) {
			if (errno == EINTR)
				continue;
			goto syserr;
		}
		if (r == 0)
			break;
		size += (size_t)r;
	}
	if (size > SNI_FILE_MAX)
		goto toobig;
	(void)close(fd);
	*sizep = size;
	return (buf);

syserr:
	saved = errno;
	sni_err(err, errlen, "texthash:%s: cannot read: %s", path,
	    sni_strerror(saved, ebuf, sizeof(ebuf)));
	goto fail;
toobig:
	sni_err(err, errlen, "texthash:%s: file is larger than %d bytes",
	    path, SNI_FILE_MAX);
fail:
	free(buf);
	(void)close(fd);
	return (NULL);
}

/* sni_texthash - load one texthash:/path table */
static int
sni_texthash(struct sni_map *map, const char *name, size_t len, char *err,
    size_t errlen)
{
	char	*path, *buf;
	size_t	 size;
	int	 rc;

	if (len == 0) {
		sni_err(err, errlen, "texthash: missing file name");
		return (-1);
	}
	if ((path = strndup(name, len)) == NULL) {
		sni_err(err, errlen, "texthash: out of memory");
		return (-1);
	}
	if ((buf = sni_text_read(path, &size, err, errlen)) == NULL) {
		free(path);
		return (-1);
	}
	rc = sni_text_lines(map, path, buf, size, err, errlen);
	free(buf);
	free(path);
	return (rc);
}

/* sni_inline_braced - one "{ name = value }" element, braces stripped */
static int
sni_inline_braced(struct sni_map *map, const char *s, size_t len,
    char *err, size_t errlen)
{
	const char	*eq, *key = s, *val;
	size_t		 klen, vlen;

	if ((eq = memchr(s, '=', len)) == NULL) {
		sni_err(err, errlen, "inline: missing '=' in \"{%.*s}\"",
		    sni_show(len), s);
		return (-1);
	}
	klen = (size_t)(eq - s);
	val = eq + 1;
	vlen = len - klen - 1;
	sni_trim(&key, &klen);
	sni_trim(&val, &vlen);
	if (klen == 0) {
		sni_err(err, errlen, "inline: empty name in \"{%.*s}\"",
		    sni_show(len), s);
		return (-1);
	}
	return (sni_add(map, "inline", key, klen, val, vlen, err, errlen));
}

/*
 * sni_inline - load one inline:{...} table. BODY is what lies between
 * the outer braces. Unbraced elements are "name [ws] = [ws] value" with
 * no separators or braces inside the name or value.
 */
static int
sni_inline(struct sni_map *map, const char *body, size_t len, char *err,
    size_t errlen)
{
	const char	*p = body, *end = body + len, *key, *val;
	size_t		 klen, vlen, before = map->nents;
	long		 rbrace;

	for (;;) {
		while (p < end && sni_issep((unsigned char)*p))
			p++;
		if (p == end)
			break;
		if (*p == '{') {
			if ((rbrace = sni_brace_end(p, (size_t)(end - p))) < 0) {
				sni_err(err, errlen, "inline: unbalanced '{' "
				    "in \"%.*s\"", sni_show((size_t)(end - p)),
				    p);
				return (-1);
			}
			if (sni_inline_braced(map, p + 1, (size_t)rbrace - 1,
			    err, errlen) == -1)
				return (-1);
			p += rbrace + 1;
			if (p < end && !sni_issep((unsigned char)*p)) {
				sni_err(err, errlen, "inline: text after '}': "
				    "\"%.*s\"", sni_show((size_t)(end - p)), p);
				return (-1);
			}
			continue;
		}
		key = p;
		while (p < end && !sni_issep((unsigned char)*p) && *p != '=' &&
		    *p != '{' && *p != '}')
			p++;
		klen = (size_t)(p - key);
		while (p < end && sni_isspace((unsigned char)*p))
			p++;
		if (p < end && (*p == '{' || *p == '}')) {
			sni_err(err, errlen, "inline: unexpected '%c' in \"%.*s\""
			    " (use \"{ name = value }\" for values with "
			    "whitespace or commas)", *p,
			    sni_show((size_t)(end - key)), key);
			return (-1);
		}
		if (p == end || *p != '=') {
			sni_err(err, errlen, "inline: missing '=' after \"%.*s\"",
			    sni_show(klen), key);
			return (-1);
		}
		if (klen == 0) {
			sni_err(err, errlen, "inline: empty name in \"%.*s\"",
			    sni_show((size_t)(end - key)), key);
			return (-1);
		}
		p++;
		while (p < end && sni_isspace((unsigned char)*p))
			p++;
		val = p;
		while (p < end && !sni_issep((unsigned char)*p) && *p != '{' &&
		    *p != '}')
			p++;
		vlen = (size_t)(p - val);
		if (p < end && (*p == '{' || *p == '}')) {
			sni_err(err, errlen, "inline: unexpected '%c' in \"%.*s\""
			    " (use \"{ name = value }\" for values with "
			    "whitespace or commas)", *p,
			    sni_show((size_t)(end - key)), key);
			return (-1);
		}
		if (vlen == 0) {
			sni_err(err, errlen, "inline: no value for \"%.*s\"",
			    sni_show(klen), key);
			return (-1);
		}
		if (sni_add(map, "inline", key, klen, val, vlen, err,
		    errlen) == -1)
			return (-1);
	}
	/* An empty table is surely a mistake, not "no SNI support". */
	if (map->nents == before) {
		sni_err(err, errlen, "inline: empty table");
		return (-1);
	}
	return (0);
}

/* sni_table - dispatch one "type:name" table on its type */
static int
sni_table(struct sni_map *map, const char *tok, size_t len, char *err,
    size_t errlen)
{
	const char	*colon;
	size_t		 tlen;
	long		 rbrace;

	if ((colon = memchr(tok, ':', len)) == NULL) {
		sni_err(err, errlen, "table \"%.*s\": expected type:name "
		    "(only texthash: and inline: are supported)",
		    sni_show(len), tok);
		return (-1);
	}
	tlen = (size_t)(colon - tok);
	if (tlen == 8 && strncmp(tok, "texthash", 8) == 0)
		return (sni_texthash(map, colon + 1, len - tlen - 1, err,
		    errlen));
	if (tlen == 6 && strncmp(tok, "inline", 6) == 0) {
		tok = colon + 1;
		len -= tlen + 1;
		if (len == 0 || *tok != '{') {
			sni_err(err, errlen, "inline: expected \"inline:{ "
			    "name = value, ... }\", not \"inline:%.*s\"",
			    sni_show(len), tok);
			return (-1);
		}
		rbrace = sni_brace_end(tok, len);
		if (rbrace < 0 || (size_t)rbrace != len - 1) {
			sni_err(err, errlen, "inline: text after '}' in "
			    "\"inline:%.*s\"", sni_show(len), tok);
			return (-1);
		}
		return (sni_inline(map, tok + 1, len - 2, err, errlen));
	}
	sni_err(err, errlen, "unsupported table type \"%.*s\" in \"%.*s\": "
	    "only texthash: and inline: are supported", sni_show(tlen), tok,
	    sni_show(len), tok);
	return (-1);
}

/* sni_cmp_ent - order entries by name, then by parse order */
static int
sni_cmp_ent(const void *a, const void *b)
{
	const struct sni_ent *x = a, *y = b;
	int	 c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return (c);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* sni_cmp_str - qsort/bsearch helper for arrays of strings */
static int
sni_cmp_str(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* sni_cmp_key - bsearch a name in the entries */
static int
sni_cmp_key(const void *key, const void *ent)
{
	return (strcmp(key, ((const struct sni_ent *)ent)->key));
}

/*
 * sni_finish - sort, drop later duplicates (the first definition wins,
 * within and across tables), and collect the distinct values.
 */
static int
sni_finish(struct sni_map *map, char *err, size_t errlen)
{
	size_t	 i, o;

	if (map->nents == 0)
		return (0);
	qsort(map->ents, map->nents, sizeof(*map->ents), sni_cmp_ent);
	for (i = 1, o = 1; i < map->nents; i++) {
		if (strcmp(map->ents[i].key, map->ents[o - 1].key) == 0) {
			free(map->ents[i].key);
			free(map->ents[i].value);
			continue;
		}
		map->ents[o++] = map->ents[i];
	}
	map->nents = o;

	if ((map->values = calloc(map->nents, sizeof(*map->values))) == NULL) {
		sni_err(err, errlen, "out of memory");
		return (-1);
	}
	for (i = 0; i < map->nents; i++)
		map->values[i] = map->ents[i].value;
	qsort(map->values, map->nents, sizeof(*map->values), sni_cmp_str);
	for (i = 1, o = 1; i < map->nents; i++)
		if (strcmp(map->values[i], map->values[o - 1]) != 0)
			map->values[o++] = map->values[i];
	map->nvalues = o;
	return (0);
}

struct sni_map *
sni_map_parse(const char *spec, char *err, size_t errlen)
{
	struct sni_map	*map;
	const char	*p, *tok;
	long		 depth;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((map = calloc(1, sizeof(*map))) == NULL) {
		sni_err(err, errlen, "out of memory");
		return (NULL);
	}
	map->magic = SNI_MAGIC;

	/* Split at separators outside braces, like Postfix's table lists. */
	for (p = spec != NULL ? spec : ""; *p != '\0';) {
		if (sni_issep((unsigned char)*p)) {
			p++;
			continue;
		}
		for (tok = p, depth = 0; *p != '\0'; p++) {
			if (*p == '{') {
				depth++;
			} else if (*p == '}') {
				if (--depth < 0) {
					sni_err(err, errlen, "unbalanced '}' "
					    "in \"%.*s\"",
					    sni_show((size_t)(p - tok) + 1),
					    tok);
					goto fail;
				}
			} else if (depth == 0 && sni_issep((unsigned char)*p))
				break;
		}
		if (depth > 0) {
			sni_err(err, errlen, "unbalanced '{' in \"%.*s\"",
			    sni_show((size_t)(p - tok)), tok);
			goto fail;
		}
		if (sni_table(map, tok, (size_t)(p - tok), err, errlen) == -1)
			goto fail;
	}
	if (sni_finish(map, err, errlen) == -1)
		goto fail;
	return (map);

fail:
	sni_map_free(map);
	return (NULL);
}

void
sni_map_free(struct sni_map *map)
{
	size_t	 i;

	if (map == NULL)
		return;
	for (i = 0; i < map->nents; i++) {
		free(map->ents[i].key);
		free(map->ents[i].value);
	}
	free(map->ents);
	free(map->values);
	map->magic = 0;
	free(map);
}

/* sni_check - a map that is not one is a caller bug: fail loudly */
static void
sni_check(const struct sni_map *map)
{
	if (map->magic != SNI_MAGIC)
		abort();
}

const char *
sni_map_lookup(const struct sni_map *map, const char *name)
{
	char			 buf[SNI_NAME_MAX + 1];
	const struct sni_ent	*e;
	const char		*cp;
	size_t			 len, i;

	if (map == NULL || name == NULL)
		return (NULL);
	sni_check(map);
	len = strnlen(name, SNI_NAME_MAX + 2);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > SNI_NAME_MAX)
		return (NULL);
	/* An empty label would let ".example.com" match as an exact name. */
	if (name[0] == '.' || name[len - 1] == '.')
		return (NULL);
	for (i = 0; i < len; i++) {
		if (name[i] == '.' && name[i + 1] == '.')
			return (NULL);
		buf[i] = sni_lower(name[i]);
	}
	buf[len] = '\0';
	if (map->nents == 0)		/* bsearch() wants a real array */
		return (NULL);

	for (cp = buf; cp != NULL; cp = strchr(cp + 1, '.')) {
		e = bsearch(cp, map->ents, map->nents, sizeof(*map->ents),
		    sni_cmp_key);
		if (e != NULL)
			return (e->value);
	}
	return (NULL);
}

const char *
sni_map_value(const struct sni_map *map, size_t n)
{
	if (map == NULL)
		return (NULL);
	sni_check(map);
	return (n < map->nvalues ? map->values[n] : NULL);
}

size_t
sni_map_count(const struct sni_map *map)
{
	if (map == NULL)
		return (0);
	sni_check(map);
	return (map->nents);
}
