/*
 * NAME
 *	test_attr - unit tests for the attr0 record codec
 * DESCRIPTION
 *	Round-trips every captured single record byte for byte, parses the
 *	request prefixes of two whole captured sessions (and checks that
 *	the descriptor byte after them is left alone), feeds records one
 *	byte at a time, and exercises the bounds, the strict number reader
 *	and the lenient schema matcher, including the exact error texts.
 *
 *	The captures are read from $SHARED_DIR/vectors (see unit.h).
 * DIAGNOSTICS
 *	Exit status is the number of failed assertions (0 = pass).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "unit.h"

struct test_buf {
	unsigned char	*p;
	size_t		 len;
};

static const char *test_records[] = {
	"announce", "server-request", "status-ok", "status-unavailable",
	"client-request", "client-props-encrypt", "client-props-fingerprint",
	"client-props-verify", "context-untrusted", "context-verified",
	NULL
};

/* The Q1 schema of §6.2, as the handoff code will use it. */
struct test_q1 {
	const char	*endpoint;
	unsigned int	 flags;
	unsigned int	 timeout1;
	unsigned int	 timeout2;
	const char	*serverid;
};

#define TEST_Q1_WANT(q) {						\
	{ "remote_endpoint", ATTR_TYPE_STR, &(q).endpoint },		\
	{ "flags", ATTR_TYPE_UINT, &(q).flags },			\
	{ "timeout", ATTR_TYPE_UINT, &(q).timeout1 },			\
	{ "timeout", ATTR_TYPE_UINT, &(q).timeout2 },			\
	{ "serverid", ATTR_TYPE_STR, &(q).serverid },			\
}

/* test_load - read a vector file; a missing file fails the test */
static int
test_load(const char *rel, struct test_buf *b)
{
	char	 path[1024];
	FILE	*fp;
	long	 sz;

	b->p = NULL;
	b->len = 0;
	(void)snprintf(path, sizeof(path), "%s/vectors/%s", shared_dir(), rel);
	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return (-1);
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 ||
	    (b->p = malloc((size_t)sz + 1)) == NULL ||
	    fread(b->p, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		free(b->p);
		b->p = NULL;
		return (-1);
	}
	fclose(fp);
	b->len = (size_t)sz;
	return (0);
}

static int
test_load_record(const char *name, struct test_buf *b)
{
	char	 rel[256];

	(void)snprintf(rel, sizeof(rel), "records/%s.bin", name);
	return (test_load(rel, b));
}

/* test_rec - build a record from a name=value list (NULL-terminated) */
static void
test_rec(struct attr_rec *rec, const char *const *nv)
{
	attr_rec_init(rec);
	for (; nv[0] != NULL; nv += 2)
		CU_ASSERT_FATAL(attr_rec_add(rec, nv[0], nv[1]) == 0);
}

/* test_build - serialize a name=value list into fresh bytes */
static unsigned char *
test_build(const char *const *nv, size_t *len)
{
	struct attr_rec rec;
	unsigned char *out;
	long	 n;

	test_rec(&rec, nv);
	*len = attr_encoded_len(&rec);
	out = malloc(*len);
	CU_ASSERT_FATAL(out != NULL);
	n = attr_encode(&rec, out, *len);
	CU_ASSERT_FATAL(n >= 0 && (size_t)n == *len);
	attr_rec_free(&rec);
	return (out);
}

/* Every captured record decodes whole and re-encodes to the same bytes. */
static void
test_roundtrip_vectors(void)
{
	const char **name;
	struct test_buf b;
	struct attr_rec rec;
	unsigned char *out;
	size_t	 used;
	long	 n;
	char	 err[256];

	for (name = test_records; *name != NULL; name++) {
		CU_ASSERT_FATAL(test_load_record(*name, &b) == 0);
		attr_rec_init(&rec);
		used = 0;
		CU_ASSERT(attr_decode(b.p, b.len, &rec, &used,
		    err, sizeof(err)) == 1);
		CU_ASSERT(used == b.len);
		CU_ASSERT(rec.n > 0);
		CU_ASSERT(attr_encoded_len(&rec) == b.len);
		out = malloc(b.len);
		CU_ASSERT_FATAL(out != NULL);
		n = attr_encode(&rec, out, b.len);
		CU_ASSERT(n == (long)b.len);
		CU_ASSERT(memcmp(out, b.p, b.len) == 0);
		/* One byte short must be refused, not truncated. */
		CU_ASSERT(attr_encode(&rec, out, b.len - 1) == -1);
		free(out);
		attr_rec_free(&rec);
		CU_ASSERT(rec.n == 0 && rec.v == NULL);
		free(b.p);
	}
}

/* Attribute counts of the captures, as listed by records.txt. */
static void
test_vector_counts(void)
{
	static const struct {
		const char	*name;
		size_t		 n;
	} want[] = {
		{ "announce", 1 }, { "server-request", 5 }, { "status-ok", 1 },
		{ "client-request", 5 }, { "client-props-encrypt", 48 },
		{ "client-props-fingerprint", 58 },
		{ "client-props-verify", 49 }, { "context-untrusted", 22 },
		{ "context-verified", 22 },
	};
	struct test_buf b;
	struct attr_rec rec;
	size_t	 i, used;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_FATAL(test_load_record(want[i].name, &b) == 0);
		attr_rec_init(&rec);
		CU_ASSERT(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
		CU_ASSERT(rec.n == want[i].n);
		attr_rec_free(&rec);
		free(b.p);
	}
}

/*
 * The descriptor-carrier byte is a lone NUL. attr_decode() has no way
 * to tell it from an empty record (terminator only), so it decodes as
 * exactly that: an empty record of 1 byte. Callers must therefore
 * never hand that byte to the decoder; it is read together with its
 * SCM_RIGHTS message instead.
 */
static void
test_fd_carrier(void)
{
	struct test_buf b;
	struct attr_rec rec;
	size_t	 used = 99;

	CU_ASSERT_FATAL(test_load_record("fd-carrier", &b) == 0);
	CU_ASSERT(b.len == 1 && b.p[0] == '\0');
	attr_rec_init(&rec);
	CU_ASSERT(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
	CU_ASSERT(used == 1);
	CU_ASSERT(rec.n == 0);
	CU_ASSERT(attr_encoded_len(&rec) == 1);
	attr_rec_free(&rec);
	/* Nothing at all is "need more", not an empty record. */
	used = 99;
	CU_ASSERT(attr_decode(b.p, 0, &rec, &used, NULL, 0) == 0);
	CU_ASSERT(used == 99);
	free(b.p);
}

/* Q1 of postscreen, read through the schema matcher. */
static void
test_server_request_fields(void)
{
	struct test_buf b;
	struct attr_rec rec;
	struct test_q1 q;
	struct attr_want want[] = TEST_Q1_WANT(q);
	size_t	 used, pos = 99;
	char	 err[256] = "";

	memset(&q, 0, sizeof(q));
	CU_ASSERT_FATAL(test_load_record("server-request", &b) == 0);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(attr_decode(b.p, b.len, &rec, &used, err,
	    sizeof(err)) == 1);
	CU_ASSERT(attr_expect(&rec, want, 5, &pos, err, sizeof(err)) == 0);
	CU_ASSERT(pos == 5);
	CU_ASSERT_STRING_EQUAL(q.endpoint, "[127.0.0.1]:35144");
	CU_ASSERT(q.flags == 1);
	CU_ASSERT(q.timeout1 == 300);
	CU_ASSERT(q.timeout2 == 300);
	CU_ASSERT_STRING_EQUAL(q.serverid, "smtpd");
	CU_ASSERT_STRING_EQUAL(attr_rec_get(&rec, "serverid"), "smtpd");
	CU_ASSERT(attr_rec_get(&rec, "nonesuch") == NULL);
	attr_rec_free(&rec);
	free(b.p);
}

/* Q1 of smtp: the two timeouts differ, so their order is visible. */
static void
test_client_request_fields(void)
{
	struct test_buf b;
	struct attr_rec rec;
	struct test_q1 q;
	struct attr_want want[] = TEST_Q1_WANT(q);
	size_t	 used;
	char	 err[256] = "";

	memset(&q, 0, sizeof(q));
	CU_ASSERT_FATAL(test_load_record("client-request", &b) == 0);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(attr_decode(b.p, b.len, &rec, &used, err,
	    sizeof(err)) == 1);
	CU_ASSERT(attr_expect(&rec, want, 5, NULL, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(q.endpoint, "[127.0.0.1]:2526");
	CU_ASSERT(q.flags == 6);
	CU_ASSERT(q.timeout1 == 300);
	CU_ASSERT(q.timeout2 == 600);
	CU_ASSERT_STRING_EQUAL(q.serverid, "smtp");
	/* attr_rec_get() returns the first of repeated names. */
	CU_ASSERT_STRING_EQUAL(attr_rec_get(&rec, "timeout"), "300");
	attr_rec_free(&rec);
	free(b.p);
}

/* "config_name\0\0" is an empty value, not the end of the record. */
static void
test_empty_value(void)
{
	struct test_buf b;
	struct attr_rec rec;
	const char *v;
	size_t	 used, i;

	CU_ASSERT_FATAL(test_load_record("client-props-encrypt", &b) == 0);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
	CU_ASSERT_STRING_EQUAL(attr_rec_get(&rec, "config_file"), "default");
	v = attr_rec_get(&rec, "config_name");
	CU_ASSERT_FATAL(v != NULL);
	CU_ASSERT_STRING_EQUAL(v, "");
	CU_ASSERT_STRING_EQUAL(rec.v[1].name, "config_name");
	CU_ASSERT(rec.v[1].vlen == 0);
	CU_ASSERT_STRING_EQUAL(rec.v[2].name, "tls_high_cipherlist");
	CU_ASSERT_STRING_EQUAL(rec.v[rec.n - 1].name, "dane");
	CU_ASSERT_STRING_EQUAL(rec.v[rec.n - 1].value, "0");
	for (i = 0; i < rec.n; i++)
		CU_ASSERT(strlen(rec.v[i].value) == rec.v[i].vlen);
	attr_rec_free(&rec);
	free(b.p);
}

/* The postscreen session: Q1 is 82 bytes; byte 82 is the fd carrier. */
static void
test_session_server_ok(void)
{
	struct test_buf b, q1;
	struct attr_rec rec;
	size_t	 used = 0;

	CU_ASSERT_FATAL(test_load("server-ok/request.bin", &b) == 0);
	CU_ASSERT_FATAL(test_load_record("server-request", &q1) == 0);
	CU_ASSERT_FATAL(b.len > 82);
	attr_rec_init(&rec);
	CU_ASSERT(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
	CU_ASSERT(used == 82);
	CU_ASSERT(rec.n == 5);
	CU_ASSERT(memcmp(b.p, q1.p, 82) == 0);
	CU_ASSERT(b.p[82] == '\0');	/* the descriptor byte, left alone */
	attr_rec_free(&rec);
	/* Exactly the prefix is also enough. */
	CU_ASSERT(attr_decode(b.p, 82, &rec, &used, NULL, 0) == 1);
	CU_ASSERT(used == 82);
	attr_rec_free(&rec);
	free(q1.p);
	free(b.p);
}

/* The smtp session: Q1 (80 bytes) and Q2 in one write, then the fd. */
static void
test_session_client_reuse(void)
{
	struct test_buf b, q1, q2;
	struct attr_rec rec;
	size_t	 used = 0, off;

	CU_ASSERT_FATAL(test_load("client-encrypt-reuse/request.bin", &b) == 0);
	CU_ASSERT_FATAL(test_load_record("client-request", &q1) == 0);
	CU_ASSERT_FATAL(test_load_record("client-props-encrypt", &q2) == 0);
	CU_ASSERT_FATAL(b.len > 1245);
	attr_rec_init(&rec);
	CU_ASSERT(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
	CU_ASSERT(used == 80);
	CU_ASSERT_STRING_EQUAL(attr_rec_get(&rec, "flags"), "6");
	attr_rec_free(&rec);
	off = used;
	CU_ASSERT(attr_decode(b.p + off, b.len - off, &rec, &used,
	    NULL, 0) == 1);
	off += used;
	CU_ASSERT(off == 1245);
	CU_ASSERT(rec.n == 48);
	CU_ASSERT_STRING_EQUAL(attr_rec_get(&rec, "namaddr"),
	    "127.0.0.1[127.0.0.1]:2526");
	CU_ASSERT(memcmp(b.p, q1.p, q1.len) == 0);
	CU_ASSERT(memcmp(b.p + q1.len, q2.p, q2.len) == 0);
	CU_ASSERT(b.p[1245] == '\0');	/* the descriptor byte */
	attr_rec_free(&rec);
	free(q2.p);
	free(q1.p);
	free(b.p);
}

/* Byte-by-byte arrival: "need more" until the very last byte. */
static void
test_incremental(void)
{
	const char **name;
	struct test_buf b;
	struct attr_rec rec;
	size_t	 k, used;
	int	 early = 0;

	for (name = test_records; *name != NULL; name++) {
		CU_ASSERT_FATAL(test_load_record(*name, &b) == 0);
		attr_rec_init(&rec);
		for (k = 0; k < b.len; k++) {
			used = 12345;
			if (attr_decode(b.p, k, &rec, &used, NULL, 0) != 0 ||
			    rec.n != 0 || used != 12345)
				early++;
		}
		CU_ASSERT(early == 0);
		CU_ASSERT(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
		CU_ASSERT(used == b.len);
		attr_rec_free(&rec);
		free(b.p);
	}
}

/*
 * Truncated input and a record without its terminator are "need more"
 * (0): the decoder cannot know more is not coming. The caller turns
 * that into an error at EOF.
 */
static void
test_truncated(void)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
	} cases[] = {
		{ "a", 1 },
		{ "a\0", 2 },
		{ "a\0b", 3 },
		{ "a\0b\0", 4 },		/* missing terminator */
		{ "a\0\0", 3 },			/* empty value, no terminator */
		{ "a\0b\0c", 5 },
		{ "a\0b\0c\0d\0", 8 },		/* missing terminator */
	};
	struct attr_rec rec;
	size_t	 i, used = 7;
	char	 err[128];

	attr_rec_init(&rec);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT(attr_decode((const unsigned char *)cases[i].bytes,
		    cases[i].len, &rec, &used, err, sizeof(err)) == 0);
		CU_ASSERT(rec.n == 0);
		CU_ASSERT(used == 7);
	}
	/* A complete record followed by more: only the record is taken. */
	CU_ASSERT(attr_decode((const unsigned char *)"a\0b\0\0XYZ", 8,
	    &rec, &used, err, sizeof(err)) == 1);
	CU_ASSERT(used == 5);
	CU_ASSERT(rec.n == 1);
	/* And the decoder refuses to append to a non-empty record. */
	CU_ASSERT(attr_decode((const unsigned char *)"c\0d\0\0", 5,
	    &rec, &used, err, sizeof(err)) == -1);
	CU_ASSERT(rec.n == 1);
	attr_rec_free(&rec);
}

/* Name bound: 256 bytes is fine, the 257th non-NUL byte is rejected. */
static void
test_name_too_long(void)
{
	unsigned char buf[ATTR_NAME_MAX + 16];
	struct attr_rec rec;
	size_t	 used;
	char	 err[128] = "";

	attr_rec_init(&rec);
	memset(buf, 'n', sizeof(buf));
	/* At the limit, no NUL yet: still waiting. */
	CU_ASSERT(attr_decode(buf, ATTR_NAME_MAX, &rec, &used,
	    err, sizeof(err)) == 0);
	/* One more byte and no NUL: reject without waiting for it. */
	CU_ASSERT(attr_decode(buf, ATTR_NAME_MAX + 1, &rec, &used,
	    err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "attribute name too long (more than 256 bytes)");
	CU_ASSERT(rec.n == 0);
	/* A name of exactly ATTR_NAME_MAX bytes is accepted. */
	buf[ATTR_NAME_MAX] = '\0';
	buf[ATTR_NAME_MAX + 1] = 'v';
	buf[ATTR_NAME_MAX + 2] = '\0';
	buf[ATTR_NAME_MAX + 3] = '\0';
	CU_ASSERT(attr_decode(buf, ATTR_NAME_MAX + 4, &rec, &used,
	    err, sizeof(err)) == 1);
	CU_ASSERT(used == ATTR_NAME_MAX + 4);
	CU_ASSERT(rec.n == 1 && strlen(rec.v[0].name) == ATTR_NAME_MAX);
	attr_rec_free(&rec);
	/* A complete but oversized name is rejected too. */
	memset(buf, 'n', sizeof(buf));
	buf[ATTR_NAME_MAX + 1] = '\0';
	CU_ASSERT(attr_decode(buf, ATTR_NAME_MAX + 2, &rec, &used,
	    err, sizeof(err)) == -1);
	/* A tiny error buffer truncates but does not overflow. */
	memset(err, 'X', sizeof(err));
	CU_ASSERT(attr_decode(buf, ATTR_NAME_MAX + 2, &rec, &used,
	    err, 5) == -1);
	CU_ASSERT_STRING_EQUAL(err, "attr");
	CU_ASSERT(err[5] == 'X');
}

/* Value bound, with the attribute named (escaped) in the message. */
static void
test_value_too_long(void)
{
	size_t	 vmax = ATTR_VALUE_MAX, used;
	unsigned char *buf;
	struct attr_rec rec;
	char	 err[256] = "";

	buf = malloc(vmax + 16);
	CU_ASSERT_FATAL(buf != NULL);
	attr_rec_init(&rec);
	buf[0] = 'x';
	buf[1] = '\0';
	memset(buf + 2, 'v', vmax + 14);
	CU_ASSERT(attr_decode(buf, 2 + vmax, &rec, &used,
	    err, sizeof(err)) == 0);
	CU_ASSERT(attr_decode(buf, 2 + vmax + 1, &rec, &used,
	    err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "attribute value of \"x\" too long (more than 65536 bytes)");
	CU_ASSERT(rec.n == 0);
	/* Exactly ATTR_VALUE_MAX bytes is fine. */
	buf[2 + vmax] = '\0';
	buf[2 + vmax + 1] = '\0';
	CU_ASSERT(attr_decode(buf, 2 + vmax + 2, &rec, &used,
	    err, sizeof(err)) == 1);
	CU_ASSERT(used == 2 + vmax + 2);
	CU_ASSERT(rec.n == 1 && rec.v[0].vlen == vmax);
	attr_rec_free(&rec);
	/* A hostile name is escaped in the message. */
	buf[0] = '\n';
	buf[2 + vmax] = 'v';
	CU_ASSERT(attr_decode(buf, 2 + vmax + 1, &rec, &used,
	    err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "attribute value of \"\\x0a\" too long (more than 65536 bytes)");
	free(buf);
}

/* Count bound: ATTR_COUNT_MAX pairs pass, one more name is refused. */
static void
test_too_many(void)
{
	size_t	 len = (size_t)(ATTR_COUNT_MAX + 1) * 4 + 1, used, i;
	unsigned char *buf;
	struct attr_rec rec;
	char	 err[128] = "";

	CU_ASSERT_FATAL((buf = malloc(len)) != NULL);
	for (i = 0; i <= ATTR_COUNT_MAX; i++)
		memcpy(buf + i * 4, "a\0b\0", 4);
	buf[len - 1] = '\0';
	attr_rec_init(&rec);
	/* ATTR_COUNT_MAX pairs plus terminator. */
	buf[ATTR_COUNT_MAX * 4] = '\0';
	CU_ASSERT(attr_decode(buf, ATTR_COUNT_MAX * 4 + 1, &rec, &used,
	    err, sizeof(err)) == 1);
	CU_ASSERT(rec.n == ATTR_COUNT_MAX);
	CU_ASSERT(used == ATTR_COUNT_MAX * 4 + 1);
	attr_rec_free(&rec);
	/* The first byte of name ATTR_COUNT_MAX + 1 is already too many. */
	buf[ATTR_COUNT_MAX * 4] = 'a';
	CU_ASSERT(attr_decode(buf, ATTR_COUNT_MAX * 4 + 1, &rec, &used,
	    err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "too many attributes (more than 1024)");
	CU_ASSERT(attr_decode(buf, len, &rec, &used,
	    err, sizeof(err)) == -1);
	CU_ASSERT(rec.n == 0);
	free(buf);
}

static void
test_parse_uint(void)
{
	static const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "0x10", "4294967296",
		"99999999999999999999", "1.0", "\t7", "-0",
	};
	unsigned int u;
	size_t	 i;

	CU_ASSERT(attr_parse_uint("0", &u) == 0 && u == 0);
	CU_ASSERT(attr_parse_uint("300", &u) == 0 && u == 300);
	CU_ASSERT(attr_parse_uint("007", &u) == 0 && u == 7);
	CU_ASSERT(attr_parse_uint("4294967295", &u) == 0 && u == 4294967295U);
	CU_ASSERT(attr_parse_uint("4294967290", &u) == 0 && u == 4294967290U);
	CU_ASSERT(attr_parse_uint(NULL, &u) == -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		u = 42;
		CU_ASSERT(attr_parse_uint(bad[i], &u) == -1);
		CU_ASSERT(u == 42);
	}
}

/* Run the Q1 schema over a hand-made record; return attr_expect(). */
static int
test_q1_expect(const char *const *nv, struct test_q1 *q, size_t *pos,
    char *err, size_t errlen)
{
	struct attr_want want[] = TEST_Q1_WANT(*q);
	struct attr_rec rec, back;
	unsigned char *bytes;
	size_t	 len, used;
	int	 r;

	/* Go through the wire form so the decoder is in the loop too. */
	bytes = test_build(nv, &len);
	attr_rec_init(&back);
	CU_ASSERT_FATAL(attr_decode(bytes, len, &back, &used, NULL, 0) == 1);
	CU_ASSERT(used == len);
	test_rec(&rec, nv);
	CU_ASSERT(back.n == rec.n);
	attr_rec_free(&rec);
	memset(q, 0, sizeof(*q));
	err[0] = '\0';
	r = attr_expect(&back, want, 5, pos, err, errlen);
	/* Borrowed strings die with the record: copy-check here. */
	if (r == 0) {
		CU_ASSERT(q->endpoint != NULL && q->serverid != NULL);
	}
	attr_rec_free(&back);
	free(bytes);
	return (r);
}

static void
test_expect_wrong_order(void)
{
	static const char *const nv[] = {
		"flags", "1", "remote_endpoint", "[127.0.0.1]:35144",
		"timeout", "300", "timeout", "300", "serverid", "smtpd", NULL,
	};
	struct test_q1 q;
	char	 err[256];

	CU_ASSERT(test_q1_expect(nv, &q, NULL, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "unexpected attribute flags (expecting: remote_endpoint)");
}

static void
test_expect_missing(void)
{
	static const char *const no_serverid[] = {
		"remote_endpoint", "[127.0.0.1]:35144", "flags", "1",
		"timeout", "300", "timeout", "300", NULL,
	};
	static const char *const one_timeout[] = {
		"remote_endpoint", "[127.0.0.1]:35144", "flags", "1",
		"timeout", "300", "serverid", "smtpd", NULL,
	};
	static const char *const empty[] = { NULL };
	struct test_q1 q;
	char	 err[256];

	CU_ASSERT(test_q1_expect(no_serverid, &q, NULL, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute serverid");
	/* Postfix would report the same: serverid comes too early. */
	CU_ASSERT(test_q1_expect(one_timeout, &q, NULL, err,
	    sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "unexpected attribute serverid (expecting: timeout)");
	CU_ASSERT(test_q1_expect(empty, &q, NULL, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute remote_endpoint");
}

static void
test_expect_malformed(void)
{
	static const struct {
		const char	*flags;
		const char	*msg;
	} cases[] = {
		{ "1x", "malformed numerical data for flags: 1x" },
		{ "-1", "malformed numerical data for flags: -1" },
		{ "+1", "malformed numerical data for flags: +1" },
		{ "", "malformed numerical data for flags: " },
		{ "4294967296",
		    "malformed numerical data for flags: 4294967296" },
		{ "1\r\n", "malformed numerical data for flags: 1\\x0d\\x0a" },
	};
	const char *nv[] = {
		"remote_endpoint", "[127.0.0.1]:35144", "flags", NULL,
		"timeout", "300", "timeout", "300", "serverid", "smtpd", NULL,
	};
	char	 longv[300], expect[128], err[256];
	struct test_q1 q;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nv[3] = cases[i].flags;
		CU_ASSERT(test_q1_expect(nv, &q, NULL, err,
		    sizeof(err)) == -1);
		CU_ASSERT_STRING_EQUAL(err, cases[i].msg);
	}
	/* A long value is cut short in the message. */
	memset(longv, '9', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[0] = 'z';
	nv[3] = longv;
	CU_ASSERT(test_q1_expect(nv, &q, NULL, err, sizeof(err)) == -1);
	(void)snprintf(expect, sizeof(expect),
	    "malformed numerical data for flags: %.64s...", longv);
	CU_ASSERT_STRING_EQUAL(err, expect);
	/* And a bad second timeout is reported under its own name. */
	nv[3] = "1";
	nv[7] = "0x12c";
	CU_ASSERT(test_q1_expect(nv, &q, NULL, err, sizeof(err)) == -1);
	CU_ASSERT_STRING_EQUAL(err,
	    "malformed numerical data for timeout: 0x12c");
}

/*
 * Lenient reading: attributes the schema does not know (a newer
 * client's additions) are skipped wherever they appear, and so is a
 * repeat of a name the schema only wanted earlier.
 */
static void
test_expect_unknown_tolerated(void)
{
	static const char *const nv[] = {
		"probe_extra", "x",
		"remote_endpoint", "[::1]:25",
		"flags", "1",
		"trace_size_limit", "0",
		"flags", "9",			/* only wanted earlier: skipped */
		"timeout", "5",
		"enable_rpk", "",
		"timeout", "6",
		"serverid", "postscreen",
		"log_level", "1",		/* after the last wanted one */
		NULL,
	};
	struct test_q1 q;
	size_t	 pos = 0;
	char	 err[256];

	CU_ASSERT(test_q1_expect(nv, &q, &pos, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT(q.flags == 1);
	CU_ASSERT(q.timeout1 == 5);
	CU_ASSERT(q.timeout2 == 6);
	/* Index just after serverid; log_level is left to the caller. */
	CU_ASSERT(pos == 9);
}

/* pos_out lets a caller continue with the next group of a record. */
static void
test_expect_groups(void)
{
	struct test_buf b;
	struct attr_rec rec, rest;
	const char *mdalg = NULL, *argv0 = NULL, *mdalg2 = NULL;
	unsigned int argc = 99, level = 0, dane = 99;
	struct attr_want head[] = {
		{ "config_file", ATTR_TYPE_STR, NULL },
		{ "mdalg", ATTR_TYPE_STR, &mdalg },
		{ "timeout", ATTR_TYPE_UINT, NULL },
		{ "tls_level", ATTR_TYPE_UINT, &level },
		{ "argv_size", ATTR_TYPE_UINT, &argc },
	};
	struct attr_want list[] = {
		{ "argv_value", ATTR_TYPE_STR, &argv0 },
	};
	struct attr_want tail[] = {
		{ "mdalg", ATTR_TYPE_STR, &mdalg2 },
		{ "dane", ATTR_TYPE_UINT, &dane },
	};
	size_t	 used, pos = 0, pos2 = 0;
	char	 err[256] = "";

	CU_ASSERT_FATAL(test_load_record("client-props-verify", &b) == 0);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(attr_decode(b.p, b.len, &rec, &used, NULL, 0) == 1);
	CU_ASSERT(attr_expect(&rec, head, 5, &pos, err, sizeof(err)) == 0);
	CU_ASSERT(level == 7);
	CU_ASSERT(argc == 1);
	CU_ASSERT_STRING_EQUAL(mdalg, "sha256");
	rest.v = rec.v + pos;
	rest.n = rec.n - pos;
	rest.cap = 0;
	CU_ASSERT(attr_expect(&rest, list, 1, &pos2, err, sizeof(err)) == 0);
	CU_ASSERT(pos2 == 1);
	CU_ASSERT_STRING_EQUAL(argv0, "hostname");
	rest.v += pos2;
	rest.n -= pos2;
	CU_ASSERT(attr_expect(&rest, tail, 2, &pos2, err, sizeof(err)) == 0);
	CU_ASSERT(dane == 0);
	CU_ASSERT(pos2 == rest.n);
	CU_ASSERT_STRING_EQUAL(mdalg2, "sha256");
	/* Nothing wanted: trivially fine, position 0. */
	CU_ASSERT(attr_expect(&rec, NULL, 0, &pos2, err, sizeof(err)) == 0);
	CU_ASSERT(pos2 == 0);
	attr_rec_free(&rec);
	free(b.p);
}

/* What we send: R1 and R2 must match the captures byte for byte. */
static void
test_encode_replies(void)
{
	static const struct {
		const char	*file;
		const char	*name;
		const char	*sval;
		unsigned int	 uval;
	} cases[] = {
		{ "announce", "protocol", "tlsproxy_protocol", 0 },
		{ "status-ok", "status", NULL, 1 },
		{ "status-unavailable", "status", NULL, 0 },
	};
	unsigned char out[64];
	struct test_buf b;
	struct attr_rec rec;
	size_t	 i;
	long	 n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_FATAL(test_load_record(cases[i].file, &b) == 0);
		attr_rec_init(&rec);
		if (cases[i].sval != NULL) {
			CU_ASSERT(attr_rec_add(&rec, cases[i].name,
			    cases[i].sval) == 0);
		} else {
			CU_ASSERT(attr_rec_add_uint(&rec, cases[i].name,
			    cases[i].uval) == 0);
		}
		CU_ASSERT(attr_encoded_len(&rec) == b.len);
		n = attr_encode(&rec, out, sizeof(out));
		CU_ASSERT(n == (long)b.len);
		CU_ASSERT(n > 0 && memcmp(out, b.p, b.len) == 0);
		attr_rec_free(&rec);
		free(b.p);
	}
}

/* Builder edge cases: empty values, big numbers, empty names refused. */
static void
test_encode_misc(void)
{
	static const unsigned char want[] =
	    "a\0\0" "n\0" "4294967295\0" "z\0" "0\0";	/* + final NUL */
	unsigned char out[64];
	struct attr_rec rec;
	size_t	 i;
	long	 n;

	attr_rec_init(&rec);
	CU_ASSERT(attr_encoded_len(&rec) == 1);
	CU_ASSERT(attr_encode(&rec, out, 1) == 1 && out[0] == '\0');
	CU_ASSERT(attr_encode(&rec, out, 0) == -1);
	CU_ASSERT(attr_rec_add(&rec, "a", "") == 0);
	CU_ASSERT(attr_rec_add_uint(&rec, "n", 4294967295U) == 0);
	CU_ASSERT(attr_rec_add_uint(&rec, "z", 0) == 0);
	CU_ASSERT(attr_rec_add(&rec, "", "x") == -1);
	CU_ASSERT(attr_rec_add(&rec, NULL, "x") == -1);
	CU_ASSERT(rec.n == 3);
	n = attr_encode(&rec, out, sizeof(out));
	CU_ASSERT(n == (long)sizeof(want));
	CU_ASSERT(memcmp(out, want, sizeof(want)) == 0);
	attr_rec_free(&rec);
	/* Growth past the first allocation keeps earlier entries intact. */
	for (i = 0; i < 100; i++)
		CU_ASSERT_FATAL(attr_rec_add_uint(&rec, "i",
		    (unsigned int)i) == 0);
	CU_ASSERT(rec.n == 100 && rec.cap >= 100);
	CU_ASSERT_STRING_EQUAL(rec.v[0].value, "0");
	CU_ASSERT_STRING_EQUAL(rec.v[99].value, "99");
	attr_rec_free(&rec);
	attr_rec_free(NULL);
	/* Free leaves an empty, reusable record. */
	CU_ASSERT(rec.n == 0 && rec.cap == 0 && rec.v == NULL);
	CU_ASSERT(attr_rec_add(&rec, "k", "v") == 0);
	attr_rec_free(&rec);
}

static const struct unit_test tests[] = {
	{ "round-trip every record vector", test_roundtrip_vectors },
	{ "attribute counts of the vectors", test_vector_counts },
	{ "fd-carrier byte decodes as an empty record", test_fd_carrier },
	{ "server request fields via attr_expect",
	    test_server_request_fields },
	{ "client request fields and timeout order",
	    test_client_request_fields },
	{ "empty value config_name", test_empty_value },
	{ "server-ok request prefix, fd byte untouched",
	    test_session_server_ok },
	{ "client-encrypt-reuse Q1+Q2 end at 1245",
	    test_session_client_reuse },
	{ "byte-by-byte arrival", test_incremental },
	{ "truncated and unterminated records", test_truncated },
	{ "oversized name", test_name_too_long },
	{ "oversized value", test_value_too_long },
	{ "too many attributes", test_too_many },
	{ "attr_parse_uint", test_parse_uint },
	{ "expect: wrong order", test_expect_wrong_order },
	{ "expect: missing attribute", test_expect_missing },
	{ "expect: malformed numbers", test_expect_malformed },
	{ "expect: unknown attributes tolerated",
	    test_expect_unknown_tolerated },
	{ "expect: group by group with pos_out", test_expect_groups },
	{ "encode R1 and R2 like the captures", test_encode_replies },
	{ "encode edge cases", test_encode_misc },
	{ NULL, NULL },
};

int
main(void)
{
	return (unit_run("attr", tests, NULL, NULL));
}
