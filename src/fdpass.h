/*
 * NAME
 *	fdpass - receive (and send) one descriptor with SCM_RIGHTS
 * SYNOPSIS
 *	#include "fdpass.h"
 * DESCRIPTION
 *	fdpass_recv() waits (non-blocking socket, absolute deadline) for
 *	Postfix's descriptor message: one data byte plus one SCM_RIGHTS
 *	descriptor. Received fds are close-on-exec from the start
 *	(MSG_CMSG_CLOEXEC): other threads may fork/exec meanwhile.
 *	Any extra or malformed descriptors are closed, never leaked.
 *
 *	fdpass_read() reads ordinary protocol bytes; should a descriptor
 *	ride along (a confused or hostile client), it is closed and the
 *	read fails, so no fd can ever be leaked or swallowed silently.
 *
 *	fdpass_send() is the sender side (tests and tools).
 * DIAGNOSTICS
 *	-1 with a reason in err. 0 bytes at EOF from fdpass_read().
 */
#ifndef TLSPROXY_FDPASS_H
#define TLSPROXY_FDPASS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int	fdpass_recv(int sock, int *fdp, int64_t deadline, char *err, size_t errlen);
ssize_t	fdpass_read(int sock, void *buf, size_t len, int64_t deadline,
	    char *err, size_t errlen);
int	fdpass_send(int sock, int fd);

#endif
