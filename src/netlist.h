/*
 * NAME
 *	netlist - lists of networks (address/prefix) and client addresses
 * SYNOPSIS
 *	#include "netlist.h"
 * DESCRIPTION
 *	netlist_parse() reads a list in Postfix's notation for networks
 *	(mynetworks, smtpd_client_event_limit_exceptions): addresses or
 *	address/prefix, separated by whitespace or commas, IPv6 written
 *	bare or in brackets ("[::1]/128"). An address without a prefix
 *	is the one host; host bits set under the prefix are an error,
 *	as in Postfix ("10.1.2.3/8": did you mean 10.0.0.0/8?).
 *
 *	netlist_addr_from_sa() and netlist_addr_parse() give a client
 *	address in one form for both kinds of session: an accepted
 *	socket's peer, or the remote_endpoint text of a handoff request
 *	("[192.0.2.1]:25", "[2001:db8::1]:25", or a bare address). An
 *	IPv4-mapped IPv6 address is the IPv4 address.
 *
 *	netlist_match() says whether an address is in the list.
 * DIAGNOSTICS
 *	netlist_parse(): -1 with the reason in err (naming the bad
 *	element). netlist_addr_*(): -1 when there is no IP address (a
 *	UNIX-domain peer, or text that is not one).
 */
#ifndef TLSPROXY_NETLIST_H
#define TLSPROXY_NETLIST_H

#include <stddef.h>
#include <sys/socket.h>

struct netlist_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 b[16];		/* 4 or 16 bytes used */
};

struct netlist_net {
	struct netlist_addr a;
	int		 prefix;
};

struct netlist {
	struct netlist_net *v;		/* owned */
	size_t		 n;
};

int	netlist_parse(const char *spec, struct netlist *, char *err, size_t errlen);
void	netlist_free(struct netlist *);
int	netlist_match(const struct netlist *, const struct netlist_addr *);
int	netlist_addr_from_sa(const struct sockaddr *, struct netlist_addr *);
int	netlist_addr_parse(const char *text, struct netlist_addr *);
/* "192.0.2.1", "2001:db8::1" */
void	netlist_addr_str(const struct netlist_addr *, char *buf, size_t len);

#endif
