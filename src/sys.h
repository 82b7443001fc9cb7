/*
 * NAME
 *	sys - small system helpers: fds, deadlines, addresses
 * SYNOPSIS
 *	#include "sys.h"
 * DESCRIPTION
 *	sys_close() closes an owned fd and sets it to -1 (so destructors
 *	can run twice). Deadlines are absolute CLOCK_MONOTONIC times in
 *	milliseconds (sys_now_ms() + timeout). sys_write_all() and
 *	sys_wait() never block past the deadline; they work on
 *	non-blocking fds.
 *
 *	Addresses: sys_parse_addr() accepts "host:port", "[v6]:port",
 *	"*:port" (numeric hosts and names resolved with getaddrinfo) or an
 *	absolute UNIX socket path; sys_format_peer() writes Postfix's
 *	"[addr]:port" form.
 *
 *	Secrets: sys_secmem_alloc() gives zeroed pages of their own
 *	(mmap) that core dumps leave out (MADV_DONTDUMP) and, where
 *	RLIMIT_MEMLOCK allows, that are locked in RAM so they never reach
 *	swap; locking is best effort. fork() keeps the pages and their
 *	no-dump mark but not the lock: sys_secmem_relock() takes it again
 *	in the child. sys_secmem_free() wipes, unlocks and unmaps.
 */
#ifndef TLSPROXY_SYS_H
#define TLSPROXY_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SYS_ADDRSTRLEN	80	/* "[" IPv6 "]:" port, or a short path */

void	 sys_close(int *);
int	 sys_set_nonblock(int, int on);
int	 sys_set_cloexec(int);
int64_t	 sys_now_ms(void);
/* ms left until deadline, clamped to [0, INT_MAX]; -1 deadline = infinite (-1). */
int	 sys_ms_left(int64_t deadline);

/*
 * Wait until fd has any of events (POLLIN/POLLOUT). Returns revents,
 * 0 on timeout, -1 on error (errno).
 */
int	 sys_wait(int fd, short events, int64_t deadline);

/* Write all of buf to a non-blocking fd by deadline: 0, or -1 (errno; ETIMEDOUT). */
int	 sys_write_all(int fd, const void *buf, size_t len, int64_t deadline);

struct sys_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parse and resolve an address; 0 or -1 with a reason in err. */
int	 sys_parse_addr(const char *spec, int passive, struct sys_addr *,
	    char *err, size_t errlen);
/* "[addr]:port" for inet, the path for AF_UNIX, "unknown" otherwise. */
void	 sys_format_peer(const struct sockaddr *, socklen_t, char *, size_t);

/* Zeroed no-dump (and, if allowed, locked) pages for secrets; NULL (errno). */
void	*sys_secmem_alloc(size_t len);
/* Lock them again, e.g. in a child after fork(); best effort. */
void	 sys_secmem_relock(void *p, size_t len);
/* Wipe, unlock and unmap what sys_secmem_alloc(len) gave; NULL is fine. */
void	 sys_secmem_free(void *p, size_t len);

/* Copy src into dst, replacing non-printable bytes with '?'. */
void	 sys_printable(char *dst, size_t dstlen, const char *src);

#endif
