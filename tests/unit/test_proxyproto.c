/*
 * NAME
 *	test_proxyproto - unit tests for the PROXY protocol v1/v2 encoders
 * DESCRIPTION
 *	The v1 lines of HAProxy's specification (section 2.1: the example
 *	and the longest TCP4, TCP6 and UNKNOWN lines) and the v2 binary
 *	layout of section 2.2 byte for byte: signature, version and
 *	command, family, length, IPv4 and IPv6 address blocks, UNSPEC,
 *	and the AUTHORITY and SSL TLVs with their sub-TLVs. Also v4-mapped
 *	addresses, mixed families, and output buffers of every size.
 * DIAGNOSTICS
 *	Exit status is the number of failed assertions (0 = pass).
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"
#include "unit.h"

static struct sockaddr_storage test_src, test_dst;

/* addr - fill ss with an IPv4 or IPv6 address and port */
static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *a, unsigned int port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strchr(a, ':') != NULL) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		CU_ASSERT_FATAL(inet_pton(AF_INET6, a, &s6->sin6_addr) == 1);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		CU_ASSERT_FATAL(inet_pton(AF_INET, a, &s4->sin_addr) == 1);
	}
	return ((struct sockaddr *)ss);
}

/* v1 - encode and compare with want */
static void
v1(const char *s, unsigned int sp, const char *d, unsigned int dp, const char *want)
{
	char	 out[PP_V1_MAX + 1];
	ssize_t	 n;

	n = pp_v1_encode(addr(&test_src, s, sp), addr(&test_dst, d, dp), out,
	    sizeof(out));
	CU_ASSERT_EQUAL(n, (ssize_t)strlen(want));
	if (n >= 0)
		CU_ASSERT_STRING_EQUAL(out, want);
}

static void
test_v1_spec(void)
{
	/* The specification's example. */
	v1("192.168.0.1", 56324, "192.168.0.11", 443,
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
	/* Its longest lines: 56 and 104 bytes. */
	v1("255.255.255.255", 65535, "255.255.255.255", 65535,
	    "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
	CU_ASSERT_EQUAL(strlen("PROXY TCP4 255.255.255.255 255.255.255.255 "
	    "65535 65535\r\n"), 56);
	v1("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
	CU_ASSERT_EQUAL(strlen("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 104);
	v1("2001:db8::1", 40000, "::1", 25, "PROXY TCP6 2001:db8::1 ::1 40000 25\r\n");
	v1("0.0.0.0", 0, "127.0.0.1", 1, "PROXY TCP4 0.0.0.0 127.0.0.1 0 1\r\n");
}

static void
test_v1_mapped_unknown(void)
{
	struct sockaddr_un su;
	char	 out[PP_V1_MAX + 1];

	/* A dual-stack listener's IPv4 client is shown as IPv4. */
	v1("::ffff:192.0.2.1", 1234, "::ffff:192.0.2.2", 25,
	    "PROXY TCP4 192.0.2.1 192.0.2.2 1234 25\r\n");
	/* Families that differ, or not inet at all: UNKNOWN. */
	v1("192.0.2.1", 1234, "2001:db8::2", 25, "PROXY UNKNOWN\r\n");
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CU_ASSERT_EQUAL(pp_v1_encode((struct sockaddr *)&su, (struct sockaddr *)&su,
	    out, sizeof(out)), 15);
	CU_ASSERT_STRING_EQUAL(out, "PROXY UNKNOWN\r\n");
	CU_ASSERT_EQUAL(pp_v1_encode(NULL, NULL, out, sizeof(out)), 15);
	/* Too small. */
	CU_ASSERT_EQUAL(pp_v1_encode(addr(&test_src, "192.0.2.1", 1),
	    addr(&test_dst, "192.0.2.2", 2), out, 20), -1);
}

static const unsigned char sig[] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static void
test_v2_tcp4(void)
{
	static const unsigned char want_tail[] = {
		0x21, 0x11, 0x00, 0x0C,			/* v2 PROXY, TCP4, 12 */
		192, 168, 0, 1, 192, 168, 0, 11,	/* src, dst */
		0xDC, 0x04, 0x01, 0xBB,			/* 56324, 443 */
	};
	unsigned char out[PP_V2_MAX];
	ssize_t	 n;

	n = pp_v2_encode(addr(&test_src, "192.168.0.1", 56324),
	    addr(&test_dst, "192.168.0.11", 443), NULL, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 28);
	CU_ASSERT(memcmp(out, sig, sizeof(sig)) == 0);
	CU_ASSERT(memcmp(PP_V2_SIG, sig, sizeof(sig)) == 0);
	CU_ASSERT(memcmp(out + 12, want_tail, sizeof(want_tail)) == 0);
}

static void
test_v2_tcp6_unspec(void)
{
	unsigned char out[PP_V2_MAX];
	struct sockaddr_un su;
	ssize_t	 n;

	n = pp_v2_encode(addr(&test_src, "2001:db8::1", 40000),
	    addr(&test_dst, "2001:db8::25", 25), NULL, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 16 + 36);
	CU_ASSERT_EQUAL(out[12], 0x21);
	CU_ASSERT_EQUAL(out[13], 0x21);			/* TCP over IPv6 */
	CU_ASSERT_EQUAL(out[14], 0);
	CU_ASSERT_EQUAL(out[15], 36);
	CU_ASSERT_EQUAL(out[16], 0x20);
	CU_ASSERT_EQUAL(out[17], 0x01);
	CU_ASSERT_EQUAL(out[31], 0x01);			/* ...::1 */
	CU_ASSERT_EQUAL(out[47], 0x25);			/* ...::25 */
	CU_ASSERT_EQUAL(out[48], 40000 >> 8);
	CU_ASSERT_EQUAL(out[49], 40000 & 0xff);
	CU_ASSERT_EQUAL(out[50], 0);
	CU_ASSERT_EQUAL(out[51], 25);

	/* v4-mapped: TCP4. */
	n = pp_v2_encode(addr(&test_src, "::ffff:10.0.0.1", 1),
	    addr(&test_dst, "::ffff:10.0.0.2", 2), NULL, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 28);
	CU_ASSERT_EQUAL(out[13], 0x11);
	CU_ASSERT_EQUAL(out[16], 10);
	CU_ASSERT_EQUAL(out[19], 1);

	/* Mixed or non-inet: UNSPEC, no addresses (receiver uses its own). */
	n = pp_v2_encode(addr(&test_src, "10.0.0.1", 1),
	    addr(&test_dst, "2001:db8::2", 2), NULL, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(out[12], 0x21);
	CU_ASSERT_EQUAL(out[13], 0x00);
	CU_ASSERT_EQUAL(out[14], 0);
	CU_ASSERT_EQUAL(out[15], 0);
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	CU_ASSERT_EQUAL(pp_v2_encode((struct sockaddr *)&su, (struct sockaddr *)&su,
	    NULL, out, sizeof(out)), 16);
}

static void
test_v2_tls(void)
{
	static const unsigned char want[] = {
		0x21, 0x11, 0x00, 12 + 17 + 52,
		192, 0, 2, 1, 192, 0, 2, 2, 0x04, 0xD2, 0x01, 0xD1,	/* 1234, 465 */
		/* AUTHORITY "mx.example.com" */
		0x02, 0x00, 14, 'm', 'x', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
		'.', 'c', 'o', 'm',
		/* SSL: client bits, verify, then VERSION, CN, CIPHER */
		0x20, 0x00, 49,
		0x07, 0x00, 0x00, 0x00, 0x00,
		0x21, 0x00, 7, 'T', 'L', 'S', 'v', '1', '.', '3',
		0x22, 0x00, 6, 'c', 'l', 'i', 'e', 'n', 't',
		0x23, 0x00, 22, 'T', 'L', 'S', '_', 'A', 'E', 'S', '_', '2', '5',
		'6', '_', 'G', 'C', 'M', '_', 'S', 'H', 'A', '3', '8', '4',
	};
	struct pp_tls t;
	unsigned char out[PP_V2_MAX], *buf;
	ssize_t	 n, need;
	size_t	 len;

	memset(&t, 0, sizeof(t));
	t.version = "TLSv1.3";
	t.cipher = "TLS_AES_256_GCM_SHA384";
	t.cn = "client";
	t.sni = "mx.example.com";
	t.cert_conn = t.cert_sess = 1;
	t.verify = 0;
	CU_ASSERT_EQUAL(sizeof(want), 4 + 12 + 17 + 52);
	n = pp_v2_encode(addr(&test_src, "192.0.2.1", 1234),
	    addr(&test_dst, "192.0.2.2", 465), &t, out, sizeof(out));
	CU_ASSERT_EQUAL(n, (ssize_t)(12 + sizeof(want)));
	CU_ASSERT(memcmp(out, sig, 12) == 0);
	CU_ASSERT(n > 12 && memcmp(out + 12, want, sizeof(want)) == 0);
	need = n;

	/* Exactly sized heap buffers: only the full size works. */
	for (len = 0; len <= (size_t)need; len++) {
		buf = malloc(len > 0 ? len : 1);
		CU_ASSERT_FATAL(buf != NULL);
		n = pp_v2_encode((struct sockaddr *)&test_src,
		    (struct sockaddr *)&test_dst, &t, buf, len);
		CU_ASSERT_EQUAL(n, len == (size_t)need ? need : -1);
		free(buf);
	}

	/* No certificate, no SNI: SSL TLV with client=SSL only, verify != 0. */
	t.cn = t.sni = NULL;
	t.cert_conn = t.cert_sess = 0;
	t.verify = 1;
	n = pp_v2_encode((struct sockaddr *)&test_src, (struct sockaddr *)&test_dst,
	    &t, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 28 + 3 + 5 + 10 + 25);
	CU_ASSERT_EQUAL(out[28], PP2_TYPE_SSL);
	CU_ASSERT_EQUAL(out[31], PP2_CLIENT_SSL);
	CU_ASSERT_EQUAL(out[35], 1);
	CU_ASSERT_EQUAL(out[15], 12 + 3 + 5 + 10 + 25);
}

static void
test_v2_too_long(void)
{
	struct pp_tls t;
	unsigned char out[PP_V2_MAX];
	char	*big;

	big = malloc(70000);
	CU_ASSERT_FATAL(big != NULL);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	memset(&t, 0, sizeof(t));
	t.sni = big;			/* longer than a TLV can say */
	CU_ASSERT_EQUAL(pp_v2_encode(addr(&test_src, "192.0.2.1", 1),
	    addr(&test_dst, "192.0.2.2", 2), &t, out, sizeof(out)), -1);
	free(big);
}

static const struct unit_test tests[] = {
	{ "v1: the specification's lines", test_v1_spec },
	{ "v1: v4-mapped, UNKNOWN, small buffer", test_v1_mapped_unknown },
	{ "v2: TCP4 layout", test_v2_tcp4 },
	{ "v2: TCP6, v4-mapped, UNSPEC", test_v2_tcp6_unspec },
	{ "v2: AUTHORITY and SSL TLVs, buffer sizes", test_v2_tls },
	{ "v2: TLV value too long", test_v2_too_long },
	{ NULL, NULL },
};

int
main(void)
{
	return (unit_run("proxyproto", tests, NULL, NULL));
}
