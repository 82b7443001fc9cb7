/*
 * NAME
 *	test_climit - CUnit tests for the per-client-address limits
 * DESCRIPTION
 *	Concurrency and rate limits, exemptions, entries going away, and
 *	several threads counting the same addresses at once (the counts
 *	must come out exact).
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "climit.h"
#include "netlist.h"
#include "unit.h"

static struct netlist_addr
t_addr(const char *s)
{
	struct netlist_addr a;

	CU_ASSERT_EQUAL(netlist_addr_parse(s, &a), 0);
	return (a);
}

static void
test_count(void)
{
	struct climit_conf c = { 3, 0, 60000, NULL };
	struct netlist_addr a = t_addr("192.0.2.1"), b = t_addr("192.0.2.2");
	unsigned int n, i;

	for (i = 1; i <= 3; i++) {
		CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
		CU_ASSERT_EQUAL(n, i);
	}
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_COUNT);
	CU_ASSERT_EQUAL(n, 4);
	/* Another address is not affected. */
	CU_ASSERT_EQUAL(climit_enter(&c, &b, &n), CLIMIT_OK);
	climit_leave(&a);
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	CU_ASSERT_EQUAL(n, 3);
	for (i = 0; i < 3; i++)
		climit_leave(&a);
	climit_leave(&b);
	/* No rate limit: the entries are gone with their last session. */
	c.unit_ms = 0;
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	climit_leave(&a);
	(void)climit_enter(&c, &b, &n);
	climit_leave(&b);
	(void)climit_enter(&c, &b, &n);
	climit_leave(&b);
	CU_ASSERT(climit_tracked() <= 2);
}

static void
test_rate(void)
{
	struct climit_conf c = { 0, 2, 300, NULL };
	struct netlist_addr a = t_addr("[2001:db8::9]:25");
	unsigned int n;

	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	climit_leave(&a);
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	climit_leave(&a);
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_RATE);
	CU_ASSERT_EQUAL(n, 3);
	/* Refused attempts count: still refused. */
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_RATE);
	CU_ASSERT_EQUAL(n, 4);
	usleep(350 * 1000);
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	climit_leave(&a);
}

static void
test_exempt(void)
{
	struct netlist nl;
	struct climit_conf c = { 1, 1, 60000, &nl };
	struct netlist_addr lo = t_addr("127.0.0.5"), out = t_addr("198.51.100.1");
	char	 err[128];
	unsigned int n;
	int	 i;

	CU_ASSERT_EQUAL_FATAL(netlist_parse("127.0.0.0/8", &nl, err, sizeof(err)), 0);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(climit_enter(&c, &lo, &n), CLIMIT_EXEMPT);
	CU_ASSERT_EQUAL(climit_enter(&c, &out, &n), CLIMIT_OK);
	CU_ASSERT_EQUAL(climit_enter(&c, &out, &n), CLIMIT_COUNT);
	climit_leave(&out);
	/* No limits at all: nothing is counted. */
	c.count_limit = c.rate_limit = 0;
	CU_ASSERT_EQUAL(climit_enter(&c, &out, &n), CLIMIT_EXEMPT);
	netlist_free(&nl);
}

#define T_THREADS	4
#define T_ROUNDS	20000

static void *
t_hammer(void *arg)
{
	struct climit_conf c = { 1000000, 0, 1, NULL };
	struct netlist_addr a[4];
	unsigned int n;
	int	 i;

	(void)arg;
	a[0] = t_addr("203.0.113.1");
	a[1] = t_addr("203.0.113.2");
	a[2] = t_addr("2001:db8::1");
	a[3] = t_addr("2001:db8::2");
	for (i = 0; i < T_ROUNDS; i++) {
		if (climit_enter(&c, &a[i % 4], &n) == CLIMIT_OK)
			climit_leave(&a[i % 4]);
	}
	return (NULL);
}

static void
test_threads(void)
{
	struct climit_conf c = { 1, 0, 1, NULL };
	struct netlist_addr a = t_addr("203.0.113.1");
	pthread_t t[T_THREADS];
	unsigned int n;
	int	 i;

	for (i = 0; i < T_THREADS; i++)
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, t_hammer, NULL), 0);
	for (i = 0; i < T_THREADS; i++)
		pthread_join(t[i], NULL);
	/* Every enter was left: one more is the first live session. */
	CU_ASSERT_EQUAL(climit_enter(&c, &a, &n), CLIMIT_OK);
	CU_ASSERT_EQUAL(n, 1);
	climit_leave(&a);
}

static const struct unit_test tests[] = {
	{ "concurrency limit per address", test_count },
	{ "rate limit per time unit", test_rate },
	{ "exempt networks and no limits", test_exempt },
	{ "threads count exactly", test_threads },
	{ NULL, NULL }
};

int
main(void)
{
	return (unit_run("climit", tests, NULL, NULL));
}
