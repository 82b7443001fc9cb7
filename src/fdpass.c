/*
 * NAME
 *	fdpass - receive (and send) one descriptor with SCM_RIGHTS
 * DESCRIPTION
 *	See fdpass.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"
#include "sys.h"

#define FDPASS_MAXFDS	8	/* room to notice (and close) extras */

/* fdpass_close_all - close every fd carried by msg; count them */
static int
fdpass_close_all(struct msghdr *msg)
{
	struct cmsghdr *cm;
	int	 fd, count = 0;
	size_t	 i, nfds;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			sys_close(&fd);
			count++;
		}
	}
	return (count);
}

/* fdpass_recvmsg - one recvmsg() by deadline; returns bytes, 0 EOF, -1 */
static ssize_t
fdpass_recvmsg(int sock, void *buf, size_t len, struct msghdr *msg,
    int64_t deadline, char *err, size_t errlen)
{
	struct iovec iov;
	ssize_t	 n;
	int	 r;

	iov.iov_base = buf;
	iov.iov_len = len;
	msg->msg_iov = &iov;
	msg->msg_iovlen = 1;
	for (;;) {
		n = recvmsg(sock, msg, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			return (n);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(err, errlen, "%s", strerror(errno));
			return (-1);
		}
		if ((r = sys_wait(sock, POLLIN, deadline)) < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			return (-1);
		}
		if (r == 0) {
			snprintf(err, errlen, "timeout");
			errno = ETIMEDOUT;
			return (-1);
		}
	}
}

int
fdpass_recv(int sock, int *fdp, int64_t deadline, char *err, size_t errlen)
{
	union {
		struct cmsghdr align;
		char	 buf[CMSG_SPACE(FDPASS_MAXFDS * sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cm;
	unsigned char byte;
	ssize_t	 n;
	int	 fd;

	*fdp = -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	if ((n = fdpass_recvmsg(sock, &byte, 1, &msg, deadline, err, errlen)) < 0)
		return (-1);
	if (n == 0) {
		snprintf(err, errlen, "unexpected EOF");
		return (-1);
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		fdpass_close_all(&msg);
		snprintf(err, errlen, "too many descriptors (control data truncated)");
		return (-1);
	}
	cm = CMSG_FIRSTHDR(&msg);
	if (cm == NULL) {
		snprintf(err, errlen, "no descriptor received (got a data byte 0x%02x)",
		    byte);
		return (-1);
	}
	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)) ||
	    CMSG_NXTHDR(&msg, cm) != NULL) {
		fdpass_close_all(&msg);
		snprintf(err, errlen, "malformed descriptor message (expected exactly one descriptor)");
		return (-1);
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	*fdp = fd;
	return (0);
}

ssize_t
fdpass_read(int sock, void *buf, size_t len, int64_t deadline,
    char *err, size_t errlen)
{
	union {
		struct cmsghdr align;
		char	 buf[CMSG_SPACE(FDPASS_MAXFDS * sizeof(int))];
	} ctl;
	struct msghdr msg;
	ssize_t	 n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	if ((n = fdpass_recvmsg(sock, buf, len, &msg, deadline, err, errlen)) < 0)
		return (-1);
	if (msg.msg_controllen > 0 && CMSG_FIRSTHDR(&msg) != NULL) {
		fdpass_close_all(&msg);
		snprintf(err, errlen, "unexpected file descriptor before the request was complete");
		return (-1);
	}
	return (n);
}

int
fdpass_send(int sock, int fd)
{
	union {
		struct cmsghdr align;
		char	 buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	char	 byte = 0;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return (sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1);
}
