/*
 * NAME
 *	stats - process-wide counters
 * SYNOPSIS
 *	#include "stats.h"
 *	STATS_INC(STAT_HANDSHAKE_FULL);
 * DESCRIPTION
 *	Relaxed C11 atomic counters, cheap enough for hot paths; no lock.
 *	stats_log() writes them all on one log line each group (SIGUSR1,
 *	shutdown), then one line per listener; stats_get() reads one
 *	(tests), stats_name() gives its short name (the log line's).
 *
 *	stats_render() gives the stats socket's answer in Prometheus' text
 *	exposition format: the caller's gauges, then every counter, then
 *	the per-listener ones, each with "# HELP" and "# TYPE" lines.
 *	The names are stable (tlsproxy(8), STATISTICS): a counter is
 *	tlsproxy_NAME_total where NAME is its short name, a gauge
 *	tlsproxy_NAME, a listener's tlsproxy_listener_NAME[_total] with a
 *	listener="label" label, e.g.
 *	tlsproxy_listener_sessions_total{listener="127.0.0.1:465"} 12.
 *	Only whole metric families are written: one that does not fit in
 *	the buffer and all after it are left out (and a warning logged).
 */
#ifndef TLSPROXY_STATS_H
#define TLSPROXY_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum stat_id {
	STAT_SESSIONS_HANDOFF,		/* handoff sessions accepted */
	STAT_SESSIONS_TCP,		/* TCP frontend sessions accepted */
	STAT_QUEUE_FULL,		/* refused: work queue full */
	STAT_HANDSHAKE_FULL,		/* completed full handshakes */
	STAT_HANDSHAKE_RESUMED_TICKET,	/* resumed with a session ticket */
	STAT_HANDSHAKE_RESUMED_ID,	/* resumed from the session cache */
	STAT_HANDSHAKE_FAILED,
	STAT_CACHE_HITS,
	STAT_CACHE_MISSES,
	STAT_CACHE_STORES,
	STAT_CACHE_EVICTIONS,		/* dropped to stay within bounds */
	STAT_CACHE_EXPIRED,		/* dropped because too old */
	STAT_TICKET_ISSUED,
	STAT_TICKET_DECRYPT_FAIL,	/* unknown key name or bad ticket */
	STAT_TICKET_RENEWED,		/* accepted with an old key: re-issued */
	STAT_BYTES_TO_REMOTE,
	STAT_BYTES_TO_LOCAL,
	STAT_TIMEOUTS,
	STAT_WATCHDOG_KILLS,
	/* Handoff requests by role; the client role's own handshakes. */
	STAT_ROLE_SERVER,
	STAT_ROLE_CLIENT,
	STAT_CLIENT_HANDSHAKE_FULL,
	STAT_CLIENT_HANDSHAKE_RESUMED,
	STAT_CLIENT_HANDSHAKE_FAILED,
	/* SMTP STARTTLS listeners: client commands answered by us, by cause. */
	STAT_SMTP_REFUSED_XCLIENT,
	STAT_SMTP_REFUSED_XFORWARD,
	STAT_SMTP_REFUSED_AUTH_PLAINTEXT,
	STAT_SMTP_REFUSED_ENCRYPT,
	STAT_SMTP_REFUSED_SYNTAX,
	/* Connection shutdown. */
	STAT_CLOSE_NOTIFY_SENT,
	STAT_CLOSE_NOTIFY_RECEIVED,
	STAT_HALF_CLOSES,		/* one direction ended, the other goes on */
	/* Admission: refused new sessions, by cause (besides a full queue). */
	STAT_REFUSED_MAX_SESSIONS,	/* tlsproxy_max_sessions reached */
	STAT_REFUSED_CLIENT_COUNT,	/* one address's concurrency limit */
	STAT_REFUSED_CLIENT_RATE,	/* one address's rate limit */
	STAT_NCOUNTERS
};

/*
 * Per-listener counters, found by the listener's label (socket path or
 * listen address) so that they survive reloads; created when a listener
 * opens, freed at exit.
 */
struct stats_lst {
	char		 name[256];
	_Atomic uint64_t sessions;		/* accepted */
	_Atomic uint64_t live;			/* gauge */
	_Atomic uint64_t handshakes;		/* completed (either role) */
	_Atomic uint64_t handshakes_failed;
	_Atomic uint64_t bytes_to_remote;
	_Atomic uint64_t bytes_to_local;
	_Atomic uint64_t timeouts;
	struct stats_lst *next;
};

#define STATS_LST_ADD(l, field, n) do {					\
	if ((l) != NULL)						\
		atomic_fetch_add_explicit(&(l)->field, (uint64_t)(n),	\
		    memory_order_relaxed);				\
} while (0)
#define STATS_LST_INC(l, field)	STATS_LST_ADD((l), field, 1)
#define STATS_LST_DEC(l, field)	STATS_LST_ADD((l), field, -1)

struct stats_lst *stats_listener(const char *label);	/* NULL: out of memory */
void		 stats_free(void);

extern _Atomic uint64_t stats_counters[STAT_NCOUNTERS];

#define STATS_ADD(id, n) \
	atomic_fetch_add_explicit(&stats_counters[(id)], (uint64_t)(n), \
	    memory_order_relaxed)
#define STATS_INC(id)	STATS_ADD((id), 1)

uint64_t	 stats_get(enum stat_id);
const char	*stats_name(enum stat_id);
void		 stats_log(void);
/* A gauge that the caller samples for the stats socket. */
struct stats_gauge {
	const char	*name;		/* short name: tlsproxy_NAME */
	const char	*help;		/* one line, no backslash */
	uint64_t	 value;
};

/* The stats socket's answer into buf; returns the length used (<= len). */
size_t		 stats_render(char *buf, size_t len,
		    const struct stats_gauge *gauges, size_t ngauges);

#endif
