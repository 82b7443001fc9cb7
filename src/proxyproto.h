/*
 * NAME
 *	proxyproto - PROXY protocol v1 and v2 headers (HAProxy's specification)
 * SYNOPSIS
 *	#include "proxyproto.h"
 * DESCRIPTION
 *	Pure encoders, no I/O: the caller sends the header to the
 *	backend before any byte of the session.
 *
 *	pp_v1_encode() writes the text form, "PROXY TCP4 src dst sport
 *	dport" CRLF (TCP6 for IPv6), at most PP_V1_MAX bytes. When the
 *	two addresses are not both IPv4 or both IPv6 (or not inet at
 *	all) it writes "PROXY UNKNOWN" CRLF, which tells the receiver to
 *	use the connection's own addresses. IPv4-mapped IPv6 addresses
 *	are written as IPv4, so a dual-stack listener shows clients as
 *	their IPv4 address.
 *
 *	pp_v2_encode() writes the binary form: the 12-byte signature,
 *	version 2 with the PROXY command, TCP over IPv4 (0x11) or IPv6
 *	(0x21) with the addresses and ports, or UNSPEC (0x00) without
 *	them for the same cases as UNKNOWN above. When tls is not NULL,
 *	TLVs follow: PP2_TYPE_AUTHORITY with the SNI name (when there is
 *	one) and PP2_TYPE_SSL with the client bits, the verify result,
 *	and the PP2_SUBTYPE_SSL_VERSION, _CIPHER and (with a client
 *	certificate) _CN sub-TLVs. No CRC32C TLV is sent (it is
 *	optional).
 * DIAGNOSTICS
 *	Both return the length written, or -1 when out is too small or
 *	a TLV value is too long.
 */
#ifndef TLSPROXY_PROXYPROTO_H
#define TLSPROXY_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define PP_V1_MAX		107	/* the specification's bound, CRLF included */
#define PP_V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define PP_V2_SIGLEN		12
#define PP_V2_HDRLEN		16	/* signature, ver_cmd, fam, len */
#define PP_V2_MAX		1024	/* ample for the TLVs we send */

#define PP2_VERSION_PROXY	0x21	/* version 2, PROXY command */
#define PP2_FAM_UNSPEC		0x00
#define PP2_FAM_TCP4		0x11
#define PP2_FAM_TCP6		0x21

#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_CRC32C		0x03
#define PP2_TYPE_SSL		0x20
#define PP2_SUBTYPE_SSL_VERSION	0x21
#define PP2_SUBTYPE_SSL_CN	0x22
#define PP2_SUBTYPE_SSL_CIPHER	0x23
#define PP2_SUBTYPE_SSL_SIG_ALG	0x24
#define PP2_SUBTYPE_SSL_KEY_ALG	0x25

#define PP2_CLIENT_SSL		0x01
#define PP2_CLIENT_CERT_CONN	0x02
#define PP2_CLIENT_CERT_SESS	0x04

/* What the TLS TLVs say; strings may be NULL (then left out). */
struct pp_tls {
	const char	*version;	/* "TLSv1.3" */
	const char	*cipher;	/* "TLS_AES_256_GCM_SHA384" */
	const char	*cn;		/* client certificate subject CN */
	const char	*sni;		/* server name the client asked for */
	int		 cert_conn;	/* client certificate sent on this connection */
	int		 cert_sess;	/* client certificate in this TLS session */
	uint32_t	 verify;	/* 0: a client certificate, verified */
};

ssize_t	pp_v1_encode(const struct sockaddr *src, const struct sockaddr *dst,
	    char *out, size_t outlen);
ssize_t	pp_v2_encode(const struct sockaddr *src, const struct sockaddr *dst,
	    const struct pp_tls *tls, unsigned char *out, size_t outlen);

#endif
