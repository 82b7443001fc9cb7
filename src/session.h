/*
 * NAME
 *	session - one proxied connection: its object, registry and worker entry
 * SYNOPSIS
 *	#include "session.h"
 * DESCRIPTION
 *	The acceptor creates a session for each accepted connection and
 *	queues it; from sess_new() on, the session owns the accepted fd
 *	(and later the peer fd received over SCM_RIGHTS, the backend fd
 *	and the SSL). sess_run() is the worker entry point; it runs the
 *	handoff or frontend protocol and then sess_free(), the one
 *	destructor, which accepts half-built sessions.
 *
 *	A session that must wait for the network does not keep its
 *	worker: sess_park() hands it to the waiting set (park.h) with
 *	what to run when it is back (cont), and the worker returns to the
 *	pool; when a socket is ready or the deadline passes, the session
 *	is queued again (workq_resume()) and any worker goes on with cont.
 *	The relay phase of every session kind parks this way
 *	(sess_relay_start()): an idle session holds no thread, no stack
 *	and no buffers.
 *
 *	Live sessions are kept in a registry so that shutdown and the
 *	watchdog can interrupt them: they never touch a session's SSL or
 *	close its fds (the owning worker does that); they only
 *	shutdown(2) the sockets, which wakes the worker's poll() with an
 *	error, and the worker tears the session down as usual.
 */
#ifndef TLSPROXY_SESSION_H
#define TLSPROXY_SESSION_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "climit.h"
#include "listener.h"
#include "park.h"
#include "relay.h"
#include "snapshot.h"
#include "tls_common.h"
#include "tls_server.h"
#include "sys.h"
#include "workq.h"

#define SESS_LABEL_MAX	160

struct sess {
	unsigned int	 magic;		/* SESS_MAGIC */
	struct sess	*prev, *next;	/* registry links (registry lock) */
	struct snap	*snap;		/* reference held */
	const struct snap_tls *tls;	/* this listener's TLS settings, in snap */
	enum cfg_listener_kind kind;
	char		 lst_label[256];	/* listener, for logs */
	struct stats_lst *lstats;	/* the listener's counters (not owned) */
	int		 plain_fd;	/* owned: handoff client, or TCP backend */
	int		 net_fd;	/* owned: the remote TLS peer */
	SSL		*ssl;		/* owned; does not own net_fd */
	char		 scope[280];	/* the listener's resumption scope */
	unsigned char	 sid_ctx[TLSS_SID_CTX_LEN];	/* hash of scope, for ssl */
	char		 peer[SESS_LABEL_MAX];	/* "[addr]:port" for logs */
	char		 serverid[SESS_LABEL_MAX];
	/* TCP frontend: copied from the listener at accept time. */
	char		 backend_label[256];
	struct sys_addr	 backend;
	int		 handshake_ms;
	int		 idle_ms;
	int		 connect_ms;
	_Atomic int64_t	 busy;		/* watchdog: inside an I/O call since */
	atomic_int	 killed;	/* watchdog or shutdown interrupted us */
	/* Waiting without a thread. */
	struct park_item pk;		/* while parked: fds, events, deadline */
	struct workq_link wql;		/* when woken */
	void		(*cont)(struct sess *);	/* what the next run does */
	struct relay	*relay;		/* owned: the relay phase */
	/* The relay's end, in the session kind's words. */
	void		(*relay_end)(struct sess *);
	/* The handshake in progress (sess_tls_accept(), sess_tls_connect()). */
	int		 hs_server;	/* counted and logged as a server's */
	int		 hs_lowat;	/* SO_RCVLOWAT raised for the ClientHello */
	int		 hs_watch;
	int64_t		 hs_deadline;
	const char	*hs_gone;	/* static text naming hs_watch, or NULL */
	void		(*hs_next)(struct sess *, enum tls_hs);
	/* The session kind's own state across waits; freed with ctx_free. */
	void		*ctx;
	void		(*ctx_free)(void *);
	/* Counted against its client address's limits (climit.h) until freed. */
	struct netlist_addr caddr;
	int		 climited;
};
#define SESS_MAGIC	0x53455353u

/* Takes ownership of fd (closed on failure). Holds a new ref on snap. */
struct sess	*sess_new(struct snap *, const struct lst *, int fd,
		    const struct sockaddr *, socklen_t);
void		 sess_free(struct sess *);
/* Record the remote peer fd (registry-visible for shutdown). */
void		 sess_set_net_fd(struct sess *, int fd);
/* Record the backend fd (TCP frontend plain side). */
void		 sess_set_plain_fd(struct sess *, int fd);

/* Record the peer label and service id (handoff: from the request). */
void		 sess_set_peer(struct sess *, const char *peer, const char *serverid);

/*
 * The server-role handshake on net_fd: s->ssl made, the handshake
 * counted and logged in Postfix's words; watch_fd (or -1): the local
 * side, whose hang-up ends the wait, named gone_what (static text, or
 * NULL) in the warning then. next(s, result) runs at the end, perhaps
 * on another worker: the caller returns at once without touching s.
 */
void		 sess_tls_accept(struct sess *, int watch_fd, int64_t deadline,
		    const char *gone_what, void (*next)(struct sess *, enum tls_hs));
/* The client-role handshake: s->ssl made by the caller; not logged. */
void		 sess_tls_connect(struct sess *, int watch_fd, int64_t deadline,
		    void (*next)(struct sess *, enum tls_hs));
/*
 * Wait for what s->pk says (fds, events, deadline): PARK_GRACE_MS on
 * this worker, then in the waiting set. 1: go on now (s->pk.timed_out
 * says whether the deadline passed); 0: parked: cont(s) runs when it
 * is back, and the caller returns at once without touching s.
 */
int		 sess_wait(struct sess *, void (*cont)(struct sess *));
/* Count a handshake's outcome, globally and per listener. */
void		 sess_count_handshake(struct sess *, int ok);
/* Plaintext bytes moved to the remote peer and to the local side. */
void		 sess_count_bytes(struct sess *, uint64_t to_remote, uint64_t to_local);

/* The pool and the waiting set sessions go back and forth between. */
void		 sess_runtime(struct workq *, struct park *);
unsigned int	 sess_parked(void);
/*
 * How long to wait on a worker before parking: PARK_GRACE_MS, or 0
 * when other work waits for a worker.
 */
int		 sess_grace_ms(void);
/* Hand s to the waiting set (s->pk filled in); cont runs when it is back. */
void		 sess_park(struct sess *, void (*cont)(struct sess *));
/* Wake function for park_create(): queue the session again. */
void		 sess_wake(void *job, void *arg);
/*
 * The relay phase over ssl (NULL: plain), parking while idle; at its
 * end (counted and logged; on whatever worker) end(s) runs, then the
 * session ends.
 */
void		 sess_relay_start(struct sess *, SSL *, int idle_ms, int half_close,
		    void (*end)(struct sess *));
void		 sess_run(void *job, void *arg);	/* workq entry */
void		 sess_drop(void *job, void *arg);	/* queued at shutdown */

unsigned int	 sess_live(void);
/*
 * Admission. sess_set_capacity(): the most sessions the fd limit
 * allows (set once at start). sess_max(): the limit in effect under
 * snap (tlsproxy_max_sessions, at most the capacity).
 * sess_admit_client(): the per-address limits for s's client a; 0
 * admitted (counted until s is freed, or exempt), -1 refused (logged
 * in Postfix's words and counted).
 */
void		 sess_set_capacity(unsigned int);
unsigned int	 sess_capacity(void);
unsigned int	 sess_max(const struct snap *);
int		 sess_admit_client(struct sess *, const struct netlist_addr *);
/* shutdown(2) the sockets of every live session. */
void		 sess_kill_all(void);
/* shutdown(2) sessions stuck inside one I/O call longer than limit_ms. */
void		 sess_check_stuck(int limit_ms);

#endif
