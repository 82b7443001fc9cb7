/*
 * NAME
 *	log - Postfix-style logging to syslog, postlog, a file or stderr,
 *	thread-safe
 * DESCRIPTION
 *	See log.h. Workers log on every session, so the path of a line
 *	takes no lock: the destination is a set of atomics that the main
 *	thread changes on reload; a log file, and the postlog socket, are
 *	swapped with dup3() onto the same descriptor number, so a
 *	concurrent write(2) or send(2) goes to the old or the new one,
 *	never to a closed or reused descriptor; the timestamp is cached
 *	per thread for the current second.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
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

static atomic_int log_dest = LOG_TO_STDERR;	/* where lines go now */
static atomic_int log_err_fd = STDERR_FILENO;	/* or the start's, kept */
static atomic_int log_fd = -1;		/* log file, or -1 */
static int	log_parked_fd = -1;	/* former log file fd, now /dev/null */
static char	*log_path;		/* the log file's name (log_cfg_lock) */
static char	log_host[72];		/* short host name, in file lines */
static atomic_long log_pid;
static atomic_int log_is_verbose;
static atomic_int log_rate = 0;		/* lines/s per format; 0 = no limit */
static pthread_mutex_t log_cfg_lock = PTHREAD_MUTEX_INITIALIZER;	/* setters only */

/*
 * Postfix's postlog socket (postlogd(8), when maillog_file is set): one
 * datagram per line, as Postfix's own programs send them. The socket is
 * connected when the target is chosen, so that it also works inside a
 * chroot; when its peer goes away (Postfix restarted), lines are sent
 * by name until a reload connects again. Retired addresses are freed
 * LOG_IDENTS changes later, as idents are.
 */
#define LOG_POSTLOG_WAIT_MS	100	/* most a line waits for postlogd */
static atomic_int log_sock = -1;	/* the postlog socket, or -1 */
static _Atomic(struct sockaddr_un *) log_sock_addr;
static struct sockaddr_un *log_sock_addrs[LOG_IDENTS];
static unsigned	 log_sock_addr_next;
static atomic_int log_sock_stale;	/* its peer is gone: send by name */
static atomic_int log_sock_down;	/* lines are being lost */
static atomic_ulong log_sock_lost;	/* lines lost since the last report */

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
	atomic_store(&log_is_verbose, verbose);
	if (to_stderr)
		atomic_store(&log_dest, LOG_TO_STDERR);
	else {
		/* openlog keeps the pointer: hand it our static copy. */
		closelog();
		if (strcmp(log_syslog_ident, ident) != 0)
			snprintf(log_syslog_ident, sizeof(log_syslog_ident), "%s", ident);
		openlog(log_syslog_ident, LOG_PID | LOG_NDELAY, facility);
	}
	pthread_mutex_unlock(&log_cfg_lock);
}

/* log_host_init - the short host name, as syslog writes it (lock held) */
static void
log_host_init(void)
{
	if (log_host[0] != '\0')
		return;
	if (gethostname(log_host, sizeof(log_host) - 1) < 0 || log_host[0] == '\0')
		snprintf(log_host, sizeof(log_host), "localhost");
	log_host[strcspn(log_host, ".")] = '\0';
}

/*
 * log_file_open - (re)open the log file PATH (lock held). An existing
 * log file descriptor keeps its number: the new file is dup3()ed onto
 * it, so writers never need a lock.
 */
static int
log_file_open(const char *path)
{
	int	 fd, cur, saved;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0)
		return (-1);
	/* As syslog writes it, so that log readers (pflogsumm) know the lines. */
	log_host_init();
	if (log_path == NULL || strcmp(log_path, path) != 0) {
		free(log_path);
		log_path = strdup(path);
	}
	cur = atomic_load(&log_fd);
	if (cur < 0)
		cur = log_parked_fd;
	if (cur >= 0) {
		if (dup3(fd, cur, O_CLOEXEC) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return (-1);
		}
		close(fd);
		fd = cur;
		log_parked_fd = -1;
	}
	atomic_store(&log_fd, fd);
	return (0);
}

/* log_file_park - the log file is no longer written (lock held) */
static void
log_file_park(void)
{
	int	 cur = atomic_load(&log_fd), null;

	free(log_path);
	log_path = NULL;
	if (cur < 0)
		return;
	/* Park it on /dev/null: a writer may still hold the number. */
	atomic_store(&log_fd, -1);
	if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0) {
		(void)dup3(null, cur, O_CLOEXEC);
		close(null);
	}
	log_parked_fd = cur;
}

/* log_unix_addr - the sockaddr of a UNIX socket path; -1 if too long */
static int
log_unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return (0);
}

/*
 * log_unix_probe - can a datagram (or else a stream) socket connect to
 * PATH? That is what syslog(3) and Postfix's programs do. 0, or -1
 * (errno of the datagram attempt, unless it was the wrong type).
 */
static int
log_unix_probe(const char *path)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sa;
	size_t	 i;
	int	 fd, err[2] = { 0, 0 };

	if (log_unix_addr(&sa, path) < 0)
		return (-1);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) < 0)
			return (-1);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return (0);
		}
		err[i] = errno;
		close(fd);
	}
	errno = err[0] == EPROTOTYPE ? err[1] : err[0];
	return (-1);
}

/*
 * log_postlog_open - a datagram socket connected to the postlog socket
 * PATH, on the descriptor number of the one in use (lock held). The
 * socket is made even when nobody listens yet: lines then go by name.
 * 0, or -1 (errno).
 */
static int
log_postlog_open(const char *path)
{
	struct timeval wait = { 0, LOG_POSTLOG_WAIT_MS * 1000 };
	struct sockaddr_un *sa;
	int	 fd, cur, saved, stale;

	if ((sa = malloc(sizeof(*sa))) == NULL)
		return (-1);
	if (log_unix_addr(sa, path) < 0 ||
	    (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		saved = errno;
		free(sa);
		errno = saved;
		return (-1);
	}
	/* A postlogd that does not read holds a worker this long at most. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
	stale = connect(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0;
	log_host_init();
	if ((cur = atomic_load(&log_sock)) >= 0) {
		if (dup3(fd, cur, O_CLOEXEC) < 0) {
			saved = errno;
			close(fd);
			free(sa);
			errno = saved;
			return (-1);
		}
		close(fd);
		fd = cur;
	}
	free(log_sock_addrs[log_sock_addr_next]);	/* retired long ago */
	log_sock_addrs[log_sock_addr_next] = sa;
	log_sock_addr_next = (log_sock_addr_next + 1) % LOG_IDENTS;
	atomic_store(&log_sock_addr, sa);
	atomic_store(&log_sock, fd);
	atomic_store(&log_sock_stale, stale);
	return (0);
}

/*
 * log_check_target - could TARGET take lines now? Syslog: something
 * listens on /dev/log; postlog: the socket PATH takes a connection.
 * 0, or -1 (errno). A log file is found out by opening it.
 */
int
log_check_target(int target, const char *path)
{
	switch (target) {
	case LOG_TO_SYSLOG:
		return (log_unix_probe(LOG_SYSLOG_PATH));
	case LOG_TO_POSTLOG:
		return (log_unix_probe(path));
	default:
		return (0);
	}
}

/*
 * log_set_target - send lines to TARGET: syslog (opened by log_init),
 * the file PATH, or the postlog socket PATH. Whatever the target needs
 * is ready before lines go there. 0, or -1 (errno) and the lines keep
 * going where they went.
 */
int
log_set_target(int target, const char *path)
{
	int	 r = 0;

	pthread_mutex_lock(&log_cfg_lock);
	switch (target) {
	case LOG_TO_FILE:
		r = log_file_open(path);
		break;
	case LOG_TO_POSTLOG:
		r = log_postlog_open(path);
		break;
	case LOG_TO_SYSLOG:
	case LOG_TO_STDERR:
		break;
	default:
		errno = EINVAL;
		r = -1;
	}
	if (r == 0) {
		atomic_store(&log_dest, target);
		if (target != LOG_TO_FILE)
			log_file_park();
	}
	pthread_mutex_unlock(&log_cfg_lock);
	return (r);
}

int
log_target(void)
{
	return (atomic_load(&log_dest));
}

/*
 * log_use_stderr - the chosen target cannot take lines: send them to
 * stderr. A daemon points its stderr at /dev/null when it detaches, so
 * the stderr it was started with is kept open (a duplicate): a
 * terminal, a file, or systemd's journal stream. Not a pipe: whoever
 * started the daemon may read it to its end (an init script's $(...))
 * and would wait for as long as the daemon runs. -1 when stderr leads
 * nowhere that lasts (/dev/null, a pipe, closed) and none was kept.
 */
int
log_use_stderr(void)
{
	struct stat st, null;
	int	 fd;

	pthread_mutex_lock(&log_cfg_lock);
	if (atomic_load(&log_err_fd) == STDERR_FILENO) {
		if (fstat(STDERR_FILENO, &st) < 0 || S_ISFIFO(st.st_mode) ||
		    (S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 &&
		    st.st_rdev == null.st_rdev) ||
		    (fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0) {
			pthread_mutex_unlock(&log_cfg_lock);
			return (-1);
		}
		atomic_store(&log_err_fd, fd);
	}
	atomic_store(&log_dest, LOG_TO_STDERR);
	log_file_park();
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
	else {
		pthread_mutex_lock(&log_cfg_lock);
		/* Unless the target changed meanwhile. */
		r = log_path == NULL ? 0 : log_file_open(path) < 0 ? -1 : 1;
		pthread_mutex_unlock(&log_cfg_lock);
	}
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

/*
 * log_stamp - "Mon DD HH:MM:SS", formatted once a second per thread:
 * syslog pads the day with a space, Postfix's own logger with a zero.
 */
static const char *
log_stamp(int zero_day)
{
	static __thread time_t last = (time_t)-1;
	static __thread char stamp[2][32];
	struct tm tm;
	time_t	 now = time(NULL);

	if (now != last) {
		localtime_r(&now, &tm);
		strftime(stamp[0], sizeof(stamp[0]), "%b %e %H:%M:%S", &tm);
		strftime(stamp[1], sizeof(stamp[1]), "%b %d %H:%M:%S", &tm);
		last = now;
	}
	return (stamp[zero_day != 0]);
}

/*
 * log_postlog_send - one datagram to postlogd. Sent on the connected
 * socket, or by name once its peer is gone (Postfix restarted: the name
 * leads to the new socket). A line that postlogd does not take within
 * LOG_POSTLOG_WAIT_MS is lost, and so is every line that finds it not
 * reading while one was lost already (no wait then): counted, with one
 * warning on stderr and to syslog when the losses start and one in the
 * log when lines get through again.
 */
static void
log_postlog_send(const char *line, size_t n)
{
	const struct sockaddr_un *sa = atomic_load(&log_sock_addr);
	char	 note[LOG_LINE_MAX];
	ssize_t	 r = -1;
	int	 fd = atomic_load(&log_sock), flags = MSG_NOSIGNAL, err, len;

	if (atomic_load(&log_sock_down))
		flags |= MSG_DONTWAIT;
	if (!atomic_load(&log_sock_stale)) {
		r = send(fd, line, n, flags);
		if (r < 0 && (errno == ECONNREFUSED || errno == ENOTCONN ||
		    errno == ECONNRESET))
			atomic_store(&log_sock_stale, 1);
	}
	if (r < 0 && atomic_load(&log_sock_stale) && sa != NULL)
		r = sendto(fd, line, n, flags, (const struct sockaddr *)sa,
		    sizeof(*sa));
	if (r >= 0) {
		if (atomic_load(&log_sock_down) && atomic_exchange(&log_sock_down, 0)) {
			snprintf(note, sizeof(note), "warning: %lu log lines were "
			    "lost while the postlog socket %s did not take them",
			    atomic_exchange(&log_sock_lost, 0), sa ? sa->sun_path : "");
			log_write_line(LOG_WARNING, note);
		}
		return;
	}
	err = errno;
	atomic_fetch_add(&log_sock_lost, 1);
	if (atomic_exchange(&log_sock_down, 1))
		return;
	len = snprintf(note, sizeof(note), "%s %s[%ld]: warning: postlog socket "
	    "%s: %s; log lines are lost until it takes them again\n",
	    log_stamp(0), atomic_load(&log_ident), atomic_load(&log_pid),
	    sa ? sa->sun_path : "", strerror(err));
	if (len > 0 && (size_t)len < sizeof(note))
		(void)!write(atomic_load(&log_err_fd), note, (size_t)len);
	syslog(LOG_WARNING, "warning: postlog socket %s: %s; log lines are "
	    "lost until it takes them again", sa ? sa->sun_path : "",
	    strerror(err));
}

/*
 * log_write_line - one syslog call, one datagram to postlogd, or one
 * write(2) of a whole line
 */
static void
log_write_line(int prio, const char *msg)
{
	char	 line[LOG_LINE_MAX + 192];
	size_t	 n;
	int	 fd, dest = atomic_load(&log_dest);

	switch (dest) {
	case LOG_TO_SYSLOG:
		syslog(prio, "%s", msg);
		return;
	case LOG_TO_POSTLOG:
		/* What Postfix's programs send: no newline, postlogd adds it. */
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s[%ld]: %s",
		    log_stamp(1), log_host, atomic_load(&log_ident),
		    atomic_load(&log_pid), msg);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		log_postlog_send(line, n);
		return;
	case LOG_TO_FILE:
		if ((fd = atomic_load(&log_fd)) >= 0) {
			n = (size_t)snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n",
			    log_stamp(0), log_host, atomic_load(&log_ident),
			    atomic_load(&log_pid), msg);
			break;
		}
		/* FALLTHROUGH */
	default:
		fd = atomic_load(&log_err_fd);
		n = (size_t)snprintf(line, sizeof(line), "%s %s[%ld]: %s\n",
		    log_stamp(0), atomic_load(&log_ident), atomic_load(&log_pid), msg);
		break;
	}
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
