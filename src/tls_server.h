/*
 * NAME
 *	tls_server - server SSL_CTX from properties; SSL_accept by deadline
 * SYNOPSIS
 *	#include "tls_server.h"
 * DESCRIPTION
 *	tlss_ctx_new() builds one SSL_CTX from a props struct (no
 *	libconfig here, so it tests without a config file). The context
 *	is read-only afterwards and shared by every worker; reload builds
 *	a new one. RSA and ECDSA certificates may be loaded together:
 *	OpenSSL then picks, per client, the one the client can verify.
 *	chain_files holds one or more PEM files, each with one or more
 *	key + certificate chain groups.
 *
 *	tlss_handshake() runs SSL_accept on a non-blocking socket until it
 *	completes, fails, or the deadline passes. While it waits it also
 *	watches watch_fd (the local handoff client, or -1) for hang-up, so
 *	a client that went away frees its worker at once.
 * DIAGNOSTICS
 *	tlss_ctx_new(): NULL with a reason in err (file names included).
 *	tlss_handshake(): one of enum tlss_result; OpenSSL errors are
 *	logged by the caller with tls_log_errors().
 */
#ifndef TLSPROXY_TLS_SERVER_H
#define TLSPROXY_TLS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <openssl/ssl.h>

struct tlss_props {
	const char	*cert_file;	/* RSA */
	const char	*key_file;
	const char	*eccert_file;	/* ECDSA */
	const char	*eckey_file;
	const char	*dcert_file;	/* DSA */
	const char	*dkey_file;
	const char	*chain_files;	/* comma/space separated PEM files */
	const char	*CAfile;
	const char	*CApath;
	const char	*protocols;	/* Postfix syntax, already chosen by level */
	const char	*cipherlist;	/* OpenSSL string, already chosen by level */
	int		 loglevel;	/* 0..4 */
};

struct tlss_ctx {
	unsigned int	 magic;		/* TLSS_CTX_MAGIC */
	SSL_CTX		*ctx;		/* owned */
	int		 loglevel;
	int		 ncerts;	/* server certificates loaded */
};
#define TLSS_CTX_MAGIC	0x544c5343u

enum tlss_result {
	TLSS_OK = 0,
	TLSS_FAIL,		/* protocol error or peer EOF; see error queue */
	TLSS_TIMEOUT,		/* deadline passed */
	TLSS_LOCAL_GONE,	/* watch_fd hung up */
};

struct tlss_ctx	*tlss_ctx_new(const struct tlss_props *, char *err, size_t errlen);
void		 tlss_ctx_free(struct tlss_ctx *);

/* New SSL on fd; label (borrowed, must outlive the SSL) names the peer in logs. */
SSL		*tlss_ssl_new(struct tlss_ctx *, int fd, const char *label);

/* busy: optional watchdog stamp, set to now while inside OpenSSL, 0 while waiting. */
enum tlss_result tlss_handshake(SSL *, int fd, int watch_fd, int64_t deadline,
		    _Atomic int64_t *busy);

#endif
