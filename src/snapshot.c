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

#include <openssl/evp.h>

#include "listener.h"
#include "log.h"
#include "privsep.h"
#include "snapshot.h"
#include "sys.h"
#include "tls_common.h"
#include "tls_props.h"

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

/*
 * snap_field_param - the parameter behind a setting tlss_ctx_new()
 * refused, as this configuration chose it (NULL: none in particular)
 */
static const char *
snap_field_param(const struct cfg *cfg, enum tlss_field f, int mandatory,
    const char *grade, char *buf, size_t len)
{
	switch (f) {
	case TLSS_F_PROTOCOLS:
		return (mandatory ? "tlsproxy_tls_mandatory_protocols" :
		    "tlsproxy_tls_protocols");
	case TLSS_F_WORKAROUNDS:
		return ("tls_disable_workarounds");
	case TLSS_F_CIPHERS:
		/* The grade's list: exclusions alone never empty a list. */
		snprintf(buf, len, "tls_%s_cipherlist", grade);
		return (buf);
	case TLSS_F_GROUPS:
		return ("tls_eecdh_auto_curves");
	case TLSS_F_DH:
		return ("tlsproxy_tls_dh1024_param_file");
	case TLSS_F_CERT:
		return ("tlsproxy_tls_cert_file");
	case TLSS_F_KEY:
		return ("tlsproxy_tls_key_file");
	case TLSS_F_ECCERT:
		return ("tlsproxy_tls_eccert_file");
	case TLSS_F_ECKEY:
		return ("tlsproxy_tls_eckey_file");
	case TLSS_F_DCERT:
		return ("tlsproxy_tls_dcert_file");
	case TLSS_F_DKEY:
		return ("tlsproxy_tls_dkey_file");
	case TLSS_F_CHAIN:
		return ("tlsproxy_tls_chain_files");
	case TLSS_F_CA:
		return (*cfg_str(cfg, "tlsproxy_tls_CAfile") != '\0' ?
		    "tlsproxy_tls_CAfile" : "tlsproxy_tls_CApath");
	case TLSS_F_MDALG:
		return ("tlsproxy_tls_fingerprint_digest");
	case TLSS_F_SNI_MAPS:
		return ("tls_server_sni_maps");
	default:
		return (NULL);
	}
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

/* What snap_tls_fill() makes: a context's properties and their digest. */
struct snap_fill {
	struct tlss_props p;
	char		 ciphers[2048];
	char		 excl[1024];
	const char	*grade;
	unsigned char	 digest[SNAP_DIGEST_LEN];
};

/* snap_digest_str - one field of a digest: its text and a NUL */
static void
snap_digest_str(EVP_MD_CTX *md, const char *v)
{
	v = v != NULL ? v : "";
	(void)EVP_DigestUpdate(md, v, strlen(v) + 1);
}

/* snap_digest_int - one numeric field */
static void
snap_digest_int(EVP_MD_CTX *md, long v)
{
	char	 buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	snap_digest_str(md, buf);
}

/*
 * snap_props_digest - what tells one context from another: every
 * property tlss_ctx_new() uses; 0, or -1 (memory)
 */
static int
snap_props_digest(const struct tlss_props *p, unsigned char *out)
{
	EVP_MD_CTX *md;
	unsigned int n;
	int	 ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return (-1);
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
	snap_digest_str(md, p->cert_file);
	snap_digest_str(md, p->key_file);
	snap_digest_str(md, p->eccert_file);
	snap_digest_str(md, p->eckey_file);
	snap_digest_str(md, p->dcert_file);
	snap_digest_str(md, p->dkey_file);
	snap_digest_str(md, p->chain_files);
	snap_digest_str(md, p->CAfile);
	snap_digest_str(md, p->CApath);
	snap_digest_int(md, p->append_default_CA);
	snap_digest_str(md, p->protocols);
	snap_digest_str(md, p->cipherlist);
	snap_digest_str(md, p->curves);
	snap_digest_str(md, p->ffdhe);
	snap_digest_str(md, p->dh_param_file);
	snap_digest_int(md, p->ask_ccert);
	snap_digest_int(md, p->req_ccert);
	snap_digest_int(md, p->verifydepth);
	snap_digest_str(md, p->mdalg);
	snap_digest_int(md, p->legacy_pkey_fprint);
	snap_digest_int(md, p->preempt);
	snap_digest_str(md, p->disable_workarounds);
	snap_digest_int(md, p->issue_session_ids);
	snap_digest_str(md, p->sni_maps);
	snap_digest_int(md, p->loglevel);
	snap_digest_int(md, p->cache != NULL);
	snap_digest_int(md, p->cache_timeout);
	snap_digest_int(md, p->tickets);
	ok = ok && EVP_DigestFinal_ex(md, out, &n) == 1 && n == SNAP_DIGEST_LEN;
	EVP_MD_CTX_free(md);
	return (ok ? 0 : -1);
}

/* snap_or - a request's string, "" when it has none */
static const char *
snap_or(const char *v)
{
	return (v != NULL ? v : "");
}

/*
 * snap_tls_fill - the server TLS properties of one configuration
 * (global, or a listener's effective one), with a 3.12 request's own
 * settings over them when req is not NULL. tcp: SNAP_NEED_*. 0, 1 when
 * the server role is off (st->off_reason), -1 with err.
 */
static int
snap_tls_fill(const struct cfg *cfg, struct scache *cache, const char *what,
    int tcp, const struct tprops_server *req, struct snap_tls *st,
    struct snap_fill *f, char *err, size_t errlen)
{
	struct tlss_props *p = &f->p;
	char	 terr[512];
	const char *eecdh;

	memset(p, 0, sizeof(*p));
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
	st->cfg = cfg;
	if (st->level == SNAP_LEVEL_NONE) {
		st->off_reason = "TLS server role is disabled with "
		    "tlsproxy_tls_security_level or tlsproxy_use_tls";
		if (tcp == SNAP_NEED_TLS) {
			snprintf(err, errlen, "%s: the TLS security level is \"none\" "
			    "(tlsproxy_tls_security_level, or tlsproxy_use_tls = no), "
			    "but a TCP frontend needs TLS: set it to may or encrypt", what);
			return (-1);
		}
		return (1);
	}
	/* Mandatory grade, protocols and extra exclusions only with encrypt. */
	if (st->level == SNAP_LEVEL_ENCRYPT) {
		f->grade = cfg_str(cfg, "tlsproxy_tls_mandatory_ciphers");
		snprintf(f->excl, sizeof(f->excl), "%s %s",
		    cfg_str(cfg, "tlsproxy_tls_exclude_ciphers"),
		    cfg_str(cfg, "tlsproxy_tls_mandatory_exclude_ciphers"));
		p->protocols = cfg_str(cfg, "tlsproxy_tls_mandatory_protocols");
	} else {
		f->grade = cfg_str(cfg, "tlsproxy_tls_ciphers");
		snprintf(f->excl, sizeof(f->excl), "%s",
		    cfg_str(cfg, "tlsproxy_tls_exclude_ciphers"));
		p->protocols = cfg_str(cfg, "tlsproxy_tls_protocols");
	}
	p->ask_ccert = cfg_bool(cfg, "tlsproxy_tls_ask_ccert");
	/* As Postfix: req_ccert only means something with encrypt. */
	p->req_ccert = st->level == SNAP_LEVEL_ENCRYPT &&
	    cfg_bool(cfg, "tlsproxy_tls_req_ccert");
	p->cert_file = cfg_str(cfg, "tlsproxy_tls_cert_file");
	p->key_file = cfg_str(cfg, "tlsproxy_tls_key_file");
	p->eccert_file = cfg_str(cfg, "tlsproxy_tls_eccert_file");
	p->eckey_file = cfg_str(cfg, "tlsproxy_tls_eckey_file");
	p->dcert_file = cfg_str(cfg, "tlsproxy_tls_dcert_file");
	p->dkey_file = cfg_str(cfg, "tlsproxy_tls_dkey_file");
	p->chain_files = cfg_str(cfg, "tlsproxy_tls_chain_files");
	p->CAfile = cfg_str(cfg, "tlsproxy_tls_CAfile");
	p->CApath = cfg_str(cfg, "tlsproxy_tls_CApath");
	p->dh_param_file = cfg_str(cfg, "tlsproxy_tls_dh1024_param_file");
	p->verifydepth = (int)cfg_int(cfg, "tlsproxy_tls_ccert_verifydepth");
	p->mdalg = cfg_str(cfg, "tlsproxy_tls_fingerprint_digest");
	/*
	 * Postfix 3.12: the requester's own server settings (its
	 * postscreen_tls_* parameters) make the context, as that release's
	 * tlsproxy does; the group A parameters (tls_*) stay ours, as there.
	 */
	if (req != NULL) {
		p->cert_file = snap_or(req->cert_file);
		p->key_file = snap_or(req->key_file);
		p->eccert_file = snap_or(req->eccert_file);
		p->eckey_file = snap_or(req->eckey_file);
		p->dcert_file = snap_or(req->dcert_file);
		p->dkey_file = snap_or(req->dkey_file);
		p->chain_files = snap_or(req->chain_files);
		p->CAfile = snap_or(req->CAfile);
		p->CApath = snap_or(req->CApath);
		p->dh_param_file = snap_or(req->dh1024_param_file);
		p->protocols = snap_or(req->protocols);
		p->ask_ccert = req->ask_ccert != 0;
		p->req_ccert = req->requirecert != 0;
		p->verifydepth = (int)req->verifydepth;
		p->mdalg = snap_or(req->mdalg);
		f->grade = snap_or(req->cipher_grade);
		snprintf(f->excl, sizeof(f->excl), "%s", snap_or(req->cipher_exclusions));
	}
	/* As Postfix: no anonymous suites when a client certificate is wanted. */
	if ((p->ask_ccert || p->req_ccert) &&
	    strlen(f->excl) + sizeof(" aNULL") > sizeof(f->excl)) {
		snprintf(err, errlen, "%s: cipher exclusions too long", what);
		return (-1);
	}
	if (p->ask_ccert || p->req_ccert)
		strcat(f->excl, " aNULL");
	if (tls_cipher_list(f->grade, cfg_str(cfg, "tls_high_cipherlist"),
	    cfg_str(cfg, "tls_medium_cipherlist"), cfg_str(cfg, "tls_low_cipherlist"),
	    cfg_str(cfg, "tls_export_cipherlist"), cfg_str(cfg, "tls_null_cipherlist"),
	    f->excl, f->ciphers, sizeof(f->ciphers), terr, sizeof(terr)) < 0) {
		snprintf(err, errlen, "%s: %s", what, terr);
		return (-1);
	}
	p->cipherlist = f->ciphers;
	p->append_default_CA = cfg_bool(cfg, "tls_append_default_CA");
	p->curves = cfg_str(cfg, "tls_eecdh_auto_curves");
	p->ffdhe = cfg_str(cfg, "tls_ffdhe_auto_groups");
	p->legacy_pkey_fprint = cfg_bool(cfg, "tls_legacy_public_key_fingerprints");
	p->preempt = cfg_bool(cfg, "tls_preempt_cipherlist");
	p->disable_workarounds = cfg_str(cfg, "tls_disable_workarounds");
	p->issue_session_ids = cfg_bool(cfg, "tlsproxy_tls_always_issue_session_ids");
	p->sni_maps = cfg_str(cfg, "tls_server_sni_maps");
	p->loglevel = st->loglevel;
	/*
	 * As Postfix: a server-side session-ID cache only with a cache
	 * database named (the file itself is not used: the shared
	 * in-memory cache is); tickets do not need it.
	 */
	p->cache = *cfg_str(cfg, "smtpd_tls_session_cache_database") != '\0' ?
	    cache : NULL;
	p->cache_timeout = cfg_int(cfg, "tlsproxy_tls_session_cache_timeout");
	/* Postfix: an empty tls_session_ticket_cipher turns tickets off. */
	p->tickets = *cfg_str(cfg, "tls_session_ticket_cipher") != '\0';
	if (req == NULL) {
		eecdh = cfg_str(cfg, "tlsproxy_tls_eecdh_grade");
		if (*eecdh != '\0' && strcasecmp(eecdh, "auto") != 0)
			log_warnx("%s: tlsproxy_tls_eecdh_grade = %s is ignored, as in "
			    "Postfix >= 3.6: the groups of tls_eecdh_auto_curves are "
			    "used", what, eecdh);
	}
	if (snap_props_digest(p, f->digest) < 0) {
		snprintf(err, errlen, "%s: out of memory", what);
		return (-1);
	}
	return (0);
}

/* snap_tls_make - the context of filled properties; 0 or -1 with err */
static int
snap_tls_make(const struct cfg *cfg, const char *what, int tcp,
    struct snap_tls *st, const struct snap_fill *f, char *err, size_t errlen)
{
	enum tlss_field bad;
	char	 terr[512], pbuf[64];
	const char *param;

	if ((st->tls = tlss_ctx_new(&f->p, &bad, terr, sizeof(terr))) == NULL) {
		param = snap_field_param(cfg, bad, st->level == SNAP_LEVEL_ENCRYPT,
		    f->grade, pbuf, sizeof(pbuf));
		/* "FILE:LINE: PARAMETER: what is wrong", as the file's checks say. */
		if (param != NULL)
			snprintf(err, errlen, "%s: %s", cfg_where(cfg, param), terr);
		else
			snprintf(err, errlen, "%s: %s", what, terr);
		return (-1);
	}
	st->owns_tls = 1;
	memcpy(st->digest, f->digest, sizeof(st->digest));
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

/*
 * snap_tls_build - the server TLS settings of one configuration (global,
 * or a listener's effective one). tcp: SNAP_NEED_*.
 */
static int
snap_tls_build(const struct cfg *cfg, struct scache *cache, const char *what,
    int tcp, struct snap_tls *st, char *err, size_t errlen)
{
	struct snap_fill *f;
	int	 rc;

	if ((f = malloc(sizeof(*f))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if ((rc = snap_tls_fill(cfg, cache, what, tcp, NULL, st, f, err,
	    errlen)) == 0)
		rc = snap_tls_make(cfg, what, tcp, st, f, err, errlen);
	free(f);
	return (rc < 0 ? -1 : 0);
}

/*
 * snap_req_unnamed - the first file of a request that this
 * configuration does not name, into bad; 0 when there is none
 */
static int
snap_req_unnamed(const struct cfg *cfg, const struct tprops_server *r,
    char *bad, size_t badlen)
{
	const char *v[] = {
		r->chain_files, r->cert_file, r->key_file, r->dcert_file,
		r->dkey_file, r->eccert_file, r->eckey_file, r->CAfile, r->CApath,
		r->dh1024_param_file,
	};
	char	 buf[4096], *tok, *save;
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (v[i] == NULL || *v[i] == '\0')
			continue;
		if (strlen(v[i]) >= sizeof(buf)) {
			snprintf(bad, badlen, "%.64s...", v[i]);
			return (1);
		}
		strcpy(buf, v[i]);
		for (tok = strtok_r(buf, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save))
			if (!priv_names_file(cfg, tok)) {
				sys_printable(bad, badlen, tok);
				return (1);
			}
	}
	return (0);
}

/* snap_req_find - the cached entry of a digest (req_lock held), or NULL */
static struct snap_req *
snap_req_find(struct snap *s, const unsigned char *digest)
{
	size_t	 i;

	for (i = 0; i < s->nreq; i++)
		if (memcmp(s->req[i]->digest, digest, SNAP_DIGEST_LEN) == 0)
			return (s->req[i]);
	return (NULL);
}

static void	snap_tls_free(struct snap_tls *);

const struct snap_tls *
snap_tls_request(struct snap *s, const struct snap_tls *base,
    const struct tprops_server *r, char *err, size_t errlen)
{
	struct snap_fill *f;
	struct snap_req *q, *other;
	const struct snap_tls *ret;
	char	 bad[256], what[300];
	int	 rc, full;

	if (base->tls == NULL || base->cfg == NULL)
		return (base);
	if ((f = malloc(sizeof(*f))) == NULL || (q = calloc(1, sizeof(*q))) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	snprintf(what, sizeof(what), "%s: the request's server settings",
	    cfg_path(base->cfg));
	rc = snap_tls_fill(base->cfg, s->cache, what, SNAP_NEED_NONE, r, &q->st, f,
	    err, errlen);
	if (rc != 0 || memcmp(f->digest, base->digest, SNAP_DIGEST_LEN) == 0) {
		/* Off by our level, or the context we have already. */
		free(f);
		free(q);
		return (rc < 0 ? NULL : base);
	}
	memcpy(q->digest, f->digest, SNAP_DIGEST_LEN);
	pthread_mutex_lock(&s->req_lock);
	other = snap_req_find(s, q->digest);
	pthread_mutex_unlock(&s->req_lock);
	if (other != NULL) {
		free(f);
		free(q);
		return (other->st.tls != NULL || other->st.off_reason != NULL ?
		    &other->st : base);
	}
	/* Files ours does not name: never loaded for a local client. */
	if (snap_req_unnamed(s->cfg, r, bad, sizeof(bad))) {
		log_warnx("request from tlsproxy server names %s, a file this "
		    "daemon's configuration does not name; serving with this "
		    "daemon's own settings", bad);
		q->st.tls = NULL;
		q->st.off_reason = NULL;	/* "use base" */
	} else if (snap_tls_make(base->cfg, what, SNAP_NEED_NONE, &q->st, f, err,
	    errlen) < 0) {
		log_warnx("%s", err);
		q->st.off_reason = "cannot make the TLS context of the request's "
		    "server settings";
	}
	free(f);
	/* Another worker may have made the same meanwhile: keep one. */
	pthread_mutex_lock(&s->req_lock);
	if ((other = snap_req_find(s, q->digest)) == NULL &&
	    !(full = s->nreq >= SNAP_REQ_MAX))
		s->req[s->nreq++] = q;
	else
		full = other == NULL;
	pthread_mutex_unlock(&s->req_lock);
	if (other == NULL && !full)
		return (q->st.tls != NULL || q->st.off_reason != NULL ? &q->st : base);
	if (full)
		log_warnx("more than %d distinct server settings in requests; "
		    "serving with this daemon's own settings", SNAP_REQ_MAX);
	ret = other != NULL && (other->st.tls != NULL || other->st.off_reason != NULL) ?
	    &other->st : base;
	snap_tls_free(&q->st);
	free(q);
	return (ret);
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
	s->cache = cache;
	pthread_mutex_init(&s->req_lock, NULL);
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
			s->lst[i].cfg = from->cfg;
			memcpy(s->lst[i].digest, from->digest, SNAP_DIGEST_LEN);
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
	for (i = 0; i < s->nreq; i++) {
		snap_tls_free(&s->req[i]->st);
		free(s->req[i]);
	}
	pthread_mutex_destroy(&s->req_lock);
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
