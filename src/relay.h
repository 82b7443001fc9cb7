/*
 * NAME
 *	relay - poll() loop between a plaintext fd and a TLS session
 * SYNOPSIS
 *	#include "relay.h"
 * DESCRIPTION
 *	relay_run() moves raw bytes both ways until the session ends.
 *	How it ends depends on half_close:
 *	- half_close (TCP frontends, as HAProxy does): each direction ends
 *	  by itself. The TLS peer's close_notify or EOF becomes
 *	  shutdown(SHUT_WR) toward the plaintext side, whose answer is
 *	  still relayed; the plaintext side's EOF becomes our close_notify,
 *	  and the peer's requests are still relayed. The session ends when
 *	  both directions have ended (or on an error or the idle timeout);
 *	- no half_close (handoff, as in Postfix's tlsproxy): EOF or error on
 *	  the plaintext side: pending plaintext is encrypted and sent, then
 *	  the session ends; close_notify, EOF or error from the TLS peer:
 *	  the plaintext already decrypted is written out, then the session
 *	  ends.
 *	A healthy TLS session always ends with our close_notify (it
 *	answers the peer's); not after a TLS error or a reset. A KeyUpdate
 *	the peer asks for is answered at once, not with our next data.
 *	Counted: close_notify_sent, close_notify_received, half_closes.
 *
 *	One bounded buffer per direction gives backpressure: while a
 *	buffer is full, its source is not read.
 *
 *	The session also ends when neither side moves a byte for
 *	idle_ms. busy, when not NULL, is stamped with the time while the
 *	worker is inside a read/write/OpenSSL call (for the watchdog).
 *
 *	The caller owns both fds and the SSL; relay_run() closes nothing.
 * DIAGNOSTICS
 *	Returns how the session ended (enum relay_end); byte counts in
 *	the result struct.
 */
#ifndef TLSPROXY_RELAY_H
#define TLSPROXY_RELAY_H

#include <stdatomic.h>
#include <stdint.h>
#include <openssl/ssl.h>

enum relay_end {
	RELAY_LOCAL_EOF = 1,	/* plaintext side closed */
	RELAY_REMOTE_EOF,	/* TLS peer closed (close_notify or EOF) */
	RELAY_LOCAL_ERROR,	/* read/write error on the plaintext side */
	RELAY_REMOTE_ERROR,	/* TLS or socket error on the remote side */
	RELAY_TIMEOUT,		/* idle limit */
};

struct relay_result {
	enum relay_end	 end;
	uint64_t	 to_remote;	/* plaintext bytes sent encrypted */
	uint64_t	 to_local;	/* decrypted bytes written to plaintext side */
};

void	relay_run(int plain_fd, SSL *ssl, int net_fd, int idle_ms,
	    int half_close, _Atomic int64_t *busy, struct relay_result *res);
const char *relay_end_str(enum relay_end);

#endif
