/*
 * NAME
 *	workq - bounded FIFO queue feeding a fixed pool of worker threads
 * SYNOPSIS
 *	#include "workq.h"
 * DESCRIPTION
 *	workq_create() starts nthreads workers with the given stack size
 *	(deliberately small: a worker runs one TLS session, not a deep
 *	recursion) and a queue of at most limit waiting jobs.
 *
 *	workq_push() never blocks: it fails at once when the queue is full
 *	so the acceptor can refuse the connection and move on. On success
 *	the queue owns the job until a worker calls fn(job, arg); fn owns
 *	it from then on. On failure the caller keeps it.
 *
 *	workq_resume() queues a job that was already running once (a
 *	session back from the waiting set): never refused, not even
 *	while shutting down, and taken before the jobs of workq_push().
 *	The job carries its own link (no allocation); the queue owns both
 *	until fn(job) runs.
 *
 *	workq_shutdown() refuses new jobs; workers finish the queued ones
 *	and exit. workq_wait_idle() waits (bounded) for that.
 *	workq_destroy() shuts down, joins every worker, and hands jobs
 *	still queued to drop(job) so nothing leaks.
 * DIAGNOSTICS
 *	workq_create(): NULL with errno. workq_push(): -1 with errno
 *	EAGAIN (full) or ESHUTDOWN (shutting down).
 */
#ifndef TLSPROXY_WORKQ_H
#define TLSPROXY_WORKQ_H

#include <stddef.h>
#include <stdint.h>

struct workq;

/* A link a resumable job carries, for workq_resume(). */
struct workq_link {
	void		*job;
	struct workq_link *next;
};

typedef void	(*workq_fn)(void *job, void *arg);
typedef void	(*workq_drop_fn)(void *job, void *arg);

struct workq	*workq_create(unsigned int nthreads, unsigned int limit,
		    size_t stacksize, workq_fn fn, workq_drop_fn drop, void *arg);
int		 workq_push(struct workq *, void *job);
void		 workq_resume(struct workq *, struct workq_link *);
void		 workq_counts(struct workq *, unsigned int *queued,
		    unsigned int *busy);
/* Jobs queued that no worker has taken yet. */
unsigned int	 workq_waiting(struct workq *);
unsigned int	 workq_limit(const struct workq *);
void		 workq_shutdown(struct workq *);
int		 workq_wait_idle(struct workq *, int64_t deadline_ms);
void		 workq_destroy(struct workq *);

#endif
