/*
 * NAME
 *	proxyproto - PROXY protocol v1 and v2 headers (HAProxy's specification)
 * DESCRIPTION
 *	See proxyproto.h. Written from the specification's text
 *	(sections 2.1 and 2.2); all multi-byte numbers are in network
 *	order.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

struct pp_addr {
	int		 family;	/* AF_INET, AF_INET6, or 0: not usable */
	unsigned char	 addr[16];	/* 4 or 16 bytes used */
	uint16_t	 port;		/* host order */
};

/* pp_addr_of - the address in the form the header carries */
static void
pp_addr_of(const struct sockaddr *sa, struct pp_addr *a)
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	memset(a, 0, sizeof(*a));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		s4 = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		memcpy(a->addr, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)sa;
		a->port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = AF_INET;
			memcpy(a->addr, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->addr, &s6->sin6_addr, 16);
		}
	}
}

ssize_t
pp_v1_encode(const struct sockaddr *src, const struct sockaddr *dst,
    char *out, size_t outlen)
{
	struct pp_addr s, d;
	char	 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	int	 n;

	pp_addr_of(src, &s);
	pp_addr_of(dst, &d);
	if (s.family == 0 || s.family != d.family) {
		n = snprintf(out, outlen, "PROXY UNKNOWN\r\n");
	} else {
		if (inet_ntop(s.family, s.addr, sa, sizeof(sa)) == NULL ||
		    inet_ntop(d.family, d.addr, da, sizeof(da)) == NULL)
			return (-1);
		n = snprintf(out, outlen, "PROXY %s %s %s %u %u\r\n",
		    s.family == AF_INET ? "TCP4" : "TCP6", sa, da,
		    (unsigned int)s.port, (unsigned int)d.port);
	}
	if (n < 0 || (size_t)n >= outlen || n > PP_V1_MAX)
		return (-1);
	return (n);
}

/* pp_put - append bytes; 0, or -1 when they do not fit */
static int
pp_put(unsigned char *out, size_t outlen, size_t *o, const void *p, size_t n)
{
	if (n > outlen - *o)
		return (-1);
	memcpy(out + *o, p, n);
	*o += n;
	return (0);
}

/* pp_put16 - a 16-bit number in network order */
static int
pp_put16(unsigned char *out, size_t outlen, size_t *o, size_t v)
{
	unsigned char b[2];

	if (v > 0xffff)
		return (-1);
	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
	return (pp_put(out, outlen, o, b, 2));
}

/* pp_tlv - one TLV with a string value; absent strings are skipped */
static int
pp_tlv(unsigned char *out, size_t outlen, size_t *o, unsigned char type,
    const char *value)
{
	size_t	 n;

	if (value == NULL)
		return (0);
	n = strlen(value);
	if (pp_put(out, outlen, o, &type, 1) < 0 ||
	    pp_put16(out, outlen, o, n) < 0 ||
	    pp_put(out, outlen, o, value, n) < 0)
		return (-1);
	return (0);
}

/* pp_tlv_ssl - PP2_TYPE_SSL with its sub-TLVs */
static int
pp_tlv_ssl(unsigned char *out, size_t outlen, size_t *o,
    const struct pp_tls *t)
{
	unsigned char head[6], type = PP2_TYPE_SSL;
	size_t	 lenat, start;

	head[0] = PP2_CLIENT_SSL | (t->cert_conn ? PP2_CLIENT_CERT_CONN : 0) |
	    (t->cert_sess ? PP2_CLIENT_CERT_SESS : 0);
	head[1] = (unsigned char)(t->verify >> 24);
	head[2] = (unsigned char)(t->verify >> 16);
	head[3] = (unsigned char)(t->verify >> 8);
	head[4] = (unsigned char)t->verify;
	if (pp_put(out, outlen, o, &type, 1) < 0)
		return (-1);
	lenat = *o;
	if (pp_put16(out, outlen, o, 0) < 0)	/* filled in below */
		return (-1);
	start = *o;
	if (pp_put(out, outlen, o, head, 5) < 0 ||
	    pp_tlv(out, outlen, o, PP2_SUBTYPE_SSL_VERSION, t->version) < 0 ||
	    pp_tlv(out, outlen, o, PP2_SUBTYPE_SSL_CN, t->cn) < 0 ||
	    pp_tlv(out, outlen, o, PP2_SUBTYPE_SSL_CIPHER, t->cipher) < 0)
		return (-1);
	return (pp_put16(out, outlen, &lenat, *o - start));
}

ssize_t
pp_v2_encode(const struct sockaddr *src, const struct sockaddr *dst,
    const struct pp_tls *tls, unsigned char *out, size_t outlen)
{
	struct pp_addr s, d;
	unsigned char vc[2];
	size_t	 o = 0, lenat, start, alen;

	pp_addr_of(src, &s);
	pp_addr_of(dst, &d);
	vc[0] = PP2_VERSION_PROXY;
	if (s.family == 0 || s.family != d.family)
		vc[1] = PP2_FAM_UNSPEC;
	else
		vc[1] = s.family == AF_INET ? PP2_FAM_TCP4 : PP2_FAM_TCP6;
	if (pp_put(out, outlen, &o, PP_V2_SIG, PP_V2_SIGLEN) < 0 ||
	    pp_put(out, outlen, &o, vc, 2) < 0)
		return (-1);
	lenat = o;
	if (pp_put16(out, outlen, &o, 0) < 0)	/* filled in below */
		return (-1);
	start = o;
	if (vc[1] != PP2_FAM_UNSPEC) {
		alen = s.family == AF_INET ? 4 : 16;
		if (pp_put(out, outlen, &o, s.addr, alen) < 0 ||
		    pp_put(out, outlen, &o, d.addr, alen) < 0 ||
		    pp_put16(out, outlen, &o, s.port) < 0 ||
		    pp_put16(out, outlen, &o, d.port) < 0)
			return (-1);
	}
	if (tls != NULL &&
	    (pp_tlv(out, outlen, &o, PP2_TYPE_AUTHORITY, tls->sni) < 0 ||
	    pp_tlv_ssl(out, outlen, &o, tls) < 0))
		return (-1);
	if (pp_put16(out, outlen, &lenat, o - start) < 0)
		return (-1);
	return ((ssize_t)o);
}
