/*
 * NAME
 *	fuzz_proxyproto - libFuzzer harness for the PROXY protocol encoders
 * DESCRIPTION
 *	The input describes one connection: byte 0 picks the families of
 *	source and destination (IPv4, IPv6, v4-mapped IPv6, UNIX) and
 *	whether TLS TLVs are sent, then 2 x 16 address bytes, 2 x 2 port
 *	bytes, 4 verify bytes and one flag byte; the rest is NUL-separated
 *	fields: TLS version, cipher, CN, SNI.
 *
 *	Both headers are decoded again by an independent reader written
 *	from the specification and checked: v1 is one CRLF line of at
 *	most 107 bytes whose fields give back the addresses and ports (or
 *	UNKNOWN exactly when the families differ or are not inet); v2
 *	has the signature, version 2 PROXY, the right family and length,
 *	the addresses and ports, and TLVs that tile the rest exactly and
 *	carry the input strings. Exactly sized buffers work and one byte
 *	less is refused.
 */
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proxyproto.h"

#define FZ_HEAD	(1 + 32 + 4 + 4 + 1)

struct fz_addr {
	int		 family;	/* AF_INET / AF_INET6 as sent, 0: none */
	unsigned char	 a[16];
	unsigned int	 port;
};

/* fz_make - a sockaddr of kind k from the input bytes; what it means */
static void
fz_make(int k, const uint8_t *a, const uint8_t *p, struct sockaddr_storage *ss,
    struct fz_addr *m)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_un *su = (struct sockaddr_un *)ss;

	memset(ss, 0, sizeof(*ss));
	memset(m, 0, sizeof(*m));
	m->port = (unsigned int)(p[0] << 8 | p[1]);
	switch (k & 3) {
	case 0:
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		s4->sin_port = htons((uint16_t)m->port);
		m->family = AF_INET;
		memcpy(m->a, a, 4);
		break;
	case 1:
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		s6->sin6_port = htons((uint16_t)m->port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			m->family = AF_INET;
			memcpy(m->a, a + 12, 4);
		} else {
			m->family = AF_INET6;
			memcpy(m->a, a, 16);
		}
		break;
	case 2:		/* v4-mapped, whatever the bytes */
		s6->sin6_family = AF_INET6;
		memset(&s6->sin6_addr.s6_addr[10], 0xff, 2);
		memcpy(&s6->sin6_addr.s6_addr[12], a, 4);
		s6->sin6_port = htons((uint16_t)m->port);
		m->family = AF_INET;
		memcpy(m->a, a, 4);
		break;
	default:
		su->sun_family = AF_UNIX;
		break;
	}
}

static void
fz_v1(const struct sockaddr *src, const struct sockaddr *dst,
    const struct fz_addr *s, const struct fz_addr *d)
{
	char	*out, sa[64], da[64], extra[8];
	unsigned char sb[16], db[16];
	unsigned int sp, dp;
	ssize_t	 n;
	char	 fam[8];
	int	 af;

	if ((out = malloc(PP_V1_MAX + 1)) == NULL)
		abort();
	n = pp_v1_encode(src, dst, out, PP_V1_MAX + 1);
	FUZZ_CHECK(n > 0 && n <= PP_V1_MAX);
	FUZZ_CHECK((size_t)n == strlen(out));
	FUZZ_CHECK(out[n - 2] == '\r' && out[n - 1] == '\n');
	FUZZ_CHECK(strncmp(out, "PROXY ", 6) == 0);
	if (s->family == 0 || s->family != d->family) {
		FUZZ_CHECK(strcmp(out, "PROXY UNKNOWN\r\n") == 0);
	} else {
		FUZZ_CHECK(sscanf(out, "PROXY %7s %63s %63s %u %u%7s", fam, sa, da,
		    &sp, &dp, extra) == 5);
		af = s->family;
		FUZZ_CHECK(strcmp(fam, af == AF_INET ? "TCP4" : "TCP6") == 0);
		FUZZ_CHECK(inet_pton(af, sa, sb) == 1 && inet_pton(af, da, db) == 1);
		FUZZ_CHECK(memcmp(sb, s->a, af == AF_INET ? 4 : 16) == 0);
		FUZZ_CHECK(memcmp(db, d->a, af == AF_INET ? 4 : 16) == 0);
		FUZZ_CHECK(sp == s->port && dp == d->port);
	}
	free(out);
	/* Exact size (the NUL included) works; one less does not. */
	if ((out = malloc((size_t)n + 1)) == NULL)
		abort();
	FUZZ_CHECK(pp_v1_encode(src, dst, out, (size_t)n + 1) == n);
	FUZZ_CHECK(pp_v1_encode(src, dst, out, (size_t)n) == -1);
	free(out);
}

/* fz_tlv - the next TLV of [*p, end): type, value, length */
static int
fz_tlv(const unsigned char **p, const unsigned char *end, int *type,
    const unsigned char **v, size_t *len)
{
	if (end - *p < 3)
		return (0);
	*type = (*p)[0];
	*len = (size_t)((*p)[1] << 8 | (*p)[2]);
	FUZZ_CHECK((size_t)(end - *p) >= 3 + *len);
	*v = *p + 3;
	*p += 3 + *len;
	return (1);
}

/* fz_str - TLV value equals the string */
static void
fz_str(const unsigned char *v, size_t len, const char *want)
{
	FUZZ_CHECK(want != NULL && strlen(want) == len && memcmp(v, want, len) == 0);
}

static void
fz_v2(const struct sockaddr *src, const struct sockaddr *dst,
    const struct fz_addr *s, const struct fz_addr *d, const struct pp_tls *t)
{
	unsigned char *out;
	const unsigned char *p, *end, *v, *sp, *send, *sv;
	size_t	 len, alen, vl, svl, want;
	ssize_t	 n;
	int	 type, stype, seen_auth = 0, seen_ssl = 0;
	int	 seen_ver = 0, seen_cn = 0, seen_cipher = 0;

	/* The size the specification gives for this header. */
	want = PP_V2_HDRLEN;
	if (s->family != 0 && s->family == d->family)
		want += s->family == AF_INET ? 12 : 36;
	if (t != NULL) {
		want += t->sni != NULL ? 3 + strlen(t->sni) : 0;
		want += 3 + 5;
		want += t->version != NULL ? 3 + strlen(t->version) : 0;
		want += t->cn != NULL ? 3 + strlen(t->cn) : 0;
		want += t->cipher != NULL ? 3 + strlen(t->cipher) : 0;
	}
	if ((out = malloc(PP_V2_MAX)) == NULL)
		abort();
	n = pp_v2_encode(src, dst, t, out, PP_V2_MAX);
	if (want > PP_V2_MAX) {
		FUZZ_CHECK(n == -1);
		free(out);
		return;
	}
	FUZZ_CHECK(n >= PP_V2_HDRLEN && (size_t)n == want);
	FUZZ_CHECK(memcmp(out, PP_V2_SIG, PP_V2_SIGLEN) == 0);
	FUZZ_CHECK(out[12] == 0x21);
	len = (size_t)(out[14] << 8 | out[15]);
	FUZZ_CHECK((size_t)n == PP_V2_HDRLEN + len);
	p = out + PP_V2_HDRLEN;
	end = out + n;
	if (s->family == 0 || s->family != d->family) {
		FUZZ_CHECK(out[13] == 0x00);
	} else {
		FUZZ_CHECK(out[13] == (s->family == AF_INET ? 0x11 : 0x21));
		alen = s->family == AF_INET ? 4 : 16;
		FUZZ_CHECK(len >= 2 * alen + 4);
		FUZZ_CHECK(memcmp(p, s->a, alen) == 0);
		FUZZ_CHECK(memcmp(p + alen, d->a, alen) == 0);
		FUZZ_CHECK((unsigned int)(p[2 * alen] << 8 | p[2 * alen + 1]) ==
		    s->port);
		FUZZ_CHECK((unsigned int)(p[2 * alen + 2] << 8 | p[2 * alen + 3]) ==
		    d->port);
		p += 2 * alen + 4;
	}
	while (fz_tlv(&p, end, &type, &v, &vl)) {
		FUZZ_CHECK(t != NULL);
		if (type == PP2_TYPE_AUTHORITY) {
			FUZZ_CHECK(!seen_auth++);
			fz_str(v, vl, t->sni);
			continue;
		}
		FUZZ_CHECK(type == PP2_TYPE_SSL && !seen_ssl++);
		FUZZ_CHECK(vl >= 5);
		FUZZ_CHECK(v[0] == (PP2_CLIENT_SSL |
		    (t->cert_conn ? PP2_CLIENT_CERT_CONN : 0) |
		    (t->cert_sess ? PP2_CLIENT_CERT_SESS : 0)));
		FUZZ_CHECK(((uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 |
		    (uint32_t)v[3] << 8 | v[4]) == t->verify);
		sp = v + 5;
		send = v + vl;
		while (fz_tlv(&sp, send, &stype, &sv, &svl)) {
			switch (stype) {
			case PP2_SUBTYPE_SSL_VERSION:
				FUZZ_CHECK(!seen_ver++);
				fz_str(sv, svl, t->version);
				break;
			case PP2_SUBTYPE_SSL_CN:
				FUZZ_CHECK(!seen_cn++);
				fz_str(sv, svl, t->cn);
				break;
			case PP2_SUBTYPE_SSL_CIPHER:
				FUZZ_CHECK(!seen_cipher++);
				fz_str(sv, svl, t->cipher);
				break;
			default:
				FUZZ_CHECK(0);
			}
		}
		FUZZ_CHECK(sp == send);
	}
	FUZZ_CHECK(p == end);
	if (t != NULL) {
		FUZZ_CHECK(seen_ssl == 1);
		FUZZ_CHECK(seen_auth == (t->sni != NULL));
		FUZZ_CHECK(seen_ver == (t->version != NULL));
		FUZZ_CHECK(seen_cn == (t->cn != NULL));
		FUZZ_CHECK(seen_cipher == (t->cipher != NULL));
	}
	free(out);
	if ((out = malloc((size_t)n)) == NULL)
		abort();
	FUZZ_CHECK(pp_v2_encode(src, dst, t, out, (size_t)n) == n);
	FUZZ_CHECK(pp_v2_encode(src, dst, t, out, (size_t)n - 1) == -1);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage src, dst;
	struct fz_addr s, d;
	struct pp_tls t;
	char	*version, *cipher, *cn, *sni;
	size_t	 off = FZ_HEAD;
	uint8_t	 flags;

	if (size < FZ_HEAD || size > 4096)
		return (-1);
	fz_make(data[0], data + 1, data + 33, &src, &s);
	fz_make(data[0] >> 2, data + 17, data + 35, &dst, &d);
	fz_v1((struct sockaddr *)&src, (struct sockaddr *)&dst, &s, &d);

	flags = data[FZ_HEAD - 1];
	version = fuzz_field(data, size, &off, '\0');
	cipher = fuzz_field(data, size, &off, '\0');
	cn = fuzz_field(data, size, &off, '\0');
	sni = fuzz_field(data, size, &off, '\0');
	memset(&t, 0, sizeof(t));
	t.version = (flags & 0x01) ? version : NULL;
	t.cipher = (flags & 0x02) ? cipher : NULL;
	t.cn = (flags & 0x04) ? cn : NULL;
	t.sni = (flags & 0x08) ? sni : NULL;
	t.cert_conn = (flags & 0x10) != 0;
	t.cert_sess = (flags & 0x20) != 0;
	t.verify = (uint32_t)data[37] << 24 | (uint32_t)data[38] << 16 |
	    (uint32_t)data[39] << 8 | data[40];
	fz_v2((struct sockaddr *)&src, (struct sockaddr *)&dst, &s, &d,
	    (data[0] & 0x10) ? &t : NULL);
	free(version);
	free(cipher);
	free(cn);
	free(sni);
	return (0);
}
