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
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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
static int	log_fd = -1;		/* log file, or -1 */
static atomic_int log_is_verbose;
static atomic_int log_rate = 0;		/* lines/s per format; 0 = no limit */

/*
 * Rate limiting: one slot per message format (the format string's
 * address identifies the call site), in a small open-addressed table.
 */
#define LOG_RL_SLOTS	256
static struct {
	const char *fmt;
	time_t	 second;
	int	 count;
	int	 suppressed;
} log_rl[LOG_RL_SLOTS];

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

int
log_set_file(const char *path)
{
	int	 fd = -1, old;

	if (path != NULL && *path != '\0' &&
	    (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return (-1);
	pthread_mutex_lock(&log_lock);
	old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old >= 0)
		close(old);
	return (0);
}

void
log_set_rate_limit(int per_second)
{
	atomic_store(&log_rate, per_second);
}

/*
 * log_rate_check - may a line of this format go out now? Returns 1 to
 * log it, 0 to drop it; *flushed is set to the count dropped in the
 * previous second, to be reported first.
 */
static int
log_rate_check(const char *fmt, int *flushed)
{
	size_t	 i, h = ((uintptr_t)fmt >> 4) % LOG_RL_SLOTS;
	time_t	 now;
	int	 limit = atomic_load(&log_rate), ok = 1;

	*flushed = 0;
	if (limit <= 0)
		return (1);
	now = time(NULL);
	pthread_mutex_lock(&log_lock);
	for (i = 0; i < LOG_RL_SLOTS; i++) {
		size_t j = (h + i) % LOG_RL_SLOTS;
		if (log_rl[j].fmt == fmt || log_rl[j].fmt == NULL) {
			if (log_rl[j].fmt == NULL)
				log_rl[j].fmt = fmt;
			if (log_rl[j].second != now) {
				*flushed = log_rl[j].suppressed;
				log_rl[j].second = now;
				log_rl[j].count = 0;
				log_rl[j].suppressed = 0;
			}
			if (++log_rl[j].count > limit) {
				log_rl[j].suppressed++;
				ok = 0;
			}
			break;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return (ok);		/* table full: no limit for new formats */
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

static const char log_trace_prefix[] = "";

/* log_write_line - one syslog call, or one write(2) of a whole line */
static void
log_write_line(int prio, const char *msg)
{
	char	 line[LOG_LINE_MAX + 192], ident[128], stamp[32];
	size_t	 n;
	int	 to_stderr, fd;
	struct tm tm;
	time_t	 now;

	pthread_mutex_lock(&log_lock);
	to_stderr = log_to_stderr;
	fd = log_to_stderr ? STDERR_FILENO : log_fd;
	memcpy(ident, log_ident, sizeof(ident));
	if (fd < 0) {
		pthread_mutex_unlock(&log_lock);
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
	/*
	 * One write per line: concurrent lines never interleave. The lock
	 * keeps the log file open meanwhile (a reload may reopen it); a
	 * write of one line to a file or a terminal does not block long.
	 */
	if (write(fd, line, n) < 0 && !to_stderr)
		(void)0;
	pthread_mutex_unlock(&log_lock);
}

/* log_emit - rate check, format once, then write */
static void
log_emit(int prio, const char *prefix, const char *fmt, va_list ap, int err)
{
	char	 msg[LOG_LINE_MAX];
	size_t	 n;
	int	 dropped;

	dropped = 0;
	if (prio > LOG_CRIT && prefix != log_trace_prefix &&
	    !log_rate_check(fmt, &dropped))
		return;
	if (dropped > 0) {
		snprintf(msg, sizeof(msg), "%s%d similar messages suppressed "
		    "(tlsproxy_log_rate_limit)", prefix, dropped);
		log_write_line(prio, msg);
	}
	n = (size_t)snprintf(msg, sizeof(msg), "%s", prefix);
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (err) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	}
	log_write_line(prio, msg);
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
log_trace(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, log_trace_prefix, 0);
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
