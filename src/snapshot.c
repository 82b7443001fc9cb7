/*
 * NAME
 *	snapshot - immutable, refcounted runtime state built from a config
 * DESCRIPTION
 *	See snapshot.h. The current pointer is guarded by a mutex held
 *	only to copy the pointer and bump the count.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "listener.h"
#include "log.h"
#include "snapshot.h"
#include "tls_common.h"

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snap *snap_cur;		/* one reference held here */

/* snap_level - Postfix's level resolution for the server role */
static enum snap_level
snap_level(const struct cfg *cfg)
{
	const char *lev = cfg_str(cfg, "tlsproxy_tls_security_level");

	if (*lev != '\0') {
		if (strcasecmp(lev, "encrypt") == 0)
			return (SNAP_LEVEL_ENCRYPT);
		if (strcasecmp(lev, "may") == 0)
			return (SNAP_LEVEL_MAY);
		return (SNAP_LEVEL_NONE);
	}
	if (cfg_bool(cfg, "tlsproxy_enforce_tls"))
		return (SNAP_LEVEL_ENCRYPT);
	if (cfg_bool(cfg, "tlsproxy_use_tls"))
		return (SNAP_LEVEL_MAY);
	return (SNAP_LEVEL_NONE);
}

/* How much a listener needs the TLS server role. */
#define SNAP_NEED_NONE	0	/* handoff: status=0 when off */
#define SNAP_NEED_TLS	1	/* implicit TLS: always */
#define SNAP_NEED_LEVEL	2	/* STARTTLS: unless the level is none */

/* snap_need - what a configured listener needs */
static int
snap_need(const struct cfg_listener *l)
{
	if (l->kind != CFG_LST_TCP)
		return (SNAP_NEED_NONE);
	return (l->starttls != CFG_STARTTLS_NONE ? SNAP_NEED_LEVEL :
	    SNAP_NEED_TLS);
}

/*
 * snap_tls_build - the server TLS settings of one configuration (global,
 * or a listener's effective one). tcp: SNAP_NEED_*.
 */
static int
snap_tls_build(const struct cfg *cfg, struct scache *cache, const char *what,
    int tcp, struct snap_tls *st, char *err, size_t errlen)
{
	struct tlss_props p;
	char	 ciphers[2048], excl[1024], terr[512];
	const char *grade, *eecdh;

	st->level = snap_level(cfg);
	/*
	 * Implicit TLS is Postfix's wrappermode, which implies enforcement
	 * (smtpd: enforce_tls = wrappermode || enforce_tls): the mandatory
	 * protocols, grade and exclusions apply, and req_ccert.
	 */
	if (tcp == SNAP_NEED_TLS && st->level == SNAP_LEVEL_MAY)
		st->level = SNAP_LEVEL_ENCRYPT;
	st->loglevel = atoi(cfg_str(cfg, "tlsproxy_tls_loglevel"));
	st->auth_only = cfg_bool(cfg, "smtpd_tls_auth_only");
	st->tls = NULL;
	if (st->level == SNAP_LEVEL_NONE) {
		st->off_reason = "TLS server role is disabled with "
		    "tlsproxy_tls_security_level or tlsproxy_use_tls";
		if (tcp == SNAP_NEED_TLS) {
			snprintf(err, errlen, "%s: the TLS security level is \"none\" "
			    "(tlsproxy_tls_security_level, or tlsproxy_use_tls = no), "
			    "but a TCP frontend needs TLS: set it to may or encrypt", what);
			return (-1);
		}
		return (0);
	}
	/* Mandatory grade, protocols and extra exclusions only with encrypt. */
	if (st->level == SNAP_LEVEL_ENCRYPT) {
		grade = cfg_str(cfg, "tlsproxy_tls_mandatory_ciphers");
		snprintf(excl, sizeof(excl), "%s %s",
		    cfg_str(cfg, "tlsproxy_tls_exclude_ciphers"),
		    cfg_str(cfg, "tlsproxy_tls_mandatory_exclude_ciphers"));
		p.protocols = cfg_str(cfg, "tlsproxy_tls_mandatory_protocols");
	} else {
		grade = cfg_str(cfg, "tlsproxy_tls_ciphers");
		snprintf(excl, sizeof(excl), "%s",
		    cfg_str(cfg, "tlsproxy_tls_exclude_ciphers"));
		p.protocols = cfg_str(cfg, "tlsproxy_tls_protocols");
	}
	p.ask_ccert = cfg_bool(cfg, "tlsproxy_tls_ask_ccert");
	/* As Postfix: req_ccert only means something with encrypt. */
	p.req_ccert = st->level == SNAP_LEVEL_ENCRYPT &&
	    cfg_bool(cfg, "tlsproxy_tls_req_ccert");
	/* As Postfix: no anonymous suites when a client certificate is wanted. */
	if ((p.ask_ccert || p.req_ccert) &&
	    strlen(excl) + sizeof(" aNULL") > sizeof(excl)) {
		snprintf(err, errlen, "%s: cipher exclusions too long", what);
		return (-1);
	}
	if (p.ask_ccert || p.req_ccert)
		strcat(excl, " aNULL");
	if (tls_cipher_list(grade, cfg_str(cfg, "tls_high_cipherlist"),
	    cfg_str(cfg, "tls_medium_cipherlist"), cfg_str(cfg, "tls_low_cipherlist"),
	    cfg_str(cfg, "tls_export_cipherlist"), cfg_str(cfg, "tls_null_cipherlist"),
	    excl, ciphers, sizeof(ciphers), terr, sizeof(terr)) < 0) {
		snprintf(err, errlen, "%s: %s", what, terr);
		return (-1);
	}
	p.cipherlist = ciphers;
	p.cert_file = cfg_str(cfg, "tlsproxy_tls_cert_file");
	p.key_file = cfg_str(cfg, "tlsproxy_tls_key_file");
	p.eccert_file = cfg_str(cfg, "tlsproxy_tls_eccert_file");
	p.eckey_file = cfg_str(cfg, "tlsproxy_tls_eckey_file");
	p.dcert_file = cfg_str(cfg, "tlsproxy_tls_dcert_file");
	p.dkey_file = cfg_str(cfg, "tlsproxy_tls_dkey_file");
	p.chain_files = cfg_str(cfg, "tlsproxy_tls_chain_files");
	p.CAfile = cfg_str(cfg, "tlsproxy_tls_CAfile");
	p.CApath = cfg_str(cfg, "tlsproxy_tls_CApath");
	p.append_default_CA = cfg_bool(cfg, "tls_append_default_CA");
	p.curves = cfg_str(cfg, "tls_eecdh_auto_curves");
	p.ffdhe = cfg_str(cfg, "tls_ffdhe_auto_groups");
	p.dh_param_file = cfg_str(cfg, "tlsproxy_tls_dh1024_param_file");
	p.verifydepth = (int)cfg_int(cfg, "tlsproxy_tls_ccert_verifydepth");
	p.mdalg = cfg_str(cfg, "tlsproxy_tls_fingerprint_digest");
	p.legacy_pkey_fprint = cfg_bool(cfg, "tls_legacy_public_key_fingerprints");
	p.preempt = cfg_bool(cfg, "tls_preempt_cipherlist");
	p.disable_workarounds = cfg_str(cfg, "tls_disable_workarounds");
	p.issue_session_ids = cfg_bool(cfg, "tlsproxy_tls_always_issue_session_ids");
	p.sni_maps = cfg_str(cfg, "tls_server_sni_maps");
	p.loglevel = st->loglevel;
	/*
	 * As Postfix: a server-side session-ID cache only with a cache
	 * database named (the file itself is not used: the shared
	 * in-memory cache is); tickets do not need it.
	 */
	p.cache = *cfg_str(cfg, "smtpd_tls_session_cache_database") != '\0' ?
	    cache : NULL;
	p.cache_timeout = cfg_int(cfg, "tlsproxy_tls_session_cache_timeout");
	/* Postfix: an empty tls_session_ticket_cipher turns tickets off. */
	p.tickets = *cfg_str(cfg, "tls_session_ticket_cipher") != '\0';
	eecdh = cfg_str(cfg, "tlsproxy_tls_eecdh_grade");
	if (*eecdh != '\0' && strcasecmp(eecdh, "auto") != 0)
		log_warnx("%s: tlsproxy_tls_eecdh_grade = %s is ignored, as in "
		    "Postfix >= 3.6: the groups of tls_eecdh_auto_curves are used",
		    what, eecdh);
	if ((st->tls = tlss_ctx_new(&p, terr, sizeof(terr))) == NULL) {
		snprintf(err, errlen, "%s: %s", what, terr);
		return (-1);
	}
	st->owns_tls = 1;
	if (st->tls->ncerts == 0) {
		tlss_ctx_free(st->tls);
		st->tls = NULL;
		st->owns_tls = 0;
		st->off_reason = "No server certs available. TLS can't be enabled";
		if (tcp) {
			snprintf(err, errlen, "%s: no server certificate is configured "
			    "(tlsproxy_tls_cert_file, tlsproxy_tls_eccert_file or "
			    "tlsproxy_tls_chain_files), but a TCP frontend needs one", what);
			return (-1);
		}
	}
	return (0);
}

static void
snap_tls_free(struct snap_tls *st)
{
	if (st->owns_tls)
		tlss_ctx_free(st->tls);
	st->tls = NULL;
	st->owns_tls = 0;
}

struct snap *
snap_build(struct cfg *cfg, struct scache *cache, char *err, size_t errlen)
{
	struct snap *s;
	const struct cfg_listener *l;
	const struct snap_tls *from;
	char	 what[300];
	size_t	 i;
	int	 need_global = SNAP_NEED_NONE, need_wrap = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		cfg_free(cfg);
		return (NULL);
	}
	s->magic = SNAP_MAGIC;
	atomic_init(&s->refs, 1);
	s->cfg = cfg;
	s->watchdog_ms = (int)cfg_int(cfg, "tlsproxy_watchdog_timeout") * 1000;
	s->max_sessions = (unsigned int)cfg_int(cfg, "tlsproxy_max_sessions");
	/* Checked when the file was read: a failure here is memory. */
	if (netlist_parse(cfg_str(cfg, "tlsproxy_client_event_limit_exceptions"),
	    &s->exempt, what, sizeof(what)) < 0) {
		snprintf(err, errlen, "tlsproxy_client_event_limit_exceptions: %s",
		    what);
		goto fail;
	}
	s->climit.count_limit = (unsigned int)cfg_int(cfg,
	    "tlsproxy_client_connection_count_limit");
	s->climit.rate_limit = (unsigned int)cfg_int(cfg,
	    "tlsproxy_client_connection_rate_limit");
	s->climit.unit_ms = cfg_int(cfg,
	    "tlsproxy_client_connection_rate_time_unit") * 1000;
	s->climit.exempt = &s->exempt;
	s->nlst = cfg_listener_count(cfg);
	if (s->nlst > 0 && (s->lst = calloc(s->nlst, sizeof(*s->lst))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/*
	 * The global context serves every handoff and STARTTLS listener
	 * without settings of its own; it needs certificates only if such
	 * a STARTTLS listener exists. Implicit-TLS listeners without
	 * settings of their own share the wrappermode context: the global
	 * one when that is at encrypt already, else one built with the
	 * mandatory settings.
	 */
	for (i = 0; i < s->nlst; i++) {
		if (cfg_listener_noverrides(cfg, i) != 0)
			continue;
		switch (snap_need(cfg_listener_get(cfg, i))) {
		case SNAP_NEED_TLS:
			need_wrap = 1;
			break;
		case SNAP_NEED_LEVEL:
			need_global = SNAP_NEED_LEVEL;
			break;
		}
	}
	if (snap_tls_build(cfg, cache, cfg_path(cfg), need_global, &s->global,
	    err, errlen) < 0)
		goto fail;
	if (need_wrap) {
		if (s->global.level == SNAP_LEVEL_ENCRYPT && s->global.tls != NULL) {
			s->wrap = s->global;
			s->wrap.owns_tls = 0;
		} else if (snap_tls_build(cfg, cache, cfg_path(cfg), SNAP_NEED_TLS,
		    &s->wrap, err, errlen) < 0)
			goto fail;
	}
	for (i = 0; i < s->nlst; i++) {
		l = cfg_listener_get(cfg, i);
		lst_key_of(l, s->lst[i].key, sizeof(s->lst[i].key));
		s->lst[i].lcfg = l;
		if (cfg_listener_noverrides(cfg, i) == 0) {
			from = snap_need(l) == SNAP_NEED_TLS ? &s->wrap : &s->global;
			s->lst[i].level = from->level;
			s->lst[i].tls = from->tls;
			s->lst[i].off_reason = from->off_reason;
			s->lst[i].loglevel = from->loglevel;
			s->lst[i].auth_only = from->auth_only;
			continue;
		}
		snprintf(what, sizeof(what), "%s:%d: listener %s", cfg_path(cfg),
		    l->line, l->kind == CFG_LST_TCP ? l->listen : l->handoff);
		if (snap_tls_build(cfg_listener_cfg(cfg, i), cache, what,
		    snap_need(l), &s->lst[i], err, errlen) < 0)
			goto fail;
	}
	return (s);
fail:
	snap_unref(s);
	return (NULL);
}

const struct snap_tls *
snap_tls_for(const struct snap *s, const char *key)
{
	size_t	 i;

	for (i = 0; i < s->nlst; i++)
		if (strcmp(s->lst[i].key, key) == 0)
			return (&s->lst[i]);
	return (&s->global);
}

struct snap *
snap_ref(struct snap *s)
{
	atomic_fetch_add(&s->refs, 1);
	return (s);
}

void
snap_unref(struct snap *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	if (s->magic != SNAP_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (i = 0; i < s->nlst && s->lst != NULL; i++)
		snap_tls_free(&s->lst[i]);
	free(s->lst);
	snap_tls_free(&s->wrap);
	snap_tls_free(&s->global);
	netlist_free(&s->exempt);
	cfg_free(s->cfg);
	s->magic = 0;
	free(s);
}

struct snap *
snap_current(void)
{
	struct snap *s;

	pthread_mutex_lock(&snap_lock);
	s = snap_cur ? snap_ref(snap_cur) : NULL;
	pthread_mutex_unlock(&snap_lock);
	return (s);
}

void
snap_install(struct snap *s)
{
	struct snap *old;

	pthread_mutex_lock(&snap_lock);
	old = snap_cur;
	snap_cur = s;
	pthread_mutex_unlock(&snap_lock);
	snap_unref(old);		/* outside the lock: may free a context */
}
