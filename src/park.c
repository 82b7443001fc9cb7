/*
 * NAME
 *	park - the waiting set: sessions that wait for the network hold no thread
 * DESCRIPTION
 *	See park.h. The park thread loops: epoll_wait() until the nearest
 *	deadline; take the incoming items (register their fds with
 *	EPOLLONESHOT, put them in the heap); take the ready items (mark
 *	each once, then unregister and wake them); wake the expired ones.
 *	An item's fds are always out of the set before wake() hands it
 *	back, so no later event can name an item the park thread no
 *	longer owns.
 *
 *	The lock guards the incoming list, the count and the stop flag
 *	only; wake() is called without it.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "park.h"
#include "sys.h"

#define PARK_EVENTS	256	/* epoll events taken per round */
#define PARK_MAGIC	0x5041524bu

struct park {
	unsigned int	 magic;
	int		 epfd;
	int		 evfd;		/* pokes the thread */
	pthread_t	 tid;
	int		 started;
	park_wake_fn	 wake;
	void		*arg;
	pthread_mutex_t	 lock;
	struct park_item *incoming;	/* lock */
	unsigned int	 count;		/* parked, incoming included (lock) */
	int		 stopping;	/* lock */
	int		 expire;	/* lock: wake everything now */
	/* Park thread's own. */
	struct park_item **heap;
	size_t		 nheap;
	size_t		 capheap;
};

/* ------------------------------------------------------------ heap */

static void
park_heap_set(struct park *p, size_t i, struct park_item *it)
{
	p->heap[i] = it;
	it->hidx = i;
}

static void
park_heap_up(struct park *p, size_t i)
{
	struct park_item *it = p->heap[i];

	while (i > 0 && p->heap[(i - 1) / 2]->deadline > it->deadline) {
		park_heap_set(p, i, p->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	park_heap_set(p, i, it);
}

static void
park_heap_down(struct park *p, size_t i)
{
	struct park_item *it = p->heap[i];
	size_t	 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap && p->heap[c + 1]->deadline < p->heap[c]->deadline)
			c++;
		if (p->heap[c]->deadline >= it->deadline)
			break;
		park_heap_set(p, i, p->heap[c]);
		i = c;
	}
	park_heap_set(p, i, it);
}

static int
park_heap_add(struct park *p, struct park_item *it)
{
	struct park_item **n;
	size_t	 cap;

	if (p->nheap == p->capheap) {
		cap = p->capheap ? p->capheap * 2 : 1024;
		if ((n = realloc(p->heap, cap * sizeof(*n))) == NULL)
			return (-1);
		p->heap = n;
		p->capheap = cap;
	}
	park_heap_set(p, p->nheap++, it);
	park_heap_up(p, p->nheap - 1);
	return (0);
}

static void
park_heap_del(struct park *p, struct park_item *it)
{
	size_t	 i = it->hidx;

	if (i >= p->nheap || p->heap[i] != it)
		log_panic("%s: item not in the heap", __func__);
	p->nheap--;
	if (i == p->nheap)
		return;
	park_heap_set(p, i, p->heap[p->nheap]);
	park_heap_down(p, i);
	park_heap_up(p, p->heap[i]->hidx);
}

/* ------------------------------------------------------------ items */

static uint32_t
park_epoll_events(short ev)
{
	return ((ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) |
	    (ev & POLLRDHUP ? EPOLLRDHUP : 0) | EPOLLONESHOT);
}

/* park_register - the item's fds into the set; -1 when that failed */
static int
park_register(struct park *p, struct park_item *it)
{
	struct epoll_event ev;
	int	 i;

	/* One registration per fd: the same fd twice gets the union. */
	if (it->fd[1] >= 0 && it->fd[1] == it->fd[0]) {
		it->events[0] |= it->events[1];
		it->fd[1] = -1;
	}
	for (i = 0; i < 2; i++) {
		if (it->fd[i] < 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.events = park_epoll_events(it->events[i]);
		ev.data.ptr = it;
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, it->fd[i], &ev) < 0) {
			log_warn("%s: epoll_ctl add fd %d", __func__, it->fd[i]);
			if (i == 1)
				(void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, it->fd[0], NULL);
			return (-1);
		}
	}
	return (0);
}

static void
park_unregister(struct park *p, struct park_item *it)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (it->fd[i] >= 0)
			(void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, it->fd[i], NULL);
}

/* park_wake_list - hand every item of a list back, the lock not held */
static void
park_wake_list(struct park *p, struct park_item *list)
{
	struct park_item *it, *next;
	unsigned int n = 0;

	for (it = list; it != NULL; it = next) {
		next = it->next;
		it->next = NULL;
		it->fired = 0;
		n++;
		p->wake(it->job, p->arg);	/* it may be gone from here */
	}
	if (n > 0) {
		pthread_mutex_lock(&p->lock);
		p->count -= n;
		pthread_mutex_unlock(&p->lock);
	}
}

/* park_take - out of the set and the heap, onto this round's list */
static void
park_take(struct park *p, struct park_item *it, int timed_out,
    struct park_item **list)
{
	park_unregister(p, it);
	park_heap_del(p, it);
	it->timed_out = timed_out;
	it->fired = 1;
	it->next = *list;
	*list = it;
}

/* ------------------------------------------------------------ thread */

static void *
park_thread(void *arg)
{
	struct park *p = arg;
	struct epoll_event evs[PARK_EVENTS];
	struct park_item *in, *it, *next, *wake;
	uint64_t junk;
	int64_t	 now;
	int	 n, i, ms, stop, expire;

	for (;;) {
		ms = -1;
		if (p->nheap > 0) {
			now = sys_now_ms();
			ms = p->heap[0]->deadline <= now ? 0 :
			    (int)(p->heap[0]->deadline - now > 60000 ? 60000 :
			    p->heap[0]->deadline - now);
		}
		n = epoll_wait(p->epfd, evs, PARK_EVENTS, ms);
		if (n < 0 && errno != EINTR)
			log_warn("%s: epoll_wait", __func__);

		pthread_mutex_lock(&p->lock);
		in = p->incoming;
		p->incoming = NULL;
		stop = p->stopping;
		expire = p->expire;
		p->expire = 0;
		pthread_mutex_unlock(&p->lock);

		wake = NULL;
		/* New items: into the set and the heap. */
		for (it = in; it != NULL; it = next) {
			next = it->next;
			it->next = NULL;
			it->fired = 0;
			if (park_heap_add(p, it) < 0) {
				it->timed_out = 1;	/* out of memory: end it */
				it->fired = 1;
				it->next = wake;
				wake = it;
				continue;
			}
			if (park_register(p, it) < 0) {
				park_heap_del(p, it);
				it->timed_out = 1;
				it->fired = 1;
				it->next = wake;
				wake = it;
			}
		}
		/* Ready ones: each once, whichever of its fds fired. */
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				(void)read(p->evfd, &junk, sizeof(junk));
				continue;
			}
			it = evs[i].data.ptr;
			if (!it->fired)
				park_take(p, it, 0, &wake);
		}
		/* Expired ones (all of them when draining or stopping). */
		now = sys_now_ms();
		while (p->nheap > 0 && (expire || stop ||
		    p->heap[0]->deadline <= now))
			park_take(p, p->heap[0], 1, &wake);
		park_wake_list(p, wake);
		if (stop) {
			pthread_mutex_lock(&p->lock);
			n = p->incoming == NULL;
			pthread_mutex_unlock(&p->lock);
			if (n)
				break;
		}
	}
	return (NULL);
}

/* ------------------------------------------------------------ API */

struct park *
park_create(park_wake_fn wake, void *arg)
{
	struct epoll_event ev;
	struct park *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->magic = PARK_MAGIC;
	p->wake = wake;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		if (p->epfd >= 0)
			close(p->epfd);
		free(p);
		return (NULL);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* the eventfd */
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) < 0) {
		close(p->evfd);
		close(p->epfd);
		free(p);
		return (NULL);
	}
	return (p);
}

int
park_start(struct park *p)
{
	int	 rc;

	if ((rc = pthread_create(&p->tid, NULL, park_thread, p)) != 0) {
		errno = rc;
		return (-1);
	}
	p->started = 1;
	return (0);
}

static void
park_poke(struct park *p)
{
	uint64_t one = 1;

	(void)write(p->evfd, &one, sizeof(one));
}

void
park_add(struct park *p, struct park_item *it)
{
	/* The heap orders by deadline: "none" is the far future. */
	if (it->deadline < 0)
		it->deadline = INT64_MAX;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		/* The thread is gone or going: hand it straight back. */
		pthread_mutex_unlock(&p->lock);
		it->timed_out = 1;
		p->wake(it->job, p->arg);
		return;
	}
	it->next = p->incoming;
	p->incoming = it;
	p->count++;
	pthread_mutex_unlock(&p->lock);
	park_poke(p);
}

void
park_expire_all(struct park *p)
{
	pthread_mutex_lock(&p->lock);
	p->expire = 1;
	pthread_mutex_unlock(&p->lock);
	park_poke(p);
}

unsigned int
park_count(struct park *p)
{
	unsigned int n;

	pthread_mutex_lock(&p->lock);
	n = p->count;
	pthread_mutex_unlock(&p->lock);
	return (n);
}

void
park_destroy(struct park *p)
{
	if (p == NULL)
		return;
	if (p->magic != PARK_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stopping = 1;
		pthread_mutex_unlock(&p->lock);
		park_poke(p);
		pthread_join(p->tid, NULL);
	}
	close(p->evfd);
	close(p->epfd);
	pthread_mutex_destroy(&p->lock);
	free(p->heap);
	p->magic = 0;
	free(p);
}
