/*
 * NAME
 *	loadgen - TLS handshake, bulk and idle-session load for TLS terminators
 * SYNOPSIS
 *	loadgen tls     -a HOST:PORT [common options] [-q REQUEST]
 *	loadgen handoff -u SOCKET    [common options] [-p BYTES]
 *	loadgen smtp    -a HOST:PORT [common options] [-m BYTES]
 *	loadgen idle    -a HOST:PORT -N SESSIONS [-C OPENING] [-d HOLD] [-q REQUEST]
 *	loadgen stall   -a HOST:PORT -N SESSIONS [-C OPENING] [-d HOLD]
 *	loadgen cpu     PID...
 *	loadgen rss     PID...
 * DESCRIPTION
 *	tls: opens TLS connections to a TCP frontend, CONCURRENCY at a
 *	time, each a full or a resumed handshake, optionally sends REQUEST
 *	and reads the answer until the server closes.
 *
 *	handoff: drives a Postfix tlsproxy(8) protocol socket the way
 *	postscreen(8) does: connect to the UNIX socket, read the
 *	announcement, send the server-role request, read the status, pass
 *	the server end of a fresh loopback TCP connection with SCM_RIGHTS;
 *	then act as the remote TLS client on the other end, and move BYTES
 *	of payload each way (TLS client -> local socket and back) before the
 *	local side closes, as postscreen does at the end of a session.
 *
 *	smtp: delivers one message per connection through an SMTP
 *	STARTTLS frontend, one command at a time (no pipelining): read the
 *	220 greeting, EHLO (the 250 reply must offer STARTTLS), STARTTLS,
 *	220, TLS handshake, EHLO again, MAIL FROM, RCPT TO, DATA, 354, the
 *	message (headers and a BYTES-byte body, dot-stuffed, then CRLF.CRLF),
 *	250, QUIT, 221, close. Multi-line replies and replies split over
 *	reads are handled; any other reply code is a failed session.
 *	"Handshake" latency is then connect to the end of the TLS handshake
 *	(greeting, EHLO and STARTTLS included), and sessions/s is messages/s.
 *
 *	idle: opens SESSIONS TLS sessions and keeps them open without
 *	traffic; prints "READY ok failed" when all are set up, then holds
 *	them until SIGTERM/SIGINT or HOLD seconds. At the end of the hold
 *	it checks them: with -q, a sample of up to 20 sessions spread over
 *	the set each send REQUEST (use a keep-alive one) and must get
 *	"HTTP/1.x 200" back within 5 s; then every session the server has
 *	not closed (no EOF, reset or error on the socket) counts as still
 *	open. The JSON line has opened, failed, still_open, echo_ok and
 *	echo_tried.
 *
 *	stall: opens SESSIONS TCP connections and sends on each the first
 *	half of a real TLS 1.3 ClientHello (made by OpenSSL with memory
 *	BIOs, a fresh one per connection), then nothing: a stalled
 *	handshake. Prints "READY ok failed" when all are connected, holds
 *	them until SIGTERM/SIGINT or HOLD seconds, then prints a JSON line
 *	with opened, failed and still_open (not closed by the server).
 *
 *	idle and stall stop opening after -o seconds (default 120); a
 *	session not set up by then, or within the session timeout, fails.
 *
 *	cpu: prints the CPU time (user+system, microseconds) used so far by
 *	the PIDs and all their descendants, reaped ones included.
 *
 *	rss: prints the resident set size (KiB) of the PIDs and all their
 *	descendants, added up.
 *
 *	Every run is bounded: new sessions start only during DURATION
 *	seconds and up to MAX sessions; the sessions still open then get
 *	at most 5 more seconds; a stuck session is dropped after 10 s
 *	(both -T).
 *	Before the measured window each slot makes one session (warm-up;
 *	it also gets the session to resume), not counted.
 *
 *	Output: one JSON object: sessions completed, failed, resumed,
 *	handshakes/s, p50/p99 handshake latency (connect to TLS
 *	established, including the hand-off exchange), p50/p99 session
 *	latency, payload MB/s, the load generator's own CPU use (percent of
 *	one CPU), and with -P the terminator's CPU time over the measured
 *	window and per session.
 * OPTIONS
 *	-C N	concurrency (default 16)	-d S	duration (default 5)
 *	-n N	most sessions (default 10000000)	-t N	threads (default 1)
 *	-V 1.2|1.3	TLS version (default 1.3)
 *	-r none|ticket|id	resumption (default none)
 *	-k ecdsa|rsa	restrict signature algorithms, i.e. pick the
 *		server certificate (default: any)
 *	-q STR	request for tls mode (\r and \n escapes are decoded)
 *	-p N	payload bytes each way for handoff mode (default 64)
 *	-m N	smtp: message body bytes (default 4096; headers come on top)
 *	-P PID[,PID]	terminator process trees whose CPU time is measured
 *	-D	handoff: set TCP_NODELAY on the passed socket (postscreen
 *		does not; for diagnosis)
 *	-L NAME	label copied into the JSON
 *	-T S	session timeout (default 10); also how long the sessions
 *		still in flight after DURATION get (default 5)
 *	-o S	idle, stall: stop opening after S seconds (default 120)
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS13_SUITE	"TLS_AES_128_GCM_SHA256"
#define TLS12_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define GROUPS		"X25519:P-256"	/* X25519 is used; see bound.c */
#define DRAIN_MS	5000
#define ECHO_SAMPLE	20	/* idle: sessions that must answer REQUEST */
#define ECHO_MS		5000
#define IOBUF		16384

#define ANNOUNCEMENT	"protocol\0tlsproxy_protocol\0"	/* + terminator NUL */
#define ANNOUNCEMENT_LEN 28

enum mode { M_TLS, M_HANDOFF, M_IDLE, M_SMTP, M_STALL };
enum resume { R_NONE, R_TICKET, R_ID };

enum state {
	ST_FREE,		/* no session */
	ST_ANNOUNCE,		/* handoff: reading the announcement */
	ST_REQUEST,		/* handoff: writing the request */
	ST_STATUS,		/* handoff: reading the status */
	ST_PASS,		/* handoff: passing the descriptor */
	ST_CONNECT,		/* tls: TCP connect */
	ST_HANDSHAKE,
	ST_WORK,		/* request/response or payload both ways */
	ST_DRAIN,		/* reading until the server closes */
	ST_IDLE,		/* idle mode: established, holding */
	ST_SMTP,		/* smtp: a command and its reply (step) */
};

/* SMTP dialogue of smtp mode, in order; the handshake follows STARTTLS. */
enum sstep { SS_GREET, SS_EHLO, SS_STARTTLS, SS_EHLO2, SS_MAIL, SS_RCPT,
	SS_DATA, SS_BODY, SS_QUIT };

#define SMTP_EHLO	"EHLO loadgen.bench.test\r\n"
static const struct {
	const char *name;
	const char *cmd;	/* NULL: nothing (greeting) or the message */
	int	 code;		/* expected reply */
} SSTEPS[] = {
	{ "greeting", NULL, 220 },
	{ "EHLO", SMTP_EHLO, 250 },
	{ "STARTTLS", "STARTTLS\r\n", 220 },
	{ "EHLO after TLS", SMTP_EHLO, 250 },
	{ "MAIL", "MAIL FROM:<loadgen@bench.test>\r\n", 250 },
	{ "RCPT", "RCPT TO:<sink@bench.test>\r\n", 250 },
	{ "DATA", "DATA\r\n", 354 },
	{ "end of data", NULL, 250 },
	{ "QUIT", "QUIT\r\n", 221 },
};
#define SMTP_LINE	1024

struct opts {
	enum mode mode;
	struct sockaddr_in addr;
	char	 upath[108];
	int	 conc, threads, version, pay, idle_n, nodelay_passed;
	long	 msgsize;	/* smtp: body bytes */
	char	*msg;		/* smtp: the message on the wire, with CRLF.CRLF */
	size_t	 msglen;
	double	 duration;
	double	 open_s;	/* idle, stall: opening deadline */
	long	 sess_timeout_ms;
	long	 drain_ms;	/* after the window: for the sessions in flight */
	long	 maxsess;
	enum resume resume;
	const char *kind;
	char	*req;
	size_t	 reqlen;
	pid_t	 cpu_pids[16];
	int	 ncpu_pids;
	const char *label;
};

struct fdref {
	struct slot *s;
};

struct slot {
	enum state st;
	int	 fd;		/* TLS (TCP) socket */
	int	 ufd;		/* handoff: local (UNIX) socket */
	int	 srvfd;		/* handoff: server end, until passed */
	int	 srvport;
	SSL	*ssl;
	SSL_SESSION *sess;
	struct fdref ref;
	int64_t	 t_start, t_hs;
	int	 warm;		/* session of the warm-up phase */
	size_t	 off;		/* bytes of the current record/request done */
	char	 rbuf[256];	/* handoff records */
	size_t	 wlen;		/* handoff: request length */
	size_t	 up_sent, up_rcvd, dn_sent, dn_rcvd;
	uint64_t resp_bytes;
	int	 resp_ok;	/* first bytes of the response looked right */
	char	 head[16];
	size_t	 headlen;
	/* smtp */
	enum sstep step;
	int	 reading;	/* command written, reading its reply */
	int	 starttls_seen;	/* in the EHLO reply */
	size_t	 linelen;
	char	 line[SMTP_LINE];
};

struct lat {
	uint32_t *v;
	size_t	 n, cap;
};

struct worker {
	pthread_t tid;
	int	 idx, ep, lfd, nslots, inflight;
	struct slot *slots;
	SSL_CTX	*ctx;
	long	 maxsess;
	int	 phase;		/* 0 warm-up, 1 measured, 2 draining */
	/* results */
	long	 ok, failed, resumed, aborted, warm_ok, warm_failed, idle_ok;
	uint64_t bytes;
	struct lat hs, sess;
	char	 lasterr[160];
};

static struct opts O;
static volatile sig_atomic_t stop_flag;
static pthread_barrier_t phase_barrier;
static int64_t measure_start_ms, measure_end_ms;

/* self_cpu_us - CPU time of this process (all threads) */
static int64_t
self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
static unsigned char payload[IOBUF];

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static void
lat_add(struct lat *l, int64_t us)
{
	if (l->n == l->cap) {
		size_t	 nc = l->cap ? 2 * l->cap : 4096;
		uint32_t *nv = realloc(l->v, nc * sizeof(*nv));

		if (nv == NULL)
			return;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = us < 0 ? 0 : (us > UINT32_MAX ? UINT32_MAX : (uint32_t)us);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return ((x > y) - (x < y));
}

static double
pct(const struct lat *l, double p)
{
	size_t	 i;

	if (l->n == 0)
		return (0);
	i = (size_t)(p * (double)(l->n - 1) + 0.5);
	return (l->v[i]);
}

static void
fatal(const char *fmt, const char *arg)
{
	fprintf(stderr, "loadgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

/* ------------------------------------------------------------ CPU time */

/* proc_stat - ppid and utime+stime+cutime+cstime (ticks) of one pid */
static int
proc_stat(pid_t pid, pid_t *ppid, unsigned long long *ticks)
{
	char	 path[64], buf[1024], *p;
	unsigned long long ut, st;
	long long cut, cst;
	int	 fd, pp;
	ssize_t	 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* fields after comm: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
	    &pp, &ut, &st, &cut, &cst) != 5)
		return (-1);
	*ppid = pp;
	*ticks = ut + st + (unsigned long long)(cut > 0 ? cut : 0) +
	    (unsigned long long)(cst > 0 ? cst : 0);
	return (0);
}

/* vm_rss_kib - resident set size of one process in KiB, or 0 */
static long long
vm_rss_kib(pid_t pid)
{
	char	 path[64], line[256];
	long long kib = 0;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld", &kib) == 1)
			break;
	fclose(f);
	return (kib);
}

/*
 * tree_sum - over the process trees under roots: CPU microseconds
 * (want_rss 0) or the sum of VmRSS in KiB (want_rss 1).
 */
static long long
tree_sum(const pid_t *roots, int nroots, int want_rss)
{
	struct pent { pid_t pid, ppid; unsigned long long t; } *v = NULL;
	size_t	 n = 0, cap = 0, i, k;
	unsigned long long sum = 0;
	struct dirent *de;
	DIR	*d;
	long	 hz = sysconf(_SC_CLK_TCK);

	if ((d = opendir("/proc")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		pid_t	 pid, pp;
		unsigned long long t;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (proc_stat(pid, &pp, &t) < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 512;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL) {
				closedir(d);
				return (-1);
			}
		}
		v[n].pid = pid;
		v[n].ppid = pp;
		v[n].t = t;
		n++;
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		pid_t	 p = v[i].pid;
		int	 depth = 0, in = 0, r;

		while (p > 1 && depth++ < 64 && !in) {
			for (r = 0; r < nroots; r++)
				if (p == roots[r])
					in = 1;
			if (in)
				break;
			for (k = 0; k < n && v[k].pid != p; k++)
				;
			if (k == n)
				break;
			p = v[k].ppid;
		}
		if (in)
			sum += want_rss ? (unsigned long long)vm_rss_kib(v[i].pid) : v[i].t;
	}
	free(v);
	if (want_rss)
		return ((long long)sum);
	return ((long long)(sum * 1000000ULL / (unsigned long long)hz));
}

static long long
cpu_tree_us(const pid_t *roots, int nroots)
{
	return (tree_sum(roots, nroots, 0));
}

/* ------------------------------------------------------------ sessions */

static void
set_nonblock(int fd)
{
	int	 fl = fcntl(fd, F_GETFL);

	(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
ep_add(struct worker *w, int fd, struct slot *s)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = &s->ref;
	return (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev));
}

static void
slot_close_fds(struct slot *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->ufd >= 0)
		close(s->ufd);
	if (s->srvfd >= 0)
		close(s->srvfd);
	s->fd = s->ufd = s->srvfd = -1;
}

static void
slot_fail(struct worker *w, struct slot *s, const char *why)
{
	unsigned long e = ERR_peek_last_error();
	char	 eb[120] = "";

	if (e)
		ERR_error_string_n(e, eb, sizeof(eb));
	snprintf(w->lasterr, sizeof(w->lasterr), "%s%s%s", why, e ? ": " : "", eb);
	ERR_clear_error();
	slot_close_fds(s);
	if (s->warm)
		w->warm_failed++;
	else
		w->failed++;
	s->st = ST_FREE;
}

/* slot_done - a completed session: keep its TLS session, count it */
static void
slot_done(struct worker *w, struct slot *s)
{
	int64_t	 t = now_us();

	if (s->ssl) {
		(void)SSL_shutdown(s->ssl);	/* our close_notify; may fail */
		if (O.resume != R_NONE) {
			SSL_SESSION *n = SSL_get1_session(s->ssl);

			if (n != NULL) {
				SSL_SESSION_free(s->sess);
				s->sess = n;
			}
		}
		if (!s->warm && SSL_session_reused(s->ssl))
			w->resumed++;
	}
	ERR_clear_error();
	slot_close_fds(s);
	if (s->warm) {
		w->warm_ok++;
	} else {
		w->ok++;
		lat_add(&w->hs, s->t_hs - s->t_start);
		lat_add(&w->sess, t - s->t_start);
		w->bytes += (uint64_t)s->up_rcvd + s->dn_rcvd + s->resp_bytes +
		    (O.mode == M_TLS ? O.reqlen : 0);
	}
	s->st = ST_FREE;
}

/* tcp_pair - a connected loopback pair: *cli (non-blocking), *srv */
static int
tcp_pair(struct worker *w, int *cli, int *srv, int *cport)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int	 c, s, on = 1;

	if (getsockname(w->lfd, (struct sockaddr *)&a, &al) < 0)
		return (-1);
	if ((c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-1);
	if (connect(c, (struct sockaddr *)&a, al) < 0) {
		close(c);
		return (-1);
	}
	if ((s = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		close(c);
		return (-1);
	}
	al = sizeof(a);
	if (getsockname(c, (struct sockaddr *)&a, &al) < 0) {
		close(c);
		close(s);
		return (-1);
	}
	(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (O.nodelay_passed)
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	set_nonblock(c);
	*cli = c;
	*srv = s;
	*cport = ntohs(a.sin_port);
	return (0);
}

static int
slot_start(struct worker *w, struct slot *s)
{
	int	 on = 1;

	memset(&s->t_start, 0, sizeof(*s) - offsetof(struct slot, t_start));
	s->ref.s = s;
	s->fd = s->ufd = s->srvfd = -1;
	s->ssl = NULL;
	s->warm = (w->phase == 0);
	s->t_start = now_us();
	if (O.mode == M_HANDOFF) {
		struct sockaddr_un sun;

		if (tcp_pair(w, &s->fd, &s->srvfd, &s->srvport) < 0) {
			slot_fail(w, s, "loopback TCP pair");
			return (-1);
		}
		if ((s->ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0) {
			slot_fail(w, s, "socket(AF_UNIX)");
			return (-1);
		}
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, O.upath, sizeof(sun.sun_path));
		/* As postscreen: non-blocking; a full backlog is a failure. */
		if (connect(s->ufd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno != EINPROGRESS) {
			slot_fail(w, s, errno == EAGAIN ?
			    "handoff socket backlog full" : "connect to the handoff socket");
			return (-1);
		}
		s->st = ST_ANNOUNCE;
		if (ep_add(w, s->ufd, s) < 0 || ep_add(w, s->fd, s) < 0) {
			slot_fail(w, s, "epoll_ctl");
			return (-1);
		}
		return (0);
	}
	if ((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		slot_fail(w, s, "socket");
		return (-1);
	}
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(s->fd, (struct sockaddr *)&O.addr, sizeof(O.addr)) < 0 &&
	    errno != EINPROGRESS) {
		slot_fail(w, s, "connect");
		return (-1);
	}
	s->st = ST_CONNECT;
	if (ep_add(w, s->fd, s) < 0) {
		slot_fail(w, s, "epoll_ctl");
		return (-1);
	}
	return (0);
}

/* record_end - length of a complete attr0 record at the start of buf, or 0 */
static size_t
record_end(const char *buf, size_t len)
{
	size_t	 i = 0, e;

	for (;;) {
		const char *z = memchr(buf + i, '\0', len - i);

		if (z == NULL)
			return (0);
		e = (size_t)(z - buf);
		if (e == i)		/* empty name: end of record */
			return (e + 1);
		i = e + 1;		/* value */
		if (i >= len || (z = memchr(buf + i, '\0', len - i)) == NULL)
			return (0);
		i = (size_t)(z - buf) + 1;
		if (i >= len)
			return (0);
	}
}

static int
ssl_new(struct worker *w, struct slot *s)
{
	if ((s->ssl = SSL_new(w->ctx)) == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
		return (-1);
	if (s->sess != NULL && O.resume != R_NONE)
		SSL_set_session(s->ssl, s->sess);
	SSL_set_connect_state(s->ssl);
	return (0);
}

/* ssl_want - 1 to wait (want read/write), -1 on error */
static int
ssl_want(SSL *ssl, int r)
{
	int	 e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return (1);
	return (-1);
}

/* SMTP I/O: > 0 bytes, 0 end of file, IO_WAIT would block, IO_ERR error */
#define IO_WAIT	(-2)
#define IO_ERR	(-1)

static ssize_t
sio_write(struct slot *s, const char *p, size_t n)
{
	ssize_t	 k;
	int	 r;

	if (s->ssl == NULL) {
		do
			k = send(s->fd, p, n, MSG_NOSIGNAL);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return (errno == EAGAIN ? IO_WAIT : IO_ERR);
		return (k);
	}
	ERR_clear_error();
	r = SSL_write(s->ssl, p, (int)(n > IOBUF ? IOBUF : n));
	if (r > 0)
		return (r);
	return (ssl_want(s->ssl, r) > 0 ? IO_WAIT : IO_ERR);
}

static ssize_t
sio_read(struct slot *s, char *p, size_t n)
{
	ssize_t	 k;
	int	 r, e;

	if (s->ssl == NULL) {
		do
			k = read(s->fd, p, n);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return (errno == EAGAIN ? IO_WAIT : IO_ERR);
		return (k);
	}
	ERR_clear_error();
	r = SSL_read(s->ssl, p, (int)n);
	if (r > 0)
		return (r);
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return (IO_WAIT);
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
	    ERR_peek_error() == 0) || ERR_GET_REASON(ERR_peek_error()) ==
	    SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return (0);
	return (IO_ERR);
}

/* smtp_fail - fail the session with the step and what the server said */
static void
smtp_fail(struct worker *w, struct slot *s, const char *what, const char *line)
{
	char	 why[160];
	size_t	 i;

	snprintf(why, sizeof(why), "SMTP %s: %s%s%.60s", SSTEPS[s->step].name,
	    what, line ? ": " : "", line ? line : "");
	for (i = 0; why[i]; i++)
		if ((unsigned char)why[i] < ' ')
			why[i] = ' ';
	slot_fail(w, s, why);
}

/*
 * smtp_pump - write the step's command, read its reply, go to the next
 * step. 1: progress, go on; 0: wait for the socket; -1: the slot is
 * done (failed, completed or handed to the TLS handshake: see s->st).
 */
static int
smtp_pump(struct worker *w, struct slot *s)
{
	ssize_t	 k;

	if (!s->reading) {
		const char *cmd = SSTEPS[s->step].cmd;
		size_t	 len;

		if (s->step == SS_BODY) {
			cmd = O.msg;
			len = O.msglen;
		} else
			len = strlen(cmd);
		while (s->off < len) {
			k = sio_write(s, cmd + s->off, len - s->off);
			if (k == IO_WAIT)
				return (0);
			if (k <= 0) {
				smtp_fail(w, s, "write failed", NULL);
				return (-1);
			}
			s->off += (size_t)k;
		}
		s->off = 0;
		s->reading = 1;
		s->linelen = 0;
		s->starttls_seen = 0;
	}
	for (;;) {
		char	*nl, *line = s->line;
		size_t	 ll;
		int	 code, last;

		nl = memchr(line, '\n', s->linelen);
		if (nl == NULL) {
			if (s->linelen >= sizeof(s->line) - 1) {
				smtp_fail(w, s, "reply line too long", NULL);
				return (-1);
			}
			k = sio_read(s, line + s->linelen, sizeof(s->line) - 1 - s->linelen);
			if (k == IO_WAIT)
				return (0);
			if (k <= 0) {
				smtp_fail(w, s, k == 0 ? "connection closed" : "read failed", NULL);
				return (-1);
			}
			s->linelen += (size_t)k;
			continue;
		}
		/* One complete line: line[0 .. ll) without CRLF. */
		ll = (size_t)(nl - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		line[ll] = '\0';
		if (ll < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
		    (ll > 3 && line[3] != ' ' && line[3] != '-')) {
			smtp_fail(w, s, "malformed reply", line);
			return (-1);
		}
		code = atoi(line);	/* three digits, then ' ', '-' or NUL */
		last = ll == 3 || line[3] == ' ';
		if (code != SSTEPS[s->step].code) {
			smtp_fail(w, s, "unexpected reply", line);
			return (-1);
		}
		if (ll >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0 &&
		    (ll == 12 || line[12] == ' '))
			s->starttls_seen = 1;
		/* Drop the line. */
		s->linelen -= (size_t)(nl + 1 - line);
		memmove(line, nl + 1, s->linelen);
		if (!last)
			continue;
		/* The reply is complete; we never pipeline, so nothing may follow. */
		if (s->linelen > 0) {
			smtp_fail(w, s, "data after the reply", NULL);
			return (-1);
		}
		break;
	}
	s->reading = 0;
	switch (s->step) {
	case SS_EHLO:
		if (!s->starttls_seen) {
			smtp_fail(w, s, "no STARTTLS in the EHLO reply", NULL);
			return (-1);
		}
		break;
	case SS_STARTTLS:
		if (ssl_new(w, s) < 0) {
			slot_fail(w, s, "SSL_new");
			return (-1);
		}
		s->st = ST_HANDSHAKE;
		return (1);
	case SS_QUIT:
		s->resp_bytes = O.msglen;
		slot_done(w, s);
		return (-1);
	default:
		break;
	}
	s->step++;
	return (1);
}

/*
 * slot_pump - advance a session as far as it goes without waiting.
 * Every operation is tried until it would block (edge-triggered epoll).
 */
static void
slot_pump(struct worker *w, struct slot *s)
{
	unsigned char buf[IOBUF];
	ssize_t	 k;
	int	 r, progress;

	for (;;) {
		switch (s->st) {
		case ST_FREE:
		case ST_IDLE:
			return;
		case ST_ANNOUNCE:
			k = read(s->ufd, s->rbuf + s->off, ANNOUNCEMENT_LEN - s->off);
			if (k < 0 && errno == EAGAIN)
				return;
			if (k <= 0) {
				slot_fail(w, s, "handoff socket closed before the announcement");
				return;
			}
			s->off += (size_t)k;
			if (s->off < ANNOUNCEMENT_LEN)
				continue;
			if (memcmp(s->rbuf, ANNOUNCEMENT "", ANNOUNCEMENT_LEN) != 0) {
				slot_fail(w, s, "unexpected announcement");
				return;
			}
			s->off = 0;
			{
				int	 n = snprintf(s->rbuf, sizeof(s->rbuf),
				    "remote_endpoint%c[127.0.0.1]:%d%cflags%c1%c"
				    "timeout%c300%ctimeout%c300%cserverid%csmtpd%c",
				    0, s->srvport, 0, 0, 0, 0, 0, 0, 0, 0, 0);

				s->rbuf[n] = '\0';	/* record terminator */
				s->wlen = (size_t)n + 1;
			}
			s->st = ST_REQUEST;
			/* FALLTHROUGH */
		case ST_REQUEST:
			k = send(s->ufd, s->rbuf + s->off, s->wlen - s->off, MSG_NOSIGNAL);
			if (k < 0 && errno == EAGAIN)
				return;
			if (k <= 0) {
				slot_fail(w, s, "writing the request");
				return;
			}
			s->off += (size_t)k;
			if (s->off < s->wlen)
				continue;
			s->off = 0;
			s->st = ST_STATUS;
			/* FALLTHROUGH */
		case ST_STATUS: {
			size_t	 e;

			k = read(s->ufd, s->rbuf + s->off, sizeof(s->rbuf) - 1 - s->off);
			if (k < 0 && errno == EAGAIN)
				return;
			if (k <= 0) {
				slot_fail(w, s, "handoff socket closed before the status");
				return;
			}
			s->off += (size_t)k;
			if ((e = record_end(s->rbuf, s->off)) == 0) {
				if (s->off >= sizeof(s->rbuf) - 1) {
					slot_fail(w, s, "status record too long");
					return;
				}
				continue;
			}
			if (s->off != e || strcmp(s->rbuf, "status") != 0 ||
			    strcmp(s->rbuf + 7, "0") == 0) {
				slot_fail(w, s, "status is not 1");
				return;
			}
			s->st = ST_PASS;
		}
			/* FALLTHROUGH */
		case ST_PASS: {
			struct msghdr m;
			struct iovec iov;
			char	 nul = 0;
			union {
				struct cmsghdr h;
				char	 b[CMSG_SPACE(sizeof(int))];
			} cm;
			struct cmsghdr *c;

			memset(&m, 0, sizeof(m));
			memset(&cm, 0, sizeof(cm));
			iov.iov_base = &nul;
			iov.iov_len = 1;
			m.msg_iov = &iov;
			m.msg_iovlen = 1;
			m.msg_control = cm.b;
			m.msg_controllen = sizeof(cm.b);
			c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &s->srvfd, sizeof(int));
			k = sendmsg(s->ufd, &m, MSG_NOSIGNAL);
			if (k < 0 && errno == EAGAIN)
				return;
			if (k != 1) {
				slot_fail(w, s, "sendmsg(SCM_RIGHTS)");
				return;
			}
			close(s->srvfd);
			s->srvfd = -1;
			if (ssl_new(w, s) < 0) {
				slot_fail(w, s, "SSL_new");
				return;
			}
			s->st = ST_HANDSHAKE;
			continue;
		}
		case ST_CONNECT:
			if (connect(s->fd, (struct sockaddr *)&O.addr, sizeof(O.addr)) < 0 &&
			    errno != EISCONN) {
				if (errno == EALREADY || errno == EINPROGRESS)
					return;
				slot_fail(w, s, "connect");
				return;
			}
			if (O.mode == M_SMTP) {
				s->st = ST_SMTP;
				s->step = SS_GREET;
				s->reading = 1;
				continue;
			}
			if (ssl_new(w, s) < 0) {
				slot_fail(w, s, "SSL_new");
				return;
			}
			s->st = ST_HANDSHAKE;
			/* FALLTHROUGH */
		case ST_HANDSHAKE:
			ERR_clear_error();
			r = SSL_connect(s->ssl);
			if (r != 1) {
				if (ssl_want(s->ssl, r) > 0)
					return;
				slot_fail(w, s, "TLS handshake");
				return;
			}
			s->t_hs = now_us();
			s->off = 0;
			if (O.mode == M_IDLE) {
				s->st = ST_IDLE;
				w->idle_ok++;
				return;
			}
			if (O.mode == M_TLS && O.reqlen == 0) {
				slot_done(w, s);
				return;
			}
			if (O.mode == M_SMTP) {
				s->st = ST_SMTP;
				s->step = SS_EHLO2;
				s->reading = 0;
				continue;
			}
			s->st = ST_WORK;
			continue;
		case ST_SMTP:
			if (smtp_pump(w, s) <= 0)
				return;
			continue;
		case ST_WORK:
			if (O.mode == M_TLS) {
				while (s->off < O.reqlen) {
					ERR_clear_error();
					r = SSL_write(s->ssl, O.req + s->off,
					    (int)(O.reqlen - s->off));
					if (r <= 0) {
						if (ssl_want(s->ssl, r) > 0)
							return;
						slot_fail(w, s, "SSL_write");
						return;
					}
					s->off += (size_t)r;
				}
				s->st = ST_DRAIN;
				continue;
			}
			/* handoff payload, both directions at once */
			progress = 0;
			while (s->up_sent < (size_t)O.pay) {
				size_t	 n = (size_t)O.pay - s->up_sent;

				ERR_clear_error();
				r = SSL_write(s->ssl, payload, (int)(n > IOBUF ? IOBUF : n));
				if (r <= 0) {
					if (ssl_want(s->ssl, r) > 0)
						break;
					slot_fail(w, s, "SSL_write");
					return;
				}
				s->up_sent += (size_t)r;
				progress = 1;
			}
			while (s->up_rcvd < (size_t)O.pay) {
				k = read(s->ufd, buf, sizeof(buf));
				if (k < 0 && errno == EAGAIN)
					break;
				if (k <= 0) {
					slot_fail(w, s, "local read");
					return;
				}
				s->up_rcvd += (size_t)k;
				progress = 1;
			}
			while (s->dn_sent < (size_t)O.pay) {
				size_t	 n = (size_t)O.pay - s->dn_sent;

				k = send(s->ufd, payload, n > IOBUF ? IOBUF : n, MSG_NOSIGNAL);
				if (k < 0 && errno == EAGAIN)
					break;
				if (k <= 0) {
					slot_fail(w, s, "local write");
					return;
				}
				s->dn_sent += (size_t)k;
				progress = 1;
			}
			while (s->dn_rcvd < (size_t)O.pay) {
				ERR_clear_error();
				r = SSL_read(s->ssl, buf, sizeof(buf));
				if (r <= 0) {
					if (ssl_want(s->ssl, r) > 0)
						break;
					slot_fail(w, s, "SSL_read");
					return;
				}
				s->dn_rcvd += (size_t)r;
				progress = 1;
			}
			if (s->up_rcvd >= (size_t)O.pay && s->dn_rcvd >= (size_t)O.pay) {
				/* As postscreen: the local side closes; the proxy ends TLS. */
				close(s->ufd);
				s->ufd = -1;
				s->st = ST_DRAIN;
				continue;
			}
			if (!progress)
				return;
			continue;
		case ST_DRAIN:
			for (;;) {
				ERR_clear_error();
				r = SSL_read(s->ssl, buf, sizeof(buf));
				if (r > 0) {
					if (s->headlen < sizeof(s->head)) {
						size_t	 n = sizeof(s->head) - s->headlen;

						if ((size_t)r < n)
							n = (size_t)r;
						memcpy(s->head + s->headlen, buf, n);
						s->headlen += n;
					}
					s->resp_bytes += (uint64_t)r;
					continue;
				}
				{
					int	 e = SSL_get_error(s->ssl, r);

					if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
						return;
					if (e == SSL_ERROR_ZERO_RETURN ||
					    (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) ||
					    ERR_GET_REASON(ERR_peek_error()) ==
					    SSL_R_UNEXPECTED_EOF_WHILE_READING)
						break;
					slot_fail(w, s, "SSL_read until EOF");
					return;
				}
			}
			if (O.mode == M_TLS && strncmp(O.req, "GET ", 4) == 0 &&
			    (s->headlen < 12 || memcmp(s->head, "HTTP/1.", 7) != 0 ||
			    memcmp(s->head + 9, "200", 3) != 0)) {
				slot_fail(w, s, "response is not HTTP 200");
				return;
			}
			slot_done(w, s);
			return;
		}
	}
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return (NULL);
	SSL_CTX_set_min_proto_version(ctx, O.version);
	SSL_CTX_set_max_proto_version(ctx, O.version);
	if (SSL_CTX_set1_groups_list(ctx, GROUPS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITE) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		return (NULL);
	if (O.kind && SSL_CTX_set1_sigalgs_list(ctx, strcmp(O.kind, "rsa") == 0 ?
	    "rsa_pss_rsae_sha256:RSA+SHA256" : "ECDSA+SHA256") != 1)
		return (NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (O.resume == R_ID)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return (ctx);
}

/*
 * run_phase - run sessions until the phase is over. New sessions start
 * while now < start_until_us and fewer than start_limit were started,
 * with at most max_inflight sessions in progress (idle ones do not
 * count). With restart, a slot is reused as soon as it is free;
 * without, each slot is used once. Sessions still in progress when no
 * more may start get O.drain_ms, then are dropped (counted as aborted).
 */
static void
run_phase(struct worker *w, int64_t start_until_us, long start_limit,
    int restart, int max_inflight)
{
	struct epoll_event ev[256];
	int64_t	 drain_until = 0, t;
	long	 started = 0;
	int	 i, n, busy, can_start, next = 0, left;

	for (;;) {
		t = now_us();
		busy = 0;
		left = 0;
		for (i = 0; i < w->nslots; i++) {
			struct slot *s = &w->slots[i];

			if (s->st != ST_FREE && s->st != ST_IDLE) {
				if (t - s->t_start > O.sess_timeout_ms * 1000LL)
					slot_fail(w, s, "session timeout");
				else
					busy++;
			}
			if (s->st == ST_FREE && (restart || s->t_start == 0))
				left++;
		}
		can_start = !stop_flag && t < start_until_us && started < start_limit;
		for (i = 0; can_start && left > 0 && busy < max_inflight &&
		    i < w->nslots; i++) {
			struct slot *s = &w->slots[(next + i) % w->nslots];

			if (s->st != ST_FREE || (!restart && s->t_start != 0))
				continue;
			started++;
			left--;
			if (slot_start(w, s) == 0)
				slot_pump(w, s);
			if (s->st != ST_FREE && s->st != ST_IDLE)
				busy++;
			else if (s->st == ST_FREE && restart)
				left++;	/* done (or failed) at once: free again */
			can_start = started < start_limit && !stop_flag &&
			    now_us() < start_until_us;
			next = (next + i + 1) % w->nslots;
			i = -1;
		}
		if (busy == 0 && (!can_start || left == 0))
			break;
		if (!can_start) {
			if (drain_until == 0)
				drain_until = t + O.drain_ms * 1000LL;
			else if (t > drain_until) {
				for (i = 0; i < w->nslots; i++) {
					struct slot *s = &w->slots[i];

					if (s->st != ST_FREE && s->st != ST_IDLE) {
						slot_close_fds(s);
						s->st = ST_FREE;
						w->aborted++;
					}
				}
				break;
			}
		}
		n = epoll_wait(w->ep, ev, 256, 50);
		for (i = 0; i < n; i++) {
			struct fdref *r = ev[i].data.ptr;

			slot_pump(w, r->s);
		}
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	int64_t	 until;
	int	 i;

	if (O.mode == M_IDLE) {
		/* Open every session once, then hold them. */
		w->phase = 1;
		run_phase(w, now_us() + (int64_t)(O.open_s * 1e6), w->nslots, 0,
		    w->inflight);
		pthread_barrier_wait(&phase_barrier);	/* all opened */
		pthread_barrier_wait(&phase_barrier);	/* hold over */
		for (i = 0; i < w->nslots; i++) {
			struct slot *s = &w->slots[i];

			if (s->st == ST_IDLE && s->ssl)
				(void)SSL_shutdown(s->ssl);
			slot_close_fds(s);
		}
		return (NULL);
	}
	/* Warm-up: one session per slot. */
	w->phase = 0;
	run_phase(w, INT64_MAX, w->nslots, 0, w->nslots);
	for (i = 0; i < w->nslots; i++)
		w->slots[i].t_start = 0;
	pthread_barrier_wait(&phase_barrier);	/* warm-up over */
	pthread_barrier_wait(&phase_barrier);	/* window start is set */
	w->phase = 1;
	until = measure_start_ms * 1000 + (int64_t)(O.duration * 1e6);
	run_phase(w, until, w->maxsess, 1, w->nslots);
	return (NULL);
}

/* ------------------------------------------------------------ idle, stall */

/* wait_fd - poll one descriptor for events until deadline (µs); 1 ready */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pf;
	int64_t	 left;
	int	 r;

	for (;;) {
		left = (deadline - now_us()) / 1000;
		if (left <= 0)
			return (0);
		pf.fd = fd;
		pf.events = events;
		pf.revents = 0;
		r = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (r > 0)
			return (1);
		if (r < 0 && errno != EINTR)
			return (0);
	}
}

/* ssl_wait - after SSL_write/SSL_read returned r: 1 to retry, 0 to give up */
static int
ssl_wait(SSL *ssl, int fd, int r, int64_t deadline)
{
	int	 e = SSL_get_error(ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return (wait_fd(fd, POLLIN, deadline));
	if (e == SSL_ERROR_WANT_WRITE)
		return (wait_fd(fd, POLLOUT, deadline));
	return (0);
}

/*
 * echo_one - send O.req on an idle session and read the start of the
 * answer: 1 if it is "HTTP/1.x 200", within ECHO_MS.
 */
static int
echo_one(struct slot *s)
{
	int64_t	 deadline = now_us() + ECHO_MS * 1000LL;
	char	 head[16];
	size_t	 off = 0, hl = 0;
	int	 r;

	while (off < O.reqlen) {
		ERR_clear_error();
		r = SSL_write(s->ssl, O.req + off, (int)(O.reqlen - off));
		if (r > 0)
			off += (size_t)r;
		else if (!ssl_wait(s->ssl, s->fd, r, deadline))
			return (0);
	}
	while (hl < 12) {
		ERR_clear_error();
		r = SSL_read(s->ssl, head + hl, (int)(sizeof(head) - hl));
		if (r > 0)
			hl += (size_t)r;
		else if (!ssl_wait(s->ssl, s->fd, r, deadline))
			return (0);
	}
	ERR_clear_error();
	return (memcmp(head, "HTTP/1.", 7) == 0 && memcmp(head + 9, "200", 3) == 0);
}

/* count_open - how many of the descriptors the peer has not closed */
static long
count_open(const int *fds, size_t n)
{
	struct pollfd *pf = calloc(n ? n : 1, sizeof(*pf));
	size_t	 i;
	long	 open_n = 0;

	if (pf == NULL)
		return (-1);
	for (i = 0; i < n; i++) {
		pf[i].fd = fds[i];
		pf[i].events = POLLRDHUP;
	}
	if (poll(pf, (nfds_t)n, 0) < 0) {
		free(pf);
		return (-1);
	}
	for (i = 0; i < n; i++)
		if (fds[i] >= 0 && !(pf[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			open_n++;
	free(pf);
	return (open_n);
}

/*
 * idle_check - at the end of the hold: with a request, a sample of the
 * idle sessions must answer it; then count those still open.
 */
static void
idle_check(struct worker *w, long *still_open, int *echo_ok, int *echo_tried)
{
	int	*fds = calloc((size_t)w->nslots + 1, sizeof(int));
	int	 i, n = 0, step;

	*echo_ok = *echo_tried = 0;
	if (fds == NULL) {
		*still_open = -1;
		return;
	}
	for (i = 0; i < w->nslots; i++)
		if (w->slots[i].st == ST_IDLE)
			fds[n++] = w->slots[i].fd;
	if (O.reqlen > 0 && n > 0) {
		step = n / ECHO_SAMPLE > 0 ? n / ECHO_SAMPLE : 1;
		for (i = 0; i < w->nslots && *echo_tried < ECHO_SAMPLE; i++) {
			struct slot *s = &w->slots[i];

			if (s->st != ST_IDLE || s->ssl == NULL)
				continue;
			if ((i % step) != 0)
				continue;
			(*echo_tried)++;
			*echo_ok += echo_one(s);
		}
	}
	*still_open = count_open(fds, (size_t)n);
	free(fds);
}

/*
 * half_hello - the first half of a fresh ClientHello (the TLS record as
 * OpenSSL would send it), into buf; its length, or 0.
 */
static size_t
half_hello(SSL_CTX *ctx, unsigned char *buf, size_t cap)
{
	SSL	*ssl = SSL_new(ctx);
	BIO	*rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	char	*p;
	long	 len;
	size_t	 half = 0;

	if (ssl == NULL || rb == NULL || wb == NULL) {
		SSL_free(ssl);
		BIO_free(rb);
		BIO_free(wb);
		return (0);
	}
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	(void)SSL_do_handshake(ssl);		/* wants the ServerHello */
	len = BIO_get_mem_data(wb, &p);
	if (len > 10) {
		half = (size_t)len / 2;
		if (half > cap)
			half = cap;
		memcpy(buf, p, half);
	}
	SSL_free(ssl);
	ERR_clear_error();
	return (half);
}

/*
 * run_stall - stall mode: N connections, each with half a ClientHello
 * and then nothing; at most O.conc connecting at a time.
 */
static int
run_stall(void)
{
	struct epoll_event ev[256];
	SSL_CTX	*ctx = make_ctx();
	int	*fds, *st, ep, i, n, on = 1;
	long	 ok = 0, bad = 0, started = 0, inflight = 0, still;
	int64_t	*t0, open_until = now_us() + (int64_t)(O.open_s * 1e6), hold_until;
	const char *err = "";

	fds = calloc((size_t)O.idle_n, sizeof(int));
	st = calloc((size_t)O.idle_n, sizeof(int));	/* 0 new, 1 connecting, 2 held, 3 failed */
	t0 = calloc((size_t)O.idle_n, sizeof(int64_t));
	if (ctx == NULL || fds == NULL || st == NULL || t0 == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("%s", "stall: set-up failed");
	for (i = 0; i < O.idle_n; i++)
		fds[i] = -1;
	while (!stop_flag && (started < O.idle_n || inflight > 0)) {
		int64_t	 t = now_us();

		while (!stop_flag && started < O.idle_n && inflight < O.conc &&
		    t < open_until) {
			struct epoll_event e;
			int	 k = (int)started++, fd;

			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				st[k] = 3;
				bad++;
				err = "socket";
				continue;
			}
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
			if (connect(fd, (struct sockaddr *)&O.addr, sizeof(O.addr)) < 0 &&
			    errno != EINPROGRESS) {
				close(fd);
				st[k] = 3;
				bad++;
				err = "connect";
				continue;
			}
			memset(&e, 0, sizeof(e));
			e.events = EPOLLOUT;
			e.data.u32 = (uint32_t)k;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
				fatal("%s", "stall: epoll_ctl");
			fds[k] = fd;
			st[k] = 1;
			t0[k] = t;
			inflight++;
		}
		if (started < O.idle_n && t >= open_until) {
			/* Opening is over: the rest fail. */
			bad += O.idle_n - started;
			started = O.idle_n;
			err = "opening deadline";
		}
		n = epoll_wait(ep, ev, 256, 50);
		for (i = 0; i < n; i++) {
			int	 k = (int)ev[i].data.u32, e = 0;
			socklen_t el = sizeof(e);
			unsigned char hello[2048];
			size_t	 hl;

			if (st[k] != 1)
				continue;
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, fds[k], NULL);
			inflight--;
			if (getsockopt(fds[k], SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0 ||
			    (hl = half_hello(ctx, hello, sizeof(hello))) == 0 ||
			    send(fds[k], hello, hl, MSG_NOSIGNAL) != (ssize_t)hl) {
				close(fds[k]);
				fds[k] = -1;
				st[k] = 3;
				bad++;
				err = "connect or send";
				continue;
			}
			st[k] = 2;
			ok++;
		}
		/* Connections that take too long fail. */
		t = now_us();
		for (i = 0; inflight > 0 && i < (int)started; i++)
			if (st[i] == 1 && t - t0[i] > O.sess_timeout_ms * 1000LL) {
				(void)epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				close(fds[i]);
				fds[i] = -1;
				st[i] = 3;
				bad++;
				inflight--;
				err = "connect timeout";
			}
	}
	printf("READY %ld %ld\n", ok, bad);
	fflush(stdout);
	hold_until = now_us() + (int64_t)(O.duration * 1e6);
	while (!stop_flag && now_us() < hold_until)
		usleep(20000);
	{
		int	 m = 0;

		for (i = 0; i < O.idle_n; i++)
			if (st[i] == 2)
				fds[m++] = fds[i];
		still = count_open(fds, (size_t)m);
		for (i = 0; i < m; i++)
			close(fds[i]);
	}
	printf("{\"mode\": \"stall\", \"label\": \"%s\", \"opened\": %ld, "
	    "\"failed\": %ld, \"still_open\": %ld, \"error\": \"%s\"}\n",
	    O.label, ok, bad, still, err);
	return (ok == O.idle_n ? 0 : 1);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static char *
unescape(const char *in, size_t *len)
{
	char	*out = malloc(strlen(in) + 1), *o = out;

	if (out == NULL)
		exit(1);
	for (; *in; in++) {
		if (in[0] == '\\' && in[1] == 'r') {
			*o++ = '\r';
			in++;
		} else if (in[0] == '\\' && in[1] == 'n') {
			*o++ = '\n';
			in++;
		} else
			*o++ = *in;
	}
	*len = (size_t)(o - out);
	return (out);
}

/*
 * make_message - the message as sent after DATA's 354: headers, a body
 * of O.msgsize bytes in lines of at most 78 characters (every eighth
 * starts with a dot, so dot-stuffing is exercised), then ".\r\n".
 */
static void
make_message(void)
{
	static const char hdr[] =
	    "From: <loadgen@bench.test>\r\n"
	    "To: <sink@bench.test>\r\n"
	    "Subject: tlsproxy benchmark\r\n"
	    "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
	    "Message-ID: <loadgen.1@bench.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n";
	size_t	 cap = sizeof(hdr) + (size_t)O.msgsize + (size_t)O.msgsize / 40 + 16;
	long	 left = O.msgsize, lineno = 0;
	char	*m = malloc(cap), *p;

	if (m == NULL)
		fatal("%s", "out of memory");
	memcpy(m, hdr, sizeof(hdr) - 1);
	p = m + sizeof(hdr) - 1;
	while (left >= 2) {
		long	 n = left - 2 > 76 ? 76 : left - 2, i;

		for (i = 0; i < n; i++)
			p[i] = (char)('a' + (i + lineno) % 26);
		if (n > 0 && lineno % 8 == 3) {
			p[0] = '.';
			memmove(p + 1, p, (size_t)n);	/* stuffed: ".." on the wire */
			p++;
		}
		p += n;
		*p++ = '\r';
		*p++ = '\n';
		left -= n + 2;
		lineno++;
	}
	memcpy(p, ".\r\n", 3);
	p += 3;
	O.msg = m;
	O.msglen = (size_t)(p - m);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen tls -a HOST:PORT [-q REQUEST] [options]\n"
	    "       loadgen handoff -u SOCKET [-p BYTES] [options]\n"
	    "       loadgen smtp -a HOST:PORT [-m BYTES] [options]\n"
	    "       loadgen idle -a HOST:PORT -N SESSIONS [-C OPENING] [-d HOLD] [-q REQUEST]\n"
	    "       loadgen stall -a HOST:PORT -N SESSIONS [-C OPENING] [-d HOLD]\n"
	    "       loadgen cpu|rss PID...\n"
	    "options: -C conc -d secs -n max -t threads -V 1.2|1.3 -r none|ticket|id\n"
	    "         -k ecdsa|rsa -P pid[,pid] -L label -D -T session-timeout\n"
	    "         -o opening-deadline (idle, stall)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	struct sigaction sa;
	struct rlimit rl;
	long long cpu0 = 0, cpu1 = 0;
	int64_t	 self0 = 0, self1 = 0;
	int	 ch, i, t;
	char	*p;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "cpu") == 0 || strcmp(argv[1], "rss") == 0) {
		pid_t	 roots[64];
		int	 nr = 0;

		for (i = 2; i < argc && nr < 64; i++)
			roots[nr++] = (pid_t)atoi(argv[i]);
		printf("%lld\n", tree_sum(roots, nr, argv[1][0] == 'r'));
		return (0);
	}
	if (strcmp(argv[1], "tls") == 0)
		O.mode = M_TLS;
	else if (strcmp(argv[1], "handoff") == 0)
		O.mode = M_HANDOFF;
	else if (strcmp(argv[1], "idle") == 0)
		O.mode = M_IDLE;
	else if (strcmp(argv[1], "smtp") == 0)
		O.mode = M_SMTP;
	else if (strcmp(argv[1], "stall") == 0)
		O.mode = M_STALL;
	else
		usage();
	O.conc = 16;
	O.threads = 1;
	O.duration = 5;
	O.open_s = 120;
	O.sess_timeout_ms = 10000;
	O.drain_ms = DRAIN_MS;
	O.maxsess = 10000000;
	O.version = TLS1_3_VERSION;
	O.pay = 64;
	O.msgsize = 4096;
	O.req = "";
	O.label = "";
	optind = 2;
	while ((ch = getopt(argc, argv, "a:u:C:d:n:t:V:r:k:q:p:m:P:L:N:DT:o:")) != -1) {
		switch (ch) {
		case 'a':
			if ((p = strrchr(optarg, ':')) == NULL)
				usage();
			*p = '\0';
			O.addr.sin_family = AF_INET;
			O.addr.sin_port = htons((uint16_t)atoi(p + 1));
			if (inet_pton(AF_INET, optarg, &O.addr.sin_addr) != 1)
				fatal("bad address %s (IPv4 literal expected)", optarg);
			break;
		case 'u':
			if (strlen(optarg) >= sizeof(O.upath))
				fatal("socket path too long: %s", optarg);
			strcpy(O.upath, optarg);
			break;
		case 'C': O.conc = atoi(optarg); break;
		case 'd': O.duration = atof(optarg); break;
		case 'n': O.maxsess = atol(optarg); break;
		case 't': O.threads = atoi(optarg); break;
		case 'N': O.idle_n = atoi(optarg); break;
		case 'V':
			O.version = strcmp(optarg, "1.2") == 0 ? TLS1_2_VERSION :
			    TLS1_3_VERSION;
			break;
		case 'r':
			O.resume = strcmp(optarg, "ticket") == 0 ? R_TICKET :
			    strcmp(optarg, "id") == 0 ? R_ID : R_NONE;
			break;
		case 'k': O.kind = optarg; break;
		case 'q': O.req = unescape(optarg, &O.reqlen); break;
		case 'p': O.pay = atoi(optarg); break;
		case 'm': O.msgsize = atol(optarg); break;
		case 'P':
			for (p = strtok(optarg, ","); p && O.ncpu_pids < 16; p = strtok(NULL, ","))
				O.cpu_pids[O.ncpu_pids++] = (pid_t)atoi(p);
			break;
		case 'L': O.label = optarg; break;
		case 'D': O.nodelay_passed = 1; break;
		case 'T':
			/* the sessions in flight at the end get as long */
			O.sess_timeout_ms = O.drain_ms = (long)(atof(optarg) * 1000);
			break;
		case 'o': O.open_s = atof(optarg); break;
		default:
			usage();
		}
	}
	if (O.mode == M_HANDOFF ? O.upath[0] == '\0' : O.addr.sin_family == 0)
		usage();
	if (O.mode == M_IDLE || O.mode == M_STALL) {
		if (O.idle_n < 1)
			usage();
		/* -C is the opening concurrency; each slot holds one session. */
		if (O.threads > 1)
			O.threads = 1;
	}
	if (O.sess_timeout_ms < 100 || O.open_s <= 0 || O.open_s > 3600)
		usage();
	if (O.conc < 1 || O.threads < 1 || O.duration <= 0 ||
	    O.duration > (O.mode == M_IDLE || O.mode == M_STALL ? 3600 : 600) ||
	    O.pay < 0 || O.msgsize < 0 || O.msgsize > 64L * 1024 * 1024)
		usage();
	if (O.mode == M_SMTP)
		make_message();
	if (O.threads > O.conc)
		O.threads = O.conc;
	memset(payload, 'x', sizeof(payload));

	/* Enough descriptors for the sessions. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (O.mode == M_STALL)
		return (run_stall());

	if ((ws = calloc((size_t)O.threads, sizeof(*ws))) == NULL)
		return (1);
	pthread_barrier_init(&phase_barrier, NULL, (unsigned)O.threads + 1);
	for (t = 0; t < O.threads; t++) {
		struct worker *w = &ws[t];
		int	 total = O.mode == M_IDLE ? O.idle_n : O.conc;

		w->idx = t;
		w->nslots = total / O.threads + (t < total % O.threads);
		w->maxsess = O.maxsess / O.threads + (t < O.maxsess % O.threads);
		w->inflight = O.conc / O.threads + (t < O.conc % O.threads);
		if ((w->slots = calloc((size_t)w->nslots, sizeof(struct slot))) == NULL)
			return (1);
		for (i = 0; i < w->nslots; i++) {
			w->slots[i].fd = w->slots[i].ufd = w->slots[i].srvfd = -1;
			w->slots[i].ref.s = &w->slots[i];
		}
		if ((w->ctx = make_ctx()) == NULL) {
			ERR_print_errors_fp(stderr);
			fatal("%s", "cannot set up the TLS client context");
		}
		if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			fatal("%s", "epoll_create1");
		w->lfd = -1;
		if (O.mode == M_HANDOFF) {
			struct sockaddr_in a;

			memset(&a, 0, sizeof(a));
			a.sin_family = AF_INET;
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if ((w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
			    bind(w->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
			    listen(w->lfd, 128) < 0)
				fatal("%s", "loopback listener");
		}
	}
	for (t = 0; t < O.threads; t++)
		if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]) != 0)
			fatal("%s", "pthread_create");
	if (O.mode == M_IDLE) {
		long	 ok = 0, bad = 0, still = -1;
		int	 echo_ok = 0, echo_tried = 0;
		int64_t	 hold_until;

		pthread_barrier_wait(&phase_barrier);
		for (t = 0; t < O.threads; t++) {
			ok += ws[t].idle_ok;
			bad += ws[t].failed + ws[t].aborted;
		}
		printf("READY %ld %ld\n", ok, bad);
		fflush(stdout);
		hold_until = now_us() + (int64_t)(O.duration * 1e6);
		while (!stop_flag && now_us() < hold_until)
			usleep(20000);
		/* The worker waits at the barrier: its slots are ours now. */
		idle_check(&ws[0], &still, &echo_ok, &echo_tried);
		pthread_barrier_wait(&phase_barrier);
		for (t = 0; t < O.threads; t++)
			pthread_join(ws[t].tid, NULL);
		printf("{\"mode\": \"idle\", \"label\": \"%s\", \"opened\": %ld, "
		    "\"failed\": %ld, \"still_open\": %ld, \"echo_ok\": %d, "
		    "\"echo_tried\": %d, \"error\": \"%s\"}\n", O.label, ok, bad,
		    still, echo_ok, echo_tried, ws[0].lasterr);
		return (ok == O.idle_n ? 0 : 1);
	}
	/* Measured window: from the end of the warm-up to the last session. */
	pthread_barrier_wait(&phase_barrier);
	if (O.ncpu_pids)
		cpu0 = cpu_tree_us(O.cpu_pids, O.ncpu_pids);
	self0 = self_cpu_us();
	measure_start_ms = now_us() / 1000;
	pthread_barrier_wait(&phase_barrier);
	for (t = 0; t < O.threads; t++)
		pthread_join(ws[t].tid, NULL);
	measure_end_ms = now_us() / 1000;
	self1 = self_cpu_us();
	if (O.ncpu_pids)
		cpu1 = cpu_tree_us(O.cpu_pids, O.ncpu_pids);

	{
		struct lat hs = { 0 }, ss = { 0 };
		long	 ok = 0, failed = 0, resumed = 0, aborted = 0, wfail = 0;
		uint64_t bytes = 0;
		double	 el = (double)(measure_end_ms - measure_start_ms) / 1000.0;
		const char *err = "";

		for (t = 0; t < O.threads; t++) {
			struct worker *w = &ws[t];
			size_t	 k;

			ok += w->ok;
			failed += w->failed;
			resumed += w->resumed;
			aborted += w->aborted;
			wfail += w->warm_failed;
			bytes += w->bytes;
			if (w->lasterr[0])
				err = w->lasterr;
			for (k = 0; k < w->hs.n; k++) {
				lat_add(&hs, w->hs.v[k]);
				lat_add(&ss, w->sess.v[k]);
			}
		}
		qsort(hs.v, hs.n, sizeof(uint32_t), cmp_u32);
		qsort(ss.v, ss.n, sizeof(uint32_t), cmp_u32);
		if (el <= 0)
			el = 0.001;
		printf("{\"mode\": \"%s\", \"label\": \"%s\", \"tls\": \"%s\", "
		    "\"resume\": \"%s\", \"kind\": \"%s\", \"concurrency\": %d, "
		    "\"threads\": %d, \"sessions\": %ld, \"failed\": %ld, "
		    "\"warmup_failed\": %ld, \"aborted\": %ld, \"resumed\": %ld, "
		    "\"elapsed_s\": %.3f, \"hs_per_s\": %.1f, "
		    "\"hs_p50_us\": %.0f, \"hs_p99_us\": %.0f, "
		    "\"sess_p50_us\": %.0f, \"sess_p99_us\": %.0f, "
		    "\"bytes\": %llu, \"mb_per_s\": %.2f",
		    O.mode == M_TLS ? "tls" : O.mode == M_SMTP ? "smtp" : "handoff", O.label,
		    O.version == TLS1_3_VERSION ? "1.3" : "1.2",
		    O.resume == R_TICKET ? "ticket" : O.resume == R_ID ? "id" : "none",
		    O.kind ? O.kind : "any", O.conc, O.threads, ok, failed, wfail,
		    aborted, resumed, el, ok / el, pct(&hs, 0.5), pct(&hs, 0.99),
		    pct(&ss, 0.5), pct(&ss, 0.99), (unsigned long long)bytes,
		    (double)bytes / el / 1e6);
		if (O.mode == M_SMTP)
			printf(", \"msg_body_bytes\": %ld, \"msg_wire_bytes\": %zu",
			    O.msgsize, O.msglen);
		if (O.ncpu_pids)
			printf(", \"cpu_us\": %lld, \"cpu_us_per_session\": %.1f",
			    cpu1 - cpu0, ok ? (double)(cpu1 - cpu0) / (double)ok : 0.0);
		/* 100 = one CPU busy: the load side may be what limits the rate. */
		printf(", \"loadgen_cpu_pct\": %.0f", (double)(self1 - self0) / (el * 1e4));
		printf(", \"error\": \"");
		for (; *err; err++)
			putchar(*err == '"' || *err == '\\' ? '\'' : *err);
		printf("\"}\n");
		return (ok > 0 ? 0 : 1);
	}
}
