/*
 * NAME
 *	listener - listening sockets: handoff (UNIX) and TCP frontends
 * SYNOPSIS
 *	#include "listener.h"
 * DESCRIPTION
 *	lst_open() creates and binds one listener from its configuration
 *	entry: a handoff socket (a stale socket file is unlinked first;
 *	mode and owner/group applied) or a TCP socket (SO_REUSEADDR; the
 *	backend address is resolved now, so a bad backend is a startup
 *	error, not a per-connection surprise).
 *
 *	lst_adopt() makes a new listener from a new configuration entry
 *	while keeping the old one's socket (same kind and address), so a
 *	reload never drops a listening socket or refuses a connection;
 *	the old struct is marked adopted (its fd field is left alone: the
 *	acceptor may still be polling it) and lst_close() then frees it
 *	without closing the socket. A socket file's mode and owner are set
 *	again only when the entry changed them: after tlsproxy_user or
 *	tlsproxy_chroot the daemon could not touch the file it created as
 *	root, and reloads must not fail for that.
 *
 *	lst_close() closes the socket and, for handoff listeners, removes
 *	the socket file. All fields are fixed after open: the acceptor
 *	thread reads them without locks.
 */
#ifndef TLSPROXY_LISTENER_H
#define TLSPROXY_LISTENER_H

#include <stddef.h>

#include "config.h"
#include "tls_server.h"
#include "sys.h"

struct lst {
	unsigned int	 magic;		/* LST_MAGIC */
	enum cfg_listener_kind kind;
	int		 fd;		/* owned, unless adopted */
	int		 adopted;	/* a newer listener took over fd (main thread only) */
	char		 label[256];	/* socket path or listen address, for logs */
	char		 key[272];	/* kind + address: identity across reloads */
	char		 scope[280];	/* TLS session resumption scope */
	unsigned char	 sid_ctx[TLSS_SID_CTX_LEN];	/* its hash, computed once */
	char		 perms[160];	/* socket file: mode, owner, group set */
	struct stats_lst *stats;	/* this listener's counters (not owned) */
	/* TCP frontend only: */
	char		 backend_label[256];
	struct sys_addr	 backend;
	int		 handshake_ms;
	int		 idle_ms;
	int		 connect_ms;
};
#define LST_MAGIC	0x4c53544eu

struct lst	*lst_open(const struct cfg_listener *, char *err, size_t errlen);
/* The bound, listening socket of a configured listener (no struct). */
int		 lst_socket(const struct cfg_listener *, char *err, size_t errlen);
/* The identity key of a configured listener (kind + address). */
void		 lst_key_of(const struct cfg_listener *, char *buf, size_t len);
int		 lst_matches(const struct lst *, const struct cfg_listener *);
struct lst	*lst_adopt(struct lst *old, const struct cfg_listener *,
		    char *err, size_t errlen);
void		 lst_close(struct lst *);

#endif
