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
#include <errno.h>
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
	SSL_free(s->ssl);		/* SSL_set_fd() never closes the fd */
	sys_close(&s->net_fd);
	sys_close(&s->plain_fd);
	snap_unref(s->snap);
	s->magic = 0;
	free(s);
}

/*
 * sess_tls_accept - the server-role handshake on the session's remote
 * socket, as every listener kind does it: counted, and logged in
 * Postfix's words (the failure line, the established line). watch_fd
 * (or -1): the local side, whose hang-up ends the wait; gone_what
 * (or NULL) names it in the warning then.
 */
enum tlss_result
sess_tls_accept(struct sess *s, int watch_fd, int64_t deadline,
    const char *gone_what)
{
	enum tlss_result hr;

	if ((s->ssl = tlss_ssl_new(s->tls->tls, s->net_fd, s->peer,
	    s->sid_ctx)) == NULL) {
		tls_log_errors();
		log_fail("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		return (TLSS_FAIL);
	}
	hr = tlss_handshake(s->ssl, s->net_fd, watch_fd, deadline, &s->busy);
	if (hr != TLSS_OK) {
		STATS_INC(STAT_HANDSHAKE_FAILED);
		sess_count_handshake(s, 0);
		if (hr == TLSS_TIMEOUT)
			log_warnx("ciphertext read/write timeout for %s", s->peer);
		else if (hr == TLSS_LOCAL_GONE && gone_what != NULL)
			log_warnx("%s closed the connection during the TLS handshake "
			    "with %s", gone_what, s->peer);
		tls_log_errors();
		log_fail("TLS handshake failed for service=%s peer=%s", s->serverid,
		    s->peer);
		return (hr);
	}
	tlss_count_handshake(s->ssl);
	sess_count_handshake(s, 1);
	tlss_log_established(s->tls->tls, s->ssl, s->peer);
	return (TLSS_OK);
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
 * sess_relay_done - after relay_run() over ssl (NULL: plain bytes): an
 * orderly end keeps the TLS session resumable, a TLS error is logged,
 * the bytes and a timeout are counted (globally and per listener) and
 * the timeout is logged in Postfix's words.
 */
void
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
sess_run(void *job, void *arg)
{
	struct sess *s = job;

	(void)arg;
	if (s->magic != SESS_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (s->kind == CFG_LST_HANDOFF)
		handoff_run(s);
	else
		frontend_run(s);
	sess_free(s);
}

void
sess_drop(void *job, void *arg)
{
	(void)arg;
	sess_free(job);
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
