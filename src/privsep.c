/*
 * NAME
 *	privsep - a root helper process that opens key files and binds
 *	sockets for the unprivileged daemon
 * DESCRIPTION
 *	See privsep.h. The helper is the parent: its pid is the one in the
 *	pid file, so signals from the init script, systemd and -s reach it
 *	and it passes them on. Its whole job is the loop in priv_serve();
 *	what it may open is decided afresh for each request from the
 *	configuration file on disk, never from what the child says.
 *
 *	Wire format (SOCK_SEQPACKET, one message each way):
 *	request	 op byte, then a NUL-terminated argument; one SCM_RIGHTS
 *		 descriptor: the reply channel
 *	reply	 4-byte errno (0: success), then a NUL-terminated reason;
 *		 on success one SCM_RIGHTS descriptor: the file or socket
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "privsep.h"
#include "sni_map.h"
#include "sys.h"

#define PRIV_OP_OPEN	'O'		/* argument: a path */
#define PRIV_OP_LISTEN	'L'		/* argument: kind letter, address */
#define PRIV_MSG_MAX	(PATH_MAX + 64)
#define PRIV_WAIT_MS	30000		/* the helper answers at once */

static int	priv_sock = -1;		/* child: requests go here */

/*
 * The parameters whose values name the files a configuration names:
 * what the helper opens for the child, and what a Postfix request may
 * name (CA files and directories are public: the child reads them
 * itself, but a request may name only these too).
 */
static const char *const priv_file_params[] = {
	"tlsproxy_tls_CAfile", "tlsproxy_tls_CApath",
	"tlsproxy_client_CAfile", "tlsproxy_client_CApath",
	"tlsproxy_tls_cert_file", "tlsproxy_tls_key_file",
	"tlsproxy_tls_eccert_file", "tlsproxy_tls_eckey_file",
	"tlsproxy_tls_dcert_file", "tlsproxy_tls_dkey_file",
	"tlsproxy_tls_chain_files", "tlsproxy_tls_dh1024_param_file",
	"tlsproxy_tls_ticket_key_file",
	"tlsproxy_client_cert_file", "tlsproxy_client_key_file",
	"tlsproxy_client_eccert_file", "tlsproxy_client_eckey_file",
	"tlsproxy_client_dcert_file", "tlsproxy_client_dkey_file",
	"tlsproxy_client_chain_files",
};

/* priv_send - one message, with a descriptor when fd >= 0 */
static int
priv_send(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char	 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	ssize_t	 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cm.hdr.cmsg_level = SOL_SOCKET;
		cm.hdr.cmsg_type = SCM_RIGHTS;
		cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.hdr), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return (n == (ssize_t)len ? 0 : -1);
}

/*
 * priv_recv - one message into buf (NUL-terminated, at most len - 1
 * bytes) and at most one descriptor (others are closed); the length,
 * 0 at EOF, -1 on error
 */
static ssize_t
priv_recv(int sock, char *buf, size_t len, int *fdp)
{
	union {
		struct cmsghdr hdr;
		char	 buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct cmsghdr *c;
	struct msghdr msg;
	struct iovec iov;
	ssize_t	 n;
	size_t	 i, nfd;
	int	 fd;

	*fdp = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len - 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (-1);
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fdp < 0)
				*fdp = fd;
			else
				(void)close(fd);
		}
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fdp >= 0)
			(void)close(*fdp);
		*fdp = -1;
		errno = EMSGSIZE;
		return (-1);
	}
	return (n);
}

/*
 * Child side.
 */

int
priv_active(void)
{
	return (priv_sock >= 0);
}

/* priv_ask - one request, one answer: a descriptor, or -1 with errno */
static int
priv_ask(int op, const char *arg, size_t arglen, char *err, size_t errlen)
{
	char	 msg[PRIV_MSG_MAX], reply[PRIV_MSG_MAX];
	int	 sv[2], fd = -1, e;
	ssize_t	 n;

	if (arglen + 2 > sizeof(msg)) {
		snprintf(err, errlen, "name too long");
		errno = ENAMETOOLONG;
		return (-1);
	}
	msg[0] = (char)op;
	memcpy(msg + 1, arg, arglen);
	msg[arglen + 1] = '\0';
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		e = errno;
		snprintf(err, errlen, "socketpair: %s", strerror(e));
		errno = e;
		return (-1);
	}
	if (priv_send(priv_sock, msg, arglen + 2, sv[1]) < 0) {
		e = errno;
		snprintf(err, errlen, "the privileged helper is gone: %s",
		    strerror(e));
		goto fail;
	}
	(void)close(sv[1]);
	sv[1] = -1;
	if (sys_wait(sv[0], POLLIN, sys_now_ms() + PRIV_WAIT_MS) <= 0 ||
	    (n = priv_recv(sv[0], reply, sizeof(reply), &fd)) < 4) {
		e = EIO;
		snprintf(err, errlen, "no answer from the privileged helper");
		goto fail;
	}
	memcpy(&e, reply, sizeof(e));
	if (e != 0 || fd < 0) {
		if (e == 0)
			e = EIO;
		snprintf(err, errlen, "%s", reply + 4);
		goto fail;
	}
	(void)close(sv[0]);
	return (fd);
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)close(sv[0]);
	if (sv[1] >= 0)
		(void)close(sv[1]);
	errno = e;
	return (-1);
}

/* priv_open_here - what the helper does for an allowed path */
static int
priv_open_here(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int	 fd, e;

	/* O_NONBLOCK: a FIFO put in a key's place must not hang us. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		errno = e;
		return (-1);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		snprintf(err, errlen, "not a regular file");
		errno = EINVAL;
		return (-1);
	}
	(void)sys_set_nonblock(fd, 0);
	return (fd);
}

int
priv_open_file(const char *path, char *err, size_t errlen)
{
	if (priv_sock < 0)
		return (priv_open_here(path, err, errlen));
	return (priv_ask(PRIV_OP_OPEN, path, strlen(path), err, errlen));
}

/* The kind letters of a listen request. */
static char
priv_kind_letter(enum cfg_listener_kind k)
{
	return (k == CFG_LST_TCP ? 'T' : k == CFG_LST_STATS ? 'S' : 'H');
}

int
priv_listen(const struct cfg_listener *c, char *err, size_t errlen)
{
	char	 arg[PRIV_MSG_MAX];
	const char *addr = c->kind == CFG_LST_TCP ? c->listen : c->handoff;
	int	 n;

	if (priv_sock < 0)
		return (lst_socket(c, err, errlen));
	n = snprintf(arg, sizeof(arg), "%c%s", priv_kind_letter(c->kind), addr);
	if (n < 0 || (size_t)n >= sizeof(arg)) {
		snprintf(err, errlen, "address too long");
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (priv_ask(PRIV_OP_LISTEN, arg, (size_t)n, err, errlen));
}

/*
 * The policy: what a configuration names (used by the helper, and by
 * the child for Postfix's requests).
 */

/* priv_in_list - is path one of the files of a list value? */
static int
priv_in_list(const char *list, const char *path)
{
	size_t	 n = strlen(path);
	const char *p = list;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		if (strncmp(p, path, n) == 0 &&
		    (p[n] == '\0' || strchr(" \t,", p[n]) != NULL))
			return (1);
		p += strcspn(p, " \t,");
	}
	return (0);
}

/* priv_sni_names - does an SNI map (the file, or a value in it) name path? */
static int
priv_sni_names(const char *maps, const char *path)
{
	struct sni_map *m;
	const char *v, *colon;
	char	 serr[256];
	size_t	 i;
	int	 found = 0;

	if (*maps == '\0')
		return (0);
	/* "type:/file": the map file itself. */
	if ((colon = strchr(maps, ':')) != NULL && colon[1] == '/' &&
	    strcmp(colon + 1, path) == 0)
		return (1);
	if ((m = sni_map_parse(maps, serr, sizeof(serr))) == NULL)
		return (0);
	for (i = 0; !found && (v = sni_map_value(m, i)) != NULL; i++)
		found = priv_in_list(v, path);
	sni_map_free(m);
	return (found);
}

/* priv_cfg_names - does one (global or listener) configuration name path? */
static int
priv_cfg_names(const struct cfg *cfg, const char *path)
{
	size_t	 i;

	for (i = 0; i < sizeof(priv_file_params) / sizeof(priv_file_params[0]); i++)
		if (priv_in_list(cfg_str(cfg, priv_file_params[i]), path))
			return (1);
	return (priv_sni_names(cfg_str(cfg, "tls_server_sni_maps"), path));
}

int
priv_names_file(const struct cfg *cfg, const char *path)
{
	size_t	 i, n;

	if (*path == '\0')
		return (0);
	if (priv_cfg_names(cfg, path))
		return (1);
	n = cfg_listener_count(cfg);
	for (i = 0; i < n; i++)
		if (priv_cfg_names(cfg_listener_cfg(cfg, i), path))
			return (1);
	return (0);
}

/* priv_may_open - is path named by the configuration as it is now? */
static int
priv_may_open(const struct cfg *cfg, const char *conf, const char *path)
{
	return (strcmp(path, conf) == 0 || priv_names_file(cfg, path));
}

/*
 * Parent side: everything below runs in the helper only.
 */

/* priv_find_listener - the configured listener of a listen request */
static const struct cfg_listener *
priv_find_listener(const struct cfg *cfg, const char *arg,
    struct cfg_listener *stats)
{
	const struct cfg_listener *l;
	size_t	 i, n = cfg_listener_count(cfg);

	if (arg[0] == 'S') {
		if (*cfg_str(cfg, "tlsproxy_stats_socket") == '\0' ||
		    strcmp(cfg_str(cfg, "tlsproxy_stats_socket"), arg + 1) != 0)
			return (NULL);
		/* As main.c makes it: for the operator only. */
		memset(stats, 0, sizeof(*stats));
		stats->kind = CFG_LST_STATS;
		stats->handoff = (char *)cfg_str(cfg, "tlsproxy_stats_socket");
		stats->mode = 0600;
		return (stats);
	}
	for (i = 0; i < n; i++) {
		l = cfg_listener_get(cfg, i);
		if (arg[0] == 'T' && l->kind == CFG_LST_TCP &&
		    strcmp(l->listen, arg + 1) == 0)
			return (l);
		if (arg[0] == 'H' && l->kind == CFG_LST_HANDOFF &&
		    strcmp(l->handoff, arg + 1) == 0)
			return (l);
	}
	return (NULL);
}

/* priv_reply - the answer to one request; consumes fd */
static void
priv_reply(int rsock, int e, const char *why, int fd)
{
	char	 buf[PRIV_MSG_MAX];
	size_t	 n;

	memcpy(buf, &e, sizeof(e));
	n = (size_t)snprintf(buf + 4, sizeof(buf) - 4, "%s", why);
	if (n >= sizeof(buf) - 4)
		n = sizeof(buf) - 5;
	(void)priv_send(rsock, buf, 4 + n + 1, e == 0 ? fd : -1);
	if (fd >= 0)
		(void)close(fd);
}

/* priv_handle - one request from the child */
static void
priv_handle(int sock, const char *conf)
{
	struct cfg_listener stats;
	const struct cfg_listener *l;
	struct cfg *cfg;
	char	 msg[PRIV_MSG_MAX], why[2200], what[PATH_MAX + 32];
	int	 rsock, fd, e, refused = 0;
	ssize_t	 n;

	if ((n = priv_recv(sock, msg, sizeof(msg), &rsock)) <= 0)
		return;
	if (rsock < 0 || n < 2 || strlen(msg) != (size_t)n - 1) {
		log_warnx("privileged helper: malformed request ignored");
		if (rsock >= 0)
			(void)close(rsock);
		return;
	}
	sys_printable(what, sizeof(what), msg + 1);
	/* The configuration as it is now: what a reload is about to apply. */
	if ((cfg = cfg_load(conf, NULL)) == NULL) {
		priv_reply(rsock, EINVAL, "the configuration file has errors", -1);
		(void)close(rsock);
		return;
	}
	fd = -1;
	e = 0;
	why[0] = '\0';
	if (msg[0] == PRIV_OP_OPEN) {
		if (!priv_may_open(cfg, conf, msg + 1)) {
			e = EACCES;
			refused = 1;
			snprintf(why, sizeof(why), "%.1000s is not named by %.1000s",
			    what, conf);
		} else if ((fd = priv_open_here(msg + 1, why, sizeof(why))) < 0)
			e = errno;
	} else if (msg[0] == PRIV_OP_LISTEN) {
		if ((l = priv_find_listener(cfg, msg + 1, &stats)) == NULL) {
			e = EACCES;
			refused = 1;
			snprintf(why, sizeof(why), "%.1000s is not a listener of "
			    "%.1000s", what + 1, conf);
		} else if ((fd = lst_socket(l, why, sizeof(why))) < 0)
			e = errno != 0 ? errno : EIO;
	} else {
		e = EINVAL;
		refused = 1;
		snprintf(why, sizeof(why), "unknown request");
	}
	cfg_free(cfg);
	/* What the policy refuses; plain open errors are the child's to tell. */
	if (refused)
		log_warnx("privileged helper: refused: %s", why);
	priv_reply(rsock, e, why, fd);
	(void)close(rsock);
}

/*
 * priv_unlink_sockets - the socket files of the configuration's UNIX
 * listeners, which the child may not be able to remove (a directory
 * only root may write, a chroot)
 */
static void
priv_unlink_sockets(const char *conf)
{
	const struct cfg_listener *l;
	struct cfg *cfg;
	struct stat st;
	const char *path;
	size_t	 i, n;

	if ((cfg = cfg_load(conf, NULL)) == NULL)
		return;
	n = cfg_listener_count(cfg);
	for (i = 0; i <= n; i++) {
		if (i < n) {
			l = cfg_listener_get(cfg, i);
			if (l->kind == CFG_LST_TCP)
				continue;
			path = l->handoff;
		} else
			path = cfg_str(cfg, "tlsproxy_stats_socket");
		if (*path != '\0' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(path);
	}
	cfg_free(cfg);
}

/* priv_signals - what the helper takes: the ones it passes on, and SIGCHLD */
static void
priv_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGUSR1);
	sigaddset(sigs, SIGCHLD);
}

/* priv_serve - the helper's whole life; never returns */
static void __attribute__((noreturn))
priv_serve(int sock, pid_t child, const char *conf)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	sigset_t sigs;
	int	 sfd, status, code = 1;
	pid_t	 w;

	priv_signals(&sigs);
	if ((sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0) {
		log_warn("privileged helper: signalfd");
		(void)kill(child, SIGTERM);
	}
	log_info("privileged helper started (pid %ld); daemon pid %ld",
	    (long)getpid(), (long)child);
	pfd[0].fd = sock;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("privileged helper: poll");
			break;
		}
		if (pfd[1].revents & POLLIN &&
		    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGCHLD)
				(void)kill(child, (int)si.ssi_signo);
			else if ((w = waitpid(child, &status, WNOHANG)) == child)
				goto done;
		}
		if (pfd[0].revents & POLLIN)
			priv_handle(sock, conf);
		else if (pfd[0].revents & (POLLHUP | POLLERR))
			break;		/* the child closed its end: it is leaving */
	}
	while ((w = waitpid(child, &status, 0)) < 0 && errno == EINTR)
		;
	if (w != child) {
		log_warnx("privileged helper: lost the daemon (pid %ld)",
		    (long)child);
		exit(1);
	}
done:
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		log_warnx("daemon process %ld killed by signal %d; the "
		    "privileged helper exits too", (long)child, WTERMSIG(status));
	priv_unlink_sockets(conf);
	/*
	 * exit(), not _exit(): the start's atexit handler removes the pid
	 * file, which the child may not reach any more (chroot, user).
	 */
	(void)close(sock);
	if (sfd >= 0)
		(void)close(sfd);
	exit(code);
}

int
priv_start(const char *conf_path, const int *close_fds, size_t nclose)
{
	sigset_t sigs, old;
	size_t	 i;
	int	 sv[2], e;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return (-1);
	/* A signal between fork and the helper's signalfd must wait, not kill. */
	priv_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	if ((pid = fork()) < 0) {
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		(void)close(sv[0]);
		(void)close(sv[1]);
		errno = e;
		return (-1);
	}
	if (pid > 0) {
		(void)close(sv[1]);
		/* The listeners are the child's: a closed one must really close. */
		for (i = 0; i < nclose; i++)
			if (close_fds[i] >= 0)
				(void)close(close_fds[i]);
		priv_serve(sv[0], pid, conf_path);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	(void)close(sv[0]);
	priv_sock = sv[1];
	return (0);
}
