/*
 * NAME
 *	frontend - implicit-TLS TCP frontend: TLS in, plaintext to a backend
 * SYNOPSIS
 *	#include "frontend.h"
 * DESCRIPTION
 *	frontend_run() serves one accepted TCP connection: SSL_accept by
 *	the listener's handshake deadline, then a connection to the
 *	backend (TCP or UNIX socket) by the connect deadline, then the
 *	relay with the listener's idle limit. The backend is contacted
 *	only after a successful handshake, so failed or abusive
 *	handshakes never reach it.
 */
#ifndef TLSPROXY_FRONTEND_H
#define TLSPROXY_FRONTEND_H

struct sess;

void	frontend_run(struct sess *);

#endif
