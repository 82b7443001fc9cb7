/*
 * NAME
 *	climit - per-client-address session limits: concurrency and rate
 * SYNOPSIS
 *	#include "climit.h"
 * DESCRIPTION
 *	What Postfix's anvil(8) does for smtpd_client_connection_count_limit
 *	and smtpd_client_connection_rate_limit, inside the daemon: one
 *	locked table of client addresses with the number of live sessions
 *	of each and the sessions begun in the current time unit.
 *
 *	climit_enter() is asked once per new session (TCP listeners: the
 *	accepted peer; handoff: the request's remote_endpoint). It says
 *	CLIMIT_OK (counted: call climit_leave() when the session ends),
 *	CLIMIT_EXEMPT (an address in the exception networks, or no limit
 *	configured: not counted), or refuses with CLIMIT_COUNT (that
 *	many sessions are live already) or CLIMIT_RATE (that many began
 *	within the time unit). Refused attempts count toward the rate,
 *	as in anvil, so a client that keeps hammering stays refused.
 *
 *	Entries go away when their last session ends and their time unit
 *	is over, so the table holds only addresses with live sessions or
 *	recent starts. No I/O, no logging.
 */
#ifndef TLSPROXY_CLIMIT_H
#define TLSPROXY_CLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "netlist.h"

struct climit_conf {
	unsigned int	 count_limit;	/* live sessions per address; 0: none */
	unsigned int	 rate_limit;	/* new sessions per unit; 0: none */
	int64_t		 unit_ms;
	const struct netlist *exempt;	/* not limited; may be NULL */
};

enum climit_verdict {
	CLIMIT_OK,		/* counted */
	CLIMIT_EXEMPT,		/* not counted */
	CLIMIT_COUNT,		/* refused: too many live */
	CLIMIT_RATE,		/* refused: too many new */
};

/* *n: the count (or rate) this session makes or would have made. */
enum climit_verdict climit_enter(const struct climit_conf *,
		    const struct netlist_addr *, unsigned int *n);
void		 climit_leave(const struct netlist_addr *);
/* Addresses in the table (tests, stats). */
size_t		 climit_tracked(void);

#endif
