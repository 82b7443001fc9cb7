/*
 * NAME
 *	log - Postfix-style logging to syslog or stderr, thread-safe
 * DESCRIPTION
 *	See log.h. The destination is chosen once at startup (and again
 *	on reload, from the main thread, while workers may log: the
 *	settings are swapped under a mutex; the line itself is formatted
 *	outside it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char	log_ident[128] = "tlsproxy";
static int	log_to_stderr = 1;
static atomic_int log_is_verbose;

static const struct {
	const char *name;
	int	 code;
} log_facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
	{ "daemon", LOG_DAEMON }, { "ftp", LOG_FTP }, { "kern", LOG_KERN },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "syslog", LOG_SYSLOG }, { "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* log_facility_code - syslog facility by name */
int
log_facility_code(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(name, log_facilities[i].name) == 0)
			return (log_facilities[i].code);
	return (-1);
}

/* log_init - choose destination; safe to call again on reload */
void
log_init(const char *ident, int facility, int to_stderr, int verbose)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_to_stderr = to_stderr;
	log_is_verbose = verbose;
	pthread_mutex_unlock(&log_lock);
	if (!to_stderr) {
		/* openlog keeps the pointer: hand it our static copy. */
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
}

void
log_set_verbose(int v)
{
	log_is_verbose = v;
}

int
log_verbose(void)
{
	return (log_is_verbose);
}

/* log_emit - format once, then one write or one syslog call */
static void
log_emit(int prio, const char *prefix, const char *fmt, va_list ap, int err)
{
	char	 msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 192], ident[128];
	char	 stamp[32];
	size_t	 n;
	int	 to_stderr;
	struct tm tm;
	time_t	 now;

	n = (size_t)snprintf(msg, sizeof(msg), "%s", prefix);
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (err) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	pthread_mutex_lock(&log_lock);
	to_stderr = log_to_stderr;
	memcpy(ident, log_ident, sizeof(ident));
	pthread_mutex_unlock(&log_lock);
	if (!to_stderr) {
		syslog(prio, "%s", msg);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof(line), "%s %s[%ld]: %s\n", stamp, ident,
	    (long)getpid(), msg);
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: concurrent lines never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

#define LOG_BODY(prio, prefix, err) do {		\
	va_list	 ap;					\
	int	 saved = (err);				\
	va_start(ap, fmt);				\
	log_emit((prio), (prefix), fmt, ap, saved);	\
	va_end(ap);					\
} while (0)

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, "", 0);
}

void
log_debug(const char *fmt, ...)
{
	if (!log_is_verbose)
		return;
	LOG_BODY(LOG_DEBUG, "", 0);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ", 0);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning: ", errno);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal: ", 0);
	exit(1);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal: ", errno);
	exit(1);
}

void
log_panic(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "panic: ", 0);
	abort();
}
