/*
 * NAME
 *	tls_common - OpenSSL glue shared by the TLS roles
 * SYNOPSIS
 *	#include "tls_common.h"
 * DESCRIPTION
 *	tls_init() initializes the library once (before any thread).
 *
 *	tls_log_errors() drains this thread's OpenSSL error queue into
 *	"warning: TLS library problem: ..." lines, as Postfix does.
 *	tls_errstr() gives the last queued error as text (for a message
 *	naming what failed) and clears the queue.
 *
 *	tls_close_notify() sends one close_notify on a non-blocking
 *	socket, waiting up to a second for room, not for the peer's; 0
 *	when it went out.
 *
 *	tls_key_update_answer() sends at once the KeyUpdate a TLS 1.3
 *	peer asked for (OpenSSL would send it with our next data only).
 *
 *	tls_mark_clean() records that a session ended in order (either
 *	side's EOF or close_notify), so that its TLS session stays
 *	resumable: OpenSSL drops the cached session of an SSL freed
 *	without a shutdown, which is right after errors only.
 *
 *	tls_parse_protocols() reads Postfix's protocol syntax, both the
 *	old exclusion/inclusion form ("!SSLv2, !SSLv3", "TLSv1.2 TLSv1.3")
 *	and the bounds form (">=TLSv1.2", "<=TLSv1.2"), into a version
 *	range plus the SSL_OP_NO_* options for holes inside it.
 *
 *	tls_cipher_list() builds the OpenSSL cipher string for a Postfix
 *	cipher grade (export, low, medium, high, null) from the
 *	corresponding tls_*_cipherlist plus the exclusions (each becomes
 *	"!name").
 *
 *	tls_summary() writes Postfix's handshake summary:
 *	"TLSv1.3 with cipher X (256/256 bits) key-exchange x25519
 *	server-signature RSA-PSS (2048 bits) server-digest SHA256" (no
 *	signatures for a resumed session), in the words of the current
 *	stable Postfix (TLS_PF_CURRENT).
 *
 *	tls_kex() names the TLS 1.3 key exchange as Postfix pf_version
 *	(e.g. 309, 311) logs it: from 3.10, OpenSSL's name of the
 *	negotiated group ("x25519", "secp256r1"); before, the key type
 *	("X25519"), "ECDHE" with the curve or "DHE" with its bits.
 */
#ifndef TLSPROXY_TLS_COMMON_H
#define TLSPROXY_TLS_COMMON_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

struct tls_protocols {
	int	 min_version;	/* e.g. TLS1_VERSION */
	int	 max_version;	/* e.g. TLS1_3_VERSION */
	uint64_t options;	/* SSL_OP_NO_* for excluded versions inside the range */
};

void	tls_init(void);
void	tls_log_errors(void);
const char *tls_errstr(char *buf, size_t len);
int	tls_close_notify(SSL *, int fd, _Atomic int64_t *busy);
void	tls_key_update_answer(SSL *);
void	tls_mark_clean(SSL *);
int	tls_parse_protocols(const char *spec, struct tls_protocols *,
	    char *err, size_t errlen);
int	tls_cipher_list(const char *grade, const char *high, const char *medium,
	    const char *low, const char *export_, const char *null,
	    const char *exclusions, char *out, size_t outlen,
	    char *err, size_t errlen);
/* The Postfix release whose log wording we follow when no client says. */
#define TLS_PF_CURRENT	311

void	tls_summary(SSL *, int server, char *buf, size_t buflen);
void	tls_kex(SSL *, unsigned int pf_version, char *name, size_t namelen,
	    char *curve, size_t curvelen, unsigned int *bits);
/* Info-callback body for loglevel >= 2, Postfix's lines, either role. */
void	tls_log_state(const SSL *, const char *label, int where, int ret);

/*
 * tls_handshake_run - drive SSL_do_handshake on a non-blocking socket
 * until it completes, fails, or the deadline passes, watching watch_fd
 * (the local client, or -1) for hang-up. busy, when not NULL, is
 * stamped while inside OpenSSL (watchdog). Both roles use it; the
 * SSL's accept or connect state is set when it is made.
 *
 * grace_ms < 0: wait in poll() up to the deadline. Otherwise wait at
 * most grace_ms in all for the peer; if it has not finished by then, return
 * TLS_HS_WAIT: the caller waits (tls_handshake_want() says for what)
 * and calls again, possibly from another thread. The deadline stays
 * the one set when the handshake began.
 */
enum tls_hs {
	TLS_HS_OK = 0,
	TLS_HS_FAIL,		/* protocol error, peer EOF, dead socket */
	TLS_HS_TIMEOUT,		/* deadline passed */
	TLS_HS_LOCAL_GONE,	/* watch_fd hung up */
	TLS_HS_WAIT,		/* grace over: wait for the socket, then again */
};
enum tls_hs tls_handshake_run(SSL *, int fd, int watch_fd, int64_t deadline,
	    int grace_ms, _Atomic int64_t *busy);
/* After TLS_HS_WAIT: POLLIN or POLLOUT, what the handshake waits for. */
short	tls_handshake_want(const SSL *);
const char *tls_version_name(int version);

#endif
