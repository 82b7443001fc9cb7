/*
 * NAME
 *	stats - process-wide counters
 * DESCRIPTION
 *	See stats.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	[STAT_ROLE_SERVER] = "handoff_server_role",
	[STAT_ROLE_CLIENT] = "handoff_client_role",
	[STAT_CLIENT_HANDSHAKE_FULL] = "client_handshakes_full",
	[STAT_CLIENT_HANDSHAKE_RESUMED] = "client_handshakes_resumed",
	[STAT_CLIENT_HANDSHAKE_FAILED] = "client_handshakes_failed",
	[STAT_SMTP_REFUSED_XCLIENT] = "smtp_refused_xclient",
	[STAT_SMTP_REFUSED_XFORWARD] = "smtp_refused_xforward",
	[STAT_SMTP_REFUSED_AUTH_PLAINTEXT] = "smtp_refused_auth_plaintext",
	[STAT_SMTP_REFUSED_ENCRYPT] = "smtp_refused_encrypt",
	[STAT_SMTP_REFUSED_SYNTAX] = "smtp_refused_syntax",
	[STAT_CLOSE_NOTIFY_SENT] = "close_notify_sent",
	[STAT_CLOSE_NOTIFY_RECEIVED] = "close_notify_received",
	[STAT_HALF_CLOSES] = "half_closes",
	[STAT_REFUSED_MAX_SESSIONS] = "refused_max_sessions",
	[STAT_REFUSED_CLIENT_COUNT] = "refused_client_count",
	[STAT_REFUSED_CLIENT_RATE] = "refused_client_rate",
};

/* Listener counters: a list that only grows (main thread); read anywhere. */
static pthread_mutex_t stats_lst_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct stats_lst *) stats_lsts;

struct stats_lst *
stats_listener(const char *label)
{
	struct stats_lst *l;

	pthread_mutex_lock(&stats_lst_lock);
	for (l = atomic_load(&stats_lsts); l != NULL; l = l->next)
		if (strcmp(l->name, label) == 0)
			break;
	if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
		snprintf(l->name, sizeof(l->name), "%s", label);
		l->next = atomic_load(&stats_lsts);
		atomic_store(&stats_lsts, l);	/* published complete */
	}
	pthread_mutex_unlock(&stats_lst_lock);
	return (l);
}

/* stats_free - at exit, once no session is left */
void
stats_free(void)
{
	struct stats_lst *l, *next;

	pthread_mutex_lock(&stats_lst_lock);
	for (l = atomic_exchange(&stats_lsts, NULL); l != NULL; l = next) {
		next = l->next;
		free(l);
	}
	pthread_mutex_unlock(&stats_lst_lock);
}

#define STATS_LST_FIELDS(X) \
	X(sessions) X(live) X(handshakes) X(handshakes_failed) \
	X(bytes_to_remote) X(bytes_to_local) X(timeouts)

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
	char	 line[2048];
	size_t	 n = 0;
	int	 i;
	struct stats_lst *l;

	for (i = 0; i < STAT_NCOUNTERS; i++) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%llu",
		    n ? " " : "", stats_names[i],
		    (unsigned long long)stats_get((enum stat_id)i));
		if (n >= sizeof(line))
			break;
	}
	log_info("statistics: %s", line);
	for (l = atomic_load(&stats_lsts); l != NULL; l = l->next) {
		n = (size_t)snprintf(line, sizeof(line), "statistics: listener %s:",
		    l->name);
#define X(f)	if (n < sizeof(line)) \
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu", #f, \
		    (unsigned long long)atomic_load_explicit(&l->f, memory_order_relaxed));
		STATS_LST_FIELDS(X)
#undef X
		log_info("%s", line);
	}
}

size_t
stats_render(char *buf, size_t len)
{
	size_t	 n = 0;
	int	 i;
	struct stats_lst *l;

	for (i = 0; i < STAT_NCOUNTERS && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s %llu\n", stats_names[i],
		    (unsigned long long)stats_get((enum stat_id)i));
	for (l = atomic_load(&stats_lsts); l != NULL && n < len; l = l->next) {
#define X(f)	if (n < len) \
		n += (size_t)snprintf(buf + n, len - n, \
		    "listener_%s{listener=\"%s\"} %llu\n", #f, l->name, \
		    (unsigned long long)atomic_load_explicit(&l->f, memory_order_relaxed));
		STATS_LST_FIELDS(X)
#undef X
	}
	return (n < len ? n : len);
}
