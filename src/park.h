/*
 * NAME
 *	park - the waiting set: sessions that wait for the network hold no thread
 * SYNOPSIS
 *	#include "park.h"
 * DESCRIPTION
 *	One thread owns an epoll set and a deadline heap. A worker whose
 *	session must wait for a socket hands the session over with
 *	park_add(): up to two fds with the events each waits for, and a
 *	deadline. The session then holds no thread and no stack; when one
 *	of its fds is ready, or its deadline passes, the park thread takes
 *	both fds out of the set and calls wake(job, arg) once, which
 *	queues the session for a worker again.
 *
 *	Ownership: from park_add() until wake() the item (and the session
 *	it belongs to) is the park thread's; the caller must not touch
 *	either in between. wake() hands it back. item->timed_out says why
 *	it woke.
 *
 *	The item lives in the caller's object (no allocation). Items are
 *	registered by the park thread itself (park_add() only links the
 *	item into a locked incoming list and pokes an eventfd), so the
 *	epoll set and the heap have one owner and need no lock; a ready
 *	event is taken for an item once, even when both its fds fire in
 *	the same round.
 *
 *	park_expire_all() wakes every parked item as timed out (drain at
 *	shutdown); park_destroy() does so too, then stops the thread. An
 *	item added once the park is stopping is handed back at once, as
 *	timed out, from park_add() itself.
 * DIAGNOSTICS
 *	park_create(): NULL with errno. park_start(): -1 with errno.
 */
#ifndef TLSPROXY_PARK_H
#define TLSPROXY_PARK_H

#include <stddef.h>
#include <stdint.h>

/*
 * How long a worker waits in poll() for a socket before it parks the
 * session: on loopback or a LAN most steps complete within it and the
 * session never leaves its worker; a slow or idle peer parks at once
 * after it.
 */
#define PARK_GRACE_MS	5

struct park_item {
	void		*job;		/* what wake() gets */
	int		 fd[2];		/* -1: unused */
	short		 events[2];	/* POLLIN, POLLOUT, POLLRDHUP */
	int64_t		 deadline;	/* sys_now_ms() clock; -1: none */
	int		 timed_out;	/* set before wake() */
	/* Park thread's own. */
	size_t		 hidx;		/* place in the deadline heap */
	int		 fired;		/* taken in this round */
	struct park_item *next;		/* incoming list, or this round's */
};

/*
 * park_item_set - what an item waits for: fd0/fd1 with their events (a
 * side without events, or fd -1, is not watched) until deadline
 */
static inline void
park_item_set(struct park_item *it, int fd0, short ev0, int fd1, short ev1,
    int64_t deadline)
{
	it->fd[0] = ev0 != 0 ? fd0 : -1;
	it->events[0] = ev0;
	it->fd[1] = ev1 != 0 ? fd1 : -1;
	it->events[1] = ev1;
	it->deadline = deadline;
}

typedef void	(*park_wake_fn)(void *job, void *arg);

struct park;

struct park	*park_create(park_wake_fn, void *arg);
int		 park_start(struct park *);
/* Hand item (fds, events, deadline, job filled in) to the waiting set. */
void		 park_add(struct park *, struct park_item *);
/* Wake every parked item now, as timed out. */
void		 park_expire_all(struct park *);
unsigned int	 park_count(struct park *);
void		 park_destroy(struct park *);

#endif
