/*
 * NAME
 *	handoff - the Postfix tlsproxy protocol on an accepted UNIX connection
 * SYNOPSIS
 *	#include "handoff.h"
 * DESCRIPTION
 *	handoff_run() serves one local client (postscreen, or a tool) as
 *	Postfix 3.7's tlsproxy does: announcement, request, status,
 *	descriptor, TLS server handshake on that descriptor, then the
 *	plaintext relay. In the client role (smtp(8)/lmtp(8) with TLS
 *	connection reuse) it reads the TLS properties that follow the
 *	request, performs the TLS client handshake at the requested
 *	security level, sends the TLS context record in the layout of the
 *	client's Postfix version, then relays; group A (global TLS
 *	parameters) is compared with our own values, which are the ones
 *	used. Every failure ends in a log line and a clean teardown by the
 *	caller (sess_free()).
 *
 *	handoff_refuse_bytes() is what the acceptor writes, without
 *	reading anything, to a client it cannot queue: the announcement
 *	and status=0.
 */
#ifndef TLSPROXY_HANDOFF_H
#define TLSPROXY_HANDOFF_H

#include <stddef.h>

struct sess;

void	handoff_run(struct sess *);
const unsigned char *handoff_refuse_bytes(size_t *len);

#endif
