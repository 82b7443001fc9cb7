/*
 * NAME
 *	log - Postfix-style logging to syslog or stderr, thread-safe
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
 *	log_set_file() sends lines to a file instead of syslog, in
 *	syslog's format with the short host name ("Mon DD HH:MM:SS host
 *	ident[pid]: text"), so that log readers such as pflogsumm know
 *	them; calling it again reopens the file (rotation).
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

#define LOG_PRINTF(a, b)	__attribute__((format(printf, a, b)))

int	log_facility_code(const char *name);	/* -1 if unknown */
void	log_init(const char *ident, int facility, int to_stderr, int verbose);
/* Log to a file (appending) instead of syslog; "" = syslog. 0 or -1 (errno). */
int	log_set_file(const char *path);
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
