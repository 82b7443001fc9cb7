/*
 * NAME
 *	tlsproxy - Postfix-compatible TLS proxy daemon
 * SYNOPSIS
 *	tlsproxy [-c FILE] [-f] [-n] [-d] [-v]
 *	tlsproxy [-c FILE] -s reload|stop|status
 * DESCRIPTION
 *	Start-up order: read the configuration (every error reported,
 *	then exit 1), build the TLS contexts and bind every listener
 *	while still attached to the terminal, so a broken setup fails
 *	loudly; then daemonize (unless -f), write the pid file, chroot
 *	(tlsproxy_chroot), drop privileges (tlsproxy_user), start the
 *	fixed worker pool and the acceptor thread. The main thread
 *	then only waits for signals:
 *	SIGHUP	re-read configuration, certificates and listeners for new
 *		sessions; live sessions keep what they started with; a
 *		broken new configuration is logged and the old one kept.
 *	SIGTERM, SIGINT
 *		close the listeners, let live sessions finish for up to
 *		tlsproxy_drain_timeout, interrupt the rest, exit 0.
 *	SIGUSR1	log the session and queue counters.
 *	Once a second it also runs the watchdog check.
 */
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acceptor.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "privsep.h"
#include "session.h"
#include "scache.h"
#include "snapshot.h"
#include "stats.h"
#include "sys.h"
#include "tickets.h"
#include "tls_common.h"
#include "park.h"
#include "workq.h"

#ifndef TLSPROXY_SYSCONFDIR
#define TLSPROXY_SYSCONFDIR	"/etc"
#endif

/*
 * Worker stacks: one TLS session each, no deep recursion; 256 KiB is
 * ample for OpenSSL's handshake paths and keeps thousands of threads
 * cheap. Sanitizers need far more stack.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MAIN_WORKER_STACK	(4 * 1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MAIN_WORKER_STACK	(4 * 1024 * 1024)
#endif
#endif
#ifndef MAIN_WORKER_STACK
#define MAIN_WORKER_STACK	(256 * 1024)
#endif

static void	main_check_max(const struct cfg *);

#define MAIN_MAX_LISTENERS	256

static const char *main_conf_path = TLSPROXY_SYSCONFDIR "/tlsproxy.conf";
static int	main_foreground;
static int	main_verbose;
static struct lst *main_lsts[MAIN_MAX_LISTENERS];	/* owned */
static size_t	main_nlsts;
static struct scache *main_cache;	/* owned: the shared server session cache */
static char	main_pidfile[PATH_MAX];	/* as written */
static char	main_pidfile_reach[PATH_MAX];	/* its path from here; "" none */
static int	main_pidfd = -1;
static char	main_chroot_dir[PATH_MAX];	/* set once chrooted */
static char	main_log_ident[128];	/* syslog ident and facility in use */
static int	main_log_fac = -1;

/* main_usage - to stdout with exit 0 when asked for (-h), else stderr and 2 */
static void __attribute__((noreturn))
main_usage(int asked)
{
	fprintf(asked ? stdout : stderr,
	    "usage: tlsproxy [-c FILE] [-f] [-n] [-t] [-d] [-v] [-h]\n"
	    "       tlsproxy [-c FILE] -s reload|stop|status\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -n       print the settings that differ from the defaults, exit\n"
	    "  -t       check the configuration as a start would (certificates,\n"
	    "           keys, cipher and protocol lists), bind nothing, exit\n"
	    "  -d       print every parameter's default, exit\n"
	    "  -v       verbose logging\n"
	    "  -s CMD   signal the running daemon (pid file): reload, stop, status\n"
	    "  -h       this help\n",
	    TLSPROXY_SYSCONFDIR "/tlsproxy.conf");
	exit(asked ? 0 : 2);
}

/*
 * main_log_service - where the configuration sends log lines:
 * tlsproxy_log_service, where the default "syslog" with a non-empty
 * tlsproxy_log_file means the file (as before that parameter existed).
 * -1 and a message when "file" has no file to write to.
 */
static int
main_log_service(const struct cfg *cfg, char *err, size_t errlen)
{
	const char *svc = cfg_str(cfg, "tlsproxy_log_service");
	const char *file = cfg_str(cfg, "tlsproxy_log_file");

	if (strcmp(svc, "postlog") == 0)
		return (LOG_TO_POSTLOG);
	if (strcmp(svc, "file") == 0 && *file == '\0') {
		snprintf(err, errlen, "tlsproxy_log_service = file needs "
		    "tlsproxy_log_file");
		return (-1);
	}
	return (*file != '\0' ? LOG_TO_FILE : LOG_TO_SYSLOG);
}

/*
 * main_log_setup - ident "<syslog_name>/tlsproxy", facility and target
 * from config. Called before the daemon detaches (to_stderr 0 unless
 * -f), so that a target that cannot take lines falls back to the
 * stderr the daemon was started with, and on reload.
 */
static void
main_log_setup(const struct cfg *cfg, int to_stderr)
{
	static int configured = -1;	/* the target last asked for */
	char	 ident[128], err[256];
	const char *path = "";
	int	 fac, svc, asked, saved;

	snprintf(ident, sizeof(ident), "%s/tlsproxy", cfg_str(cfg, "syslog_name"));
	if ((fac = log_facility_code(cfg_str(cfg, "syslog_facility"))) < 0)
		fac = log_facility_code("mail");
	if (main_chroot_dir[0] == '\0') {
		log_init(ident, fac, to_stderr, main_verbose);
		snprintf(main_log_ident, sizeof(main_log_ident), "%s", ident);
		main_log_fac = fac;
	} else if (strcmp(ident, main_log_ident) != 0 || fac != main_log_fac) {
		/* openlog() would look for /dev/log inside the chroot. */
		log_warnx("syslog_name and syslog_facility changes take effect "
		    "after a restart (tlsproxy_chroot)");
	}
	log_set_rate_limit((int)cfg_int(cfg, "tlsproxy_log_rate_limit"));
	/* Refused before a start or reload gets here (main_check, main_reload). */
	if ((svc = main_log_service(cfg, err, sizeof(err))) < 0)
		fatalx("%s: %s", main_conf_path, err);
	if (to_stderr)
		return;			/* -f, or not yet detaching */
	if (svc == LOG_TO_FILE)
		path = cfg_str(cfg, "tlsproxy_log_file");
	else if (svc == LOG_TO_POSTLOG)
		path = cfg_str(cfg, "tlsproxy_postlog_socket");
	asked = svc;

	if (main_chroot_dir[0] != '\0') {
		/* /dev/log and the postlog socket are out of reach by name. */
		if (svc != configured)
			log_warnx("tlsproxy_log_service changes take effect after "
			    "a restart (tlsproxy_chroot)");
		/* (Re)open the log file: SIGHUP after rotation starts a new one. */
		else if (svc == LOG_TO_FILE && log_target() == LOG_TO_FILE &&
		    log_set_target(LOG_TO_FILE, path) < 0)
			log_warnx("cannot reopen tlsproxy_log_file %s inside "
			    "tlsproxy_chroot %s: %s; logging on to the file "
			    "opened at startup", path, main_chroot_dir,
			    strerror(errno));
		return;
	}
	if (log_check_target(svc, path) == 0 && log_set_target(svc, path) == 0) {
		configured = asked;
		return;
	}
	saved = errno;
	if (svc == LOG_TO_SYSLOG)
		snprintf(err, sizeof(err), "no syslog daemon listens on %s: %s",
		    LOG_SYSLOG_PATH, strerror(saved));
	else if (svc == LOG_TO_POSTLOG)
		snprintf(err, sizeof(err), "tlsproxy_postlog_socket %s: %s "
		    "(is Postfix running, with a postlog service in master.cf?)",
		    path, strerror(saved));
	else
		snprintf(err, sizeof(err), "cannot open tlsproxy_log_file %s: %s",
		    path, strerror(saved));
	/*
	 * Lines are never dropped without a word: to the stderr of the
	 * start, kept open. Where there is none to keep (/dev/null, a
	 * pipe), a reload keeps the target that works, and a start says
	 * so while stderr is still read, then uses the target anyway (a
	 * syslog daemon or postlogd that comes up later gets the lines;
	 * instead of a file that cannot be opened, syslog, as before).
	 */
	if (log_use_stderr() == 0)
		log_warnx("%s; logging to stderr", err);
	else if (configured >= 0)
		log_warnx("%s; logging on as before", err);
	else {
		if (svc == LOG_TO_FILE)
			svc = LOG_TO_SYSLOG;
		log_warnx("%s; lines may be lost: stderr is not kept once "
		    "the daemon detaches (it is /dev/null or a pipe)", err);
		if (log_set_target(svc, path) < 0)
			log_warn("cannot log to tlsproxy_log_service %s",
			    cfg_str(cfg, "tlsproxy_log_service"));
	}
	configured = asked;
}

/*
 * main_discard_listeners - undo main_open_listeners(): sockets adopted
 * from the running set are given back, new ones are closed.
 */
static void
main_discard_listeners(struct lst **l, size_t n)
{
	size_t	 j;

	while (n-- > 0) {
		for (j = 0; j < main_nlsts; j++)
			if (main_lsts[j]->adopted && main_lsts[j]->fd == l[n]->fd) {
				main_lsts[j]->adopted = 0;
				l[n]->fd = -1;
				break;
			}
		lst_close(l[n]);
	}
}

/*
 * main_open_listeners - new listener set for CFG, reusing the sockets of
 * the current set where kind and address are unchanged. On failure
 * nothing changes (adopted sockets are given back).
 */
static int
main_open_listeners(const struct cfg *cfg, struct lst **out, size_t *nout,
    char *err, size_t errlen)
{
	size_t	 n = cfg_listener_count(cfg), i, j, nall;
	struct cfg_listener stats;
	const char *spath = cfg_str(cfg, "tlsproxy_stats_socket");

	memset(&stats, 0, sizeof(stats));
	stats.kind = CFG_LST_STATS;
	stats.handoff = (char *)spath;
	stats.mode = 0600;		/* counters are for the operator only */
	nall = n + (*spath != '\0');
	if (nall > MAIN_MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners (at most %d)", MAIN_MAX_LISTENERS);
		return (-1);
	}
	for (i = 0; i < nall; i++) {
		const struct cfg_listener *c = i < n ? cfg_listener_get(cfg, i) : &stats;

		for (j = 0; j < main_nlsts; j++)
			if (lst_matches(main_lsts[j], c))
				break;
		out[i] = j < main_nlsts ? lst_adopt(main_lsts[j], c, err, errlen) :
		    lst_open(c, err, errlen);
		if (out[i] == NULL) {
			main_discard_listeners(out, i);
			return (-1);
		}
	}
	*nout = nall;
	return (0);
}

static void	main_pidfile_remove(void);

/*
 * main_pidfile_lock - take the pid file's lock before any socket is
 * created, bound or removed, so that a second start leaves the running
 * daemon untouched. flock(2): the lock belongs to the open file, so it
 * passes to the daemon child and survives the parent's exit.
 */
static void
main_pidfile_lock(const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		fatal("cannot open pid file %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			fatal("cannot lock pid file %s", path);
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		fatalx("tlsproxy already running (pid %s): pid file %s is locked",
		    buf, path);
	}
	snprintf(main_pidfile, sizeof(main_pidfile), "%s", path);
	/* Absolute, so that it can be found again from inside a chroot. */
	if (realpath(path, main_pidfile_reach) == NULL)
		snprintf(main_pidfile_reach, sizeof(main_pidfile_reach), "%s", path);
	main_pidfd = fd;		/* kept open: the lock marks us as running */
	atexit(main_pidfile_remove);	/* also when a later start step fails */
}

/*
 * main_pidfile_status - after each reload, a second line in the pid file
 * ("reload N ok" or "reload N failed") for "tlsproxy -s reload", which
 * waits for it to tell whether the daemon took the new configuration.
 */
static void
main_pidfile_status(int ok)
{
	static unsigned long n;
	char	 buf[96];

	if (main_pidfd < 0)
		return;
	/* Never shorter than before: no ftruncate() window with an empty file. */
	snprintf(buf, sizeof(buf), "%ld\nreload %lu %-6s\n", (long)getpid(), ++n,
	    ok ? "ok" : "failed");
	if (pwrite(main_pidfd, buf, strlen(buf), 0) != (ssize_t)strlen(buf))
		log_warn("cannot write pid file %s", main_pidfile);
}

/* main_pidfile_write - our pid (after daemonizing) into the locked file */
static void
main_pidfile_write(void)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(main_pidfd, 0) < 0 ||
	    pwrite(main_pidfd, buf, strlen(buf), 0) != (ssize_t)strlen(buf))
		fatal("cannot write pid file %s", main_pidfile);
}

/*
 * main_pidfile_remove - at exit: remove the pid file if its path still
 * names the file we wrote and we can reach and delete it; otherwise
 * (outside tlsproxy_chroot, or in a directory tlsproxy_user may not
 * write to) empty it, so that no stale process ID is left behind.
 */
static void
main_pidfile_remove(void)
{
	struct stat ours, now;

	if (main_pidfd < 0)
		return;
	/* The privileged helper removes it when we are gone (privsep.h). */
	if (priv_active()) {
		sys_close(&main_pidfd);
		return;
	}
	if (main_pidfile_reach[0] != '\0' && fstat(main_pidfd, &ours) == 0 &&
	    stat(main_pidfile_reach, &now) == 0 && ours.st_dev == now.st_dev &&
	    ours.st_ino == now.st_ino && unlink(main_pidfile_reach) == 0) {
		sys_close(&main_pidfd);
		return;
	}
	if (ftruncate(main_pidfd, 0) < 0)
		log_warn("cannot remove or empty the pid file %s", main_pidfile);
	else
		log_info("emptied the pid file %s: it cannot be removed from here",
		    main_pidfile);
	sys_close(&main_pidfd);
}

static void
main_daemonize(void)
{
	pid_t	 pid;
	int	 fd;

	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") < 0)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* main_log_lines - log each line of a buffer as a warning */
static void
main_log_lines(char *buf)
{
	char	*line, *save;

	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_warnx("%s", line);
}

static struct workq *main_wq;		/* for the stats socket's gauges */

/*
 * main_heap_trim - malloc_trim() when few sessions started in the last
 * SECS seconds. It locks each malloc arena while it walks it, and under
 * load the pages it frees would be faulted back at once: trimming pays
 * only once the daemon is quiet, when memory is what an operator sees.
 */
static void
main_heap_trim(int secs)
{
	static uint64_t last;
	uint64_t now_sessions;
	int64_t	 t0;

	now_sessions = stats_get(STAT_SESSIONS_HANDOFF) + stats_get(STAT_SESSIONS_TCP);
	if (now_sessions - last >= (uint64_t)secs * 20) {
		last = now_sessions;
		return;
	}
	last = now_sessions;
	t0 = sys_now_ms();
	(void)malloc_trim(0);
	log_debug("heap trim took %lld ms", (long long)(sys_now_ms() - t0));
}

/* main_wait_sessions - until no session is live, or the deadline; 0 or -1 */
static int
main_wait_sessions(int64_t deadline)
{
	while (sess_live() > 0) {
		if (sys_ms_left(deadline) == 0)
			return (-1);
		usleep(50 * 1000);
	}
	return (0);
}

/* main_stats_render - the stats socket's answer: gauges, then counters */
static size_t
main_stats_render(char *buf, size_t len)
{
	struct scache_stats st;
	unsigned int queued = 0, busy = 0;

	if (main_wq != NULL)
		workq_counts(main_wq, &queued, &busy);
	scache_get_stats(main_cache, &st);
	{
		/* Names are an interface: see tlsproxy(8), STATISTICS. */
		const struct stats_gauge gauges[] = {
			{ "sessions_live", "Live sessions, working or parked.",
			    sess_live() },
			{ "sessions_parked",
			    "Sessions waiting for the network without a worker.",
			    sess_parked() },
			{ "workers_busy", "Worker threads running a session.", busy },
			{ "queue_waiting", "Sessions queued for a worker thread.",
			    queued },
			{ "cache_entries", "Sessions in the server session cache.",
			    st.entries },
			{ "cache_bytes", "Size of the server session cache.",
			    st.bytes },
		};

		return (stats_render(buf, len, gauges,
		    sizeof(gauges) / sizeof(gauges[0])));
	}
}

/* main_log_cache - the session cache's own counters */
static void
main_log_cache(void)
{
	struct scache_stats st;

	scache_get_stats(main_cache, &st);
	log_info("session cache: %zu entries, %zu bytes, %llu hits, %llu misses, "
	    "%llu stores, %llu evictions, %llu expired", st.entries, st.bytes,
	    (unsigned long long)st.hits, (unsigned long long)st.misses,
	    (unsigned long long)st.stores, (unsigned long long)st.evictions,
	    (unsigned long long)st.expired);
}

/* main_tickets - (re)configure the process-wide ticket key ring */
static int
main_tickets(const struct cfg *cfg, char *err, size_t errlen)
{
	const char *cipher = cfg_str(cfg, "tls_session_ticket_cipher");
	long	 lifetime = cfg_int(cfg, "tlsproxy_tls_session_cache_timeout");

	if (*cipher == '\0' || lifetime <= 0)
		return (0);		/* tickets off: the ring is not consulted */
	return (tkey_configure(cipher, lifetime,
	    cfg_str(cfg, "tlsproxy_tls_ticket_key_file"), (int64_t)time(NULL),
	    err, errlen));
}

/*
 * main_check - tlsproxy -t: every step of a start that can fail on the
 * configuration (values, certificates and keys, cipher and protocol
 * lists through OpenSSL, SNI maps, the ticket key file), with the same
 * messages, but no socket is bound or removed. Exit status 0 or 1.
 */
static int
main_check(struct cfg *cfg, int quiet)
{
	struct scache *cache;
	struct snap *snap;
	char	 err[512];
	int	 rc = 1;

	tls_init();
	if ((cache = scache_create(16, 65536, 1)) == NULL) {
		fprintf(stderr, "tlsproxy: out of memory\n");
		cfg_free(cfg);
		return (1);
	}
	if ((snap = snap_build(cfg, cache, err, sizeof(err))) == NULL)
		fprintf(stderr, "tlsproxy: %s\n", err);
	else if (main_tickets(snap->cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "tlsproxy: %s: %s\n", main_conf_path, err);
	else if (main_log_service(snap->cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "tlsproxy: %s: %s\n", main_conf_path, err);
	else if (cfg_listener_count(snap->cfg) == 0)
		fprintf(stderr, "tlsproxy: %s: no listeners configured "
		    "(tlsproxy_listeners)\n", main_conf_path);
	else {
		if (!quiet)
			printf("tlsproxy: configuration %s is OK\n", main_conf_path);
		rc = 0;
	}
	if (snap != NULL)
		snap_unref(snap);
	tkey_shutdown();
	scache_free(cache);
	return (rc);
}

/*
 * main_log_file_check - follow a log rotation that moved or removed
 * tlsproxy_log_file: the next lines go to a new file of that name.
 * One warning while the reopen keeps failing (lines then go on to the
 * old file). Not inside tlsproxy_chroot, where the name is not reachable.
 */
static void
main_log_file_check(void)
{
	static int failing;
	int	 r;

	if (main_chroot_dir[0] != '\0')
		return;
	if ((r = log_file_check()) < 0 && !failing) {
		log_warn("cannot reopen tlsproxy_log_file after it was moved");
		failing = 1;
	} else if (r > 0) {
		log_info("reopened tlsproxy_log_file: the old one was moved or removed");
		failing = 0;
	}
}

/* main_log_tls_off - Postfix's startup warning for each handoff without TLS */
static void
main_log_tls_off(const struct snap *snap)
{
	size_t	 i;

	for (i = 0; i < snap->nlst; i++)
		/* A STARTTLS listener at level none is meant to be plaintext. */
		if (snap->lst[i].tls == NULL &&
		    strncmp(snap->lst[i].key, "handoff:", strlen("handoff:")) == 0)
			log_warnx("%s%s%s", snap->lst[i].off_reason,
			    snap->nlst > 1 ? ": handoff listener " : "",
			    snap->nlst > 1 ? snap->lst[i].key + strlen("handoff:") : "");
}

/* main_reload_failed - the last line of every failed reload */
static void
main_reload_failed(void)
{
	if (main_chroot_dir[0] != '\0' && !priv_active())
		log_warnx("reload failed; keeping the running configuration "
		    "(inside tlsproxy_chroot %s every file is looked up below it)",
		    main_chroot_dir);
	else if (main_chroot_dir[0] != '\0')
		log_warnx("reload failed; keeping the running configuration "
		    "(inside tlsproxy_chroot %s, CA files and directories are "
		    "looked up below it)", main_chroot_dir);
	else
		log_warnx("reload failed; keeping the running configuration");
}

/* main_reload - SIGHUP: all of the new configuration, or none of it; 0 or -1 */
static int
main_reload(const struct cfg *running)
{
	struct lst *nl[MAIN_MAX_LISTENERS];
	struct snap *snap;
	struct cfg *cfg;
	char	*errbuf = NULL, err[512];
	size_t	 errlen = 0, n, i;
	FILE	*errs;
	int	 fd;

	log_info("reloading configuration from %s", main_conf_path);
	if (!priv_active() && main_chroot_dir[0] != '\0' &&
	    access(main_conf_path, R_OK) < 0) {
		log_warnx("reload is not possible inside tlsproxy_chroot %s: "
		    "%s: %s; keeping the running configuration (restart "
		    "tlsproxy to apply changes)", main_chroot_dir, main_conf_path,
		    strerror(errno));
		return (-1);
	}
	if ((errs = open_memstream(&errbuf, &errlen)) == NULL) {
		log_warn("reload: open_memstream");
		return (-1);
	}
	/* Through the helper, if any: the file may be root's, or outside the chroot. */
	if (priv_active()) {
		if ((fd = priv_open_file(main_conf_path, err, sizeof(err))) < 0)
			fprintf(errs, "%s: cannot open: %s\n", main_conf_path, err);
		cfg = fd < 0 ? NULL : cfg_load_fd(main_conf_path, fd, errs);
	} else
		cfg = cfg_load(main_conf_path, errs);
	fclose(errs);
	if (cfg == NULL) {
		main_log_lines(errbuf);
		free(errbuf);
		main_reload_failed();
		return (-1);
	}
	free(errbuf);
	if ((snap = snap_build(cfg, main_cache, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		main_reload_failed();
		return (-1);
	}
	if (cfg_listener_count(snap->cfg) == 0) {
		log_warnx("%s: no listeners configured (tlsproxy_listeners)",
		    main_conf_path);
		main_reload_failed();
		snap_unref(snap);
		return (-1);
	}
	if (main_log_service(snap->cfg, err, sizeof(err)) < 0) {
		log_warnx("%s: %s", main_conf_path, err);
		main_reload_failed();
		snap_unref(snap);
		return (-1);
	}
	if (main_open_listeners(snap->cfg, nl, &n, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		main_reload_failed();
		snap_unref(snap);
		return (-1);
	}
	/*
	 * The ticket key ring last of what can fail, so that a reload that
	 * fails leaves it as it was; the listeners opened go back.
	 */
	if (main_tickets(snap->cfg, err, sizeof(err)) < 0) {
		log_warnx("%s: %s", main_conf_path, err);
		main_reload_failed();
		main_discard_listeners(nl, n);
		snap_unref(snap);
		return (-1);
	}
	if (cfg_int(snap->cfg, "tlsproxy_worker_threads") !=
	    cfg_int(running, "tlsproxy_worker_threads") ||
	    cfg_int(snap->cfg, "tlsproxy_queue_limit") !=
	    cfg_int(running, "tlsproxy_queue_limit"))
		log_warnx("tlsproxy_worker_threads and tlsproxy_queue_limit "
		    "changes take effect after a restart");
	if (strcmp(cfg_str(snap->cfg, "tlsproxy_chroot"),
	    cfg_str(running, "tlsproxy_chroot")) != 0)
		log_warnx("tlsproxy_chroot changes take effect after a restart");
	main_check_max(snap->cfg);
	main_log_tls_off(snap);
	/* New sessions get the new snapshot, then the new listeners. */
	snap_install(snap);
	acceptor_set_listeners(nl, n);
	for (i = 0; i < main_nlsts; i++)
		lst_close(main_lsts[i]);	/* adopted ones keep their socket */
	memcpy(main_lsts, nl, n * sizeof(nl[0]));
	main_nlsts = n;
	main_log_setup(snap->cfg, main_foreground);
	log_info("configuration reloaded");
	return (0);
}

/*
 * main_pidfile_read - the pid in PATH (0 if none), and the last reload's
 * number and result from its second line (0 and "" if none)
 */
static long
main_pidfile_read(const char *path, unsigned long *gen, char *result,
    size_t resultlen)
{
	char	 buf[96], res[16];
	FILE	*fp;
	long	 pid = 0;

	*gen = 0;
	if (resultlen > 0)
		result[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL)
		return (0);
	if (fgets(buf, sizeof(buf), fp) != NULL)
		pid = strtol(buf, NULL, 10);
	if (fgets(buf, sizeof(buf), fp) != NULL &&
	    sscanf(buf, "reload %lu %15s", gen, res) == 2)
		snprintf(result, resultlen, "%s", res);
	fclose(fp);
	return (pid);
}

/*
 * main_control - -s: talk to the running daemon through its pid file.
 * Exit codes follow LSB: status 0 running, 3 not running; reload/stop
 * 0 done, 1 failed (7 "not running" for reload, stop of a stopped
 * daemon is a success).
 */
static int
main_control(const char *cmd, const struct cfg *cfg)
{
	const char *path = cfg_str(cfg, "tlsproxy_pid_file");
	unsigned long gen0, gen;
	char	 result[16];
	long	 pid;
	int	 i;

	pid = main_pidfile_read(path, &gen0, result, sizeof(result));
	if (pid <= 1 || kill((pid_t)pid, 0) < 0) {
		printf("tlsproxy is not running (pid file %s)\n", path);
		if (strcmp(cmd, "stop") == 0)
			return (0);
		return (strcmp(cmd, "status") == 0 ? 3 : 7);
	}
	if (strcmp(cmd, "status") == 0) {
		printf("tlsproxy is running (pid %ld)\n", pid);
		return (0);
	}
	if (kill((pid_t)pid, strcmp(cmd, "reload") == 0 ? SIGHUP : SIGTERM) < 0) {
		fprintf(stderr, "tlsproxy: cannot signal pid %ld: %s\n", pid,
		    strerror(errno));
		return (1);
	}
	if (strcmp(cmd, "reload") == 0) {
		/* The daemon notes each reload's result in the pid file. */
		for (i = 0; i < 300; i++) {
			usleep(100000);
			if (main_pidfile_read(path, &gen, result, sizeof(result)) ==
			    pid && gen != gen0) {
				if (strcmp(result, "ok") == 0) {
					printf("tlsproxy (pid %ld) reloaded\n", pid);
					return (0);
				}
				fprintf(stderr, "tlsproxy: pid %ld: reload failed; it keeps "
				    "the running configuration (its log says why)\n", pid);
				return (1);
			}
		}
		fprintf(stderr, "tlsproxy: pid %ld did not report the reload's "
		    "result within 30 s\n", pid);
		return (1);
	}
	/* stop: wait (bounded) for the drain to finish. */
	for (i = 0; i < 10 * (int)(cfg_int(cfg, "tlsproxy_drain_timeout") + 15); i++) {
		if (kill((pid_t)pid, 0) < 0) {
			printf("tlsproxy (pid %ld) stopped\n", pid);
			return (0);
		}
		usleep(100000);
	}
	fprintf(stderr, "tlsproxy: pid %ld still running\n", pid);
	return (1);
}

/*
 * main_chroot_check - tlsproxy_chroot, before anything detaches or
 * loads keys: an absolute path to a directory that belongs to root and
 * that nobody else may write to, below directories that belong to root
 * and that nobody else may write to either (unless sticky, as /tmp):
 * whoever could rename one of them could put another tree in its place.
 * Its canonical path goes to root ("" when unset).
 */
static void
main_chroot_check(const struct cfg *cfg, char *root, size_t rootlen)
{
	const char *dir = cfg_str(cfg, "tlsproxy_chroot");
	char	 real[PATH_MAX], up[PATH_MAX], *slash;
	struct stat st;
	pid_t	 pid;
	int	 status;

	root[0] = '\0';
	if (*dir == '\0')
		return;
	if (dir[0] != '/')
		fatalx("%s: tlsproxy_chroot %s: not an absolute path",
		    main_conf_path, dir);
	if (geteuid() != 0)
		fatalx("%s: tlsproxy_chroot %s: tlsproxy must be started as root "
		    "to chroot", main_conf_path, dir);
	if (realpath(dir, real) == NULL || stat(real, &st) < 0)
		fatal("%s: tlsproxy_chroot %s", main_conf_path, dir);
	if (strcmp(real, "/") == 0)
		fatalx("%s: tlsproxy_chroot %s: that is the root directory; leave "
		    "tlsproxy_chroot empty for no chroot", main_conf_path, dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: tlsproxy_chroot %s: not a directory", main_conf_path, dir);
	if (st.st_uid != 0)
		fatalx("%s: tlsproxy_chroot %s: owned by uid %ld, must be owned by "
		    "root", main_conf_path, dir, (long)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("%s: tlsproxy_chroot %s: mode %04o, must not be writable "
		    "by group or other", main_conf_path, dir,
		    (unsigned int)(st.st_mode & 07777));
	snprintf(up, sizeof(up), "%s", real);
	while ((slash = strrchr(up, '/')) != NULL) {
		slash[slash == up] = '\0';	/* "/a/b" -> "/a" -> "/" */
		if (stat(up, &st) < 0)
			fatal("%s: tlsproxy_chroot %s: %s", main_conf_path, dir, up);
		if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
		    (st.st_mode & S_ISVTX) == 0))
			fatalx("%s: tlsproxy_chroot %s: its parent directory %s must "
			    "be owned by root and not writable by group or other",
			    main_conf_path, dir, up);
		if (strcmp(up, "/") == 0)
			break;
	}
	/*
	 * The real chroot comes after detaching, where a failure reaches
	 * only the log: try it now in a child (a missing CAP_SYS_CHROOT, a
	 * seccomp filter), so that the error shows up where we started.
	 */
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid == 0)
		_exit(chroot(real) == 0 ? 0 : errno > 0 && errno < 256 ? errno : 255);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fatalx("%s: tlsproxy_chroot %s: chroot: %s", main_conf_path, dir,
		    WIFEXITED(status) ? strerror(WEXITSTATUS(status)) :
		    "the test child failed");
	snprintf(root, rootlen, "%s", real);
}

/*
 * main_chroot - chroot(2) to dir, then chdir("/"). Syslog's socket and
 * the log file are already open; the time zone is loaded now; the pid
 * file is found again below dir if it lies there.
 */
static void
main_chroot(const char *dir)
{
	size_t	 n = strlen(dir);

	tzset();
	if (chroot(dir) < 0)
		fatal("cannot chroot to %s", dir);
	if (chdir("/") < 0)
		fatal("cannot chdir to / inside %s", dir);
	snprintf(main_chroot_dir, sizeof(main_chroot_dir), "%s", dir);
	if (strncmp(main_pidfile_reach, dir, n) == 0 && main_pidfile_reach[n] == '/')
		memmove(main_pidfile_reach, main_pidfile_reach + n,
		    strlen(main_pidfile_reach + n) + 1);
	else
		main_pidfile_reach[0] = '\0';
	log_info("chrooted to %s", dir);
}

/*
 * main_drop_privileges - after keys and sockets: chroot to root (if
 * set), become tlsproxy_user
 */
static void
main_drop_privileges(const struct cfg *cfg, const char *root)
{
	const char *user = cfg_str(cfg, "tlsproxy_user");
	const char *group = cfg_str(cfg, "tlsproxy_group");
	struct passwd *pw = NULL;
	struct group *gr;
	uid_t	 uid = 0;
	gid_t	 gid = 0;

	if (geteuid() != 0) {
		if (*user != '\0')
			log_warnx("not started as root: tlsproxy_user = %s has no effect",
			    user);
		return;
	}
	/* Look the account up while /etc is still in reach. */
	if (*user != '\0') {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("tlsproxy_user: unknown user \"%s\"", user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		if (*group != '\0') {
			if ((gr = getgrnam(group)) == NULL)
				fatalx("tlsproxy_group: unknown group \"%s\"", group);
			gid = gr->gr_gid;
		}
	}
	/*
	 * Keys and sockets for reloads come from a helper that stays root
	 * (privsep.h); it must not keep the listeners open.
	 */
	if (pw != NULL && uid != 0) {
		int	 fds[MAIN_MAX_LISTENERS];
		size_t	 i;

		for (i = 0; i < main_nlsts; i++)
			fds[i] = main_lsts[i]->fd;
		if (priv_start(main_conf_path, fds, main_nlsts) < 0)
			fatal("cannot start the privileged helper");
	}
	if (*root != '\0') {
		main_chroot(root);
		if (*cfg_str(cfg, "tlsproxy_tls_ticket_key_file") != '\0' &&
		    access(cfg_str(cfg, "tlsproxy_tls_ticket_key_file"), F_OK) < 0)
			log_warnx("tlsproxy_tls_ticket_key_file %s is not visible "
			    "inside tlsproxy_chroot %s: its changes are not seen "
			    "until a restart", cfg_str(cfg,
			    "tlsproxy_tls_ticket_key_file"), root);
	}
	if (pw == NULL) {
		log_warnx("running as root: set tlsproxy_user (and tlsproxy_group) "
		    "to drop privileges after loading keys");
		if (*root != '\0')
			log_warnx("tlsproxy_chroot without tlsproxy_user: a process "
			    "running as root can leave a chroot");
		return;
	}
	log_file_chown(uid, gid);	/* so that a rotation can reopen it */
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		fatal("cannot drop privileges to %s", user);
	/* Verify: getting root back must be impossible now. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatalx("privilege drop to %s did not stick", user);
	/* No core dumps of key material; setuid() cleared it already, be explicit. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The daemon does not outlive its helper (set after setuid, which clears it). */
	if (priv_active() && (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 ||
	    getppid() == 1))
		fatalx("the privileged helper is gone");
	log_info("running as user %s (uid %ld, gid %ld)", user, (long)uid,
	    (long)gid);
}

/*
 * Descriptors that are not sessions': the listeners, the log, the
 * waiting set, files opened on reload (MAIN_FD_SPARE), and refused
 * handoff clients being drained (at most 256; an eighth of a small
 * limit).
 */
#define MAIN_FD_SPARE	32

static unsigned long
main_fd_reserve(unsigned long lim)
{
	return (MAIN_FD_SPARE + main_nlsts + (lim / 8 < 256 ? lim / 8 : 256));
}

/* main_workers - tlsproxy_worker_threads; 0: twice the usable CPUs plus two */
static int
main_workers(const struct cfg *cfg)
{
	cpu_set_t set;
	long	 n;

	if ((n = cfg_int(cfg, "tlsproxy_worker_threads")) > 0)
		return ((int)n);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return ((int)(2 * n + 2));
}

/* main_check_max - say so when tlsproxy_max_sessions cannot be met */
static void
main_check_max(const struct cfg *cfg)
{
	unsigned long want = (unsigned long)cfg_int(cfg, "tlsproxy_max_sessions");
	unsigned long cap = sess_capacity();

	if (want > cap)
		log_warnx("tlsproxy_max_sessions = %lu needs a descriptor limit of "
		    "%lu; with the limit there is, at most %lu sessions are "
		    "admitted", want, 2 * want + main_fd_reserve(ULONG_MAX), cap);
}

/*
 * main_capacity - raise the soft descriptor limit to the hard one and
 * derive the most sessions it allows: two descriptors each
 */
static void
main_capacity(const struct cfg *cfg)
{
	struct rlimit rl;
	unsigned long lim, reserve, cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal("getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("cannot raise the descriptor limit to %llu",
			    (unsigned long long)rl.rlim_max);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1UL << 24) ?
	    1UL << 24 : (unsigned long)rl.rlim_cur;
	reserve = main_fd_reserve(lim);
	cap = lim > reserve + 2 ? (lim - reserve) / 2 : 1;
	sess_set_capacity((unsigned int)cap);
	log_info("capacity: %lu sessions (fd limit %lu)", cap, lim);
	if (lim <= reserve + 2)
		log_warnx("the descriptor limit %lu leaves room for one session "
		    "at a time; raise it (ulimit -n, LimitNOFILE)", lim);
	main_check_max(cfg);
}

int
main(int argc, char **argv)
{
	struct workq *wq;
	struct park *pk;
	struct snap *snap;
	struct cfg *cfg;
	sigset_t sigs;
	char	 err[512], abspath[PATH_MAX], root[PATH_MAX];
	const char *opt_s = NULL;
	int	 ch, opt_n = 0, opt_d = 0, opt_t = 0, sig, threads, drain_ms;
	unsigned int ticks = 0;
	unsigned int queued, busy;
	size_t	 i;

	while ((ch = getopt(argc, argv, "c:fndtvs:h")) != -1) {
		switch (ch) {
		case 'c':
			main_conf_path = optarg;
			break;
		case 'f':
			main_foreground = 1;
			break;
		case 'n':
			opt_n = 1;
			break;
		case 'd':
			opt_d = 1;
			break;
		case 't':
			opt_t = 1;
			break;
		case 'v':
			main_verbose++;
			break;
		case 's':
			if (strcmp(optarg, "reload") != 0 && strcmp(optarg, "stop") != 0 &&
			    strcmp(optarg, "status") != 0)
				main_usage(0);
			opt_s = optarg;
			break;
		case 'h':
			main_usage(1);
		default:
			main_usage(0);
		}
	}
	if (optind != argc)
		main_usage(0);
	if (opt_d) {
		cfg_print_defaults(stdout);
		return (0);
	}
	/* Reload re-reads the same file after chdir("/"): make it absolute. */
	if (realpath(main_conf_path, abspath) != NULL)
		main_conf_path = strdup(abspath);
	if ((cfg = cfg_load(main_conf_path, stderr)) == NULL)
		return (1);
	if (opt_n) {
		cfg_print_nondefault(cfg, stdout);
		cfg_free(cfg);
		return (0);
	}
	if (opt_t)
		return (main_check(cfg, 0));
	/* A reload that the daemon would refuse is refused here, with why. */
	if (opt_s != NULL && strcmp(opt_s, "reload") == 0) {
		struct cfg *check = cfg_load(main_conf_path, stderr);

		if (check == NULL || main_check(check, 1) != 0) {
			fprintf(stderr, "tlsproxy: %s has errors; not reloading\n",
			    main_conf_path);
			cfg_free(cfg);
			return (1);
		}
	}
	if (opt_s != NULL) {
		ch = main_control(opt_s, cfg);
		cfg_free(cfg);
		return (ch);
	}
	main_log_setup(cfg, 1);
	main_chroot_check(cfg, root, sizeof(root));
	tls_init();
	signal(SIGPIPE, SIG_IGN);

	if ((main_cache = scache_create(
	    (size_t)cfg_int(cfg, "tlsproxy_tls_session_cache_size"),
	    (size_t)cfg_int(cfg, "tlsproxy_tls_session_cache_bytes"), 16)) == NULL)
		fatalx("cannot create the session cache");
	if ((snap = snap_build(cfg, main_cache, err, sizeof(err))) == NULL)
		fatalx("%s", err);	/* names the file already */
	if (main_tickets(snap->cfg, err, sizeof(err)) < 0)
		fatalx("%s: %s", main_conf_path, err);
	main_log_tls_off(snap);
	if (cfg_listener_count(snap->cfg) == 0)
		fatalx("%s: no listeners configured (tlsproxy_listeners)",
		    main_conf_path);
	if (!main_foreground || cfg_is_set(snap->cfg, "tlsproxy_pid_file"))
		main_pidfile_lock(cfg_str(snap->cfg, "tlsproxy_pid_file"));
	if (main_open_listeners(snap->cfg, main_lsts, &main_nlsts, err,
	    sizeof(err)) < 0)
		fatalx("%s", err);
	main_capacity(snap->cfg);
	snap_install(snap_ref(snap));

	if (!main_foreground) {
		/* While stderr is still the start's: a fallback can keep it. */
		main_log_setup(snap->cfg, 0);
		main_daemonize();
	}
	if (main_pidfd >= 0)
		main_pidfile_write();
	main_drop_privileges(snap->cfg, root);

	/* Signals go to the main thread only: block them before any thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	threads = main_workers(snap->cfg);
	if ((wq = workq_create((unsigned int)threads,
	    (unsigned int)cfg_int(snap->cfg, "tlsproxy_queue_limit"),
	    MAIN_WORKER_STACK, sess_run, sess_drop, NULL)) == NULL)
		fatal("cannot start %d worker threads", threads);
	main_wq = wq;
	/* Sessions waiting for the network wait here, without a thread. */
	if ((pk = park_create(sess_wake, NULL)) == NULL || park_start(pk) < 0)
		fatal("cannot start the waiting set");
	sess_runtime(wq, pk);
	acceptor_set_stats_fn(main_stats_render);
	if (acceptor_start(wq, main_lsts, main_nlsts) < 0)
		fatal("cannot start the acceptor thread");
	log_info("daemon started: %d worker threads, %zu listener%s (%s%s)", threads,
	    main_nlsts, main_nlsts == 1 ? "" : "s", main_lsts[0]->label,
	    main_nlsts > 1 ? ", ..." : "");
	snap_unref(snap);

	for (;;) {
		struct timespec tick = { 1, 0 };

		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig < 0) {
			if (errno == EAGAIN) {		/* once a second */
				snap = snap_current();
				sess_check_stuck(snap->watchdog_ms);
				snap_unref(snap);
				tkey_tick((int64_t)time(NULL));
				log_rate_flush();
				if (++ticks % 10 == 0)
					(void)scache_expire(main_cache, sys_now_ms());
				/*
				 * Hand free heap pages back: a burst of handshakes
				 * leaves holes in every malloc arena that idle
				 * sessions would otherwise keep resident.
				 */
				if (ticks % 5 == 0)
					main_heap_trim(5);
				if (ticks % 5 == 0)
					main_log_file_check();
			}
			continue;
		}
		if (sig == SIGHUP) {
			snap = snap_current();
			main_pidfile_status(main_reload(snap->cfg) == 0);
			snap_unref(snap);
		} else if (sig == SIGUSR1) {
			workq_counts(wq, &queued, &busy);
			log_info("statistics: %u live sessions (%u parked), %u busy "
			    "workers, %u queued (limit %u)", sess_live(), sess_parked(),
			    busy, queued, workq_limit(wq));
			main_log_cache();
			stats_log();
		} else {
			break;
		}
	}

	log_info("terminating on signal %d", sig);
	acceptor_stop();
	for (i = 0; i < main_nlsts; i++)
		lst_close(main_lsts[i]);
	main_nlsts = 0;
	snap = snap_current();
	drain_ms = (int)cfg_int(snap->cfg, "tlsproxy_drain_timeout") * 1000;
	snap_unref(snap);
	/* Live sessions, working or parked, finish within the drain time. */
	if (sess_live() > 0)
		log_info("waiting up to %d s for %u live sessions", drain_ms / 1000,
		    sess_live());
	if (main_wait_sessions(sys_now_ms() + drain_ms) < 0) {
		log_warnx("drain timeout: interrupting %u live sessions", sess_live());
		sess_kill_all();
		park_expire_all(pk);
		(void)main_wait_sessions(sys_now_ms() + 10000);
	}
	park_destroy(pk);	/* what is still parked is handed back */
	workq_shutdown(wq);
	(void)workq_wait_idle(wq, sys_now_ms() + 10000);
	workq_destroy(wq);
	snap_install(NULL);
	main_log_cache();
	stats_log();
	tkey_shutdown();
	scache_free(main_cache);
	stats_free();		/* no session is left to count */
	main_pidfile_remove();
	log_info("stopped");
	return (0);
}
