/*
 * NAME
 *	test_privsep - CUnit tests for the privileged helper's policy
 * DESCRIPTION
 *	Each test forks: the forked process calls priv_start() and so
 *	becomes a real helper, serving its own child, where the checks
 *	run (priv_open_file(), priv_listen() over the real socketpair).
 *	The child reports through its exit status, which the helper
 *	passes on with its own; a helper that leaks (LeakSanitizer at its
 *	exit) fails the test too. No root is needed: the policy is the
 *	same for any user.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "privsep.h"
#include "unit.h"

static char	tdir[PATH_MAX];		/* a private directory for the files */
static char	conf[PATH_MAX + 32];
static int	port;			/* a free loopback port */

/* file_put - create path with text */
static void
file_put(const char *name, const char *text, char *path, size_t len)
{
	FILE	*fp;

	snprintf(path, len, "%s/%s", tdir, name);
	/* Also called from the suite's set-up and the helper's child. */
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(99);
	}
	fputs(text, fp);
	fclose(fp);
}

/* conf_put - the configuration file, naming key and (maybe) extra */
static void
conf_put(const char *key, const char *extra)
{
	char	 text[4 * PATH_MAX], path[PATH_MAX + 32];

	snprintf(text, sizeof(text),
	    "smtpd_tls_key_file = \"%s\";\n"
	    "smtpd_tls_cert_file = \"%s\";\n"
	    "tlsproxy_client_chain_files = \"%s/none.pem, %s\";\n"
	    "tlsproxy_stats_socket = \"%s/stats.sock\";\n"
	    "tlsproxy_listeners = (\n"
	    "  { handoff = \"%s/h.sock\"; },\n"
	    "  { listen = \"127.0.0.1:%d\"; backend = \"127.0.0.1:25\"; }\n"
	    ");\n", key, key, tdir, extra, tdir, tdir, port);
	file_put("t.conf", text, path, sizeof(path));
	snprintf(conf, sizeof(conf), "%s", path);
}

/* free_port - a loopback port nothing listens on now */
static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int	 fd, p;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return (-1);
	p = ntohs(sin.sin_port);
	close(fd);
	return (p);
}

/*
 * in_helper - run fn in the child of a real helper; its number of
 * failed checks (the helper's exit status), or 100+ for a broken run
 */
static int
in_helper(int (*fn)(void))
{
	pid_t	 pid;
	int	 status;

	fflush(NULL);
	if ((pid = fork()) < 0)
		return (101);
	if (pid == 0) {
		if (priv_start(conf, NULL, 0) < 0)
			_exit(102);
		_exit(priv_active() ? fn() : 103);
	}
	if (waitpid(pid, &status, 0) != pid)
		return (104);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 105);
}

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
		bad++;							\
	}								\
} while (0)

static char	keypath[PATH_MAX + 32], extrapath[PATH_MAX + 32];
static char	fifopath[PATH_MAX + 32], missing[PATH_MAX + 32];

/* child_files - what may be opened, what not, and why */
static int
child_files(void)
{
	char	 err[4200], buf[64];
	int	 bad = 0, fd;
	ssize_t	 n;

	fd = priv_open_file(keypath, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		CHECK(n == 4 && memcmp(buf, "key\n", 4) == 0);
		close(fd);
	}
	/* The configuration file itself (a reload reads it this way). */
	fd = priv_open_file(conf, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* A file the configuration does not name. */
	errno = 0;
	CHECK(priv_open_file("/etc/passwd", err, sizeof(err)) < 0);
	CHECK(errno == EACCES);
	CHECK(strstr(err, "/etc/passwd is not named by ") != NULL);
	/* Named (second of a list), but not there. */
	errno = 0;
	CHECK(priv_open_file(missing, err, sizeof(err)) < 0);
	CHECK(errno == ENOENT);
	CHECK(strstr(err, "No such file or directory") != NULL);
	/* A prefix of a named path is not that path. */
	snprintf(buf, sizeof(buf), "%.*s", (int)(strlen(keypath) - 1), keypath);
	CHECK(strlen(keypath) >= sizeof(buf) ||
	    priv_open_file(buf, err, sizeof(err)) < 0);
	/* Named, but not a regular file: never opened for reading. */
	conf_put(keypath, fifopath);
	errno = 0;
	CHECK(priv_open_file(fifopath, err, sizeof(err)) < 0);
	CHECK(strstr(err, "not a regular file") != NULL);
	/* Decided afresh: once the file names it, it may be opened. */
	CHECK(priv_open_file(extrapath, err, sizeof(err)) < 0);
	conf_put(keypath, extrapath);
	fd = priv_open_file(extrapath, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	return (bad);
}

/* child_listen - sockets of configured listeners only */
static int
child_listen(void)
{
	struct cfg_listener c;
	struct stat st;
	char	 err[4200], path[PATH_MAX + 32];
	socklen_t len;
	int	 bad = 0, fd, on = 0;

	memset(&c, 0, sizeof(c));
	c.kind = CFG_LST_TCP;
	snprintf(path, sizeof(path), "127.0.0.1:%d", port);
	c.listen = path;
	fd = priv_listen(&c, err, sizeof(err));
	CHECK(fd >= 0);
	len = sizeof(on);
	CHECK(fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	    on == 1);
	if (fd >= 0)
		close(fd);
	/* Another port: not a listener of the file. */
	snprintf(path, sizeof(path), "127.0.0.1:%d", port == 65535 ? 1 : port + 1);
	errno = 0;
	CHECK(priv_listen(&c, err, sizeof(err)) < 0);
	CHECK(errno == EACCES && strstr(err, "is not a listener of") != NULL);

	/* A handoff socket: made with the file's mode, not the asker's. */
	c.kind = CFG_LST_HANDOFF;
	snprintf(path, sizeof(path), "%s/h.sock", tdir);
	c.handoff = path;
	c.mode = 0666;
	fd = priv_listen(&c, err, sizeof(err));
	CHECK(fd >= 0);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    (st.st_mode & 0777) == 0600);
	if (fd >= 0)
		close(fd);
	/* The stats socket only at its own path. */
	c.kind = CFG_LST_STATS;
	snprintf(path, sizeof(path), "%s/stats.sock", tdir);
	fd = priv_listen(&c, err, sizeof(err));
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/h.sock", tdir);
	CHECK(priv_listen(&c, err, sizeof(err)) < 0);
	return (bad);
}

static int
setup(void)
{
	snprintf(tdir, sizeof(tdir), "/tmp/test_privsep.XXXXXX");
	if (mkdtemp(tdir) == NULL || (port = free_port()) < 0)
		return (1);
	file_put("key.pem", "key\n", keypath, sizeof(keypath));
	file_put("extra.pem", "extra\n", extrapath, sizeof(extrapath));
	snprintf(missing, sizeof(missing), "%s/missing.pem", tdir);
	snprintf(fifopath, sizeof(fifopath), "%s/fifo.pem", tdir);
	if (mkfifo(fifopath, 0600) < 0)
		return (1);
	conf_put(keypath, missing);
	return (0);
}

static int
teardown(void)
{
	char	 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return (system(cmd) == 0 ? 0 : 1);
}

static void
test_files(void)
{
	conf_put(keypath, missing);
	CU_ASSERT_EQUAL(in_helper(child_files), 0);
}

static void
test_listen(void)
{
	conf_put(keypath, missing);
	CU_ASSERT_EQUAL(in_helper(child_listen), 0);
}

static void
test_no_helper(void)
{
	char	 err[256];
	int	 fd;

	/* Without a helper the same calls do the work themselves. */
	CU_ASSERT_EQUAL(priv_active(), 0);
	fd = priv_open_file(extrapath, err, sizeof(err));
	CU_ASSERT(fd >= 0);
	if (fd >= 0)
		close(fd);
	CU_ASSERT(priv_open_file(fifopath, err, sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
}

static const struct unit_test tests[] = {
	{ "files: only those the configuration names, decided afresh", test_files },
	{ "listeners: only configured ones, with the file's mode", test_listen },
	{ "without a helper: the same calls, done here", test_no_helper },
	{ NULL, NULL }
};

int
main(void)
{
	return (unit_run("privsep", tests, setup, teardown));
}
