/*
 * NAME
 *	stats - process-wide counters
 * DESCRIPTION
 *	See stats.h.
 */
#include <stdio.h>

#include "log.h"
#include "stats.h"

_Atomic uint64_t stats_counters[STAT_NCOUNTERS];

static const char *const stats_names[STAT_NCOUNTERS] = {
	[STAT_SESSIONS_HANDOFF] = "sessions_handoff",
	[STAT_SESSIONS_TCP] = "sessions_tcp",
	[STAT_QUEUE_FULL] = "queue_full_refusals",
	[STAT_HANDSHAKE_FULL] = "handshakes_full",
	[STAT_HANDSHAKE_RESUMED_TICKET] = "handshakes_resumed_ticket",
	[STAT_HANDSHAKE_RESUMED_ID] = "handshakes_resumed_id",
	[STAT_HANDSHAKE_FAILED] = "handshakes_failed",
	[STAT_CACHE_HITS] = "cache_hits",
	[STAT_CACHE_MISSES] = "cache_misses",
	[STAT_CACHE_STORES] = "cache_stores",
	[STAT_CACHE_EVICTIONS] = "cache_evictions",
	[STAT_CACHE_EXPIRED] = "cache_expired",
	[STAT_TICKET_ISSUED] = "tickets_issued",
	[STAT_TICKET_DECRYPT_FAIL] = "ticket_decrypt_failures",
	[STAT_TICKET_RENEWED] = "tickets_renewed",
	[STAT_BYTES_TO_REMOTE] = "bytes_to_remote",
	[STAT_BYTES_TO_LOCAL] = "bytes_to_local",
	[STAT_TIMEOUTS] = "timeouts",
	[STAT_WATCHDOG_KILLS] = "watchdog_kills",
};

uint64_t
stats_get(enum stat_id id)
{
	return (atomic_load_explicit(&stats_counters[id], memory_order_relaxed));
}

const char *
stats_name(enum stat_id id)
{
	return (stats_names[id]);
}

void
stats_log(void)
{
	char	 line[1024];
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < STAT_NCOUNTERS; i++) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%llu",
		    n ? " " : "", stats_names[i],
		    (unsigned long long)stats_get((enum stat_id)i));
		if (n >= sizeof(line))
			break;
	}
	log_info("statistics: %s", line);
}

size_t
stats_render(char *buf, size_t len)
{
	size_t	 n = 0;
	int	 i;

	for (i = 0; i < STAT_NCOUNTERS && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s %llu\n", stats_names[i],
		    (unsigned long long)stats_get((enum stat_id)i));
	return (n < len ? n : len);
}
