/*
 * NAME
 *	log - Postfix-style logging to syslog, postlog, a file or stderr,
 *	thread-safe
 * SYNOPSIS
 *	#include "log.h"
 * DESCRIPTION
 *	log_init() picks the destination: syslog with the given ident
 *	("postfix/tlsproxy") and facility, or stderr (foreground mode),
 *	where each line is "Mon DD HH:MM:SS ident[pid]: text" written
 *	with a single write(2) so lines of concurrent threads never mix.
 *
 *	Severities follow Postfix: log_info() for transactions,
 *	log_warnx() prefixes "warning: ", log_warn() also appends
 *	": strerror(errno)". fatalx()/fatal() log "fatal: ..." and exit(1):
 *	for startup and environment failures only, never inside a
 *	session. log_panic() logs "panic: ..." and aborts: our own bug.
 *	log_debug() prints only with -v.
 *
 *	log_set_target() sends lines elsewhere: LOG_TO_SYSLOG (opened by
 *	log_init()), LOG_TO_FILE (a file, in syslog's format with the
 *	short host name, "Mon DD HH:MM:SS host ident[pid]: text", so that
 *	log readers such as pflogsumm know them; setting it again reopens
 *	the file, for rotation), LOG_TO_POSTLOG (Postfix's postlog socket:
 *	one datagram a line, "Mon DD HH:MM:SS host ident[pid]: text" with
 *	a zero-padded day and no newline, as Postfix's programs send them
 *	when maillog_file is set; postlogd(8) appends it to maillog_file)
 *	or LOG_TO_STDERR. Everything the target needs is ready before the
 *	first line goes there; on failure (-1, errno) lines keep going
 *	where they went. log_check_target() tells whether a target could
 *	take lines now: something listens on /dev/log, the postlog socket
 *	takes a connection. log_use_stderr() is the fallback when it
 *	cannot: lines go to stderr, and the stderr the process was started
 *	with is kept open (a duplicate) for when a daemon points its own
 *	at /dev/null; -1 when that stderr is /dev/null or a pipe (whoever
 *	started the daemon may read the pipe to its end). log_target()
 *	tells where lines go now.
 *
 *	A line that postlogd does not take within 100 ms is lost; the
 *	losses are counted, with one warning on stderr and to syslog when
 *	they start and one line in the log with the count when lines get
 *	through again. When the postlog socket's peer goes away (Postfix
 *	restarted), lines are sent by name, reaching the new socket.
 *
 *	log_file_check() reopens the file when its name no longer leads to
 *	the open file (moved or removed by a log rotation): 1 reopened, 0
 *	nothing to do, -1 the reopen failed (errno; the old file is kept).
 *	log_file_chown() gives a log file that root owns (one the daemon
 *	made before dropping privileges) to the account it drops to, so
 *	that it can reopen it later.
 *	log_set_rate_limit() caps the lines per second of each message
 *	format of warnings and of log_fail() lines (info-level failure
 *	records such as a failed handshake): the excess is counted and
 *	summed up in one "N similar messages suppressed" line, so a flood
 *	of failing handshakes cannot flood the log. log_info() lines are
 *	transaction records (CONNECT, established, DISCONNECT) and are
 *	never dropped.
 *
 *	No lock is taken on the path of a line (workers log every session).
 */
#ifndef TLSPROXY_LOG_H
#define TLSPROXY_LOG_H

#include <stdarg.h>
#include <sys/types.h>
#include <syslog.h>

#define LOG_PRINTF(a, b)	__attribute__((format(printf, a, b)))

/* Where lines go. */
#define LOG_SYSLOG_PATH	_PATH_LOG	/* what syslog(3) connects to */
#define LOG_TO_STDERR	0
#define LOG_TO_SYSLOG	1
#define LOG_TO_FILE	2
#define LOG_TO_POSTLOG	3

int	log_facility_code(const char *name);	/* -1 if unknown */
/* Ident and syslog; to_stderr: lines go to stderr (else to where they went). */
void	log_init(const char *ident, int facility, int to_stderr, int verbose);
/* The file or postlog socket PATH for LOG_TO_FILE, LOG_TO_POSTLOG. 0 or -1 (errno). */
int	log_set_target(int target, const char *path);
int	log_check_target(int target, const char *path);
int	log_use_stderr(void);
int	log_target(void);
int	log_file_check(void);
void	log_file_chown(uid_t uid, gid_t gid);
/* Most lines per second of one message format; 0: unlimited. */
void	log_set_rate_limit(int per_second);
/* Report counts dropped in seconds now over (main loop, once a second). */
void	log_rate_flush(void);
void	log_set_verbose(int);
int	log_verbose(void);

void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
/* Info-level failure record, rate limited like warnings. */
void	log_fail(const char *, ...) LOG_PRINTF(1, 2);
/* Like log_info, but never rate limited: TLS loglevel 2-4 traces asked for. */
void	log_trace(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	log_panic(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
