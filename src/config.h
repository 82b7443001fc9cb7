/*
 * NAME
 *	config - tlsproxy configuration (libconfig file, Postfix parameter names)
 * SYNOPSIS
 *	#include "config.h"
 * DESCRIPTION
 *	One table (cfg_params.h) lists every parameter of the Postfix
 *	tlsproxy(8) manual under its Postfix name, with its documented
 *	default, plus tlsproxy's own tlsproxy_* settings. cfg_load() reads
 *	a libconfig file, rejects unknown names and bad values, expands
 *	Postfix-style "$name" / "${name}" / "${name?value}" /
 *	"${name:value}" / "${name?{a}:{b}}" references, and returns an
 *	immutable struct cfg.
 *
 *	An entry of tlsproxy_listeners may also set the TLS server-side
 *	and global parameters (tlsproxy_tls_*, tlsproxy_use_tls,
 *	tlsproxy_enforce_tls, smtpd_*, tls_*) for that listener only.
 *	cfg_listener_cfg() returns the listener's effective
 *	configuration: the global settings with the entry's on top,
 *	expanded together, so a "$smtpd_..." default sees the entry's
 *	smtpd_* value.
 *
 *	Values are kept as expanded strings; the typed accessors convert
 *	them. Accessors abort (programming error) on a name that is not in
 *	the table or is used with the wrong type.
 * DIAGNOSTICS
 *	cfg_load() writes every error it finds to errs, one line each, as
 *	"FILE:LINE: parameter NAME: what is wrong (allowed: ...)" or
 *	"FILE:LINE: unknown parameter NAME; did you mean CLOSEST?" (with
 *	"tlsproxy_listeners entry N: " after "FILE:LINE: " for a problem
 *	inside a listener entry), then returns NULL. It never returns a
 *	half-checked configuration.
 */
#ifndef TLSPROXY_CONFIG_H
#define TLSPROXY_CONFIG_H

#include <stdio.h>
#include <sys/types.h>

enum cfg_type {
	CFG_STR,	/* free string (may be empty) */
	CFG_BOOL,	/* yes/no (libconfig true/false or "yes"/"no") */
	CFG_INT,	/* decimal integer within [min, max] */
	CFG_TIME,	/* seconds; "10s", "5m", "1h", "1d", "1w" or a bare number */
	CFG_ENUM,	/* one of a fixed word list (may include "") */
	CFG_NETS,	/* networks: address or address/prefix, a list (netlist.h) */
};

enum cfg_listener_kind {
	CFG_LST_HANDOFF = 1,	/* UNIX socket speaking the Postfix protocol */
	CFG_LST_TCP,		/* TCP, implicit TLS, relays to a backend */
	CFG_LST_STATS,		/* UNIX socket answering with the counters (not in the list) */
};

struct cfg_listener {
	enum cfg_listener_kind kind;
	int	 line;		/* line of the entry in the file */
	char	*handoff;	/* HANDOFF: socket path */
	mode_t	 mode;		/* HANDOFF: socket mode, default 0666 */
	char	*owner;		/* HANDOFF: user to chown the socket to, or NULL */
	char	*group;		/* HANDOFF: group to chown the socket to, or NULL */
	char	*listen;	/* TCP: "host:port", "[v6]:port" or "*:port" */
	char	*backend;	/* TCP: "host:port", "[v6]:port" or /unix/path */
	int	 handshake_timeout;	/* TCP: seconds, default 60 */
	int	 idle_timeout;		/* TCP: seconds, default 300 */
	int	 connect_timeout;	/* TCP: backend connect, seconds, default 10 */
	char	*name;		/* optional: session resumption scope, or NULL */
	/* TCP only: SMTP STARTTLS frontend and what the backend is told. */
	int	 starttls;		/* CFG_STARTTLS_* */
	int	 proxy_protocol;	/* CFG_PROXY_*: header sent to the backend */
	int	 xclient;		/* STARTTLS: send XCLIENT after the greeting */
	int	 command_timeout;	/* STARTTLS: seconds, default 300 */
	int	 plaintext_timeout;	/* STARTTLS: idle dialogue before TLS, default 600 */
};

#define CFG_STARTTLS_NONE	0	/* implicit TLS */
#define CFG_STARTTLS_SMTP	1	/* SMTP, TLS after STARTTLS */

#define CFG_PROXY_NONE		0
#define CFG_PROXY_V1		1
#define CFG_PROXY_V2		2

struct cfg;

/* Load and check FILE; NULL after printing every error to errs. */
struct cfg	*cfg_load(const char *path, FILE *errs);
/* The same from an open descriptor of path (consumed); -1: open path. */
struct cfg	*cfg_load_fd(const char *path, int fd, FILE *errs);
/* A configuration with every parameter at its default, no listeners. */
struct cfg	*cfg_defaults(void);
void		 cfg_free(struct cfg *);

const char	*cfg_path(const struct cfg *);

/* Expanded value of NAME (any type) as a string. */
const char	*cfg_str(const struct cfg *, const char *name);
/* CFG_BOOL: 1 or 0. */
int		 cfg_bool(const struct cfg *, const char *name);
/* CFG_INT: the number; CFG_TIME: seconds. */
long		 cfg_int(const struct cfg *, const char *name);
/* 1 when NAME was set in the file (not only defaulted). */
int		 cfg_is_set(const struct cfg *, const char *name);
/*
 * Where a value comes from, to start a message about it that only a
 * later step can judge: "FILE:LINE: name", with the line of a $name it
 * comes through, or "FILE: name (the default)".
 */
const char	*cfg_where(const struct cfg *, const char *name);

size_t		 cfg_listener_count(const struct cfg *);
const struct cfg_listener *cfg_listener_get(const struct cfg *, size_t);
/*
 * Effective configuration of listener i: the global one with the
 * entry's own settings on top, fully expanded and checked at load
 * time; owned by the parent cfg (valid until cfg_free(parent)). Its
 * listener list is empty. For an entry that sets no parameters it is
 * the parent itself. NULL when i is out of range.
 */
const struct cfg *cfg_listener_cfg(const struct cfg *, size_t i);
/* Number of parameters entry i sets (0: it uses the global settings). */
size_t		 cfg_listener_noverrides(const struct cfg *, size_t i);

/*
 * -n: print "name = value" (expanded) for each parameter set in the file
 * whose value differs from its default, in table order; each listener
 * shows the parameters its entry sets, expanded, inside its group.
 * -d: print "name = default" (unexpanded, as in the table) for every
 * parameter, in table order.
 */
void		 cfg_print_nondefault(const struct cfg *, FILE *);
void		 cfg_print_defaults(FILE *);

/* Table introspection (used by the tests that compare table, man page and example file). */
size_t		 cfg_param_count(void);
const char	*cfg_param_name(size_t);
const char	*cfg_param_default(size_t);

#endif
