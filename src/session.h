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

#include "listener.h"
#include "snapshot.h"
#include "tls_server.h"
#include "sys.h"

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

/* Server-role handshake on net_fd: SSL made, counted, logged. */
enum tlss_result sess_tls_accept(struct sess *, int watch_fd, int64_t deadline,
		    const char *gone_what);
/* Count a handshake's outcome, globally and per listener. */
void		 sess_count_handshake(struct sess *, int ok);
/* Plaintext bytes moved to the remote peer and to the local side. */
void		 sess_count_bytes(struct sess *, uint64_t to_remote, uint64_t to_local);
/* After relay_run() over ssl (NULL: plain): mark clean, count, log the end. */
struct relay_result;
void		 sess_relay_done(struct sess *, SSL *, const struct relay_result *);

void		 sess_run(void *job, void *arg);	/* workq entry */
void		 sess_drop(void *job, void *arg);	/* queued at shutdown */

unsigned int	 sess_live(void);
/* shutdown(2) the sockets of every live session. */
void		 sess_kill_all(void);
/* shutdown(2) sessions stuck inside one I/O call longer than limit_ms. */
void		 sess_check_stuck(int limit_ms);

#endif
