/*
 * NAME
 *	relay - moving bytes between a plaintext fd and a TLS session
 * SYNOPSIS
 *	#include "relay.h"
 * DESCRIPTION
 *	A relay moves raw bytes both ways until the session ends. How
 *	it ends depends on half_close:
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
 *	relay_step() moves bytes until the session ends (RELAY_STEP_DONE)
 *	or nothing has moved for the grace that grace() allows (RELAY_STEP_WAIT): then
 *	wait says which fds and events to wait for and until when, the
 *	idle session has given back its empty buffers and OpenSSL's
 *	record buffers, and the caller parks it (park.h); once woken (or
 *	timed out) it calls relay_step() again, from any thread.
 *	relay_finish() sends the final close_notify and frees the
 *	buffers; the result is in relay.res.
 *
 *	The caller owns both fds and the SSL; the relay closes nothing.
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

struct relay_buf;
struct park_item;

struct relay {
	int		 plain_fd, net_fd;
	SSL		*ssl;
	int		 idle_ms;
	int		 half_close;
	_Atomic int64_t	*busy;
	int		(*grace)(void);	/* ms to wait before WAIT; NULL: none */
	struct relay_buf *up, *down;	/* to remote, to local; NULL when idle */
	/*
	 * Per side: *_eof, no more reading (an EOF, a close_notify or an
	 * error); *_dead, no more writing either (an error).
	 */
	int		 local_eof, remote_eof, local_dead, remote_dead;
	int		 sent_notify, plain_shut, plain_hup, net_hup;
	int		 plain_rd, plain_wr, ssl_rd, ssl_wr, rd_want, wr_want;
	int		 resumed;
	int64_t		 idle_deadline;
	struct relay_result res;
};

enum relay_step { RELAY_STEP_DONE, RELAY_STEP_WAIT };

void	relay_init(struct relay *, int plain_fd, SSL *ssl, int net_fd,
	    int idle_ms, int half_close, _Atomic int64_t *busy,
	    int (*grace)(void));
enum relay_step relay_step(struct relay *, struct park_item *wait);
void	relay_finish(struct relay *);
const char *relay_end_str(enum relay_end);

#endif
