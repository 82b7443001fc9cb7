/*
 * NAME
 *	test_sni - CUnit suite for the tls_server_sni_maps parser and lookup
 * DESCRIPTION
 *	texthash files (comments, continuation lines, mixed case, CRLF,
 *	duplicate names), inline tables (braced elements with commas,
 *	nested braces, whitespace around '='), several tables in order,
 *	the exact-then-parent lookup order, names that find nothing, the
 *	distinct values for preloading, every parse error with its
 *	message, and lookups from several threads at once.
 *
 *	Table files are written with mkstemp() under $TMPDIR (or /tmp)
 *	and removed by the test that made them.
 * DIAGNOSTICS
 *	Exit status is the number of failed assertions (0 = pass).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sni_map.h"
#include "unit.h"

#define TEST_PATH_MAX	4096

/* test_tmpfile - write LEN bytes of DATA to a new temp file; 0 or -1 */
static int
test_tmpfile(char *path, size_t pathlen, const char *data, size_t len)
{
	const char	*dir = getenv("TMPDIR");
	FILE		*fp;
	int		 fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	(void)snprintf(path, pathlen, "%s/test_sni.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1)
		return (-1);
	if ((fp = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		(void)unlink(path);
		return (-1);
	}
	if (fwrite(data, 1, len, fp) != len) {
		(void)fclose(fp);
		(void)unlink(path);
		return (-1);
	}
	return (fclose(fp) == 0 ? 0 : -1);
}

/* test_text - a texthash spec for a temp file holding TEXT */
static int
test_text(char *spec, size_t speclen, char *path, size_t pathlen,
    const char *text)
{
	if (test_tmpfile(path, pathlen, text, strlen(text)) == -1)
		return (-1);
	(void)snprintf(spec, speclen, "texthash:%s", path);
	return (0);
}

/* test_str_eq - NULL-safe string comparison for assertions */
static int
test_str_eq(const char *got, const char *want)
{
	if (got == NULL || want == NULL)
		return (got == want);
	return (strcmp(got, want) == 0);
}

/* TEST_FILE_FAILS - test_file_fails() for a literal, NUL bytes included */
#define TEST_FILE_FAILS(lit, want) \
	test_file_fails((lit), sizeof(lit) - 1, (want))

#define TEST_LOOKUP(m, name, want) \
	CU_ASSERT(test_str_eq(sni_map_lookup((m), (name)), (want)))

/* test_fails - SPEC must not parse and ERR must mention each of WANT */
static void
test_fails(const char *spec, const char *want1, const char *want2)
{
	struct sni_map	*m;
	char		 err[512];

	err[0] = '\0';
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NULL(m);
	sni_map_free(m);
	CU_ASSERT(want1 == NULL || strstr(err, want1) != NULL);
	CU_ASSERT(want2 == NULL || strstr(err, want2) != NULL);
	if ((want1 != NULL && strstr(err, want1) == NULL) ||
	    (want2 != NULL && strstr(err, want2) == NULL))
		fprintf(stderr, "\n  spec %.60s: got \"%s\"\n", spec, err);
}

/* test_file_fails - like test_fails() for a texthash file holding TEXT */
static void
test_file_fails(const char *text, size_t len, const char *want)
{
	char	 path[TEST_PATH_MAX], spec[TEST_PATH_MAX + 16];
	char	 where[TEST_PATH_MAX + 8];

	CU_ASSERT_FATAL(test_tmpfile(path, sizeof(path), text, len) == 0);
	(void)snprintf(spec, sizeof(spec), "texthash:%s", path);
	(void)snprintf(where, sizeof(where), "%s", path);
	test_fails(spec, where, want);
	(void)unlink(path);
}

static void
test_texthash(void)
{
	char		 path[TEST_PATH_MAX], spec[TEST_PATH_MAX + 16];
	char		 err[256];
	struct sni_map	*m;

	CU_ASSERT_FATAL(test_text(spec, sizeof(spec), path, sizeof(path),
	    "# SNI chains\n"
	    "\n"
	    "Mail.Example.COM   /etc/chains/rsa.pem,\n"
	    "\t/etc/chains/ecdsa.pem\n"
	    "   # a comment does not end the logical line\n"
	    "\n"
	    "    /etc/chains/ed25519.pem  \n"
	    ".Example.NET\t/etc/chains/Net.pem # not a comment\n"
	    "   \t \n"
	    "example.org /etc/chains/org.pem") == 0);	/* no final \n */
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 3);
	TEST_LOOKUP(m, "mail.example.com", "/etc/chains/rsa.pem "
	    "/etc/chains/ecdsa.pem /etc/chains/ed25519.pem");
	TEST_LOOKUP(m, "MAIL.EXAMPLE.com", "/etc/chains/rsa.pem "
	    "/etc/chains/ecdsa.pem /etc/chains/ed25519.pem");
	/* Values keep their case; a mid-line '#' is data. */
	TEST_LOOKUP(m, "smtp.example.net", "/etc/chains/Net.pem # not a "
	    "comment");
	TEST_LOOKUP(m, "example.net", NULL);
	TEST_LOOKUP(m, "Example.Org", "/etc/chains/org.pem");
	sni_map_free(m);
	(void)unlink(path);
}

static void
test_texthash_crlf_dups(void)
{
	char		 path[TEST_PATH_MAX], spec[TEST_PATH_MAX + 16];
	char		 err[256];
	struct sni_map	*m;

	/* Later duplicates are skipped, as postmap(1) documents. */
	CU_ASSERT_FATAL(test_text(spec, sizeof(spec), path, sizeof(path),
	    "example.com /first.pem\r\n"
	    "\t/first2.pem\r\n"
	    "EXAMPLE.com /second.pem\r\n"
	    "other.com /other.pem\r\n") == 0);
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 2);
	TEST_LOOKUP(m, "example.com", "/first.pem /first2.pem");
	TEST_LOOKUP(m, "other.com", "/other.pem");
	/* The shadowed value is never used, so it is not preloaded. */
	CU_ASSERT(test_str_eq(sni_map_value(m, 0), "/first.pem /first2.pem"));
	CU_ASSERT(test_str_eq(sni_map_value(m, 1), "/other.pem"));
	CU_ASSERT_PTR_NULL(sni_map_value(m, 2));
	sni_map_free(m);
	(void)unlink(path);
}

static void
test_texthash_empty(void)
{
	char		 path[TEST_PATH_MAX], spec[TEST_PATH_MAX + 16];
	char		 err[256];
	struct sni_map	*m;

	CU_ASSERT_FATAL(test_text(spec, sizeof(spec), path, sizeof(path),
	    "# nothing yet\n\n") == 0);
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 0);
	CU_ASSERT_PTR_NULL(sni_map_value(m, 0));
	TEST_LOOKUP(m, "example.com", NULL);
	sni_map_free(m);
	(void)unlink(path);
}

static void
test_inline(void)
{
	char		 err[256];
	struct sni_map	*m;

	m = sni_map_parse("inline:{ a.example=/a.pem,"
	    "{ B.Example = /b1.pem, /b2.pem /b3.pem },"
	    "c.example = /c.pem\td.example=/d.pem,,"
	    "{e.example={/e.pem}} { f.example = /f1.pem /f2.pem , } }",
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 6);
	TEST_LOOKUP(m, "a.example", "/a.pem");
	/* Inside braces, commas and whitespace separate files only. */
	TEST_LOOKUP(m, "b.example", "/b1.pem /b2.pem /b3.pem");
	TEST_LOOKUP(m, "c.example", "/c.pem");
	TEST_LOOKUP(m, "d.example", "/d.pem");
	/* Nested braces belong to the value. */
	TEST_LOOKUP(m, "e.example", "{/e.pem}");
	TEST_LOOKUP(m, "f.example", "/f1.pem /f2.pem");
	sni_map_free(m);
}

static void
test_two_tables(void)
{
	char		 path[TEST_PATH_MAX], spec[2 * TEST_PATH_MAX];
	char		 err[256];
	struct sni_map	*m;

	CU_ASSERT_FATAL(test_text(spec, sizeof(spec), path, sizeof(path),
	    "example.com /text.pem\n"
	    ".example.org /text-org.pem\n") == 0);
	(void)snprintf(spec, sizeof(spec), " texthash:%s ,\n"
	    "inline:{ example.com = /inline.pem, example.net = /net.pem,"
	    " www.example.org = /www-org.pem }, ", path);
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 4);
	TEST_LOOKUP(m, "example.com", "/text.pem");	/* first table */
	TEST_LOOKUP(m, "example.net", "/net.pem");	/* only the second */
	/* Each candidate name is tried in every table before the next. */
	TEST_LOOKUP(m, "www.example.org", "/www-org.pem");
	TEST_LOOKUP(m, "mx.example.org", "/text-org.pem");
	sni_map_free(m);

	/* Reversed order: now the inline table answers first. */
	(void)snprintf(spec, sizeof(spec), "inline:{ example.com = "
	    "/inline.pem } texthash:%s", path);
	m = sni_map_parse(spec, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	TEST_LOOKUP(m, "example.com", "/inline.pem");
	sni_map_free(m);
	(void)unlink(path);
}

static void
test_parent_order(void)
{
	char		 err[256];
	struct sni_map	*m;

	m = sni_map_parse("inline:{ .com=/tld.pem, .example.com=/far.pem,"
	    " .b.example.com=/near.pem, a.b.example.com=/exact.pem }",
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	TEST_LOOKUP(m, "a.b.example.com", "/exact.pem");
	TEST_LOOKUP(m, "A.B.Example.COM.", "/exact.pem");
	TEST_LOOKUP(m, "x.a.b.example.com", "/near.pem");
	TEST_LOOKUP(m, "x.b.example.com", "/near.pem");
	/* ".b.example.com" is a parent form: it does not match b itself. */
	TEST_LOOKUP(m, "b.example.com", "/far.pem");
	TEST_LOOKUP(m, "mail.example.com", "/far.pem");
	TEST_LOOKUP(m, "example.com", "/tld.pem");
	TEST_LOOKUP(m, "foo.com", "/tld.pem");
	TEST_LOOKUP(m, "com", NULL);
	TEST_LOOKUP(m, "example.net", NULL);
	sni_map_free(m);
}

static void
test_no_match(void)
{
	char		 err[256], big[400];
	struct sni_map	*m;

	m = sni_map_parse("inline:{ example.com=/x.pem .example.com=/y.pem }",
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	TEST_LOOKUP(m, "example.org", NULL);
	TEST_LOOKUP(m, "example.co", NULL);
	TEST_LOOKUP(m, "xexample.com", NULL);
	TEST_LOOKUP(m, NULL, NULL);
	TEST_LOOKUP(m, "", NULL);
	TEST_LOOKUP(m, ".", NULL);
	TEST_LOOKUP(m, "..", NULL);
	TEST_LOOKUP(m, "example.com..", NULL);
	/* Malformed names must not reach the parent-form keys directly. */
	TEST_LOOKUP(m, ".example.com", NULL);
	TEST_LOOKUP(m, "a..example.com", NULL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + sizeof(big) - 1 - strlen(".example.com"),
	    ".example.com", strlen(".example.com"));
	TEST_LOOKUP(m, big, NULL);		/* longer than 253 bytes */
	TEST_LOOKUP(m, big + 150, "/y.pem");	/* 249 bytes */
	sni_map_free(m);

	/* No tables at all: a map that never matches. */
	m = sni_map_parse(" , ", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 0);
	TEST_LOOKUP(m, "example.com", NULL);
	sni_map_free(m);
	m = sni_map_parse(NULL, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	sni_map_free(m);
	TEST_LOOKUP(NULL, "example.com", NULL);
	CU_ASSERT_EQUAL(sni_map_count(NULL), 0);
	CU_ASSERT_PTR_NULL(sni_map_value(NULL, 0));
	sni_map_free(NULL);
}

static void
test_values(void)
{
	char		 err[256];
	struct sni_map	*m;

	m = sni_map_parse("inline:{ a.example=/1.pem,"
	    " { b.example = /1.pem /2.pem }, { c.example = /1.pem,/2.pem },"
	    " d.example=/3.pem, { e.example = /1.pem ,\t/2.pem } }"
	    " inline:{ f.example = /3.pem }",
	    err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sni_map_count(m), 6);
	CU_ASSERT(test_str_eq(sni_map_value(m, 0), "/1.pem"));
	CU_ASSERT(test_str_eq(sni_map_value(m, 1), "/1.pem /2.pem"));
	CU_ASSERT(test_str_eq(sni_map_value(m, 2), "/3.pem"));
	CU_ASSERT_PTR_NULL(sni_map_value(m, 3));
	CU_ASSERT_PTR_NULL(sni_map_value(m, (size_t)-1));
	TEST_LOOKUP(m, "c.example", "/1.pem /2.pem");
	TEST_LOOKUP(m, "e.example", "/1.pem /2.pem");
	sni_map_free(m);
}

static void
test_err_type(void)
{
	test_fails("hash:/etc/mail/sni", "unsupported table type \"hash\"",
	    "only texthash: and inline: are supported");
	test_fails("inline:{a=/a.pem} lmdb:/etc/mail/sni", "\"lmdb\"",
	    "only texthash: and inline: are supported");
	test_fails("proxy:texthash:/x", "\"proxy\"", "only texthash:");
	test_fails("/etc/mail/sni", "expected type:name", "texthash:");
	test_fails("texthash:", "texthash: missing file name", NULL);
	test_fails("inline:a=b", "expected \"inline:{", NULL);
}

static void
test_err_file(void)
{
	char	 path[TEST_PATH_MAX], spec[TEST_PATH_MAX + 16];
	char	 err[512];
	const char *dir = getenv("TMPDIR");

	test_fails("texthash:/nonexistent/dir/sni", "texthash:/nonexistent/"
	    "dir/sni: cannot open", "No such file or directory");
	/* A directory is not a table file. */
	(void)snprintf(spec, sizeof(spec), "texthash:%s",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	test_fails(spec, "cannot open", "not a regular file");

	/* The first error stops the parse; the map is freed. */
	CU_ASSERT_FATAL(test_text(spec, sizeof(spec), path, sizeof(path),
	    "a.example /a.pem\n") == 0);
	(void)strncat(spec, " texthash:/nonexistent/sni", sizeof(spec) -
	    strlen(spec) - 1);
	CU_ASSERT_PTR_NULL(sni_map_parse(spec, err, sizeof(err)));
	CU_ASSERT(strstr(err, "/nonexistent/sni") != NULL);
	(void)unlink(path);
}

static void
test_err_lines(void)
{
	TEST_FILE_FAILS("ok.example /ok.pem\n\nbroken.example\n",
	    ":3: missing value after \"broken.example\"");
	TEST_FILE_FAILS("ok.example /ok.pem\nbroken.example  \t\r\n",
	    ":2: missing value after \"broken.example\"");
	TEST_FILE_FAILS("ok.example /ok.pem\nbroken.example ,\n",
	    ":2: no value for \"broken.example\"");
	TEST_FILE_FAILS("# header\n  indented.example /x.pem\n",
	    ":2: continuation line");
	TEST_FILE_FAILS("a.example /a.pem\nb.example /b\0.pem\n",
	    ":2: NUL byte");
}

static void
test_err_bounds(void)
{
	char	*buf;
	size_t	 n;

	/* One physical line over 8 KiB. */
	n = 8193 + 11;
	CU_ASSERT_FATAL((buf = malloc(n + 1)) != NULL);
	memcpy(buf, "a.example /", 11);
	memset(buf + 11, 'x', n - 11);
	buf[n] = '\0';
	test_file_fails(buf, n, ":1: line is longer than 8192 bytes");
	free(buf);

	/* Short lines that continue each other past 8 KiB. */
	n = 2 + 20 * 500;
	CU_ASSERT_FATAL((buf = malloc(n + 1)) != NULL);
	memcpy(buf, "a\n", 2);
	for (size_t i = 0; i < 500; i++)
		memcpy(buf + 2 + i * 20, "\t/xxxxxxxxxxxxx.pem\n", 20);
	buf[n] = '\0';
	test_file_fails(buf, n, ":1: logical line is longer than 8192");
	free(buf);

	/* A file over 1 MiB, in short valid lines. */
	n = 1024 * 1024 + 16;
	CU_ASSERT_FATAL((buf = malloc(n + 1)) != NULL);
	for (size_t i = 0; i < n; i += 16)
		memcpy(buf + i, "a.ex  /aaaa.pem\n", 16);
	buf[n] = '\0';
	test_file_fails(buf, n, "file is larger than 1048576 bytes");
	free(buf);

	/* A name no DNS name (or parent form) can equal. */
	n = 300;
	CU_ASSERT_FATAL((buf = malloc(n + 32)) != NULL);
	memset(buf, 'n', n);
	memcpy(buf + n, " /a.pem\n", 9);
	test_file_fails(buf, strlen(buf), "is longer than 253 bytes");
	free(buf);
}

static void
test_err_inline(void)
{
	test_fails("inline:{ a.example=/a.pem", "unbalanced '{'",
	    "inline:{ a.example=/a.pem");
	test_fails("inline:{ {a.example = /a.pem }", "unbalanced '{'", NULL);
	test_fails("inline:{ a.example=/a.pem }}", "unbalanced '}'", NULL);
	test_fails("inline:{a=/a.pem} }", "unbalanced '}'", NULL);
	test_fails("inline:{ =/a.pem }", "empty name", NULL);
	test_fails("inline:{ a=/a.pem, { = /b.pem } }", "empty name",
	    "{ = /b.pem }");
	test_fails("inline:{ a.example }", "missing '=' after \"a.example\"",
	    NULL);
	test_fails("inline:{ { a.example /a.pem } }", "missing '='", NULL);
	test_fails("inline:{ a.example= }", "no value for \"a.example\"",
	    NULL);
	test_fails("inline:{ { a.example = , } }", "no value for", NULL);
	test_fails("inline:{ }", "inline: empty table", NULL);
	test_fails("inline:{a=/a.pem}x", "text after '}'", NULL);
	test_fails("inline:{ {a=/a.pem}x }", "text after '}'", NULL);
	test_fails("inline:{ a={/a.pem} }", "unexpected '{'", NULL);
}

static void
test_err_buffers(void)
{
	char	 err[8];

	/* Short or missing buffers truncate, never overflow. */
	memset(err, 'x', sizeof(err));
	CU_ASSERT_PTR_NULL(sni_map_parse("hash:/x", err, sizeof(err)));
	CU_ASSERT_EQUAL(err[sizeof(err) - 1], '\0');
	CU_ASSERT_PTR_NULL(sni_map_parse("hash:/x", NULL, 0));
	CU_ASSERT_PTR_NULL(sni_map_parse("hash:/x", err, 0));
}

struct test_worker {
	const struct sni_map	*map;
	int			 bad;
};

/* test_reader - many lookups on a shared map, as SNI callbacks do */
static void *
test_reader(void *arg)
{
	struct test_worker	*w = arg;
	int			 i;

	for (i = 0; i < 20000; i++) {
		if (!test_str_eq(sni_map_lookup(w->map, "x.example.com"),
		    "/wild.pem") ||
		    !test_str_eq(sni_map_lookup(w->map, "Example.COM"),
		    "/exact.pem") ||
		    sni_map_lookup(w->map, "example.org") != NULL)
			w->bad++;
	}
	return (NULL);
}

static void
test_threads(void)
{
	struct test_worker	 w[4];
	pthread_t		 t[4];
	struct sni_map		*m;
	char			 err[256];
	int			 i;

	m = sni_map_parse("inline:{ example.com=/exact.pem,"
	    " .example.com=/wild.pem }", err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (i = 0; i < 4; i++) {
		w[i].map = m;
		w[i].bad = 0;
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, test_reader,
		    &w[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		CU_ASSERT(pthread_join(t[i], NULL) == 0);
		CU_ASSERT_EQUAL(w[i].bad, 0);
	}
	sni_map_free(m);
}

static const struct unit_test tests[] = {
	{ "texthash: comments, continuations, case", test_texthash },
	{ "texthash: CRLF and duplicate names", test_texthash_crlf_dups },
	{ "texthash: comments only", test_texthash_empty },
	{ "inline: braces, commas, '=' spacing", test_inline },
	{ "two tables, searched in order", test_two_tables },
	{ "exact, then nearest parent", test_parent_order },
	{ "no match and malformed names", test_no_match },
	{ "distinct values", test_values },
	{ "error: table types", test_err_type },
	{ "error: unreadable files", test_err_file },
	{ "error: texthash lines", test_err_lines },
	{ "error: size bounds", test_err_bounds },
	{ "error: inline syntax", test_err_inline },
	{ "error: small buffers", test_err_buffers },
	{ "concurrent lookups", test_threads },
	{ NULL, NULL },
};

int
main(void)
{
	return (unit_run("sni_map", tests, NULL, NULL));
}
