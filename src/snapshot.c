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

static int
snap_has_tcp_listener(const struct cfg *cfg)
{
	size_t	 i;

	for (i = 0; i < cfg_listener_count(cfg); i++)
		if (cfg_listener_get(cfg, i)->kind == CFG_LST_TCP)
			return (1);
	return (0);
}

struct snap *
snap_build(struct cfg *cfg, char *err, size_t errlen)
{
	struct snap *s;
	struct tlss_props p;
	char	 ciphers[2048], excl[1024], terr[512];
	const char *grade;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		cfg_free(cfg);
		return (NULL);
	}
	s->magic = SNAP_MAGIC;
	atomic_init(&s->refs, 1);
	s->cfg = cfg;
	s->level = snap_level(cfg);
	s->loglevel = atoi(cfg_str(cfg, "tlsproxy_tls_loglevel"));
	s->watchdog_ms = (int)cfg_int(cfg, "tlsproxy_watchdog_timeout") * 1000;

	if (s->level == SNAP_LEVEL_NONE) {
		s->off_reason = "TLS server role is disabled with "
		    "tlsproxy_tls_security_level or tlsproxy_use_tls";
		if (snap_has_tcp_listener(cfg)) {
			snprintf(err, errlen, "the TLS security level is \"none\" "
			    "(tlsproxy_tls_security_level, or tlsproxy_use_tls = no), "
			    "but TCP frontend listeners need TLS: set it to may or encrypt");
			goto fail;
		}
		return (s);
	}
	/* Mandatory grade, protocols and extra exclusions only with encrypt. */
	if (s->level == SNAP_LEVEL_ENCRYPT) {
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
	if (tls_cipher_list(grade, cfg_str(cfg, "tls_high_cipherlist"),
	    cfg_str(cfg, "tls_medium_cipherlist"), cfg_str(cfg, "tls_low_cipherlist"),
	    cfg_str(cfg, "tls_export_cipherlist"), cfg_str(cfg, "tls_null_cipherlist"),
	    excl, ciphers, sizeof(ciphers), terr, sizeof(terr)) < 0) {
		snprintf(err, errlen, "%s", terr);
		goto fail;
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
	p.loglevel = s->loglevel;
	if ((s->tls = tlss_ctx_new(&p, terr, sizeof(terr))) == NULL) {
		snprintf(err, errlen, "%s", terr);
		goto fail;
	}
	if (s->tls->ncerts == 0) {
		tlss_ctx_free(s->tls);
		s->tls = NULL;
		s->off_reason = "No server certs available. TLS can't be enabled";
		if (snap_has_tcp_listener(cfg)) {
			snprintf(err, errlen, "no server certificate is configured "
			    "(tlsproxy_tls_cert_file, tlsproxy_tls_eccert_file or "
			    "tlsproxy_tls_chain_files), but TCP frontend listeners need one");
			goto fail;
		}
	}
	return (s);
fail:
	snap_unref(s);
	return (NULL);
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
	if (s == NULL)
		return;
	if (s->magic != SNAP_MAGIC)
		log_panic("%s: bad magic", __func__);
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	tlss_ctx_free(s->tls);
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
