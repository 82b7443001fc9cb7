/*
 * NAME
 *	fuzz_protocols - libFuzzer harness for the TLS parameter parsers
 * DESCRIPTION
 *	The input is a few lines of text:
 *
 *	    line 1	a protocol list (tls_parse_protocols)
 *	    line 2	a tls_disable_workarounds value (tlss_workaround_mask)
 *	    line 3	a cipher grade, then lines 4-8 the high, medium,
 *			low, export and null cipher lists and line 9 the
 *			exclusions (tls_cipher_list)
 *
 *	Missing lines are empty. Every output and error buffer is a heap
 *	block of exactly the size passed, so an off-by-one write is an
 *	ASan report, not silent stack damage.
 *
 *	Checked: the protocol range is ordered and its hole options lie
 *	strictly inside it, and the result written back in the bounds
 *	syntax (">=min <=max !hole") parses to the same thing; the
 *	workaround mask stays within SSL_OP_ALL and reads back from its
 *	hex form; the cipher string is the base list followed by one
 *	":!name" per exclusion, fits a buffer of exactly its size and is
 *	refused by one a byte shorter.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "fuzz_util.h"
#include "tls_common.h"
#include "tls_server.h"

static const struct {
	const char	*name;
	int		 version;
	uint64_t	 no_op;
} fz_versions[] = {
	{ "SSLv3", SSL3_VERSION, SSL_OP_NO_SSLv3 },
	{ "TLSv1", TLS1_VERSION, SSL_OP_NO_TLSv1 },
	{ "TLSv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
	{ "TLSv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
	{ "TLSv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};
#define FZ_NVERSIONS	(sizeof(fz_versions) / sizeof(fz_versions[0]))

/* fz_index - position of a version in fz_versions, or -1 */
static int
fz_index(int version)
{
	size_t	 i;

	for (i = 0; i < FZ_NVERSIONS; i++)
		if (fz_versions[i].version == version)
			return ((int)i);
	return (-1);
}

/* errbuf - a heap error buffer of exactly len bytes, poisoned */
static char *
errbuf(size_t len)
{
	char	*e;

	if ((e = malloc(len)) == NULL)
		abort();
	memset(e, 'E', len);
	return (e);
}

static void
check_protocols(const char *spec, size_t elen)
{
	struct tls_protocols p, q;
	char	*err, again[128];
	uint64_t all;
	int	 lo, hi, i, rc;
	size_t	 n;

	err = errbuf(elen);
	memset(&p, 0x5a, sizeof(p));
	rc = tls_parse_protocols(spec, &p, err, elen);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(memchr(err, '\0', elen) != NULL);
		free(err);
		return;
	}
	free(err);
	lo = fz_index(p.min_version);
	hi = fz_index(p.max_version);
	FUZZ_CHECK(lo >= 0 && hi >= 0 && lo <= hi);
	for (i = 0; i < (int)FZ_NVERSIONS; i++)
		if (i <= lo || i >= hi)
			FUZZ_CHECK((p.options & fz_versions[i].no_op) == 0);
	for (i = 0, all = 0; i < (int)FZ_NVERSIONS; i++)
		all |= fz_versions[i].no_op;
	FUZZ_CHECK((p.options & ~all) == 0);

	/* Write it back in the bounds syntax; it must read the same. */
	n = (size_t)snprintf(again, sizeof(again), ">=%s <=%s",
	    fz_versions[lo].name, fz_versions[hi].name);
	for (i = lo + 1; i < hi; i++)
		if (p.options & fz_versions[i].no_op)
			n += (size_t)snprintf(again + n, sizeof(again) - n, " !%s",
			    fz_versions[i].name);
	FUZZ_CHECK(n < sizeof(again));
	err = errbuf(256);
	rc = tls_parse_protocols(again, &q, err, 256);
	if (rc != 0)
		fprintf(stderr, "\"%s\" -> \"%s\": %s\n", spec, again, err);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(q.min_version == p.min_version &&
	    q.max_version == p.max_version && q.options == p.options);
	free(err);
}

static void
check_workarounds(const char *spec, size_t elen)
{
	uint64_t mask = 0x1234, back;
	char	*err, hex[32];
	int	 rc;

	err = errbuf(elen);
	rc = tlss_workaround_mask(spec, &mask, err, elen);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(memchr(err, '\0', elen) != NULL);
		free(err);
		return;
	}
	FUZZ_CHECK((mask & ~(uint64_t)SSL_OP_ALL) == 0);
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)mask);
	rc = tlss_workaround_mask(hex, &back, err, elen);
	FUZZ_CHECK(rc == 0 && back == mask);
	free(err);
}

/* expected_ciphers - the documented result, built independently */
static char *
expected_ciphers(const char *base, const char *exclusions)
{
	char	*copy, *tok, *save, *out;
	size_t	 cap, n;

	cap = strlen(base) + 3 * strlen(exclusions) + 1;
	if ((out = malloc(cap)) == NULL || (copy = strdup(exclusions)) == NULL)
		abort();
	n = (size_t)snprintf(out, cap, "%s", base);
	for (tok = strtok_r(copy, " \t,:", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,:", &save))
		n += (size_t)snprintf(out + n, cap - n, ":!%s", tok);
	FUZZ_CHECK(n < cap);
	free(copy);
	return (out);
}

static void
check_ciphers(char **f, size_t elen)
{
	const char *base;
	char	*out, *err, *want;
	size_t	 len;
	int	 rc;

	err = errbuf(elen);
	out = malloc(4096);
	if (out == NULL)
		abort();
	rc = tls_cipher_list(f[0], f[1], f[2], f[3], f[4], f[5], f[6], out,
	    4096, err, elen);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		FUZZ_CHECK(memchr(err, '\0', elen) != NULL);
		free(out);
		free(err);
		return;
	}
	base = strcasecmp(f[0], "high") == 0 ? f[1] :
	    strcasecmp(f[0], "medium") == 0 ? f[2] :
	    strcasecmp(f[0], "low") == 0 ? (*f[3] != '\0' ? f[3] : f[2]) :
	    strcasecmp(f[0], "export") == 0 ? (*f[4] != '\0' ? f[4] : f[2]) :
	    strcasecmp(f[0], "null") == 0 ? f[5] : NULL;
	FUZZ_CHECK(base != NULL);
	want = expected_ciphers(base, f[6]);
	FUZZ_CHECK(strcmp(out, want) == 0);
	len = strlen(out);
	free(out);

	/* Exactly enough room, then one byte too little. */
	if ((out = malloc(len + 1)) == NULL)
		abort();
	rc = tls_cipher_list(f[0], f[1], f[2], f[3], f[4], f[5], f[6], out,
	    len + 1, err, elen);
	FUZZ_CHECK(rc == 0 && strcmp(out, want) == 0);
	free(out);
	if (len > 0) {
		if ((out = malloc(len)) == NULL)
			abort();
		rc = tls_cipher_list(f[0], f[1], f[2], f[3], f[4], f[5], f[6],
		    out, len, err, elen);
		FUZZ_CHECK(rc == -1);
		free(out);
	}
	free(want);
	free(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*f[9];
	size_t	 off = 0, i, elen;

	if (size > 8192)
		return (-1);
	for (i = 0; i < 9; i++)
		f[i] = fuzz_field(data, size, &off, '\n');
	/* Error buffers from 1 byte up, so truncation is exercised too. */
	elen = 1 + size % 97;

	check_protocols(f[0], elen);
	check_workarounds(f[1], elen);
	check_ciphers(f + 2, elen);
	for (i = 0; i < 9; i++)
		free(f[i]);
	return (0);
}
