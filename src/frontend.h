/*
 * NAME
 *	frontend - TCP frontend: TLS in, plaintext to a backend
 * SYNOPSIS
 *	#include "frontend.h"
 * DESCRIPTION
 *	frontend_run() serves one accepted TCP connection.
 *
 *	Implicit TLS: SSL_accept by the listener's handshake deadline,
 *	then a connection to the backend (TCP or UNIX socket) by the
 *	connect deadline, then the relay with the listener's idle limit.
 *	The backend is contacted only after a successful handshake, so
 *	failed or abusive handshakes never reach it.
 *
 *	SMTP STARTTLS (starttls = "smtp"): the backend is connected at
 *	once, since it speaks first; the session is then starttls.c's.
 *	When the backend cannot be reached the client gets a 421.
 *
 *	With proxy_protocol, the PROXY header (proxyproto.h) is the first
 *	thing the backend gets: the client's address and port and the
 *	local ones it connected to. For implicit TLS it is sent after
 *	the handshake, and v2 carries the TLS TLVs (version, cipher,
 *	client certificate verify result and CN, SNI). A STARTTLS
 *	listener sends it before any TLS, so its v2 header has no TLVs.
 */
#ifndef TLSPROXY_FRONTEND_H
#define TLSPROXY_FRONTEND_H

struct sess;

void	frontend_run(struct sess *);

#endif
