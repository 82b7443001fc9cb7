/*
 * NAME
 *	test_workq - CUnit suite for the bounded queue and fixed pool
 * DESCRIPTION
 *	Bounded (push fails at the limit, never blocks), FIFO (one
 *	worker sees jobs in push order), every job runs exactly once
 *	under concurrency, shutdown refuses new jobs and drains the
 *	queued ones, wait_idle honours its deadline, destroy hands
 *	never-run jobs to the drop callback.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sys.h"
#include "unit.h"
#include "workq.h"

struct gate {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 open;
};

static struct gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
static int	order[64];
static atomic_int norder;
static atomic_int ran;
static atomic_int dropped;

static void
gate_wait(void)
{
	pthread_mutex_lock(&gate.lock);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

static void
gate_set(int open)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = open;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

/* Job: wait for the gate, then record its number. */
static void
job_gated(void *job, void *arg)
{
	(void)arg;
	gate_wait();
	order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)job;
	atomic_fetch_add(&ran, 1);
}

static void
job_count(void *job, void *arg)
{
	(void)job;
	(void)arg;
	atomic_fetch_add(&ran, 1);
}

static void
job_drop(void *job, void *arg)
{
	(void)job;
	(void)arg;
	atomic_fetch_add(&dropped, 1);
}

static void
reset(void)
{
	atomic_store(&norder, 0);
	atomic_store(&ran, 0);
	atomic_store(&dropped, 0);
	gate_set(0);
}

static void
wait_for_busy(struct workq *wq, unsigned int want)
{
	unsigned int busy = 0, i;

	for (i = 0; i < 2000; i++) {
		workq_counts(wq, NULL, &busy);
		if (busy >= want)
			return;
		usleep(1000);
	}
}

static void
test_bounded(void)
{
	struct workq *wq;
	int	 i;

	reset();
	wq = workq_create(1, 3, 0, job_gated, job_drop, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wq);
	/* The first job occupies the only worker... */
	CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)100), 0);
	wait_for_busy(wq, 1);
	/* ...then exactly "limit" more fit in the queue. */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)i), 0);
	errno = 0;
	CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)99), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	gate_set(1);
	CU_ASSERT_EQUAL(workq_wait_idle(wq, sys_now_ms() + 5000), 0);
	CU_ASSERT_EQUAL(atomic_load(&ran), 4);
	/* Room again once drained. */
	CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)5), 0);
	workq_destroy(wq);
	CU_ASSERT_EQUAL(atomic_load(&ran), 5);
	CU_ASSERT_EQUAL(atomic_load(&dropped), 0);
}

static void
test_fifo(void)
{
	struct workq *wq;
	int	 i;

	reset();
	wq = workq_create(1, 64, 0, job_gated, job_drop, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wq);
	for (i = 0; i < 40; i++)
		CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)i), 0);
	gate_set(1);
	CU_ASSERT_EQUAL(workq_wait_idle(wq, sys_now_ms() + 5000), 0);
	CU_ASSERT_EQUAL(atomic_load(&norder), 40);
	for (i = 0; i < 40; i++)
		CU_ASSERT_EQUAL(order[i], i);
	workq_destroy(wq);
}

static void
test_concurrent_exactly_once(void)
{
	struct workq *wq;
	int	 i, pushed = 0;

	reset();
	wq = workq_create(8, 16, 128 * 1024, job_count, job_drop, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wq);
	for (i = 0; i < 20000; i++) {
		if (workq_push(wq, NULL) == 0)
			pushed++;
		else
			CU_ASSERT_EQUAL(errno, EAGAIN);
	}
	CU_ASSERT_EQUAL(workq_wait_idle(wq, sys_now_ms() + 10000), 0);
	CU_ASSERT_EQUAL(atomic_load(&ran), pushed);
	CU_ASSERT(pushed > 0);
	workq_destroy(wq);
}

static void
test_shutdown_drains(void)
{
	struct workq *wq;
	int	 i;

	reset();
	wq = workq_create(2, 10, 0, job_gated, job_drop, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wq);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(workq_push(wq, (void *)(intptr_t)i), 0);
	workq_shutdown(wq);
	errno = 0;
	CU_ASSERT_EQUAL(workq_push(wq, NULL), -1);
	CU_ASSERT_EQUAL(errno, ESHUTDOWN);
	/* Gate closed: wait_idle must give up at its deadline. */
	CU_ASSERT_EQUAL(workq_wait_idle(wq, sys_now_ms() + 200), -1);
	gate_set(1);
	CU_ASSERT_EQUAL(workq_wait_idle(wq, sys_now_ms() + 5000), 0);
	workq_destroy(wq);
	CU_ASSERT_EQUAL(atomic_load(&ran), 10);
	CU_ASSERT_EQUAL(atomic_load(&dropped), 0);
}

static void
test_bad_args(void)
{
	CU_ASSERT_PTR_NULL(workq_create(0, 1, 0, job_count, job_drop, NULL));
	CU_ASSERT_PTR_NULL(workq_create(1, 0, 0, job_count, job_drop, NULL));
	workq_destroy(NULL);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "bounded: push fails at the limit", test_bounded },
		{ "FIFO order with one worker", test_fifo },
		{ "20000 pushes, 8 workers: each accepted job runs once", test_concurrent_exactly_once },
		{ "shutdown refuses new jobs, drains queued ones", test_shutdown_drains },
		{ "bad arguments", test_bad_args },
		{ NULL, NULL },
	};

	return (unit_run("workq", tests, NULL, NULL));
}
