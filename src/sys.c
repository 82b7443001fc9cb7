/*
 * NAME
 *	sys - small system helpers: fds, deadlines, addresses
 * DESCRIPTION
 *	See sys.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

void
sys_close(int *fdp)
{
	int	 saved = errno;

	if (*fdp >= 0) {
		(void)close(*fdp);
		*fdp = -1;
	}
	errno = saved;
}

int
sys_set_nonblock(int fd, int on)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return (fcntl(fd, F_SETFL, fl) == -1 ? -1 : 0);
}

int
sys_set_cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1 ? -1 : 0);
}

int64_t
sys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
sys_ms_left(int64_t deadline)
{
	int64_t	 left;

	if (deadline < 0)
		return (-1);
	left = deadline - sys_now_ms();
	if (left < 0)
		return (0);
	return (left > INT_MAX ? INT_MAX : (int)left);
}

int
sys_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int	 n;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		pfd.revents = 0;
		n = poll(&pfd, 1, sys_ms_left(deadline));
		if (n > 0)
			return (pfd.revents);
		if (n == 0)
			return (0);
		if (errno != EINTR)
			return (-1);
	}
}

int
sys_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	ssize_t	 n;
	int	 r;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return (-1);
		if ((r = sys_wait(fd, POLLOUT, deadline)) < 0)
			return (-1);
		if (r == 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
	}
	return (0);
}

int
sys_parse_addr(const char *spec, int passive, struct sys_addr *a,
    char *err, size_t errlen)
{
	char	 host[256];
	const char *colon, *port;
	struct addrinfo hints, *res;
	struct sockaddr_un *sun;
	size_t	 hlen;
	int	 rc;

	memset(a, 0, sizeof(*a));
	if (spec[0] == '/') {
		sun = (struct sockaddr_un *)&a->ss;
		if (strlen(spec) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "UNIX socket path too long: %s", spec);
			return (-1);
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, spec);
		a->len = (socklen_t)sizeof(*sun);
		return (0);
	}
	if (spec[0] == '[') {
		if ((colon = strstr(spec, "]:")) == NULL) {
			snprintf(err, errlen, "bad address \"%s\" (want [v6addr]:port)", spec);
			return (-1);
		}
		hlen = (size_t)(colon - spec - 1);
		port = colon + 2;
		if (hlen >= sizeof(host)) {
			snprintf(err, errlen, "host name too long in \"%s\"", spec);
			return (-1);
		}
		memcpy(host, spec + 1, hlen);
		host[hlen] = '\0';
	} else {
		if ((colon = strrchr(spec, ':')) == NULL) {
			snprintf(err, errlen, "bad address \"%s\" (want host:port)", spec);
			return (-1);
		}
		hlen = (size_t)(colon - spec);
		port = colon + 1;
		if (hlen >= sizeof(host)) {
			snprintf(err, errlen, "host name too long in \"%s\"", spec);
			return (-1);
		}
		memcpy(host, spec, hlen);
		host[hlen] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(strcmp(host, "*") == 0 || host[0] == '\0' ? NULL : host,
	    port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s", spec, gai_strerror(rc));
		return (-1);
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

void
sys_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	char	 host[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_un *sun;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_UNIX && len > sizeof(sa_family_t)) {
		sun = (const struct sockaddr_un *)sa;
		snprintf(buf, buflen, "%s", sun->sun_path[0] ? sun->sun_path : "local");
	} else {
		snprintf(buf, buflen, "%s", sa->sa_family == AF_UNIX ? "local" : "unknown");
	}
}

/* sys_secmem_size - len rounded up to whole pages */
static size_t
sys_secmem_size(size_t len)
{
	long	 pg = sysconf(_SC_PAGESIZE);
	size_t	 page = pg > 0 ? (size_t)pg : 4096;

	if (len == 0 || len > SIZE_MAX - page)
		return (0);
	return ((len + page - 1) / page * page);
}

void *
sys_secmem_alloc(size_t len)
{
	size_t	 size = sys_secmem_size(len);
	void	*p;

	if (size == 0) {
		errno = EINVAL;
		return (NULL);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
#ifdef MADV_DONTDUMP
	/*
	 * PR_SET_DUMPABLE already stops most dumps; this also covers a
	 * dump taken anyway (fs.suid_dumpable = 2, gcore as root).
	 */
	(void)madvise(p, size, MADV_DONTDUMP);
#endif
	sys_secmem_relock(p, len);
	return (p);
}

void
sys_secmem_relock(void *p, size_t len)
{
	int	 saved = errno;

	/* Best effort: RLIMIT_MEMLOCK may be small for unprivileged users. */
	if (p != NULL && sys_secmem_size(len) != 0)
		(void)mlock(p, sys_secmem_size(len));
	errno = saved;
}

void
sys_secmem_free(void *p, size_t len)
{
	size_t	 size = sys_secmem_size(len);
	int	 saved = errno;

	if (p == NULL || size == 0)
		return;
	explicit_bzero(p, size);
	(void)munlock(p, size);
	(void)munmap(p, size);
	errno = saved;
}

void
sys_printable(char *dst, size_t dstlen, const char *src)
{
	size_t	 i;

	if (dstlen == 0)
		return;
	for (i = 0; src[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = isprint((unsigned char)src[i]) ? src[i] : '?';
	dst[i] = '\0';
}
