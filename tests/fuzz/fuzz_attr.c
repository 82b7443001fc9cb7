/*
 * NAME
 *	fuzz_attr - libFuzzer harness for the attribute record codec
 * DESCRIPTION
 *	The input is a byte stream as a handoff peer would send it. It is
 *	decoded record after record with attr_decode(), and each outcome
 *	is checked against the contract in attr.h:
 *
 *	- a complete record re-encodes byte-exactly to the bytes it was
 *	  decoded from (attr_encode(), attr_encoded_len(), and a copy
 *	  rebuilt with attr_rec_add()), one byte less of output space is
 *	  refused, and every shorter prefix asks for more input;
 *	- "need more" and "malformed" leave the record empty, and a
 *	  reason is always given, in printable ASCII only (it is logged);
 *	- attr_parse_uint() agrees with a plain reference reader;
 *	- attr_rec_get() finds the first occurrence of a name;
 *	- attr_expect() accepts the record's own name list as a schema,
 *	  and its positional rules are exercised with the Postfix
 *	  request and reply schemas and with a subset of the names.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "fuzz_util.h"

#define FUZZ_ATTR_MAXREC	32	/* records decoded from one input */
#define FUZZ_ATTR_MAXGET	64	/* names checked with attr_rec_get() */

/* ref_uint - reference "%u" reader: digits only, no sign, fits 32 bits */
static int
ref_uint(const char *s, unsigned int *out)
{
	unsigned long long acc = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		acc = acc * 10 + (unsigned long long)(*s - '0');
		if (acc > UINT_MAX)
			return (-1);
	}
	*out = (unsigned int)acc;
	return (0);
}

/* check_roundtrip - the record encodes back to wire[0..used) */
static void
check_roundtrip(const struct attr_rec *rec, const uint8_t *wire, size_t used)
{
	struct attr_rec copy;
	unsigned char *out;
	size_t	 i;
	long	 n;

	FUZZ_CHECK(attr_encoded_len(rec) == used);
	if ((out = malloc(used)) == NULL)
		abort();
	n = attr_encode(rec, out, used);
	FUZZ_CHECK(n >= 0 && (size_t)n == used);
	FUZZ_CHECK(memcmp(out, wire, used) == 0);
	FUZZ_CHECK(attr_encode(rec, out, used - 1) == -1);

	/* The same record built through the public constructor. */
	attr_rec_init(&copy);
	for (i = 0; i < rec->n; i++) {
		FUZZ_CHECK(rec->v[i].name[0] != '\0');
		FUZZ_CHECK(strlen(rec->v[i].name) <= ATTR_NAME_MAX);
		FUZZ_CHECK(strlen(rec->v[i].value) == rec->v[i].vlen);
		FUZZ_CHECK(rec->v[i].vlen <= ATTR_VALUE_MAX);
		FUZZ_CHECK(attr_rec_add(&copy, rec->v[i].name,
		    rec->v[i].value) == 0);
	}
	FUZZ_CHECK(copy.n == rec->n);
	memset(out, 0xa5, used);
	n = attr_encode(&copy, out, used);
	FUZZ_CHECK(n >= 0 && (size_t)n == used);
	FUZZ_CHECK(memcmp(out, wire, used) == 0);
	attr_rec_free(&copy);
	free(out);
}

/* check_prefix - a strict prefix of a complete record is incomplete */
static void
check_prefix(const uint8_t *wire, size_t len)
{
	struct attr_rec rec;
	char	 err[256];
	size_t	 used = 12345;

	attr_rec_init(&rec);
	FUZZ_CHECK(attr_decode(wire, len, &rec, &used, err, sizeof(err)) == 0);
	FUZZ_CHECK(rec.n == 0 && rec.v == NULL);
	FUZZ_CHECK(used == 12345);
}

/* check_values - numbers and lookups */
static void
check_values(const struct attr_rec *rec)
{
	unsigned int a, b;
	const char *v;
	size_t	 i, j;
	int	 ra, rb;

	for (i = 0; i < rec->n; i++) {
		a = b = 0;
		ra = attr_parse_uint(rec->v[i].value, &a);
		rb = ref_uint(rec->v[i].value, &b);
		FUZZ_CHECK(ra == rb);
		FUZZ_CHECK(ra != 0 || a == b);
		FUZZ_CHECK(attr_parse_uint(rec->v[i].value, NULL) == ra);

		/* Lookups are linear: check the first few names only. */
		if (i >= FUZZ_ATTR_MAXGET)
			continue;
		v = attr_rec_get(rec, rec->v[i].name);
		for (j = 0; j < rec->n; j++)
			if (strcmp(rec->v[j].name, rec->v[i].name) == 0)
				break;
		FUZZ_CHECK(j <= i && v == rec->v[j].value);
	}
	FUZZ_CHECK(attr_rec_get(rec, "") == NULL);
}

/* check_expect - schema matching */
static void
check_expect(const struct attr_rec *rec, uint8_t sel)
{
	static const char *const names[] = {
		"remote_endpoint", "flags", "timeout", "timeout", "serverid",
	};
	struct attr_want *want;
	const char *s1 = NULL, *s2 = NULL, **strs;
	unsigned int u1 = 0, u2 = 0, u3 = 0, *nums;
	char	 err[200];
	size_t	 i, n, pos;
	int	 rc;

	/* The Postfix request schema (tlsproxy reads it this way). */
	{
		struct attr_want req[] = {
			{ names[0], ATTR_TYPE_STR, &s1 },
			{ names[1], ATTR_TYPE_UINT, &u1 },
			{ names[2], ATTR_TYPE_UINT, &u2 },
			{ names[3], ATTR_TYPE_UINT, &u3 },
			{ names[4], ATTR_TYPE_STR, &s2 },
		};
		err[0] = '\0';
		pos = 99999;
		rc = attr_expect(rec, req, 5, &pos, err, sizeof(err));
		if (rc == 0) {
			FUZZ_CHECK(pos >= 5 && pos <= rec->n);
			FUZZ_CHECK(s1 != NULL && s2 != NULL);
		} else {
			FUZZ_CHECK(rc == -1 && err[0] != '\0');
			FUZZ_CHECK(fuzz_printable(err));
			FUZZ_CHECK(pos == 99999);
		}
	}
	/* Reply side: one number; no destination pointers. */
	{
		struct attr_want st[] = { { "status", ATTR_TYPE_UINT, NULL } };
		err[0] = '\0';
		rc = attr_expect(rec, st, 1, NULL, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || (err[0] != '\0' && fuzz_printable(err)));
	}
	if (rec->n == 0) {
		FUZZ_CHECK(attr_expect(rec, NULL, 0, &pos, NULL, 0) == 0);
		FUZZ_CHECK(pos == 0);
		return;
	}

	/*
	 * The record's own names, in order, as the schema: always a
	 * match, ending after the last attribute; values land in place.
	 */
	want = calloc(rec->n, sizeof(*want));
	strs = calloc(rec->n, sizeof(*strs));
	nums = calloc(rec->n, sizeof(*nums));
	if (want == NULL || strs == NULL || nums == NULL)
		abort();
	for (i = 0; i < rec->n; i++) {
		want[i].name = rec->v[i].name;
		if (attr_parse_uint(rec->v[i].value, NULL) == 0 && (sel & 1)) {
			want[i].type = ATTR_TYPE_UINT;
			want[i].dst = &nums[i];
		} else {
			want[i].type = ATTR_TYPE_STR;
			want[i].dst = &strs[i];
		}
	}
	err[0] = '\0';
	rc = attr_expect(rec, want, rec->n, &pos, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "attr_expect: %s\n", err);
	FUZZ_CHECK(rc == 0 && pos == rec->n);
	for (i = 0; i < rec->n; i++) {
		if (want[i].type == ATTR_TYPE_STR) {
			FUZZ_CHECK(strs[i] == rec->v[i].value);
		} else {
			FUZZ_CHECK(attr_parse_uint(rec->v[i].value, &u1) == 0);
			FUZZ_CHECK(nums[i] == u1);
		}
	}

	/*
	 * A subset, chosen by the selector byte and every value as a
	 * number: no invariant beyond a well-formed answer, but it walks
	 * the skip / out-of-order / malformed-number paths. (The reason
	 * may quote a wanted name verbatim; here those come from the
	 * input, in tlsproxy they are constants, so it is not checked
	 * for printability.)
	 */
	for (i = 0, n = 0; i < rec->n; i++) {
		if (((sel >> (i % 8)) & 1) == 0)
			continue;
		want[n].name = rec->v[i].name;
		want[n].type = (sel & 0x80) ? ATTR_TYPE_UINT : ATTR_TYPE_STR;
		want[n].dst = (sel & 0x40) ? NULL : &nums[n];
		if (want[n].type == ATTR_TYPE_STR && want[n].dst != NULL)
			want[n].dst = &strs[n];
		n++;
	}
	err[0] = '\0';
	pos = 99999;
	rc = attr_expect(rec, want, n, &pos, err, sizeof(err));
	if (rc == 0)
		FUZZ_CHECK(pos <= rec->n);
	else
		FUZZ_CHECK(rc == -1 && err[0] != '\0' && pos == 99999);
	/* A tiny error buffer must still be NUL-terminated and not overrun. */
	if (rc == -1) {
		char small[5];

		memset(small, 'x', sizeof(small));
		(void)attr_expect(rec, want, n, NULL, small, sizeof(small));
		FUZZ_CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	}
	free(nums);
	free(strs);
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_rec rec;
	char	 err[256];
	size_t	 off = 0, used;
	int	 nrec, r;
	uint8_t	 sel;

	attr_rec_init(&rec);
	for (nrec = 0; nrec < FUZZ_ATTR_MAXREC && off <= size; nrec++) {
		err[0] = '\0';
		used = 0;
		r = attr_decode(data + off, size - off, &rec, &used, err,
		    sizeof(err));
		if (r == 0) {
			FUZZ_CHECK(rec.n == 0 && rec.v == NULL);
			break;
		}
		if (r == -1) {
			FUZZ_CHECK(rec.n == 0 && rec.v == NULL);
			FUZZ_CHECK(err[0] != '\0' && fuzz_printable(err));
			break;
		}
		FUZZ_CHECK(r == 1);
		FUZZ_CHECK(used >= 1 && used <= size - off);
		FUZZ_CHECK(data[off + used - 1] == '\0');
		FUZZ_CHECK(rec.n <= ATTR_COUNT_MAX);

		/* Decoding into a non-empty record is refused. */
		if (rec.n > 0) {
			size_t used2 = 777;

			FUZZ_CHECK(attr_decode(data + off, size - off, &rec,
			    &used2, err, sizeof(err)) == -1 && used2 == 777);
		}
		check_roundtrip(&rec, data + off, used);
		check_prefix(data + off, used - 1);
		if (used > 2)
			check_prefix(data + off, used / 2);
		check_values(&rec);
		sel = off + used < size ? data[off + used] : (uint8_t)used;
		check_expect(&rec, sel);
		attr_rec_free(&rec);
		FUZZ_CHECK(rec.n == 0 && rec.v == NULL);
		off += used;
	}
	attr_rec_free(&rec);
	return (0);
}
