/*
 * NAME
 *	fuzz_sni - libFuzzer harness for tls_server_sni_maps
 * DESCRIPTION
 *	The input has three parts separated by NUL bytes:
 *
 *	    SPEC \0 TEXTHASH-FILE \0 NAME \n NAME \n ...
 *
 *	SPEC runs to the first NUL, the NAMEs follow the last one, and
 *	TEXTHASH-FILE is everything between (so it may hold NULs too);
 *	with a single NUL, the file is the rest and there are no names.
 *
 *	SPEC is the parameter value given to sni_map_parse(). Every
 *	"texthash:" in it must be followed by "@" and then a separator or
 *	the end; "@" stands for a scratch file holding TEXTHASH-FILE (an
 *	in-memory file with the same path on every run). "texthash:"
 *	followed directly by a separator or the end (no file name) is
 *	kept as it is. Other inputs are rejected, so the parser never
 *	opens a file the input names. The NAMEs are then looked up.
 *
 *	Checked: a failure gives a reason; the distinct values come out
 *	sorted, unique and normalized (files separated by single
 *	spaces); a lookup returns one of those values, and the same
 *	answer for the name in upper case and with a trailing dot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sni_map.h"

#define FUZZ_SNI_MAX	(256 * 1024)	/* input bytes */
#define FUZZ_SNI_LOOKUPS 64		/* names looked up per input */

/*
 * build_spec - SPEC with each "texthash:@" made "texthash:PATH"; NULL
 * (reject the input) for a texthash: table that names its own file.
 * *uses_file says whether the scratch file is needed.
 */
static char *
build_spec(const char *spec, const char *path, int *uses_file)
{
	static const char key[] = "texthash:";
	const char *p, *hit;
	size_t	 n = 0, plen = strlen(path);
	char	*out, c;

	*uses_file = 0;
	for (p = spec; (hit = strstr(p, key)) != NULL; p = hit + sizeof(key) - 1) {
		c = hit[sizeof(key) - 1];
		if (c == '@') {
			c = hit[sizeof(key)];
			n++;
		}
		if (c != '\0' && strchr(" \t\n\r\v\f,", c) == NULL)
			return (NULL);
	}
	if ((out = malloc(strlen(spec) + n * plen + 1)) == NULL)
		abort();
	out[0] = '\0';
	for (p = spec; (hit = strstr(p, key)) != NULL; p = hit + sizeof(key) - 1) {
		strncat(out, p, (size_t)(hit - p) + sizeof(key) - 1);
		if (hit[sizeof(key) - 1] == '@') {
			strcat(out, path);
			*uses_file = 1;
			hit++;			/* past the '@' */
		}
	}
	strcat(out, p);
	return (out);
}

/* check_value - single-spaced list of non-empty file names */
static void
check_value(const char *v)
{
	const char *s;

	FUZZ_CHECK(v[0] != '\0' && v[0] != ' ');
	for (s = v; *s != '\0'; s++) {
		FUZZ_CHECK(*s != ',' && *s != '\t' && *s != '\n' && *s != '\r' &&
		    *s != '\v' && *s != '\f');
		if (*s == ' ')
			FUZZ_CHECK(s[1] != ' ' && s[1] != '\0');
	}
}

/* is_value - v equals one of the map's distinct values */
static int
is_value(const struct sni_map *m, const char *v)
{
	const char *x;
	size_t	 i;

	for (i = 0; (x = sni_map_value(m, i)) != NULL; i++)
		if (strcmp(x, v) == 0)
			return (1);
	return (0);
}

static void
check_lookup(const struct sni_map *m, const char *name)
{
	const char *r, *r2;
	char	*alt;
	size_t	 i, len = strlen(name);

	r = sni_map_lookup(m, name);
	if (r != NULL)
		FUZZ_CHECK(is_value(m, r));

	/* ASCII case does not matter. */
	if ((alt = malloc(len + 2)) == NULL)
		abort();
	for (i = 0; i <= len; i++)
		alt[i] = name[i] >= 'a' && name[i] <= 'z' ?
		    (char)(name[i] - 'a' + 'A') : name[i];
	r2 = sni_map_lookup(m, alt);
	FUZZ_CHECK(r == r2 || (r != NULL && r2 != NULL && strcmp(r, r2) == 0));

	/* One trailing dot does not matter either. */
	if (len > 0 && name[len - 1] != '.') {
		memcpy(alt, name, len);
		alt[len] = '.';
		alt[len + 1] = '\0';
		r2 = sni_map_lookup(m, alt);
		FUZZ_CHECK(r == r2 ||
		    (r != NULL && r2 != NULL && strcmp(r, r2) == 0));
	}
	free(alt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_map *m;
	const char *path, *v, *prev;
	const uint8_t *file, *last;
	char	*spec, *full, *names, *name, *save, err[512];
	size_t	 off = 0, flen, i, nvals;
	int	 uses_file;

	if (size > FUZZ_SNI_MAX)
		return (-1);
	spec = fuzz_field(data, size, &off, '\0');
	file = data + (off < size ? off : size);
	flen = off < size ? size - off : 0;
	last = flen > 0 ? memrchr(file, '\0', flen) : NULL;
	if (last != NULL) {
		off = (size_t)(last - data) + 1;
		flen = (size_t)(last - file);
	} else {
		off = size;
	}
	names = fuzz_field(data, size, &off, '\0');

	path = fuzz_scratch_path("sni");
	if ((full = build_spec(spec, path, &uses_file)) == NULL) {
		free(spec);
		free(names);
		return (-1);
	}
	if (uses_file)
		fuzz_scratch_write(file, flen);

	err[0] = '\0';
	m = sni_map_parse(full, err, sizeof(err));
	if (m == NULL) {
		FUZZ_CHECK(err[0] != '\0');
		goto done;
	}

	/* Distinct values: sorted, unique, normalized; no more than names. */
	prev = NULL;
	for (nvals = 0; (v = sni_map_value(m, nvals)) != NULL; nvals++) {
		check_value(v);
		if (prev != NULL)
			FUZZ_CHECK(strcmp(prev, v) < 0);
		prev = v;
	}
	FUZZ_CHECK(nvals <= sni_map_count(m));
	FUZZ_CHECK((nvals == 0) == (sni_map_count(m) == 0));

	FUZZ_CHECK(sni_map_lookup(m, NULL) == NULL);
	FUZZ_CHECK(sni_map_lookup(m, "") == NULL);
	for (i = 0, name = strtok_r(names, "\n", &save);
	    name != NULL && i < FUZZ_SNI_LOOKUPS;
	    i++, name = strtok_r(NULL, "\n", &save))
		check_lookup(m, name);
	sni_map_free(m);
done:
	free(full);
	free(spec);
	free(names);
	return (0);
}
