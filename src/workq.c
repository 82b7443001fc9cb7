/*
 * NAME
 *	workq - bounded FIFO queue feeding a fixed pool of worker threads
 * DESCRIPTION
 *	See workq.h. One mutex guards the ring and the counters; it is
 *	never held while a job runs. Two condition variables: "work"
 *	wakes workers, "idle" wakes workq_wait_idle().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "sys.h"
#include "workq.h"

#define WORKQ_MAGIC	0x574b5131u

struct workq {
	unsigned int	 magic;
	pthread_mutex_t	 lock;
	pthread_cond_t	 work;		/* job queued or stopping */
	pthread_cond_t	 idle;		/* a worker finished a job */
	void		**ring;		/* owned; jobs owned while queued */
	unsigned int	 limit;
	unsigned int	 head;
	unsigned int	 count;
	unsigned int	 busy;
	int		 stopping;
	workq_fn	 fn;
	workq_drop_fn	 drop;
	void		*arg;
	pthread_t	*threads;	/* owned */
	unsigned int	 nthreads;	/* started successfully */
};

/* workq_worker - take jobs in FIFO order until shut down and drained */
static void *
workq_worker(void *p)
{
	struct workq *wq = p;
	void	*job;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (wq->count == 0 && !wq->stopping)
			pthread_cond_wait(&wq->work, &wq->lock);
		if (wq->count == 0)
			break;
		job = wq->ring[wq->head];
		wq->head = (wq->head + 1) % wq->limit;
		wq->count--;
		wq->busy++;
		pthread_mutex_unlock(&wq->lock);
		wq->fn(job, wq->arg);
		pthread_mutex_lock(&wq->lock);
		wq->busy--;
		pthread_cond_broadcast(&wq->idle);
	}
	pthread_mutex_unlock(&wq->lock);
	return (NULL);
}

struct workq *
workq_create(unsigned int nthreads, unsigned int limit, size_t stacksize,
    workq_fn fn, workq_drop_fn drop, void *arg)
{
	struct workq *wq;
	pthread_attr_t attr;
	unsigned int i;
	int	 rc;

	if (nthreads == 0 || limit == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((wq = calloc(1, sizeof(*wq))) == NULL)
		return (NULL);
	wq->magic = WORKQ_MAGIC;
	wq->limit = limit;
	wq->fn = fn;
	wq->drop = drop;
	wq->arg = arg;
	if ((wq->ring = calloc(limit, sizeof(void *))) == NULL ||
	    (wq->threads = calloc(nthreads, sizeof(pthread_t))) == NULL) {
		free(wq->ring);
		free(wq);
		return (NULL);
	}
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->work, NULL);
	pthread_cond_init(&wq->idle, NULL);
	pthread_attr_init(&attr);
	if (stacksize > 0)
		pthread_attr_setstacksize(&attr, stacksize);
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&wq->threads[i], &attr, workq_worker, wq);
		if (rc != 0) {
			pthread_attr_destroy(&attr);
			workq_destroy(wq);
			errno = rc;
			return (NULL);
		}
		wq->nthreads++;
	}
	pthread_attr_destroy(&attr);
	return (wq);
}

int
workq_push(struct workq *wq, void *job)
{
	int	 err = 0;

	pthread_mutex_lock(&wq->lock);
	if (wq->stopping)
		err = ESHUTDOWN;
	else if (wq->count >= wq->limit)
		err = EAGAIN;
	else {
		wq->ring[(wq->head + wq->count) % wq->limit] = job;
		wq->count++;
		pthread_cond_signal(&wq->work);
	}
	pthread_mutex_unlock(&wq->lock);
	if (err) {
		errno = err;
		return (-1);
	}
	return (0);
}

void
workq_counts(struct workq *wq, unsigned int *queued, unsigned int *busy)
{
	pthread_mutex_lock(&wq->lock);
	if (queued)
		*queued = wq->count;
	if (busy)
		*busy = wq->busy;
	pthread_mutex_unlock(&wq->lock);
}

unsigned int
workq_limit(const struct workq *wq)
{
	return (wq->limit);
}

void
workq_shutdown(struct workq *wq)
{
	pthread_mutex_lock(&wq->lock);
	wq->stopping = 1;
	pthread_cond_broadcast(&wq->work);
	pthread_mutex_unlock(&wq->lock);
}

int
workq_wait_idle(struct workq *wq, int64_t deadline_ms)
{
	struct timespec ts;
	int	 rc = 0, left;

	pthread_mutex_lock(&wq->lock);
	while (wq->count > 0 || wq->busy > 0) {
		if ((left = sys_ms_left(deadline_ms)) == 0) {
			rc = -1;
			break;
		}
		/* Condition waits use CLOCK_REALTIME; recompute each round. */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (left < 0 || left > 1000)
			left = 1000;
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (long)(left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wq->idle, &wq->lock, &ts);
	}
	pthread_mutex_unlock(&wq->lock);
	return (rc);
}

void
workq_destroy(struct workq *wq)
{
	unsigned int i;
	void	*job;

	if (wq == NULL)
		return;
	if (wq->magic != WORKQ_MAGIC)
		log_panic("%s: bad magic", __func__);
	workq_shutdown(wq);
	for (i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	/* Workers drain the queue before exiting; this only runs if none started. */
	while (wq->count > 0) {
		job = wq->ring[wq->head];
		wq->head = (wq->head + 1) % wq->limit;
		wq->count--;
		if (wq->drop != NULL)
			wq->drop(job, wq->arg);
	}
	pthread_cond_destroy(&wq->work);
	pthread_cond_destroy(&wq->idle);
	pthread_mutex_destroy(&wq->lock);
	free(wq->threads);
	free(wq->ring);
	wq->magic = 0;
	free(wq);
}
