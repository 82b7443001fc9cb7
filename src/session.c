/*
 * NAME
 *	session - one proxied connection: its object, registry and worker entry
 * DESCRIPTION
 *	See session.h. The registry lock guards the list links and the
 *	fds as seen by sess_kill_all()/sess_check_stuck(); an fd is set
 *	and cleared under it, so those never shutdown(2) a number that
 *	was already closed and reused. No I/O or logging under the lock
 *	except shutdown(2), which does not block.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"
#include "handoff.h"
#include "log.h"
#include "tls_common.h"
#include "relay.h"
#include "session.h"
#include "stats.h"

static pthread_mutex_t sess_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sess *sess_head;		/* live sessions */
static unsigned int sess_nlive;
static struct workq *sess_wq;		/* set once before any session */
static struct park *sess_pk;
static unsigned int sess_cap = 1000000;	/* set once at start */
/*
 * This worker's session went to the waiting set: after park_add() it
 * may already run on another worker, so the one that parked it must
 * not look at it again, not even at a flag inside it.
 */
static __thread int sess_gone;

struct sess *
sess_new(struct snap *snap, const struct lst *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct sess *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sys_close(&fd);
		return (NULL);
	}
	s->magic = SESS_MAGIC;
	s->snap = snap_ref(snap);
	s->tls = snap_tls_for(snap, l->key);
	s->kind = l->kind;
	s->plain_fd = -1;
	s->net_fd = -1;
	snprintf(s->lst_label, sizeof(s->lst_label), "%s", l->label);
	snprintf(s->scope, sizeof(s->scope), "%s", l->scope);
	memcpy(s->sid_ctx, l->sid_ctx, sizeof(s->sid_ctx));	/* handoff refines it per service id */
	s->lstats = l->stats;
	STATS_LST_INC(s->lstats, sessions);
	STATS_LST_INC(s->lstats, live);
	if (l->kind == CFG_LST_HANDOFF) {
		STATS_INC(STAT_SESSIONS_HANDOFF);
		s->plain_fd = fd;
	} else {
		STATS_INC(STAT_SESSIONS_TCP);
		s->net_fd = fd;
		sys_format_peer(sa, salen, s->peer, sizeof(s->peer));
		snprintf(s->serverid, sizeof(s->serverid), "%.*s",
		    (int)sizeof(s->serverid) - 1, l->label);
		snprintf(s->backend_label, sizeof(s->backend_label), "%s",
		    l->backend_label);
		s->backend = l->backend;
		s->handshake_ms = l->handshake_ms;
		s->idle_ms = l->idle_ms;
		s->connect_ms = l->connect_ms;
	}
	pthread_mutex_lock(&sess_lock);
	s->next = sess_head;
	if (sess_head)
		sess_head->prev = s;
	sess_head = s;
	sess_nlive++;
	pthread_mutex_unlock(&sess_lock);
	return (s);
}

void
sess_free(struct sess *s)
{
	if (s == NULL)
		return;
	if (s->magic != SESS_MAGIC)
		log_panic("%s: bad magic", __func__);
	pthread_mutex_lock(&sess_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		sess_head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	sess_nlive--;
	pthread_mutex_unlock(&sess_lock);
	STATS_LST_DEC(s->lstats, live);
	if (s->relay != NULL) {
		relay_finish(s->relay);
		free(s->relay);
	}
	if (s->ctx != NULL && s->ctx_free != NULL)
		s->ctx_free(s->ctx);
	if (s->climited)
		climit_leave(&s->caddr);
	SSL_free(s->ssl);		/* SSL_set_fd() never closes the fd */
	sys_close(&s->net_fd);
	sys_close(&s->plain_fd);
	snap_unref(s->snap);
	s->magic = 0;
	free(s);
}

static void	sess_hs_go(struct sess *);

/* sess_hs_end - the handshake is over: a server's is counted and logged */
static void
sess_hs_end(struct sess *s, enum tls_hs hr)
{
	if (s->hs_server) {
		if (hr != TLS_HS_OK) {
			STATS_INC(STAT_HANDSHAKE_FAILED);
			sess_count_handshake(s, 0);
			if (hr == TLS_HS_TIMEOUT)
				log_warnx("ciphertext read/write timeout for %s", s->peer);
			else if (hr == TLS_HS_LOCAL_GONE && s->hs_gone != NULL)
				log_warnx("%s closed the connection during the TLS "
				    "handshake with %s", s->hs_gone, s->peer);
			tls_log_errors();
			log_fail("TLS handshake failed for service=%s peer=%s",
			    s->serverid, s->peer);
		} else {
			tlss_count_handshake(s->ssl);
			sess_count_handshake(s, 1);
			tlss_log_established(s->tls->tls, s->ssl, s->peer);
		}
	}
	s->hs_next(s, hr);
}

/*
 * sess_hello_need - how many bytes the client's first TLS record needs
 * in all, while they are not all there; 0 when OpenSSL should go on:
 * the record is whole, or it is not a handshake record, or the peer
 * closed its side, or an error (OpenSSL then says what it is)
 */
static int
sess_hello_need(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };
	unsigned char h[5];
	ssize_t	 n;
	int	 avail, need;

	/* The peer closed (or an error): OpenSSL reads what there is. */
	if (poll(&p, 1, 0) > 0)
		return (0);
	n = recv(fd, h, sizeof(h), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ?
		    (int)sizeof(h) : 0);
	if (n == 0 || h[0] != 22)	/* 22: a handshake record */
		return (0);
	if (n < (ssize_t)sizeof(h))
		return ((int)sizeof(h));
	need = 5 + ((h[3] << 8) | h[4]);
	if (ioctl(fd, FIONREAD, &avail) < 0 || avail >= need)
		return (0);
	return (need);
}

/* sess_lowat - poll() reports fd readable from this many bytes on */
static int
sess_lowat(int fd, int n)
{
	return (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof(n)));
}

/*
 * sess_hello_go - no SSL until the client's first record is here: a
 * client that sends half a ClientHello and stops costs its socket and
 * the session, not OpenSSL's buffers, and one that trickles it wakes
 * nobody until it is whole (SO_RCVLOWAT: TCP peers only; for others
 * OpenSSL reads at once). The handshake deadline runs meanwhile.
 */
static void
sess_hello_go(struct sess *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd w;
	int	 need;

	for (;;) {
		if (s->pk.timed_out) {
			s->pk.timed_out = 0;
			sess_hs_end(s, TLS_HS_TIMEOUT);
			return;
		}
		if (s->hs_watch >= 0) {
			w.fd = s->hs_watch;
			w.events = POLLRDHUP;
			w.revents = 0;
			if (poll(&w, 1, 0) > 0 &&
			    (w.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				sess_hs_end(s, TLS_HS_LOCAL_GONE);
				return;
			}
		}
		if ((need = sess_hello_need(s->net_fd)) == 0)
			break;
		if (!s->hs_lowat && (getsockname(s->net_fd, (struct sockaddr *)&ss,
		    &len) < 0 || (ss.ss_family != AF_INET && ss.ss_family !=
		    AF_INET6)))
			break;
		if (sess_lowat(s->net_fd, need) < 0)
			break;
		s->hs_lowat = 1;
		park_item_set(&s->pk, s->net_fd, POLLIN, s->hs_watch, POLLRDHUP,
		    s->hs_deadline);
		if (!sess_wait(s, sess_hello_go))
			return;
	}
	if (s->hs_lowat) {
		(void)sess_lowat(s->net_fd, 1);
		s->hs_lowat = 0;
	}
	if ((s->ssl = tlss_ssl_new(s->tls->tls, s->net_fd, s->peer,
	    s->sid_ctx)) == NULL) {
		sess_hs_end(s, TLS_HS_FAIL);
		return;
	}
	sess_hs_go(s);
}

/*
 * sess_hs_go - the handshake goes on until it ends or must wait; the
 * deadline set when it began holds however the peer trickles
 */
static void
sess_hs_go(struct sess *s)
{
	enum tls_hs hr;

	for (;;) {
		if (s->pk.timed_out) {
			s->pk.timed_out = 0;
			hr = TLS_HS_TIMEOUT;
			break;
		}
		hr = tls_handshake_run(s->ssl, s->net_fd, s->hs_watch,
		    s->hs_deadline, sess_grace_ms(), &s->busy);
		if (hr != TLS_HS_WAIT)
			break;
		park_item_set(&s->pk, s->net_fd, tls_handshake_want(s->ssl),
		    s->hs_watch, POLLRDHUP /* hang-up only */, s->hs_deadline);
		/* Nothing to read: the record buffers go back meanwhile. */
		(void)SSL_free_buffers(s->ssl);
		sess_park(s, sess_hs_go);
		return;
	}
	sess_hs_end(s, hr);
}

/* sess_hs_setup - a handshake on net_fd begins, in either role */
static void
sess_hs_setup(struct sess *s, int server, int watch_fd, int64_t deadline,
    const char *gone_what, void (*next)(struct sess *, enum tls_hs))
{
	s->hs_server = server;
	s->hs_watch = watch_fd;
	s->hs_deadline = deadline;
	s->hs_gone = gone_what;
	s->hs_next = next;
	s->pk.timed_out = 0;
}

void
sess_tls_accept(struct sess *s, int watch_fd, int64_t deadline,
    const char *gone_what, void (*next)(struct sess *, enum tls_hs))
{
	sess_hs_setup(s, 1, watch_fd, deadline, gone_what, next);
	sess_hello_go(s);
}

void
sess_tls_connect(struct sess *s, int watch_fd, int64_t deadline,
    void (*next)(struct sess *, enum tls_hs))
{
	sess_hs_setup(s, 0, watch_fd, deadline, NULL, next);
	sess_hs_go(s);
}

int
sess_wait(struct sess *s, void (*cont)(struct sess *))
{
	struct pollfd pfd[2];
	int	 i, n, ms, grace;

	for (i = 0; i < 2; i++) {
		pfd[i].fd = s->pk.fd[i];
		pfd[i].events = s->pk.events[i];
		pfd[i].revents = 0;
	}
	grace = sess_grace_ms();
	for (;;) {
		ms = s->pk.deadline < 0 ? -1 : sys_ms_left(s->pk.deadline);
		if (ms == 0) {
			s->pk.timed_out = 1;
			return (1);
		}
		if (ms < 0 || ms > grace)
			ms = grace;
		n = poll(pfd, 2, ms);
		if (n < 0 && errno == EINTR)
			continue;
		/* Ready, or poll() failed: the caller's next I/O call says more. */
		if (n != 0) {
			s->pk.timed_out = 0;
			return (1);
		}
		if (s->pk.deadline >= 0 && sys_ms_left(s->pk.deadline) == 0) {
			s->pk.timed_out = 1;
			return (1);
		}
		break;
	}
	sess_park(s, cont);
	return (0);
}

/* sess_count_handshake - per listener; the global counters are by role */
void
sess_count_handshake(struct sess *s, int ok)
{
	if (ok)
		STATS_LST_INC(s->lstats, handshakes);
	else
		STATS_LST_INC(s->lstats, handshakes_failed);
}

/*
 * sess_relay_done - after the relay over ssl (NULL: plain bytes): an
 * orderly end keeps the TLS session resumable, a TLS error is logged,
 * the bytes and a timeout are counted (globally and per listener) and
 * the timeout is logged in Postfix's words.
 */
static void
sess_relay_done(struct sess *s, SSL *ssl, const struct relay_result *res)
{
	if (ssl != NULL) {
		if (res->end == RELAY_LOCAL_EOF || res->end == RELAY_REMOTE_EOF)
			tls_mark_clean(ssl);
		else if (res->end == RELAY_REMOTE_ERROR)
			tls_log_errors();
	}
	sess_count_bytes(s, res->to_remote, res->to_local);
	if (res->end == RELAY_TIMEOUT) {
		STATS_INC(STAT_TIMEOUTS);
		STATS_LST_INC(s->lstats, timeouts);
		log_warnx("%s read/write timeout for %s", ssl != NULL ?
		    "ciphertext" : "plaintext", s->peer);
	}
}

/* sess_count_bytes - plaintext bytes relayed, globally and per listener */
void
sess_count_bytes(struct sess *s, uint64_t to_remote, uint64_t to_local)
{
	STATS_ADD(STAT_BYTES_TO_REMOTE, to_remote);
	STATS_ADD(STAT_BYTES_TO_LOCAL, to_local);
	STATS_LST_ADD(s->lstats, bytes_to_remote, to_remote);
	STATS_LST_ADD(s->lstats, bytes_to_local, to_local);
}

void
sess_set_net_fd(struct sess *s, int fd)
{
	pthread_mutex_lock(&sess_lock);
	s->net_fd = fd;
	pthread_mutex_unlock(&sess_lock);
	if (atomic_load(&s->killed))
		(void)shutdown(fd, SHUT_RDWR);	/* raced with a kill */
}

void
sess_set_plain_fd(struct sess *s, int fd)
{
	pthread_mutex_lock(&sess_lock);
	s->plain_fd = fd;
	pthread_mutex_unlock(&sess_lock);
	if (atomic_load(&s->killed))
		(void)shutdown(fd, SHUT_RDWR);
}

void
sess_set_peer(struct sess *s, const char *peer, const char *serverid)
{
	char	 p[SESS_LABEL_MAX], id[SESS_LABEL_MAX];

	/* Peer-supplied text: keep log lines printable. */
	sys_printable(p, sizeof(p), peer);
	sys_printable(id, sizeof(id), serverid);
	pthread_mutex_lock(&sess_lock);
	memcpy(s->peer, p, sizeof(p));
	memcpy(s->serverid, id, sizeof(id));
	pthread_mutex_unlock(&sess_lock);
}

void
sess_runtime(struct workq *wq, struct park *pk)
{
	sess_wq = wq;
	sess_pk = pk;
}

int
sess_grace_ms(void)
{
	/*
	 * Waiting in the grace holds a worker: only while no other work
	 * waits for one, so a peer that trickles bytes just often enough
	 * to stay inside the grace cannot keep workers from others.
	 */
	return (workq_waiting(sess_wq) > 0 ? 0 : PARK_GRACE_MS);
}

unsigned int
sess_parked(void)
{
	return (sess_pk != NULL ? park_count(sess_pk) : 0);
}

void
sess_park(struct sess *s, void (*cont)(struct sess *))
{
	s->cont = cont;
	s->pk.job = s;
	sess_gone = 1;
	park_add(sess_pk, &s->pk);	/* s is the waiting set's from here */
}

void
sess_wake(void *job, void *arg)
{
	struct sess *s = job;

	(void)arg;
	s->wql.job = s;
	workq_resume(sess_wq, &s->wql);
}

/* sess_relay_go - the relay goes on until it ends or must wait */
static void
sess_relay_go(struct sess *s)
{
	struct relay_result res;
	SSL	*ssl;

	if (relay_step(s->relay, &s->pk) == RELAY_STEP_WAIT) {
		sess_park(s, sess_relay_go);
		return;
	}
	relay_finish(s->relay);
	res = s->relay->res;
	ssl = s->relay->ssl;
	free(s->relay);
	s->relay = NULL;
	sess_relay_done(s, ssl, &res);
	log_debug("%s: session ended (%s): %llu bytes to remote, %llu to local",
	    s->peer, relay_end_str(res.end), (unsigned long long)res.to_remote,
	    (unsigned long long)res.to_local);
	s->relay_end(s);
}

void
sess_relay_start(struct sess *s, SSL *ssl, int idle_ms, int half_close,
    void (*end)(struct sess *))
{
	if ((s->relay = malloc(sizeof(*s->relay))) == NULL) {
		log_warnx("%s: out of memory", s->peer);
		end(s);
		return;
	}
	relay_init(s->relay, s->plain_fd, ssl, s->net_fd, idle_ms, half_close,
	    &s->busy, sess_grace_ms);
	s->relay_end = end;
	sess_relay_go(s);
}

void
sess_run(void *job, void *arg)
{
	struct sess *s = job;
	void	(*cont)(struct sess *);

	(void)arg;
	if (s->magic != SESS_MAGIC)
		log_panic("%s: bad magic", __func__);
	sess_gone = 0;
	if ((cont = s->cont) != NULL) {
		s->cont = NULL;
		cont(s);
	} else if (s->kind == CFG_LST_HANDOFF)
		handoff_run(s);
	else
		frontend_run(s);
	if (!sess_gone)
		sess_free(s);
}

void
sess_drop(void *job, void *arg)
{
	(void)arg;
	sess_free(job);
}

void
sess_set_capacity(unsigned int n)
{
	sess_cap = n;
}

unsigned int
sess_capacity(void)
{
	return (sess_cap);
}

unsigned int
sess_max(const struct snap *snap)
{
	return (snap->max_sessions != 0 && snap->max_sessions < sess_cap ?
	    snap->max_sessions : sess_cap);
}

int
sess_admit_client(struct sess *s, const struct netlist_addr *a)
{
	unsigned int n;

	switch (climit_enter(&s->snap->climit, a, &n)) {
	case CLIMIT_OK:
		s->caddr = *a;
		s->climited = 1;
		return (0);
	case CLIMIT_EXEMPT:
		return (0);
	case CLIMIT_COUNT:
		STATS_INC(STAT_REFUSED_CLIENT_COUNT);
		log_warnx("Connection concurrency limit exceeded: %u from %s for "
		    "service %s", n, s->peer, s->serverid);
		return (-1);
	case CLIMIT_RATE:
		STATS_INC(STAT_REFUSED_CLIENT_RATE);
		log_warnx("Connection rate limit exceeded: %u from %s for service %s",
		    n, s->peer, s->serverid);
		return (-1);
	}
	return (-1);
}

unsigned int
sess_live(void)
{
	unsigned int n;

	pthread_mutex_lock(&sess_lock);
	n = sess_nlive;
	pthread_mutex_unlock(&sess_lock);
	return (n);
}

/* sess_kill_locked - interrupt one session; the worker cleans up */
static void
sess_kill_locked(struct sess *s)
{
	atomic_store(&s->killed, 1);
	if (s->net_fd >= 0)
		(void)shutdown(s->net_fd, SHUT_RDWR);
	if (s->plain_fd >= 0)
		(void)shutdown(s->plain_fd, SHUT_RDWR);
}

void
sess_kill_all(void)
{
	struct sess *s;

	pthread_mutex_lock(&sess_lock);
	for (s = sess_head; s != NULL; s = s->next)
		sess_kill_locked(s);
	pthread_mutex_unlock(&sess_lock);
}

void
sess_check_stuck(int limit_ms)
{
	struct sess *s;
	char	 peers[8][SESS_LABEL_MAX];
	int64_t	 now = sys_now_ms(), since;
	int	 n = 0, i;

	pthread_mutex_lock(&sess_lock);
	for (s = sess_head; s != NULL; s = s->next) {
		since = atomic_load(&s->busy);
		if (since != 0 && now - since > limit_ms && !atomic_load(&s->killed)) {
			sess_kill_locked(s);
			STATS_INC(STAT_WATCHDOG_KILLS);
			if (n < 8)
				memcpy(peers[n++], s->peer, SESS_LABEL_MAX);
		}
	}
	pthread_mutex_unlock(&sess_lock);
	/* Log outside the lock. */
	for (i = 0; i < n; i++)
		log_warnx("watchdog: session with %s stuck in one I/O call for more "
		    "than %d s; tearing it down", peers[i][0] ? peers[i] : "unknown peer",
		    limit_ms / 1000);
}
