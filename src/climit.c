/*
 * NAME
 *	climit - per-client-address session limits: concurrency and rate
 * DESCRIPTION
 *	See climit.h. A fixed array of hash chains under one mutex; each
 *	call looks at one chain, and drops the chain's entries that have
 *	nothing live and whose time unit is over, so no sweep is needed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "climit.h"
#include "sys.h"

#define CLIMIT_BUCKETS	4096

struct climit_ent {
	struct netlist_addr a;
	unsigned int	 live;
	unsigned int	 started;	/* in the unit that began at since */
	int64_t		 since;
	int64_t		 unit_ms;	/* of the conf that counted them */
	struct climit_ent *next;
};

static pthread_mutex_t climit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct climit_ent *climit_tab[CLIMIT_BUCKETS];	/* climit_lock */
static size_t	climit_n;				/* climit_lock */

static unsigned int
climit_hash(const struct netlist_addr *a)
{
	uint32_t h = 2166136261u;
	size_t	 i;

	for (i = 0; i < sizeof(a->b); i++)
		h = (h ^ a->b[i]) * 16777619u;
	h = (h ^ (uint32_t)a->family) * 16777619u;
	return (h % CLIMIT_BUCKETS);
}

static int
climit_same(const struct netlist_addr *x, const struct netlist_addr *y)
{
	return (x->family == y->family && memcmp(x->b, y->b, sizeof(x->b)) == 0);
}

/* climit_find - the entry of a in its chain, dropping stale ones on the way */
static struct climit_ent *
climit_find(const struct netlist_addr *a, int64_t now)
{
	struct climit_ent **pp, *e, *found = NULL;

	for (pp = &climit_tab[climit_hash(a)]; (e = *pp) != NULL;) {
		if (climit_same(&e->a, a))
			found = e;
		else if (e->live == 0 && now - e->since >= e->unit_ms) {
			*pp = e->next;
			free(e);
			climit_n--;
			continue;
		}
		pp = &e->next;
	}
	return (found);
}

enum climit_verdict
climit_enter(const struct climit_conf *c, const struct netlist_addr *a,
    unsigned int *n)
{
	struct climit_ent *e;
	enum climit_verdict v = CLIMIT_OK;
	int64_t	 now = sys_now_ms();

	*n = 0;
	if ((c->count_limit == 0 && c->rate_limit == 0) ||
	    (c->exempt != NULL && netlist_match(c->exempt, a)))
		return (CLIMIT_EXEMPT);
	pthread_mutex_lock(&climit_lock);
	if ((e = climit_find(a, now)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			/* Out of memory: do not refuse for want of a counter. */
			pthread_mutex_unlock(&climit_lock);
			return (CLIMIT_EXEMPT);
		}
		e->a = *a;
		e->since = now;
		e->next = climit_tab[climit_hash(a)];
		climit_tab[climit_hash(a)] = e;
		climit_n++;
	}
	e->unit_ms = c->unit_ms;
	if (now - e->since >= c->unit_ms) {
		e->since = now;
		e->started = 0;
	}
	e->started++;
	if (c->count_limit != 0 && e->live >= c->count_limit) {
		v = CLIMIT_COUNT;
		*n = e->live + 1;
	} else if (c->rate_limit != 0 && e->started > c->rate_limit) {
		v = CLIMIT_RATE;
		*n = e->started;
	} else {
		e->live++;
		*n = e->live;
	}
	pthread_mutex_unlock(&climit_lock);
	return (v);
}

void
climit_leave(const struct netlist_addr *a)
{
	struct climit_ent *e;

	pthread_mutex_lock(&climit_lock);
	if ((e = climit_find(a, sys_now_ms())) != NULL && e->live > 0)
		e->live--;
	pthread_mutex_unlock(&climit_lock);
}

size_t
climit_tracked(void)
{
	size_t	 n;

	pthread_mutex_lock(&climit_lock);
	n = climit_n;
	pthread_mutex_unlock(&climit_lock);
	return (n);
}
