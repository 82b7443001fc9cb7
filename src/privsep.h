/*
 * NAME
 *	privsep - a root helper process that opens key files and binds
 *	sockets for the unprivileged daemon
 * SYNOPSIS
 *	#include "privsep.h"
 * DESCRIPTION
 *	Started as root with tlsproxy_user, the daemon forks once before
 *	it drops privileges (priv_start()). The parent stays root and does
 *	nothing but answer the child's requests on a socketpair: open a
 *	key, certificate, chain, DH, SNI map or ticket key file that the
 *	configuration file, as it is on disk at that moment, names; or
 *	create a listening socket (a port below 1024, a socket file in a
 *	root-only directory) that it names; and pass the descriptor back.
 *	It reads nothing from the network. It forwards SIGHUP, SIGTERM,
 *	SIGINT and SIGUSR1 to the child, and exits when the child does,
 *	with its status (a child killed by a signal is logged), after
 *	removing the socket files the child could not (and, through the
 *	start's atexit handler, the pid file).
 *
 *	The child is the daemon: as tlsproxy_user (and in tlsproxy_chroot)
 *	it re-reads the configuration on SIGHUP and asks for each file and
 *	new socket through priv_open_file() and priv_listen(). Without a
 *	helper (not started as root, or no tlsproxy_user) both do the work
 *	themselves, so start and reload run the same code either way.
 *
 *	Requests carry their own reply channel (one end of a fresh
 *	socketpair, passed with the request), so threads never share a
 *	reply and no lock is held while waiting for the helper.
 * DIAGNOSTICS
 *	priv_open_file() and priv_listen(): -1 with errno set and a reason
 *	in err (the helper's refusal names the configuration file).
 */
#ifndef TLSPROXY_PRIVSEP_H
#define TLSPROXY_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/*
 * Fork the helper. Returns in the child (0), with the helper serving
 * in the parent until the child exits; -1 with errno when fork or the
 * socketpair fails. conf_path: the configuration file, absolute;
 * close_fds: the child's listening sockets, closed in the helper. The
 * helper ends with exit(), so the start's atexit handlers (the pid
 * file) run in it, not in the child.
 */
int	priv_start(const char *conf_path, const int *close_fds, size_t nclose);
/* 1 in a child that has a helper. */
int	priv_active(void);
/* A read-only descriptor of a file the configuration names. */
int	priv_open_file(const char *path, char *err, size_t errlen);
/* A listening socket for one configured listener (kind and address). */
int	priv_listen(const struct cfg_listener *, char *err, size_t errlen);
/*
 * 1 when path is one of the files the configuration names (in the
 * global settings, a listener's, or an SNI map): keys, certificates,
 * chains, CA files and directories, DH parameters, ticket keys.
 */
int	priv_names_file(const struct cfg *, const char *path);

#endif
