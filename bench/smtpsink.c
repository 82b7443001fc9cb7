/*
 * NAME
 *	smtpsink - minimal plaintext SMTP server that accepts and drops mail
 * SYNOPSIS
 *	smtpsink -l HOST:PORT [-t THREADS] [-x] [-s SECONDS]
 * DESCRIPTION
 *	The backend of the benchmark's SMTP STARTTLS row: it speaks just
 *	enough SMTP for a client to deliver messages, and is cheap enough
 *	never to be the bottleneck (epoll, non-blocking, no allocation per
 *	command, one buffer pair per connection).
 *
 *	It sends a 220 greeting at once; EHLO gets a multi-line 250
 *	(PIPELINING, SIZE, 8BITMIME; no STARTTLS: the proxy in front adds
 *	it), HELO, MAIL, RCPT, RSET and NOOP get 250, DATA gets 354 and the
 *	message is read up to CRLF.CRLF and dropped (250), QUIT gets 221 and
 *	the connection is closed. STARTTLS and anything else get 502.
 *	Pipelined commands are answered in order.
 *
 *	A PROXY protocol header (v1 text or v2 binary) at the start of a
 *	connection is skipped. With -x it is required, and the greeting
 *	waits for it, as Postfix's smtpd with smtpd_upstream_proxy_protocol
 *	does.
 *
 *	On SIGTERM or SIGINT, or after SECONDS (-s, 0 = no limit; default
 *	3600, so that a forgotten sink ends), it prints one line to stderr
 *	(connections, messages, message bytes) and exits.
 * OPTIONS
 *	-l HOST:PORT	IPv4 address to listen on
 *	-t N		threads, each with its own epoll (default 1)
 *	-x		require a PROXY protocol header
 *	-s S		exit after S seconds
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define INBUF		8192
#define OUTBUF		4096
#define LINE_MAX_LEN	4096	/* longer command lines get 500 */

#define GREETING	"220 sink.bench.test ESMTP smtpsink\r\n"
#define EHLO_REPLY	"250-sink.bench.test\r\n250-PIPELINING\r\n" \
			"250-SIZE 104857600\r\n250 8BITMIME\r\n"
#define SR_OK		"250 2.0.0 Ok\r\n"
#define SR_HELO		"250 sink.bench.test\r\n"
#define SR_MAIL		"250 2.1.0 Ok\r\n"
#define SR_RCPT		"250 2.1.5 Ok\r\n"
#define SR_DATA		"354 End data with <CR><LF>.<CR><LF>\r\n"
#define SR_QUEUED	"250 2.0.0 Ok: queued\r\n"
#define SR_QUIT		"221 2.0.0 Bye\r\n"
#define SR_502		"502 5.5.2 Error: command not recognized\r\n"
#define SR_LONG		"500 5.5.0 Error: line too long\r\n"

static const char PP2_SIG[12] = "\r\n\r\n\0\r\nQUIT\n";

enum cstate {
	C_PROXY,		/* waiting for / reading a PROXY header */
	C_CMD,			/* command lines */
	C_DATA,			/* message content up to CRLF.CRLF */
	C_QUIT,			/* 221 queued: close once it is written */
};

struct conn {
	int	 fd;
	enum cstate st;
	int	 greeted;	/* 220 queued */
	int	 skipping;	/* rest of an overlong line is dropped */
	int	 dotmatch;	/* DATA: chars of "\r\n.\r\n" matched */
	int	 wantout;	/* EPOLLOUT is armed */
	size_t	 inlen, outoff, outlen;
	uint64_t msgbytes;
	char	 in[INBUF];
	char	 out[OUTBUF];
};

static struct sockaddr_in laddr;
static int lfd, nthreads = 1, require_proxy;
static volatile sig_atomic_t stop_flag;
static atomic_ulong n_conns, n_msgs, n_bytes;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
conn_close(int ep, struct conn *c)
{
	(void)ep;		/* close() takes the fd out of the epoll set */
	close(c->fd);
	free(c);
}

/* out_add - queue a reply; 0 when it does not fit (flush first) */
static int
out_add(struct conn *c, const char *s, size_t n)
{
	if (c->outoff > 0 && c->outlen + n > OUTBUF) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + n > OUTBUF)
		return (0);
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
	return (1);
}
#define OUT(c, lit)	out_add((c), (lit), sizeof(lit) - 1)

/* flush - write what is queued; -1 on error, 0 done, 1 would block */
static int
flush(int ep, struct conn *c)
{
	struct epoll_event ev;
	ssize_t	 k;

	while (c->outoff < c->outlen) {
		k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!c->wantout) {
				memset(&ev, 0, sizeof(ev));
				ev.events = EPOLLIN | EPOLLOUT;
				ev.data.ptr = c;
				(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->wantout = 1;
			}
			return (1);
		}
		if (k <= 0)
			return (-1);
		c->outoff += (size_t)k;
	}
	c->outoff = c->outlen = 0;
	if (c->wantout) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->wantout = 0;
	}
	return (0);
}

/*
 * proxy_header - length of a complete PROXY header at the start of the
 * input, 0 if more bytes are needed, -1 if there is none (or a bad one).
 */
static long
proxy_header(const struct conn *c)
{
	size_t	 n = c->inlen, i;

	if (n >= 1 && c->in[0] == 'P') {
		if (memcmp(c->in, "PROXY ", n < 6 ? n : 6) != 0)
			return (-1);
		for (i = 0; i + 1 < n && i < 107; i++)
			if (c->in[i] == '\r' && c->in[i + 1] == '\n')
				return ((long)i + 2);
		return (n >= 108 ? -1 : 0);
	}
	if (n >= 1 && c->in[0] == '\r') {
		if (memcmp(c->in, PP2_SIG, n < 12 ? n : 12) != 0)
			return (-1);
		if (n < 16)
			return (0);
		if (((unsigned char)c->in[12] >> 4) != 2)
			return (-1);
		i = 16 + ((size_t)(unsigned char)c->in[14] << 8 |
		    (unsigned char)c->in[15]);
		if (i > INBUF)
			return (-1);
		return (n >= i ? (long)i : 0);
	}
	return (n == 0 ? 0 : -1);
}

/* command - answer one command line (without its line end) */
static void
command(struct conn *c, const char *line, size_t len)
{
	char	 verb[5];
	size_t	 i;

	for (i = 0; i < 4 && i < len; i++)
		verb[i] = (char)toupper((unsigned char)line[i]);
	verb[i] = '\0';
	if (len > 4 && line[4] != ' ')
		verb[0] = '\0';
	if (strcmp(verb, "EHLO") == 0)
		OUT(c, EHLO_REPLY);
	else if (strcmp(verb, "HELO") == 0)
		OUT(c, SR_HELO);
	else if (strcmp(verb, "MAIL") == 0)
		OUT(c, SR_MAIL);
	else if (strcmp(verb, "RCPT") == 0)
		OUT(c, SR_RCPT);
	else if (strcmp(verb, "RSET") == 0 || strcmp(verb, "NOOP") == 0)
		OUT(c, SR_OK);
	else if (strcmp(verb, "DATA") == 0 && len == 4) {
		OUT(c, SR_DATA);
		c->st = C_DATA;
		c->dotmatch = 2;	/* the DATA line ended with CRLF */
		c->msgbytes = 0;
	} else if (strcmp(verb, "QUIT") == 0 && len == 4) {
		OUT(c, SR_QUIT);
		c->st = C_QUIT;
	} else
		OUT(c, SR_502);
}

/* consume - handle the input; -1 to close the connection */
static int
consume(struct conn *c)
{
	static const char end[] = "\r\n.\r\n";
	size_t	 off = 0;

	while (off < c->inlen) {
		/* Leave room for the longest reply before each step. */
		if (c->outlen - c->outoff > OUTBUF - 256)
			break;
		switch (c->st) {
		case C_PROXY: {
			long	 h = proxy_header(c);

			if (h < 0) {
				if (require_proxy)
					return (-1);
				c->st = C_CMD;	/* no header: plain SMTP */
				continue;
			}
			if (h == 0)
				goto out;
			off = (size_t)h;
			c->st = C_CMD;
			if (!c->greeted) {
				OUT(c, GREETING);
				c->greeted = 1;
			}
			continue;
		}
		case C_DATA: {
			const char *p = c->in + off, *e = c->in + c->inlen;
			int	 k = c->dotmatch;

			while (p < e && k < 5) {
				char	 ch = *p++;

				if (ch == end[k])
					k++;
				else
					k = ch == '\r' ? 1 : 0;
			}
			c->msgbytes += (uint64_t)(p - (c->in + off));
			off = (size_t)(p - c->in);
			c->dotmatch = k;
			if (k == 5) {
				atomic_fetch_add(&n_msgs, 1);
				atomic_fetch_add(&n_bytes, c->msgbytes);
				OUT(c, SR_QUEUED);
				c->st = C_CMD;
			}
			continue;
		}
		case C_CMD: {
			char	*nl = memchr(c->in + off, '\n', c->inlen - off);
			size_t	 len;

			if (nl == NULL) {
				if (c->inlen - off >= LINE_MAX_LEN) {
					/* Overlong: drop what we have, answer at its end. */
					if (!c->skipping)
						OUT(c, SR_LONG);
					c->skipping = 1;
					off = c->inlen;
				}
				goto out;
			}
			len = (size_t)(nl - (c->in + off));
			if (!c->skipping)
				command(c, c->in + off,
				    len > 0 && nl[-1] == '\r' ? len - 1 : len);
			c->skipping = 0;
			off += len + 1;
			continue;
		}
		case C_QUIT:
			off = c->inlen;		/* ignore anything after QUIT */
			continue;
		}
	}
out:
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	return (0);
}

/*
 * conn_event - read, answer, write; closes at the end. Level-triggered:
 * one read per event unless it filled the buffer, since epoll reports
 * the rest (saves a read that would only say EAGAIN).
 */
static void
conn_event(int ep, struct conn *c, uint32_t events)
{
	ssize_t	 k = -1;
	size_t	 room = 0;
	int	 f;

	if (events & EPOLLERR) {
		conn_close(ep, c);
		return;
	}
	for (;;) {
		if (c->outlen > c->outoff && (f = flush(ep, c)) != 0) {
			if (f < 0)
				conn_close(ep, c);
			return;		/* wait for EPOLLOUT before reading more */
		}
		if (c->st == C_QUIT) {
			conn_close(ep, c);
			return;
		}
		if (c->inlen > 0) {
			if (consume(c) < 0) {
				conn_close(ep, c);
				return;
			}
			if (c->outlen > c->outoff || c->st == C_QUIT)
				continue;
		}
		if (k >= 0 && (size_t)k < room)
			return;		/* drained */
		if (c->inlen == INBUF) {	/* no progress possible */
			conn_close(ep, c);
			return;
		}
		room = INBUF - c->inlen;
		k = recv(c->fd, c->in + c->inlen, room, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		if (k <= 0) {
			conn_close(ep, c);
			return;
		}
		c->inlen += (size_t)k;
	}
}

static void
accept_all(int ep)
{
	struct epoll_event ev;
	struct conn *c;
	int	 fd, on = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;		/* EAGAIN, or another thread took it */
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		memset(c, 0, offsetof(struct conn, in));
		c->fd = fd;
		c->st = C_PROXY;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		atomic_fetch_add(&n_conns, 1);
		if (!require_proxy) {
			OUT(c, GREETING);
			c->greeted = 1;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		/* Greeting now; the client speaks after it. */
		if (c->outlen && flush(ep, c) < 0)
			conn_close(ep, c);
	}
}

static void *
thread_main(void *arg)
{
	struct epoll_event ev[128];
	int	 ep, n, i;

	(void)arg;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("smtpsink: epoll_create1");
		exit(1);
	}
	memset(&ev[0], 0, sizeof(ev[0]));
	ev[0].events = EPOLLIN | EPOLLEXCLUSIVE;
	ev[0].data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev[0]) < 0) {
		perror("smtpsink: epoll_ctl");
		exit(1);
	}
	while (!stop_flag) {
		n = epoll_wait(ep, ev, 128, 200);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				accept_all(ep);
			else
				conn_event(ep, ev[i].data.ptr, ev[i].events);
		}
	}
	return (NULL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtpsink -l HOST:PORT [-t THREADS] [-x] [-s SECONDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	pthread_t *tids;
	double	 limit = 3600;
	time_t	 t0;
	char	*p;
	int	 ch, i, on = 1;

	while ((ch = getopt(argc, argv, "l:t:xs:")) != -1) {
		switch (ch) {
		case 'l':
			if ((p = strrchr(optarg, ':')) == NULL)
				usage();
			*p = '\0';
			laddr.sin_family = AF_INET;
			laddr.sin_port = htons((uint16_t)atoi(p + 1));
			if (inet_pton(AF_INET, optarg, &laddr.sin_addr) != 1)
				usage();
			break;
		case 't': nthreads = atoi(optarg); break;
		case 'x': require_proxy = 1; break;
		case 's': limit = atof(optarg); break;
		default: usage();
		}
	}
	if (laddr.sin_family == 0 || nthreads < 1 || nthreads > 64)
		usage();
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(lfd, (struct sockaddr *)&laddr, sizeof(laddr)) < 0 ||
	    listen(lfd, 4096) < 0) {
		perror("smtpsink: listen");
		return (1);
	}
	if ((tids = calloc((size_t)nthreads, sizeof(*tids))) == NULL)
		return (1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, thread_main, NULL) != 0) {
			perror("smtpsink: pthread_create");
			return (1);
		}
	t0 = time(NULL);
	while (!stop_flag && (limit <= 0 || difftime(time(NULL), t0) < limit))
		usleep(100000);
	stop_flag = 1;
	for (i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	fprintf(stderr, "smtpsink: %lu connections, %lu messages, %lu message bytes\n",
	    atomic_load(&n_conns), atomic_load(&n_msgs), atomic_load(&n_bytes));
	return (0);
}
