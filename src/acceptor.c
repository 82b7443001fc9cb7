/*
 * NAME
 *	acceptor - the one thread that accepts connections and queues them
 * DESCRIPTION
 *	See acceptor.h. A self-pipe wakes the thread for a new listener
 *	set or for stopping; both are handed over under acc_lock, and the
 *	caller waits on acc_cond until the thread took them.
 *
 *	Admission happens here, before a session costs a worker: beyond
 *	the session limit (sess_max()), beyond one client address's
 *	limits (sess_admit_client()), or with the queue full, a new
 *	connection is refused at once, without blocking: a handoff client
 *	gets status=0 and is drained here until it closes, a STARTTLS
 *	client gets a 421, an implicit-TLS client is closed.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acceptor.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "netlist.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"
#include "sys.h"
#include "workq.h"

#define ACC_MAX_LISTENERS	256
#define ACC_MAX_REFUSED		256	/* refused handoff clients awaiting EOF */
#define ACC_REFUSED_WAIT_MS	10000
#define ACC_ACCEPT_BURST	64	/* per listener per round, for fairness */

struct acc_refused {
	int	 fd;		/* owned */
	int64_t	 deadline;
};

static pthread_mutex_t acc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t acc_cond = PTHREAD_COND_INITIALIZER;
static pthread_t acc_thread;
static int	acc_wake[2] = { -1, -1 };
static struct workq *acc_wq;
static acceptor_stats_fn acc_stats_fn;
/* Guarded by acc_lock: the pending hand-over. */
static struct lst *acc_pending[ACC_MAX_LISTENERS];
static size_t	acc_npending;
static int	acc_have_pending;
static int	acc_stopping;
static int	acc_generation, acc_applied;
/* Owned by the thread. */
static struct lst *acc_lsts[ACC_MAX_LISTENERS];
static size_t	acc_nlsts;
static struct acc_refused acc_refused[ACC_MAX_REFUSED];
static size_t	acc_nrefused;

static char	acc_hostname[256] = "localhost";

/* acc_refuse_handoff - status=0 now, then wait for the close */
static void
acc_refuse_handoff(int fd)
{
	const unsigned char *bytes;
	size_t	 len;

	bytes = handoff_refuse_bytes(&len);
	/* 38 bytes into a fresh socket buffer: never blocks. */
	if (send(fd, bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len ||
	    acc_nrefused == ACC_MAX_REFUSED) {
		sys_close(&fd);
		return;
	}
	acc_refused[acc_nrefused].fd = fd;
	acc_refused[acc_nrefused].deadline = sys_now_ms() + ACC_REFUSED_WAIT_MS;
	acc_nrefused++;
}

/*
 * acc_refuse - turn a new connection away at once (fd: owned), in the
 * words of its listener kind: status=0 for a handoff client, a 421 for
 * a STARTTLS client (what: "" or " from ADDR"), a close for the rest
 */
static void
acc_refuse(const struct lst *l, int fd, const char *what)
{
	struct snap *snap;
	const struct snap_tls *t;
	char	 reply[512];
	int	 smtp, n;

	if (l->kind == CFG_LST_HANDOFF) {
		acc_refuse_handoff(fd);
		return;
	}
	snap = snap_current();
	t = snap_tls_for(snap, l->key);
	smtp = t->lcfg != NULL && t->lcfg->starttls != CFG_STARTTLS_NONE;
	snap_unref(snap);
	if (smtp) {
		n = snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many "
		    "connections%s\r\n", acc_hostname, what);
		/* Into a fresh socket buffer: never blocks. */
		if (n > 0 && (size_t)n < sizeof(reply))
			(void)send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	sys_close(&fd);
}

/* acc_take_fd - the connection's fd out of a session about to be freed */
static int
acc_take_fd(struct sess *s)
{
	int	 fd;

	if (s->kind == CFG_LST_HANDOFF) {
		fd = s->plain_fd;
		s->plain_fd = -1;
	} else {
		fd = s->net_fd;
		s->net_fd = -1;
	}
	return (fd);
}

void
acceptor_set_stats_fn(acceptor_stats_fn fn)
{
	acc_stats_fn = fn;
}

/* acc_stats - answer a stats socket client at once and close */
static void
acc_stats(int fd)
{
	enum { ACC_STATS_MAX = 64 * 1024 };	/* a few lines per listener */
	char	*buf;
	size_t	 n = 0;

	if ((buf = malloc(ACC_STATS_MAX)) != NULL && acc_stats_fn != NULL)
		n = acc_stats_fn(buf, ACC_STATS_MAX);
	/* Less than a fresh UNIX socket's send buffer: never blocks. */
	if (n > 0 && send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("stats socket: send");
	free(buf);
	sys_close(&fd);
}

/* acc_accept - accept a burst from one listener */
static int
acc_accept(const struct lst *l)
{
	struct sockaddr_storage ss;
	struct netlist_addr ca;
	struct snap *snap;
	struct sess *s;
	socklen_t len;
	char	 peer[SYS_ADDRSTRLEN + 32], what[SYS_ADDRSTRLEN + 8];
	unsigned int max;
	int	 fd, i;

	for (i = 0; i < ACC_ACCEPT_BURST; i++) {
		len = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return (0);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("accept on %s", l->label);
				return (-1);	/* back off */
			}
			log_warn("accept on %s", l->label);
			return (0);
		}
		if (l->kind == CFG_LST_STATS) {
			acc_stats(fd);
			continue;
		}
		if (l->kind == CFG_LST_HANDOFF)
			snprintf(peer, sizeof(peer), "handoff client");
		else {
			sys_format_peer((struct sockaddr *)&ss, len, what,
			    sizeof(what));
			snprintf(peer, sizeof(peer), "connection from %s", what);
		}
		snap = snap_current();
		max = sess_max(snap);
		if (sess_live() >= max) {
			snap_unref(snap);
			STATS_INC(STAT_REFUSED_MAX_SESSIONS);
			log_warnx("too many sessions (limit %u): refused %s on %s", max,
			    peer, l->label);
			acc_refuse(l, fd, "");
			continue;
		}
		s = sess_new(snap, l, fd, (struct sockaddr *)&ss, len);
		snap_unref(snap);
		if (s == NULL) {
			log_warnx("out of memory: dropped a connection on %s", l->label);
			continue;
		}
		/* Handoff: the client is named in the request (handoff.c). */
		if (l->kind != CFG_LST_HANDOFF &&
		    netlist_addr_from_sa((struct sockaddr *)&ss, &ca) == 0 &&
		    sess_admit_client(s, &ca) < 0) {
			netlist_addr_str(&ca, what + 6, sizeof(what) - 6);
			memcpy(what, " from ", 6);
			fd = acc_take_fd(s);
			sess_free(s);
			acc_refuse(l, fd, what);
			continue;
		}
		if (workq_push(acc_wq, s) == 0)
			continue;
		/* Full (or stopping): refuse without blocking. */
		STATS_INC(STAT_QUEUE_FULL);
		log_warnx("work queue full (limit %u): refused %s on %s",
		    workq_limit(acc_wq), peer, l->label);
		fd = acc_take_fd(s);
		sess_free(s);
		acc_refuse(l, fd, "");
	}
	return (0);
}

/* acc_service_refused - drain refused clients; close at EOF or deadline */
static void
acc_service_refused(const struct pollfd *pfd)
{
	unsigned char buf[512];
	size_t	 i;
	ssize_t	 n;
	int64_t	 now = sys_now_ms();

	for (i = 0; i < acc_nrefused;) {
		int done = 0;
		if (pfd[i].revents) {
			/* recv() without a control buffer: any fd sent is discarded by the kernel. */
			n = recv(acc_refused[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				done = 1;
		}
		if (now >= acc_refused[i].deadline)
			done = 1;
		if (done) {
			sys_close(&acc_refused[i].fd);
			acc_refused[i] = acc_refused[--acc_nrefused];
			break;	/* indices shifted: the rest wait for the next round */
		}
		i++;
	}
}

static void *
acc_main(void *unused)
{
	struct pollfd pfd[1 + ACC_MAX_LISTENERS + ACC_MAX_REFUSED];
	size_t	 i, nl, base;
	int	 n, timeout;
	int64_t	 backoff_until = 0;
	char	 c[64];

	(void)unused;
	for (;;) {
		pthread_mutex_lock(&acc_lock);
		if (acc_have_pending) {
			memcpy(acc_lsts, acc_pending, acc_npending * sizeof(acc_lsts[0]));
			acc_nlsts = acc_npending;
			acc_have_pending = 0;
			acc_applied = acc_generation;
			pthread_cond_broadcast(&acc_cond);
		}
		if (acc_stopping) {
			pthread_mutex_unlock(&acc_lock);
			break;
		}
		pthread_mutex_unlock(&acc_lock);

		pfd[0].fd = acc_wake[0];
		pfd[0].events = POLLIN;
		nl = sys_now_ms() < backoff_until ? 0 : acc_nlsts;
		for (i = 0; i < acc_nlsts; i++) {
			pfd[1 + i].fd = i < nl ? acc_lsts[i]->fd : -1;
			pfd[1 + i].events = POLLIN;
		}
		base = 1 + acc_nlsts;
		for (i = 0; i < acc_nrefused; i++) {
			pfd[base + i].fd = acc_refused[i].fd;
			pfd[base + i].events = POLLIN;
		}
		timeout = acc_nrefused > 0 || nl < acc_nlsts ? 100 : -1;
		for (i = 0; i < base + acc_nrefused; i++)
			pfd[i].revents = 0;
		n = poll(pfd, base + acc_nrefused, timeout);
		if (n < 0) {
			if (errno != EINTR)
				log_warn("acceptor: poll");
			continue;
		}
		if (pfd[0].revents & POLLIN)
			while (read(acc_wake[0], c, sizeof(c)) > 0)
				;
		for (i = 0; i < nl; i++)
			if ((pfd[1 + i].revents & POLLIN) && acc_accept(acc_lsts[i]) < 0)
				backoff_until = sys_now_ms() + 100;
		if (acc_nrefused > 0)
			acc_service_refused(pfd + base);
	}
	for (i = 0; i < acc_nrefused; i++)
		sys_close(&acc_refused[i].fd);
	acc_nrefused = 0;
	return (NULL);
}

static void
acc_poke(void)
{
	char	 c = 1;

	if (write(acc_wake[1], &c, 1) < 0 && errno != EAGAIN)
		log_warn("acceptor: wake-up pipe");
}

int
acceptor_start(struct workq *wq, struct lst *const *l, size_t n)
{
	int	 rc;

	if (n > ACC_MAX_LISTENERS) {
		errno = E2BIG;
		return (-1);
	}
	if (pipe2(acc_wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return (-1);
	acc_wq = wq;
	if (gethostname(acc_hostname, sizeof(acc_hostname)) < 0)
		snprintf(acc_hostname, sizeof(acc_hostname), "localhost");
	acc_hostname[sizeof(acc_hostname) - 1] = '\0';
	memcpy(acc_lsts, l, n * sizeof(l[0]));
	acc_nlsts = n;
	acc_stopping = 0;
	if ((rc = pthread_create(&acc_thread, NULL, acc_main, NULL)) != 0) {
		errno = rc;
		return (-1);
	}
	return (0);
}

void
acceptor_set_listeners(struct lst *const *l, size_t n)
{
	int	 gen;

	if (n > ACC_MAX_LISTENERS)
		log_panic("%s: too many listeners", __func__);
	pthread_mutex_lock(&acc_lock);
	memcpy(acc_pending, l, n * sizeof(l[0]));
	acc_npending = n;
	acc_have_pending = 1;
	gen = ++acc_generation;
	acc_poke();
	while (acc_applied < gen && !acc_stopping)
		pthread_cond_wait(&acc_cond, &acc_lock);
	pthread_mutex_unlock(&acc_lock);
}

void
acceptor_stop(void)
{
	pthread_mutex_lock(&acc_lock);
	acc_stopping = 1;
	acc_poke();
	pthread_mutex_unlock(&acc_lock);
	pthread_join(acc_thread, NULL);
	sys_close(&acc_wake[0]);
	sys_close(&acc_wake[1]);
}
