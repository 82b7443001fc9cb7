/*
 * NAME
 *	starttls - SMTP STARTTLS frontend: the backend speaks SMTP, we add TLS
 * SYNOPSIS
 *	#include "starttls.h"
 * DESCRIPTION
 *	starttls_run() serves one client of a listener with starttls =
 *	"smtp", after frontend.c has connected the backend and sent the
 *	PROXY header (if any). The backend stays in charge of SMTP; the
 *	dialogue tracker (dialogue.h) follows the dialogue for the whole
 *	session, before and after TLS and through every message, and
 *	decides what is relayed, edited or answered by us. This module
 *	moves the bytes: non-blocking I/O on both sockets; when neither
 *	can move for a moment, the session waits in the waiting set
 *	(session.h) without a worker and without its buffers.
 *
 *	STARTTLS itself is never relayed. When the tracker hands it
 *	over: the client gets every reply it is owed first; if the
 *	backend has sent anything nobody asked for, the session ends
 *	with "421 4.7.0" and a warning naming the byte count (inside
 *	TLS it would read as the answer to the client's next command);
 *	whatever the client sent after STARTTLS is discarded and logged,
 *	never executed (CVE-2011-0411); then "220 2.0.0 Ready to start
 *	TLS" and the handshake on the client socket, within
 *	handshake_timeout. After TLS the backend sees the client's next
 *	EHLO as a fresh start.
 *
 *	Time limits: command_timeout for each client command and each
 *	backend reply, idle_timeout while message content (DATA, BDAT)
 *	moves, and plaintext_timeout (from the connection) for a client
 *	that has neither started TLS nor had a message accepted, however
 *	often it sends NOOP; a timeout gets "421 4.4.2 Error: timeout
 *	exceeded". When
 *	the backend cannot be reached, closes or sends a malformed reply,
 *	the client gets a 421 (or the backend's own last words).
 *
 *	Every orderly end of a TLS session sends our close_notify and
 *	keeps the session resumable. One log line at the end says how
 *	the session went: STARTTLS taken or not, bytes each way, and how
 *	it ended; each kind of refused command is logged once per
 *	session ("warning: [addr]:port: XCLIENT from client refused")
 *	and counted in the stats (smtp_refused_*).
 */
#ifndef TLSPROXY_STARTTLS_H
#define TLSPROXY_STARTTLS_H

#define STARTTLS_MAX_DISCARD	65536	/* pipelined bytes after STARTTLS */

struct sess;
struct cfg_listener;

/*
 * s has net_fd (client) and plain_fd (connected backend). The session
 * is starttls.c's until done(s) runs at its end, perhaps on another
 * worker: the caller returns at once without touching s.
 */
void	starttls_run(struct sess *, const struct cfg_listener *,
	    void (*done)(struct sess *));

#endif
