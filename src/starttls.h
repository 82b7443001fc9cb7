/*
 * NAME
 *	starttls - SMTP STARTTLS frontend: the backend speaks SMTP, we add TLS
 * SYNOPSIS
 *	#include "starttls.h"
 * DESCRIPTION
 *	starttls_run() serves one client of a listener with starttls =
 *	"smtp", after frontend.c has connected the backend and sent the
 *	PROXY header (if any). The backend stays in charge of SMTP; this
 *	module relays its greeting and replies and the client's
 *	commands, one command and one reply at a time, with blocking
 *	I/O under poll() deadlines on the worker thread.
 *
 *	Before TLS, by the listener's security level (Postfix's names):
 *	- none: STARTTLS is neither offered nor accepted (502);
 *	- may: every command is relayed; STARTTLS is added to the
 *	  backend's EHLO reply when missing;
 *	- encrypt: as may, but only EHLO, HELO, NOOP, RSET, QUIT and
 *	  STARTTLS are relayed; anything else gets "530 5.7.0 Must issue
 *	  a STARTTLS command first" from us.
 *	STARTTLS itself is never relayed: we answer "220 2.0.0 Ready to
 *	start TLS" and run the handshake on the client socket. Whatever
 *	the client sent after STARTTLS before our 220 is discarded and
 *	logged, never executed (CVE-2011-0411). After the handshake the
 *	backend sees the client's second EHLO as a fresh start; EHLO
 *	replies lose the backend's own STARTTLS, and STARTTLS gets "554
 *	5.5.1 Error: TLS already active" from us.
 *
 *	MAIL, DATA or BDAT end the command-by-command phase, with or
 *	without TLS (a plaintext client at level may or none has chosen
 *	not to use TLS): from that command on, bytes are relayed both
 *	ways without parsing (relay.c once TLS is up, a plain relay
 *	here otherwise).
 *
 *	Bounds before the byte relay: SMTP_LINE_MAX per command line (a
 *	longer one gets 500 and is skipped), STARTTLS_MAX_COMMANDS
 *	commands (then 421 and the session ends), command_timeout for
 *	each client command and each backend reply, handshake_timeout
 *	for TLS, idle_timeout for the byte relay.
 *
 *	With xclient, "XCLIENT ADDR=... PORT=... NAME=[UNAVAILABLE]" is
 *	sent after a 220 greeting and its reply (Postfix: a new 220
 *	greeting) is not relayed; a refusal ends the session with 421.
 *
 *	One log line at the end says how the session went: STARTTLS
 *	taken or not, bytes each way, and how it ended.
 */
#ifndef TLSPROXY_STARTTLS_H
#define TLSPROXY_STARTTLS_H

#define STARTTLS_MAX_COMMANDS	100	/* line-by-line commands per session */
#define STARTTLS_MAX_DISCARD	65536	/* pipelined bytes after STARTTLS */

struct sess;
struct cfg_listener;

/* s has net_fd (client) and plain_fd (connected backend). */
void	starttls_run(struct sess *, const struct cfg_listener *);

#endif
