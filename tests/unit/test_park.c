/*
 * NAME
 *	test_park - CUnit tests for the waiting set
 * DESCRIPTION
 *	Items wait on socketpairs; the wake function records each wake
 *	(job, timed out or ready) under a lock, so every test can check
 *	that an item woke exactly once, for the right reason, in time.
 */
#include <sys/socket.h>

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "park.h"
#include "sys.h"
#include "unit.h"

#define T_MAX	2000

struct t_job {
	struct park_item item;
	int	 sv[2];		/* item waits on sv[0]; the test writes sv[1] */
	int	 woke;		/* times woken */
	int	 timed_out;
	int64_t	 at;		/* when */
};

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond = PTHREAD_COND_INITIALIZER;
static unsigned int t_woken;

static void
t_wake(void *job, void *arg)
{
	struct t_job *j = job;

	(void)arg;
	pthread_mutex_lock(&t_lock);
	j->woke++;
	j->timed_out = j->item.timed_out;
	j->at = sys_now_ms();
	t_woken++;
	pthread_cond_broadcast(&t_cond);
	pthread_mutex_unlock(&t_lock);
}

/* t_wait_woken - until n wakes in all, or 5 s */
static unsigned int
t_wait_woken(unsigned int n)
{
	int64_t	 end = sys_now_ms() + 5000;
	unsigned int got;

	pthread_mutex_lock(&t_lock);
	while (t_woken < n && sys_now_ms() < end) {
		pthread_mutex_unlock(&t_lock);
		usleep(2000);
		pthread_mutex_lock(&t_lock);
	}
	got = t_woken;
	pthread_mutex_unlock(&t_lock);
	return (got);
}

static struct t_job *
t_jobs(size_t n)
{
	struct t_job *j = calloc(n, sizeof(*j));
	size_t	 i;

	CU_ASSERT_FATAL(j != NULL);
	for (i = 0; i < n; i++) {
		CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, j[i].sv) == 0);
		j[i].item.job = &j[i];
		j[i].item.fd[0] = j[i].sv[0];
		j[i].item.events[0] = POLLIN;
		j[i].item.fd[1] = -1;
		j[i].item.deadline = -1;
	}
	t_woken = 0;
	return (j);
}

static void
t_free(struct t_job *j, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		close(j[i].sv[0]);
		close(j[i].sv[1]);
	}
	free(j);
}

static void
test_ready_and_deadline(void)
{
	struct park *p = park_create(t_wake, NULL);
	struct t_job *j = t_jobs(3);
	int64_t	 t0 = sys_now_ms();

	CU_ASSERT_FATAL(p != NULL && park_start(p) == 0);
	j[1].item.deadline = t0 + 200;
	j[2].item.deadline = t0 + 5000;
	park_add(p, &j[0].item);
	park_add(p, &j[1].item);
	park_add(p, &j[2].item);
	CU_ASSERT_EQUAL(park_count(p), 3);
	usleep(50000);
	CU_ASSERT_EQUAL(t_woken, 0);	/* nothing ready, nothing due */
	CU_ASSERT(write(j[0].sv[1], "x", 1) == 1);
	CU_ASSERT_EQUAL(t_wait_woken(1), 1);
	CU_ASSERT_EQUAL(j[0].woke, 1);
	CU_ASSERT_EQUAL(j[0].timed_out, 0);
	CU_ASSERT_EQUAL(t_wait_woken(2), 2);
	CU_ASSERT_EQUAL(j[1].woke, 1);
	CU_ASSERT_EQUAL(j[1].timed_out, 1);
	CU_ASSERT(j[1].at - t0 >= 200 && j[1].at - t0 < 1500);
	CU_ASSERT_EQUAL(j[2].woke, 0);
	/* Destroying wakes what is left, as timed out. */
	park_destroy(p);
	CU_ASSERT_EQUAL(j[2].woke, 1);
	CU_ASSERT_EQUAL(j[2].timed_out, 1);
	t_free(j, 3);
}

static void
test_two_fds_once(void)
{
	struct park *p = park_create(t_wake, NULL);
	struct t_job *j = t_jobs(2);
	int	 sv[2];

	CU_ASSERT_FATAL(p != NULL && park_start(p) == 0);
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	/* Both fds ready at once: one wake. */
	CU_ASSERT(write(j[0].sv[1], "x", 1) == 1);
	CU_ASSERT(write(sv[1], "y", 1) == 1);
	j[0].item.fd[1] = sv[0];
	j[0].item.events[1] = POLLIN;
	park_add(p, &j[0].item);
	/* The same fd twice: one registration, the union of the events. */
	j[1].item.fd[1] = j[1].sv[0];
	j[1].item.events[1] = POLLOUT;
	park_add(p, &j[1].item);
	CU_ASSERT_EQUAL(t_wait_woken(2), 2);
	usleep(50000);
	CU_ASSERT_EQUAL(j[0].woke, 1);
	CU_ASSERT_EQUAL(j[1].woke, 1);	/* writable at once */
	CU_ASSERT_EQUAL(park_count(p), 0);
	/* Parked again after a wake: works like new. */
	j[1].item.fd[1] = -1;
	j[1].item.events[0] = POLLIN;
	j[1].item.deadline = sys_now_ms() + 100;
	park_add(p, &j[1].item);
	CU_ASSERT_EQUAL(t_wait_woken(3), 3);
	CU_ASSERT_EQUAL(j[1].woke, 2);
	CU_ASSERT_EQUAL(j[1].timed_out, 1);
	park_destroy(p);
	close(sv[0]);
	close(sv[1]);
	t_free(j, 2);
}

static void
test_many(void)
{
	struct park *p = park_create(t_wake, NULL);
	struct t_job *j = t_jobs(T_MAX);
	int64_t	 t0 = sys_now_ms();
	size_t	 i;
	int	 bad = 0;

	CU_ASSERT_FATAL(p != NULL && park_start(p) == 0);
	/* Deadlines in a shuffled order; every third one also made ready. */
	for (i = 0; i < T_MAX; i++) {
		j[i].item.deadline = t0 + 100 + (int64_t)((i * 7919) % T_MAX) / 4;
		park_add(p, &j[i].item);
	}
	for (i = 0; i < T_MAX; i += 3)
		CU_ASSERT(write(j[i].sv[1], "x", 1) == 1);
	CU_ASSERT_EQUAL(t_wait_woken(T_MAX), T_MAX);
	for (i = 0; i < T_MAX; i++) {
		if (j[i].woke != 1)
			bad++;
		/* Not before its deadline, unless it was made ready. */
		if (i % 3 != 0 && (j[i].at < j[i].item.deadline || !j[i].timed_out))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(park_count(p), 0);
	park_destroy(p);
	t_free(j, T_MAX);
}

static void
test_expire_all(void)
{
	struct park *p = park_create(t_wake, NULL);
	struct t_job *j = t_jobs(10);
	size_t	 i;

	CU_ASSERT_FATAL(p != NULL && park_start(p) == 0);
	for (i = 0; i < 10; i++)
		park_add(p, &j[i].item);
	usleep(20000);
	park_expire_all(p);
	CU_ASSERT_EQUAL(t_wait_woken(10), 10);
	for (i = 0; i < 10; i++)
		CU_ASSERT(j[i].woke == 1 && j[i].timed_out == 1);
	park_destroy(p);
	t_free(j, 10);
}

static const struct unit_test tests[] = {
	{ "ready and deadline wakes, destroy", test_ready_and_deadline },
	{ "two fds wake once; park again", test_two_fds_once },
	{ "2000 items, shuffled deadlines", test_many },
	{ "expire all (drain)", test_expire_all },
	{ NULL, NULL }
};

int
main(void)
{
	return (unit_run("park", tests, NULL, NULL));
}
