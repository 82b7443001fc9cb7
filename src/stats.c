/*
 * NAME
 *	stats - process-wide counters
 * DESCRIPTION
 *	See stats.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stats.h"

_Atomic uint64_t stats_counters[STAT_NCOUNTERS];

/*
 * Short names (the log line's; tlsproxy_NAME_total on the stats socket)
 * and the stats socket's help texts. Both are part of the interface:
 * log readers and Prometheus queries use them; never rename one.
 */
static const struct stats_info {
	const char *name;
	const char *help;
} stats_info[STAT_NCOUNTERS] = {
	[STAT_SESSIONS_HANDOFF] = { "sessions_handoff",
	    "Connections accepted on handoff sockets." },
	[STAT_SESSIONS_TCP] = { "sessions_tcp",
	    "Connections accepted on TCP listeners." },
	[STAT_QUEUE_FULL] = { "queue_full_refusals",
	    "New sessions refused because the work queue was full." },
	[STAT_HANDSHAKE_FULL] = { "handshakes_full",
	    "Server-role TLS handshakes completed in full." },
	[STAT_HANDSHAKE_RESUMED_TICKET] = { "handshakes_resumed_ticket",
	    "Server-role TLS handshakes resumed with a session ticket." },
	[STAT_HANDSHAKE_RESUMED_ID] = { "handshakes_resumed_id",
	    "Server-role TLS handshakes resumed from the session cache." },
	[STAT_HANDSHAKE_FAILED] = { "handshakes_failed",
	    "Server-role TLS handshakes that failed." },
	[STAT_CACHE_HITS] = { "cache_hits",
	    "Server session cache lookups that found a session." },
	[STAT_CACHE_MISSES] = { "cache_misses",
	    "Server session cache lookups that found none." },
	[STAT_CACHE_STORES] = { "cache_stores",
	    "Sessions stored in the server session cache." },
	[STAT_CACHE_EVICTIONS] = { "cache_evictions",
	    "Server session cache entries dropped to stay within its bounds." },
	[STAT_CACHE_EXPIRED] = { "cache_expired",
	    "Server session cache entries dropped because they were too old." },
	[STAT_TICKET_ISSUED] = { "tickets_issued",
	    "Session tickets issued." },
	[STAT_TICKET_DECRYPT_FAIL] = { "ticket_decrypt_failures",
	    "Session tickets refused: unknown key name or bad ticket." },
	[STAT_TICKET_RENEWED] = { "tickets_renewed",
	    "Session tickets accepted under an older key and re-issued." },
	[STAT_BYTES_TO_REMOTE] = { "bytes_to_remote",
	    "Plaintext bytes relayed to the remote peer." },
	[STAT_BYTES_TO_LOCAL] = { "bytes_to_local",
	    "Plaintext bytes relayed to the local side (client or backend)." },
	[STAT_TIMEOUTS] = { "timeouts",
	    "Sessions ended by an idle or I/O timeout." },
	[STAT_WATCHDOG_KILLS] = { "watchdog_kills",
	    "Sessions interrupted by tlsproxy_watchdog_timeout." },
	[STAT_ROLE_SERVER] = { "handoff_server_role",
	    "Handoff requests for the server role (postscreen, smtpd)." },
	[STAT_ROLE_CLIENT] = { "handoff_client_role",
	    "Handoff requests for the client role (smtp)." },
	[STAT_CLIENT_HANDSHAKE_FULL] = { "client_handshakes_full",
	    "Client-role TLS handshakes completed in full." },
	[STAT_CLIENT_HANDSHAKE_RESUMED] = { "client_handshakes_resumed",
	    "Client-role TLS handshakes resumed." },
	[STAT_CLIENT_HANDSHAKE_FAILED] = { "client_handshakes_failed",
	    "Client-role TLS handshakes that failed." },
	[STAT_SMTP_REFUSED_XCLIENT] = { "smtp_refused_xclient",
	    "SMTP STARTTLS listeners: XCLIENT commands refused." },
	[STAT_SMTP_REFUSED_XFORWARD] = { "smtp_refused_xforward",
	    "SMTP STARTTLS listeners: XFORWARD commands refused." },
	[STAT_SMTP_REFUSED_AUTH_PLAINTEXT] = { "smtp_refused_auth_plaintext",
	    "SMTP STARTTLS listeners: AUTH commands before TLS refused." },
	[STAT_SMTP_REFUSED_ENCRYPT] = { "smtp_refused_encrypt",
	    "SMTP STARTTLS listeners: commands before TLS refused (encrypt)." },
	[STAT_SMTP_REFUSED_SYNTAX] = { "smtp_refused_syntax",
	    "SMTP STARTTLS listeners: malformed command lines refused." },
	[STAT_CLOSE_NOTIFY_SENT] = { "close_notify_sent",
	    "TLS close_notify alerts sent." },
	[STAT_CLOSE_NOTIFY_RECEIVED] = { "close_notify_received",
	    "TLS close_notify alerts received." },
	[STAT_HALF_CLOSES] = { "half_closes",
	    "Session directions that ended while the other went on." },
	[STAT_REFUSED_MAX_SESSIONS] = { "refused_max_sessions",
	    "New sessions refused at tlsproxy_max_sessions." },
	[STAT_REFUSED_CLIENT_COUNT] = { "refused_client_count",
	    "New sessions refused at one client address's concurrency limit." },
	[STAT_REFUSED_CLIENT_RATE] = { "refused_client_rate",
	    "New sessions refused at one client address's rate limit." },
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

/*
 * Listener counters: short names (the log line's; on the stats socket
 * tlsproxy_listener_NAME, with _total for counters) and help texts.
 */
static const struct stats_lst_field {
	const char *name;
	size_t	 off;
	int	 counter;		/* else a gauge */
	const char *help;
} stats_lst_fields[] = {
	{ "sessions", offsetof(struct stats_lst, sessions), 1,
	    "Sessions accepted, per listener." },
	{ "live", offsetof(struct stats_lst, live), 0,
	    "Live sessions, per listener." },
	{ "handshakes", offsetof(struct stats_lst, handshakes), 1,
	    "TLS handshakes completed (either role), per listener." },
	{ "handshakes_failed", offsetof(struct stats_lst, handshakes_failed), 1,
	    "TLS handshakes that failed, per listener." },
	{ "bytes_to_remote", offsetof(struct stats_lst, bytes_to_remote), 1,
	    "Plaintext bytes relayed to the remote peer, per listener." },
	{ "bytes_to_local", offsetof(struct stats_lst, bytes_to_local), 1,
	    "Plaintext bytes relayed to the local side, per listener." },
	{ "timeouts", offsetof(struct stats_lst, timeouts), 1,
	    "Sessions ended by an idle or I/O timeout, per listener." },
};
#define STATS_NLST_FIELDS \
	(sizeof(stats_lst_fields) / sizeof(stats_lst_fields[0]))

/* stats_lst_get - one listener counter, by its stats_lst_fields entry */
static uint64_t
stats_lst_get(const struct stats_lst *l, const struct stats_lst_field *f)
{
	return (atomic_load_explicit((const _Atomic uint64_t *)
	    (const void *)((const char *)l + f->off), memory_order_relaxed));
}

uint64_t
stats_get(enum stat_id id)
{
	return (atomic_load_explicit(&stats_counters[id], memory_order_relaxed));
}

const char *
stats_name(enum stat_id id)
{
	return (stats_info[id].name);
}

void
stats_log(void)
{
	char	 line[2048];
	size_t	 n = 0, f;
	int	 i;
	struct stats_lst *l;

	for (i = 0; i < STAT_NCOUNTERS; i++) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%llu",
		    n ? " " : "", stats_info[i].name,
		    (unsigned long long)stats_get((enum stat_id)i));
		if (n >= sizeof(line))
			break;
	}
	log_info("statistics: %s", line);
	for (l = atomic_load(&stats_lsts); l != NULL; l = l->next) {
		n = (size_t)snprintf(line, sizeof(line), "statistics: listener %s:",
		    l->name);
		for (f = 0; f < STATS_NLST_FIELDS && n < sizeof(line); f++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
			    stats_lst_fields[f].name, (unsigned long long)
			    stats_lst_get(l, &stats_lst_fields[f]));
		log_info("%s", line);
	}
}

/*
 * The stats socket's answer under construction. A scraper rejects a
 * cut line or a family without its "# TYPE" line, so when something
 * does not fit, the answer ends with the last whole family.
 */
struct stats_out {
	char	*buf;
	size_t	 len;
	size_t	 n;
	size_t	 family;		/* where the current family starts */
	int	 full;
};

static void LOG_PRINTF(2, 3)
stats_put(struct stats_out *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	if (o->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= o->len - o->n) {
		o->full = 1;
		o->n = o->family;
	} else
		o->n += (size_t)r;
}

/* stats_family - start a metric family: its HELP and TYPE lines */
static void
stats_family(struct stats_out *o, const char *name, const char *suffix,
    const char *type, const char *help)
{
	o->family = o->n;
	stats_put(o, "# HELP tlsproxy_%s%s %s\n# TYPE tlsproxy_%s%s %s\n",
	    name, suffix, help, name, suffix, type);
}

/*
 * stats_label_value - a listener label as a label value: a socket path
 * may hold any byte but NUL, and backslash, double quote and newline
 * must be escaped there.
 */
static void
stats_label_value(char *out, size_t len, const char *in)
{
	size_t	 n = 0;

	for (; *in != '\0' && n + 2 < len; in++) {
		if (*in == '\\' || *in == '"') {
			out[n++] = '\\';
			out[n++] = *in;
		} else if (*in == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else
			out[n++] = *in;
	}
	out[n] = '\0';
}

size_t
stats_render(char *buf, size_t len, const struct stats_gauge *gauges,
    size_t ngauges)
{
	struct stats_out o = { buf, len, 0, 0, 0 };
	struct stats_lst *l, *lsts = atomic_load(&stats_lsts);
	const struct stats_lst_field *f;
	char	 label[2 * sizeof(l->name)], name[64];
	size_t	 g;
	int	 i;

	if (len == 0)
		return (0);
	for (g = 0; g < ngauges; g++) {
		stats_family(&o, gauges[g].name, "", "gauge", gauges[g].help);
		stats_put(&o, "tlsproxy_%s %llu\n", gauges[g].name,
		    (unsigned long long)gauges[g].value);
	}
	for (i = 0; i < STAT_NCOUNTERS; i++) {
		stats_family(&o, stats_info[i].name, "_total", "counter",
		    stats_info[i].help);
		stats_put(&o, "tlsproxy_%s_total %llu\n", stats_info[i].name,
		    (unsigned long long)stats_get((enum stat_id)i));
	}
	/* One family per field, each listener's sample in it. */
	for (f = stats_lst_fields; lsts != NULL &&
	    f < stats_lst_fields + STATS_NLST_FIELDS; f++) {
		snprintf(name, sizeof(name), "listener_%s", f->name);
		stats_family(&o, name, f->counter ? "_total" : "",
		    f->counter ? "counter" : "gauge", f->help);
		for (l = lsts; l != NULL; l = l->next) {
			stats_label_value(label, sizeof(label), l->name);
			stats_put(&o, "tlsproxy_%s%s{listener=\"%s\"} %llu\n",
			    name, f->counter ? "_total" : "", label,
			    (unsigned long long)stats_lst_get(l, f));
		}
	}
	if (o.full)
		log_warnx("stats socket: answer cut to %zu bytes", o.n);
	return (o.n);
}
