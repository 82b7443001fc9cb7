/*
 * NAME
 *	snapshot - immutable, refcounted runtime state built from a config
 * SYNOPSIS
 *	#include "snapshot.h"
 * DESCRIPTION
 *	A snapshot bundles what sessions need and must not change under
 *	them: the loaded configuration and the server TLS settings of
 *	each listener. Each session holds a reference to the snapshot
 *	current when it was accepted; SIGHUP builds a new snapshot
 *	without any lock and swaps the current pointer, so live sessions
 *	keep their settings and new ones get the new certificates.
 *
 *	snap_build() resolves, for the global settings and for each
 *	listener (its own settings layered on the global ones), the
 *	server security level as Postfix does (tlsproxy_tls_security_level,
 *	else tlsproxy_enforce_tls -> encrypt, tlsproxy_use_tls -> may,
 *	else none), picks the opportunistic or mandatory cipher grade,
 *	exclusions and protocols for it, and loads certificates. An
 *	implicit-TLS listener is Postfix's wrappermode, which implies
 *	enforcement: level may becomes encrypt there (mandatory protocols,
 *	grade and exclusions; req_ccert applies). Handoff and STARTTLS
 *	listeners without settings of their own share the global TLS
 *	context; implicit-TLS ones share one wrappermode context (the
 *	global one when that is at encrypt).
 *
 *	The server role of a listener is off (tls == NULL, off_reason
 *	set) at level none or without any certificate; handoff requests
 *	then get status=0. Implicit-TLS TCP listeners need it on, so that
 *	is a configuration error for them; SMTP STARTTLS listeners may be
 *	at level none (they then offer no STARTTLS), but at may or
 *	encrypt they need a certificate too.
 *
 *	snap_tls_request() serves Postfix 3.12, whose postscreen sends its
 *	own server settings (postscreen_tls_*) with each request, as that
 *	release's tlsproxy does: a context made from them, cached in the
 *	snapshot by the digest of its properties (at most SNAP_REQ_MAX),
 *	but only from files this daemon's configuration names (privsep.h:
 *	priv_names_file()), so a local client cannot have us load others.
 * DIAGNOSTICS
 *	snap_build(): NULL with a reason; the cfg is freed either way.
 */
#ifndef TLSPROXY_SNAPSHOT_H
#define TLSPROXY_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "climit.h"
#include "config.h"
#include "netlist.h"

struct scache;
#include "tls_server.h"

enum snap_level { SNAP_LEVEL_NONE, SNAP_LEVEL_MAY, SNAP_LEVEL_ENCRYPT };

/* Server TLS settings of one listener (or the global ones). */
#define SNAP_DIGEST_LEN	32	/* SHA-256 of a context's properties */

struct snap_tls {
	char		 key[272];	/* listener identity, "" for the global entry */
	enum snap_level	 level;
	struct tlss_ctx	*tls;		/* NULL when the server role is off */
	int		 owns_tls;	/* 0: shares the global context */
	const char	*off_reason;	/* static text when tls == NULL */
	int		 loglevel;	/* tlsproxy_tls_loglevel */
	int		 auth_only;	/* smtpd_tls_auth_only (STARTTLS listeners) */
	const struct cfg_listener *lcfg;	/* the listener's entry, in cfg; NULL for global */
	const struct cfg *cfg;		/* the configuration it was made from (in snap) */
	unsigned char	 digest[SNAP_DIGEST_LEN];	/* of its properties, when tls */
};

/* A server context made from a Postfix 3.12 request's own settings. */
#define SNAP_REQ_MAX	16
struct snap_req {
	unsigned char	 digest[SNAP_DIGEST_LEN];
	struct snap_tls	 st;
};

struct snap {
	unsigned int	 magic;		/* SNAP_MAGIC */
	atomic_int	 refs;
	struct cfg	*cfg;		/* owned */
	struct snap_tls	 global;
	struct snap_tls	 wrap;		/* implicit TLS without own settings */
	struct snap_tls	*lst;		/* owned array, one per listener */
	size_t		 nlst;
	int		 watchdog_ms;	/* tlsproxy_watchdog_timeout */
	unsigned int	 max_sessions;	/* tlsproxy_max_sessions; 0: capacity */
	struct netlist	 exempt;	/* tlsproxy_client_event_limit_exceptions */
	struct climit_conf climit;	/* per-address limits; exempt is in here */
	struct scache	*cache;		/* the shared session cache (borrowed) */
	pthread_mutex_t	 req_lock;	/* guards req[], nreq; no TLS work inside */
	struct snap_req	*req[SNAP_REQ_MAX];	/* owned */
	size_t		 nreq;
};
#define SNAP_MAGIC	0x534e4150u

/* cache: the process-wide server session cache (borrowed), or NULL. */
struct snap	*snap_build(struct cfg *, struct scache *cache, char *err,
		    size_t errlen);
struct snap	*snap_ref(struct snap *);
void		 snap_unref(struct snap *);
/* TLS settings for a listener key (global ones if the key is unknown). */
const struct snap_tls *snap_tls_for(const struct snap *, const char *key);
/*
 * The server context for a Postfix 3.12 request's own settings: base
 * (the listener's) when they make the same context, or when they name
 * files this configuration does not (logged); else one made for them
 * and kept in the snapshot for the next such request. NULL with err
 * when that context cannot be made.
 */
struct tprops_server;
const struct snap_tls *snap_tls_request(struct snap *, const struct snap_tls *base,
		    const struct tprops_server *, char *err, size_t errlen);

/* The current snapshot, with a reference the caller drops. */
struct snap	*snap_current(void);
/* Make S current (takes the caller's reference); drops the old one. */
void		 snap_install(struct snap *s);

#endif
