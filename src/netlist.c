/*
 * NAME
 *	netlist - lists of networks (address/prefix) and client addresses
 * DESCRIPTION
 *	See netlist.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlist.h"

#define NETLIST_SEP	" \t\r\n,"

/* netlist_text_addr - "a.b.c.d" or an IPv6 address, no brackets */
static int
netlist_text_addr(const char *s, struct netlist_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return (0);
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = AF_INET6;
		/* ::ffff:a.b.c.d is the IPv4 client it carries. */
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a->b)) {
			memmove(a->b, a->b + 12, 4);
			memset(a->b + 4, 0, 12);
			a->family = AF_INET;
		}
		return (0);
	}
	return (-1);
}

/* netlist_element - one "addr", "addr/len", "[v6]" or "[v6]/len" */
static int
netlist_element(const char *tok, struct netlist_net *n, char *err, size_t errlen)
{
	char	 buf[128], *slash, *end, *a = buf;
	long	 len = -1;
	int	 bits, i;

	if (strlen(tok) >= sizeof(buf)) {
		snprintf(err, errlen, "\"%.40s...\" is too long for a network",
		    tok);
		return (-1);
	}
	strcpy(buf, tok);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		len = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || len < 0) {
			snprintf(err, errlen, "bad prefix length in \"%s\"", tok);
			return (-1);
		}
	}
	if (*a == '[') {
		a++;
		if ((end = strchr(a, ']')) == NULL || end[1] != '\0') {
			snprintf(err, errlen, "missing \"]\" in \"%s\"", tok);
			return (-1);
		}
		*end = '\0';
	}
	if (netlist_text_addr(a, &n->a) < 0) {
		snprintf(err, errlen, "\"%s\" is not an IP address or network "
		    "(address or address/prefix)", tok);
		return (-1);
	}
	bits = n->a.family == AF_INET ? 32 : 128;
	if (len > bits) {
		snprintf(err, errlen, "prefix length in \"%s\" is larger than %d",
		    tok, bits);
		return (-1);
	}
	n->prefix = len < 0 ? bits : (int)len;
	for (i = n->prefix; i < bits; i++)
		if (n->a.b[i / 8] & (0x80 >> (i % 8))) {
			snprintf(err, errlen, "\"%s\" has host bits set under its "
			    "prefix length", tok);
			return (-1);
		}
	return (0);
}

int
netlist_parse(const char *spec, struct netlist *nl, char *err, size_t errlen)
{
	char	*copy, *tok, *save;
	struct netlist_net *v;

	nl->v = NULL;
	nl->n = 0;
	if ((copy = strdup(spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	for (tok = strtok_r(copy, NETLIST_SEP, &save); tok != NULL;
	    tok = strtok_r(NULL, NETLIST_SEP, &save)) {
		if ((v = realloc(nl->v, (nl->n + 1) * sizeof(*v))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto bad;
		}
		nl->v = v;
		if (netlist_element(tok, &nl->v[nl->n], err, errlen) < 0)
			goto bad;
		nl->n++;
	}
	free(copy);
	return (0);
bad:
	free(copy);
	netlist_free(nl);
	return (-1);
}

void
netlist_free(struct netlist *nl)
{
	free(nl->v);
	nl->v = NULL;
	nl->n = 0;
}

int
netlist_match(const struct netlist *nl, const struct netlist_addr *a)
{
	const struct netlist_net *n;
	size_t	 i;
	int	 full, rest;

	for (i = 0; i < nl->n; i++) {
		n = &nl->v[i];
		if (n->a.family != a->family)
			continue;
		full = n->prefix / 8;
		rest = n->prefix % 8;
		if (memcmp(n->a.b, a->b, (size_t)full) != 0)
			continue;
		if (rest != 0 && ((n->a.b[full] ^ a->b[full]) &
		    (0xff << (8 - rest)) & 0xff) != 0)
			continue;
		return (1);
	}
	return (0);
}

int
netlist_addr_from_sa(const struct sockaddr *sa, struct netlist_addr *a)
{
	const struct sockaddr_in6 *s6;

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return (0);
	}
	if (sa->sa_family != AF_INET6)
		return (-1);
	s6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		a->family = AF_INET;
		memcpy(a->b, s6->sin6_addr.s6_addr + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->b, s6->sin6_addr.s6_addr, 16);
	}
	return (0);
}

int
netlist_addr_parse(const char *text, struct netlist_addr *a)
{
	char	 buf[128], *p = buf, *end;

	if (strlen(text) >= sizeof(buf))
		return (-1);
	strcpy(buf, text);
	if (*p == '[') {
		/* "[addr]:port" (Postfix's endpoint) or "[addr]" */
		p++;
		if ((end = strchr(p, ']')) == NULL)
			return (-1);
		*end = '\0';
	} else if ((end = strrchr(p, ':')) != NULL && strchr(p, ':') == end &&
	    strchr(p, '.') != NULL) {
		*end = '\0';		/* "a.b.c.d:port" */
	}
	return (netlist_text_addr(p, a));
}

void
netlist_addr_str(const struct netlist_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->b, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}
