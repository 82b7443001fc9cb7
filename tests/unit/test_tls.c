/*
 * NAME
 *	test_tls - CUnit suite for the TLS parameter parsers
 * DESCRIPTION
 *	Postfix protocol syntax (exclusions, inclusions, bounds) and
 *	cipher grade + exclusion lists, against the examples of the
 *	Postfix postconf(5) manual; plus a context built from the
 *	resulting settings accepts them.
 */
#include <string.h>

#include <openssl/ssl.h>

#include "tls_common.h"
#include "unit.h"

static struct tls_protocols prot;
static char err[256];

static int
parse(const char *spec)
{
	memset(&prot, 0, sizeof(prot));
	err[0] = '\0';
	return (tls_parse_protocols(spec, &prot, err, sizeof(err)));
}

static void
test_protocols_bounds(void)
{
	CU_ASSERT_EQUAL(parse(">=TLSv1"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);
	CU_ASSERT_EQUAL(prot.options, 0);

	CU_ASSERT_EQUAL(parse(">=TLSv1.2"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_2_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);

	CU_ASSERT_EQUAL(parse("<=TLSv1.2"), 0);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_2_VERSION);

	CU_ASSERT_EQUAL(parse(">=TLSv1.1, <=TLSv1.2"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_1_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_2_VERSION);

	/* Empty: every protocol OpenSSL offers. */
	CU_ASSERT_EQUAL(parse(""), 0);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);
}

static void
test_protocols_exclusions(void)
{
	/* postconf(5): smtpd_tls_protocols = !SSLv2, !SSLv3 */
	CU_ASSERT_EQUAL(parse("!SSLv2, !SSLv3"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);
	CU_ASSERT_EQUAL(prot.options, 0);

	/* Colon and whitespace separators, as Postfix accepts. */
	CU_ASSERT_EQUAL(parse("!SSLv2:!SSLv3 !TLSv1 !TLSv1.1"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_2_VERSION);

	/* A hole inside the range becomes an SSL_OP_NO_* option. */
	CU_ASSERT_EQUAL(parse("!TLSv1.2"), 0);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);
	CU_ASSERT(prot.options & SSL_OP_NO_TLSv1_2);

	CU_ASSERT_EQUAL(parse("!TLSv1.3"), 0);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_2_VERSION);
}

static void
test_protocols_inclusions(void)
{
	/* Old syntax: only the listed protocols. */
	CU_ASSERT_EQUAL(parse("TLSv1.2 TLSv1.3"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_2_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_3_VERSION);
	CU_ASSERT_EQUAL(prot.options, 0);

	CU_ASSERT_EQUAL(parse("TLSv1, TLSv1.2"), 0);
	CU_ASSERT_EQUAL(prot.min_version, TLS1_VERSION);
	CU_ASSERT_EQUAL(prot.max_version, TLS1_2_VERSION);
	CU_ASSERT(prot.options & SSL_OP_NO_TLSv1_1);
}

static void
test_protocols_errors(void)
{
	CU_ASSERT_EQUAL(parse("TLSv9"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown TLS protocol \"TLSv9\""));
	CU_ASSERT_EQUAL(parse(">=TLSv1.3 <=TLSv1.2"), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "leaves no usable protocol"));
	CU_ASSERT_EQUAL(parse("!TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3 !SSLv3"), -1);
	CU_ASSERT_EQUAL(parse("<=SSLv2"), -1);
}

static void
test_cipher_grades(void)
{
	char	 out[512];

	CU_ASSERT_EQUAL(tls_cipher_list("medium", "H", "M", "L", "E", "N", "",
	    out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "M");
	CU_ASSERT_EQUAL(tls_cipher_list("HIGH", "H", "M", "L", "E", "N", "",
	    out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "H");
	CU_ASSERT_EQUAL(tls_cipher_list("null", "H", "M", "L", "E", "N", "",
	    out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out, "N");
	/* postconf(5): smtpd_tls_exclude_ciphers = aNULL, MD5, RC4, kRSA */
	CU_ASSERT_EQUAL(tls_cipher_list("medium", "H",
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", "L", "E", "N",
	    "aNULL, MD5, RC4, kRSA", out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(out,
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:!aNULL:!MD5:!RC4:!kRSA");
	CU_ASSERT_EQUAL(tls_cipher_list("bogus", "H", "M", "L", "E", "N", "",
	    out, sizeof(out), err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(tls_cipher_list("high", "H", "M", "L", "E", "N", "",
	    out, 1, err, sizeof(err)), -1);
}

static void
test_openssl_accepts(void)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_server_method());
	char	 out[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(tls_cipher_list("medium", "aNULL:-aNULL:HIGH:@STRENGTH",
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", "L", "E", "eNULL:!aNULL",
	    "aNULL, MD5, RC4, kRSA", out, sizeof(out), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(SSL_CTX_set_cipher_list(ctx, out), 1);
	CU_ASSERT_EQUAL(parse(">=TLSv1.2"), 0);
	CU_ASSERT_EQUAL(SSL_CTX_set_min_proto_version(ctx, prot.min_version), 1);
	CU_ASSERT_EQUAL(SSL_CTX_set_max_proto_version(ctx, prot.max_version), 1);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "protocols: bounds syntax", test_protocols_bounds },
		{ "protocols: exclusion syntax", test_protocols_exclusions },
		{ "protocols: inclusion syntax", test_protocols_inclusions },
		{ "protocols: errors", test_protocols_errors },
		{ "cipher grades and exclusions", test_cipher_grades },
		{ "OpenSSL accepts the results", test_openssl_accepts },
		{ NULL, NULL },
	};

	tls_init();
	return (unit_run("tls_common", tests, NULL, NULL));
}
