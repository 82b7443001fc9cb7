/*
 * NAME
 *	log - Postfix-style logging to syslog or stderr, thread-safe
 * DESCRIPTION
 *	See log.h. Workers log on every session, so the path of a line
 *	takes no lock: the destination is a set of atomics that the main
 *	thread changes on reload; a log file is swapped with dup2() onto
 *	the same descriptor number, so a concurrent write(2) goes to the
 *	old or the new file, never to a closed or reused descriptor; the
 *	timestamp is cached per thread for the current second.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

/*
 * The ident in use. Reload may change it while a worker formats a line
 * with the old one, so retired strings are freed only LOG_IDENTS
 * changes later, long after any reader let go.
 */
#define LOG_IDENTS	8
static char	*log_idents[LOG_IDENTS];
static unsigned	 log_ident_next;
static _Atomic(const char *) log_ident = "tlsproxy";
static char	log_syslog_ident[128] = "tlsproxy";	/* openlog keeps the pointer */

static atomic_int log_to_stderr = 1;
static atomic_int log_fd = -1;		/* log file, or -1 */
static int	log_parked_fd = -1;	/* former log file fd, now /dev/null */
static char	*log_path;		/* the log file's name (log_cfg_lock) */
static char	log_host[72];		/* short host name, in file lines */
static atomic_long log_pid;
static atomic_int log_is_verbose;
static atomic_int log_rate = 0;		/* lines/s per format; 0 = no limit */
static pthread_mutex_t log_cfg_lock = PTHREAD_MUTEX_INITIALIZER;	/* setters only */

/*
 * Rate limiting: one slot per message format (the format string's
 * address identifies the call site), in a small open-addressed table
 * of atomics; counts are approximate under races, which is all a
 * flood guard needs.
 */
#define LOG_RL_SLOTS	256
static struct {
	_Atomic(const char *) fmt;
	_Atomic(const char *) prefix;
	atomic_int prio;
	atomic_llong second;
	atomic_int count;
	atomic_int suppressed;
} log_rl[LOG_RL_SLOTS];
static atomic_int log_rl_pending;	/* some slot has a count to report */

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

static void
log_atfork_child(void)
{
	atomic_store(&log_pid, (long)getpid());	/* daemonizing forks */
}

static void
log_atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, log_atfork_child);
}

/* log_init - choose destination; safe to call again on reload */
void
log_init(const char *ident, int facility, int to_stderr, int verbose)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *cur;
	char	*copy;

	(void)pthread_once(&once, log_atfork_register);
	atomic_store(&log_pid, (long)getpid());
	pthread_mutex_lock(&log_cfg_lock);
	cur = atomic_load(&log_ident);
	if (strcmp(cur, ident) != 0 && (copy = strdup(ident)) != NULL) {
		free(log_idents[log_ident_next]);	/* retired LOG_IDENTS changes ago */
		log_idents[log_ident_next] = copy;
		log_ident_next = (log_ident_next + 1) % LOG_IDENTS;
		atomic_store(&log_ident, copy);
	}
	atomic_store(&log_to_stderr, to_stderr);
	atomic_store(&log_is_verbose, verbose);
	if (!to_stderr) {
		/* openlog keeps the pointer: hand it our static copy. */
		closelog();
		if (strcmp(log_syslog_ident, ident) != 0)
			snprintf(log_syslog_ident, sizeof(log_syslog_ident), "%s", ident);
		openlog(log_syslog_ident, LOG_PID | LOG_NDELAY, facility);
	}
	pthread_mutex_unlock(&log_cfg_lock);
}

/*
 * log_set_file - send lines to PATH ("" or NULL: back to syslog). An
 * existing log file descriptor keeps its number: the new file is
 * dup2()ed onto it, so writers never need a lock.
 */
int
log_set_file(const char *path)
{
	int	 fd, cur, null;

	pthread_mutex_lock(&log_cfg_lock);
	cur = atomic_load(&log_fd);
	if (path == NULL || *path == '\0') {
		free(log_path);
		log_path = NULL;
		if (cur >= 0) {
			/* Park it on /dev/null: a writer may still hold the number. */
			atomic_store(&log_fd, -1);
			if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
				(void)dup3(null, cur, O_CLOEXEC);
				close(null);
			}
			log_parked_fd = cur;
		}
		pthread_mutex_unlock(&log_cfg_lock);
		return (0);
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		pthread_mutex_unlock(&log_cfg_lock);
		return (-1);
	}
	/* As syslog writes it, so that log readers (pflogsumm) know the lines. */
	if (log_host[0] == '\0') {
		if (gethostname(log_host, sizeof(log_host) - 1) < 0 ||
		    log_host[0] == '\0')
			snprintf(log_host, sizeof(log_host), "localhost");
		log_host[strcspn(log_host, ".")] = '\0';
	}
	if (log_path == NULL || strcmp(log_path, path) != 0) {
		free(log_path);
		log_path = strdup(path);
	}
	if (cur < 0)
		cur = log_parked_fd;
	if (cur >= 0) {
		if (dup3(fd, cur, O_CLOEXEC) < 0) {
			int saved = errno;
			close(fd);
			pthread_mutex_unlock(&log_cfg_lock);
			errno = saved;
			return (-1);
		}
		close(fd);
		fd = cur;
		log_parked_fd = -1;
	}
	atomic_store(&log_fd, fd);
	pthread_mutex_unlock(&log_cfg_lock);
	return (0);
}

int
log_file_check(void)
{
	struct stat named, open_;
	char	*path;
	int	 fd = atomic_load(&log_fd), r;

	pthread_mutex_lock(&log_cfg_lock);
	path = log_path != NULL && fd >= 0 ? strdup(log_path) : NULL;
	pthread_mutex_unlock(&log_cfg_lock);
	if (path == NULL)
		return (0);
	if (stat(path, &named) == 0 && fstat(fd, &open_) == 0 &&
	    named.st_dev == open_.st_dev && named.st_ino == open_.st_ino)
		r = 0;
	else
		r = log_set_file(path) < 0 ? -1 : 1;
	free(path);
	return (r);
}

void
log_file_chown(uid_t uid, gid_t gid)
{
	struct stat st;
	int	 fd = atomic_load(&log_fd);

	/* Only a file root owns (one we made): never an operator's choice. */
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == 0)
		(void)!fchown(fd, uid, gid);
}

void
log_set_rate_limit(int per_second)
{
	atomic_store(&log_rate, per_second);
}

/*
 * log_rate_check - may a line of this format go out now? Returns 1 to
 * log it, 0 to drop it (and count it, for log_rate_flush()).
 */
static int
log_rate_check(int prio, const char *prefix, const char *fmt)
{
	size_t	 i, j, h = ((uintptr_t)fmt >> 4) % LOG_RL_SLOTS;
	long long now, then;
	const char *slot;
	int	 limit = atomic_load(&log_rate);

	if (limit <= 0)
		return (1);
	now = (long long)time(NULL);
	for (i = 0; i < LOG_RL_SLOTS; i++) {
		j = (h + i) % LOG_RL_SLOTS;
		slot = atomic_load(&log_rl[j].fmt);
		if (slot == NULL) {
			const char *expect = NULL;
			if (!atomic_compare_exchange_strong(&log_rl[j].fmt, &expect, fmt) &&
			    expect != fmt)
				continue;	/* taken by another format meanwhile */
			atomic_store(&log_rl[j].prefix, prefix);
			atomic_store(&log_rl[j].prio, prio);
		} else if (slot != fmt)
			continue;
		then = atomic_load(&log_rl[j].second);
		if (then != now && atomic_compare_exchange_strong(&log_rl[j].second,
		    &then, now))
			atomic_store(&log_rl[j].count, 0);
		if (atomic_fetch_add(&log_rl[j].count, 1) >= limit) {
			atomic_fetch_add(&log_rl[j].suppressed, 1);
			atomic_store(&log_rl_pending, 1);
			return (0);
		}
		return (1);
	}
	return (1);		/* table full: no limit for new formats */
}

static void log_write_line(int, const char *);

/*
 * log_rate_flush - one "N similar messages suppressed" line for each
 * format whose lines were dropped in a second that is over. Called
 * with every line and from the main thread once a second, so the
 * count shows up even when the flood just stops.
 */
void
log_rate_flush(void)
{
	char	 msg[LOG_LINE_MAX];
	long long now;
	const char *fmt, *pct;
	size_t	 j;
	int	 n, again = 0;

	if (!atomic_exchange(&log_rl_pending, 0))
		return;
	now = (long long)time(NULL);
	for (j = 0; j < LOG_RL_SLOTS; j++) {
		if ((fmt = atomic_load(&log_rl[j].fmt)) == NULL ||
		    atomic_load(&log_rl[j].suppressed) == 0)
			continue;
		if (atomic_load(&log_rl[j].second) == now) {
			again = 1;	/* still this second's flood */
			continue;
		}
		if ((n = atomic_exchange(&log_rl[j].suppressed, 0)) == 0)
			continue;
		/* Name the message by its format's constant start. */
		pct = strchr(fmt, '%');
		snprintf(msg, sizeof(msg), "%s%d similar messages suppressed "
		    "(tlsproxy_log_rate_limit): %.*s...", atomic_load(&log_rl[j].prefix),
		    n, (int)(pct ? (size_t)(pct - fmt) : strlen(fmt)), fmt);
		log_write_line(atomic_load(&log_rl[j].prio), msg);
	}
	if (again)
		atomic_store(&log_rl_pending, 1);
}

void
log_set_verbose(int v)
{
	atomic_store(&log_is_verbose, v);
}

int
log_verbose(void)
{
	return (atomic_load(&log_is_verbose));
}

static const char log_trace_prefix[] = "";
static const char log_fail_prefix[] = "";

/* log_stamp - "Mon DD HH:MM:SS", formatted once a second per thread */
static const char *
log_stamp(void)
{
	static __thread time_t last = (time_t)-1;
	static __thread char stamp[32];
	struct tm tm;
	time_t	 now = time(NULL);

	if (now != last) {
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		last = now;
	}
	return (stamp);
}

/* log_write_line - one syslog call, or one write(2) of a whole line */
static void
log_write_line(int prio, const char *msg)
{
	char	 line[LOG_LINE_MAX + 192];
	size_t	 n;
	int	 fd, to_stderr = atomic_load(&log_to_stderr);

	fd = to_stderr ? STDERR_FILENO : atomic_load(&log_fd);
	if (fd < 0) {
		syslog(prio, "%s", msg);
		return;
	}
	if (to_stderr)
		n = (size_t)snprintf(line, sizeof(line), "%s %s[%ld]: %s\n",
		    log_stamp(), atomic_load(&log_ident), atomic_load(&log_pid), msg);
	else
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n",
		    log_stamp(), log_host, atomic_load(&log_ident),
		    atomic_load(&log_pid), msg);
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: O_APPEND lines of concurrent threads never mix. */
	(void)!write(fd, line, n);
}

/* log_emit - rate check, format once, then write */
static void
log_emit(int prio, const char *prefix, const char *fmt, va_list ap, int err)
{
	char	 msg[LOG_LINE_MAX];
	size_t	 n;

	if (atomic_load(&log_rl_pending))
		log_rate_flush();
	/* Transaction lines (log_info) and asked-for traces are never dropped. */
	if (prio > LOG_CRIT && (prio != LOG_INFO || prefix == log_fail_prefix) &&
	    !log_rate_check(prio, prefix, fmt))
		return;
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
log_fail(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, log_fail_prefix, 0);
}

void
log_trace(const char *fmt, ...)
{
	LOG_BODY(LOG_INFO, log_trace_prefix, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (!atomic_load(&log_is_verbose))
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
