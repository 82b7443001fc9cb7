/*
 * NAME
 *	test_netlist - CUnit tests for network lists and client addresses
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "netlist.h"
#include "unit.h"

static int
t_in(const char *spec, const char *addr)
{
	struct netlist nl;
	struct netlist_addr a;
	char	 err[256];
	int	 r;

	CU_ASSERT_EQUAL_FATAL(netlist_parse(spec, &nl, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(netlist_addr_parse(addr, &a), 0);
	r = netlist_match(&nl, &a);
	netlist_free(&nl);
	return (r);
}

static void
test_match(void)
{
	CU_ASSERT(t_in("127.0.0.0/8, [::1]/128", "127.1.2.3"));
	CU_ASSERT(t_in("127.0.0.0/8, [::1]/128", "[127.0.0.2]:25"));
	CU_ASSERT(t_in("127.0.0.0/8, [::1]/128", "[::1]:587"));
	CU_ASSERT(t_in("127.0.0.0/8, [::1]/128", "::ffff:127.0.0.1"));
	CU_ASSERT(!t_in("127.0.0.0/8, [::1]/128", "128.0.0.1"));
	CU_ASSERT(!t_in("127.0.0.0/8, [::1]/128", "[::2]:25"));
	/* Prefix lengths that do not end on a byte. */
	CU_ASSERT(t_in("192.0.2.64/26", "192.0.2.127"));
	CU_ASSERT(!t_in("192.0.2.64/26", "192.0.2.128"));
	CU_ASSERT(!t_in("192.0.2.64/26", "192.0.2.63"));
	CU_ASSERT(t_in("2001:db8::/33 10.0.0.1", "[2001:db8:7fff::1]:25"));
	CU_ASSERT(!t_in("2001:db8::/33 10.0.0.1", "2001:db8:8000::1"));
	/* A host, and everything. */
	CU_ASSERT(t_in("10.0.0.1", "10.0.0.1:25"));
	CU_ASSERT(!t_in("10.0.0.1", "10.0.0.2"));
	CU_ASSERT(t_in("0.0.0.0/0", "203.0.113.9"));
	CU_ASSERT(!t_in("0.0.0.0/0", "2001:db8::1"));
	CU_ASSERT(!t_in("", "127.0.0.1"));
}

static void
expect_bad(const char *spec, const char *why)
{
	struct netlist nl;
	char	 err[256];

	CU_ASSERT_EQUAL(netlist_parse(spec, &nl, err, sizeof(err)), -1);
	if (strcmp(err, why) != 0)
		fprintf(stderr, "%s: got [%s] want [%s]\n", spec, err, why);
	CU_ASSERT_STRING_EQUAL(err, why);
	CU_ASSERT_PTR_NULL(nl.v);
}

static void
test_bad(void)
{
	expect_bad("10.1.2.3/8", "\"10.1.2.3/8\" has host bits set under its "
	    "prefix length");
	expect_bad("127.0.0.1 mail.example", "\"mail.example\" is not an IP "
	    "address or network (address or address/prefix)");
	expect_bad("10.0.0.0/", "bad prefix length in \"10.0.0.0/\"");
	expect_bad("10.0.0.0/-1", "bad prefix length in \"10.0.0.0/-1\"");
	expect_bad("10.0.0.0/33", "prefix length in \"10.0.0.0/33\" is larger "
	    "than 32");
	expect_bad("[::1/128", "missing \"]\" in \"[::1/128\"");
}

static void
test_addr(void)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr sa;
	struct netlist_addr a;
	char	 buf[64];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	CU_ASSERT_EQUAL(netlist_addr_from_sa((struct sockaddr *)&sin, &a), 0);
	netlist_addr_str(&a, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "192.0.2.7");

	/* A mapped address is the IPv4 client. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	CU_ASSERT_EQUAL(netlist_addr_from_sa((struct sockaddr *)&sin6, &a), 0);
	CU_ASSERT_EQUAL(a.family, AF_INET);
	netlist_addr_str(&a, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "192.0.2.7");

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	CU_ASSERT_EQUAL(netlist_addr_from_sa(&sa, &a), -1);
	CU_ASSERT_EQUAL(netlist_addr_parse("unknown", &a), -1);
	CU_ASSERT_EQUAL(netlist_addr_parse("[2001:db8::5]:25", &a), 0);
	netlist_addr_str(&a, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8::5");
}

static const struct unit_test tests[] = {
	{ "match: prefixes, families, endpoints", test_match },
	{ "bad lists name the bad element", test_bad },
	{ "client addresses from sockets and text", test_addr },
	{ NULL, NULL }
};

int
main(void)
{
	return (unit_run("netlist", tests, NULL, NULL));
}
