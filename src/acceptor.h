/*
 * NAME
 *	acceptor - the one thread that accepts connections and queues them
 * SYNOPSIS
 *	#include "acceptor.h"
 * DESCRIPTION
 *	acceptor_start() starts a thread that poll()s every listener,
 *	accepts connections, wraps each in a session bound to the current
 *	snapshot and pushes it to the work queue. It never blocks on a
 *	client: when the queue is full, a handoff client gets the
 *	announcement and status=0 at once (written without reading;
 *	the acceptor then just waits, bounded, for that client to close),
 *	and a TCP connection is closed, each with a log line.
 *
 *	The listeners stay owned by the caller. acceptor_set_listeners()
 *	hands over a new set (after a reload) and returns once the thread
 *	polls only the new set, so the caller may then close the old
 *	ones. acceptor_stop() stops and joins the thread.
 */
#ifndef TLSPROXY_ACCEPTOR_H
#define TLSPROXY_ACCEPTOR_H

#include <stddef.h>

struct lst;
struct workq;

/* Renders the stats socket's answer ("name value" lines) into buf; returns the length. */
typedef size_t	(*acceptor_stats_fn)(char *buf, size_t len);
void	acceptor_set_stats_fn(acceptor_stats_fn);

int	acceptor_start(struct workq *, struct lst *const *, size_t);
void	acceptor_set_listeners(struct lst *const *, size_t);
void	acceptor_stop(void);

#endif
