/*
 * NAME
 *	workq - bounded FIFO queue feeding a fixed pool of worker threads
 * DESCRIPTION
 *	See workq.h. One mutex guards the ring, the idle stack and the
 *	counters; it is never held while a job runs.
 *
 *	Idle workers wait on their own condition variable, stacked most
 *	recently idle first: a new job goes straight to the worker that
 *	finished last, whose stack and caches are still warm, and workers
 *	at the bottom of the stack stay cold (their stack pages are never
 *	touched, so they cost no memory) unless the load needs them. Jobs
 *	queue in the ring only when every worker is busy; they are taken
 *	in FIFO order. Resumed jobs (workq_resume()) queue in a list of
 *	links they carry themselves, without a bound, and are taken before
 *	the ring: work already started goes first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "sys.h"
#include "workq.h"

#define WORKQ_MAGIC	0x574b5131u

struct workq_thr {
	struct workq	*wq;
	pthread_t	 tid;
	pthread_cond_t	 wake;		/* job handed over, or stopping */
	void		*job;		/* handed over by workq_push() */
	int		 has_job;	/* (a job may be NULL) */
	struct workq_thr *next_idle;
};

struct workq {
	unsigned int	 magic;
	pthread_mutex_t	 lock;
	pthread_cond_t	 idle;		/* a worker finished a job */
	void		**ring;		/* owned; jobs owned while queued */
	unsigned int	 limit;
	unsigned int	 head;
	unsigned int	 count;
	unsigned int	 busy;
	struct workq_link *rhead, *rtail;	/* resumed jobs, FIFO */
	unsigned int	 nresumed;
	int		 stopping;
	workq_fn	 fn;
	workq_drop_fn	 drop;
	void		*arg;
	struct workq_thr *thr;		/* owned, one per worker */
	struct workq_thr *idle_top;	/* LIFO of waiting workers */
	unsigned int	 nthreads;	/* started successfully */
};

/* workq_worker - run jobs: handed over directly, or from the ring */
static void *
workq_worker(void *p)
{
	struct workq_thr *t = p;
	struct workq *wq = t->wq;
	void	*job;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		if (wq->rhead != NULL) {
			job = wq->rhead->job;
			if ((wq->rhead = wq->rhead->next) == NULL)
				wq->rtail = NULL;
			wq->nresumed--;
		} else if (wq->count > 0) {
			job = wq->ring[wq->head];
			wq->head = (wq->head + 1) % wq->limit;
			wq->count--;
		} else if (wq->stopping) {
			break;
		} else {
			t->has_job = 0;
			t->next_idle = wq->idle_top;
			wq->idle_top = t;
			while (!t->has_job && !wq->stopping)
				pthread_cond_wait(&t->wake, &wq->lock);
			if (!t->has_job)
				continue;	/* stopping: the shutdown took us off the stack */
			job = t->job;
			t->has_job = 0;
			wq->busy--;	/* counted as busy by workq_push() */
		}
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
	    (wq->thr = calloc(nthreads, sizeof(*wq->thr))) == NULL) {
		free(wq->ring);
		free(wq);
		return (NULL);
	}
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->idle, NULL);
	pthread_attr_init(&attr);
	if (stacksize > 0)
		pthread_attr_setstacksize(&attr, stacksize);
	for (i = 0; i < nthreads; i++) {
		wq->thr[i].wq = wq;
		pthread_cond_init(&wq->thr[i].wake, NULL);
		rc = pthread_create(&wq->thr[i].tid, &attr, workq_worker, &wq->thr[i]);
		if (rc != 0) {
			pthread_cond_destroy(&wq->thr[i].wake);
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
	struct workq_thr *t;
	int	 err = 0;

	pthread_mutex_lock(&wq->lock);
	if (wq->stopping)
		err = ESHUTDOWN;
	else if (wq->count >= wq->limit)
		err = EAGAIN;
	else if (wq->idle_top != NULL) {
		/* Nothing is queued when a worker idles: hand the job over. */
		t = wq->idle_top;
		wq->idle_top = t->next_idle;
		t->job = job;
		t->has_job = 1;
		wq->busy++;	/* so workq_wait_idle() sees it before the worker wakes */
		pthread_cond_signal(&t->wake);
	} else {
		wq->ring[(wq->head + wq->count) % wq->limit] = job;
		wq->count++;
	}
	pthread_mutex_unlock(&wq->lock);
	if (err) {
		errno = err;
		return (-1);
	}
	return (0);
}

void
workq_resume(struct workq *wq, struct workq_link *l)
{
	struct workq_thr *t;

	pthread_mutex_lock(&wq->lock);
	if (wq->idle_top != NULL) {
		t = wq->idle_top;
		wq->idle_top = t->next_idle;
		t->job = l->job;
		t->has_job = 1;
		wq->busy++;
		pthread_cond_signal(&t->wake);
	} else {
		l->next = NULL;
		if (wq->rtail != NULL)
			wq->rtail->next = l;
		else
			wq->rhead = l;
		wq->rtail = l;
		wq->nresumed++;
	}
	pthread_mutex_unlock(&wq->lock);
}

void
workq_counts(struct workq *wq, unsigned int *queued, unsigned int *busy)
{
	pthread_mutex_lock(&wq->lock);
	if (queued)
		*queued = wq->count + wq->nresumed;
	if (busy)
		*busy = wq->busy;
	pthread_mutex_unlock(&wq->lock);
}

unsigned int
workq_waiting(struct workq *wq)
{
	unsigned int n;

	pthread_mutex_lock(&wq->lock);
	n = wq->count + wq->nresumed;
	pthread_mutex_unlock(&wq->lock);
	return (n);
}

unsigned int
workq_limit(const struct workq *wq)
{
	return (wq->limit);
}

void
workq_shutdown(struct workq *wq)
{
	struct workq_thr *t;

	pthread_mutex_lock(&wq->lock);
	wq->stopping = 1;
	while ((t = wq->idle_top) != NULL) {
		wq->idle_top = t->next_idle;
		pthread_cond_signal(&t->wake);
	}
	pthread_mutex_unlock(&wq->lock);
}

int
workq_wait_idle(struct workq *wq, int64_t deadline_ms)
{
	struct timespec ts;
	int	 rc = 0, left;

	pthread_mutex_lock(&wq->lock);
	while (wq->count > 0 || wq->nresumed > 0 || wq->busy > 0) {
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
	for (i = 0; i < wq->nthreads; i++) {
		pthread_join(wq->thr[i].tid, NULL);
		pthread_cond_destroy(&wq->thr[i].wake);
	}
	/* Workers drain the queue before exiting; this only runs if none started. */
	while (wq->rhead != NULL) {
		job = wq->rhead->job;
		wq->rhead = wq->rhead->next;
		if (wq->drop != NULL)
			wq->drop(job, wq->arg);
	}
	while (wq->count > 0) {
		job = wq->ring[wq->head];
		wq->head = (wq->head + 1) % wq->limit;
		wq->count--;
		if (wq->drop != NULL)
			wq->drop(job, wq->arg);
	}
	pthread_cond_destroy(&wq->idle);
	pthread_mutex_destroy(&wq->lock);
	free(wq->thr);
	free(wq->ring);
	wq->magic = 0;
	free(wq);
}
