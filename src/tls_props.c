/*
 * NAME
 *	tls_props - client-role TLS properties (Q2) and TLS context (R3)
 * DESCRIPTION
 *	See tls_props.h. The reader walks the record with a cursor: each
 *	wanted attribute is searched from the cursor on, skipping names
 *	it does not want (other versions' additions), but never past a
 *	"stop" name that belongs to a later part of the schema; that
 *	keeps an absent optional attribute from pulling in a later
 *	occurrence of the same name (mdalg and timeout occur twice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "sys.h"
#include "tls_props.h"

struct tprops_cur {
	const struct attr_rec *rec;
	size_t		 pos;
	char		*err;
	size_t		 errlen;
};

/* tprops_find - index of NAME at or after the cursor, not past STOP; -1 */
static long
tprops_find(const struct tprops_cur *c, const char *name, const char *stop)
{
	size_t	 i;

	for (i = c->pos; i < c->rec->n; i++) {
		if (strcmp(c->rec->v[i].name, name) == 0)
			return ((long)i);
		if (stop != NULL && strcmp(c->rec->v[i].name, stop) == 0)
			return (-1);
	}
	return (-1);
}

/* tprops_str - wanted string attribute; NULL (and a reason) if missing */
static const char *
tprops_str(struct tprops_cur *c, const char *name, const char *stop, int required)
{
	long	 i;

	if ((i = tprops_find(c, name, stop)) < 0) {
		if (required)
			snprintf(c->err, c->errlen, "missing attribute %s", name);
		return (NULL);
	}
	c->pos = (size_t)i + 1;
	return (c->rec->v[i].value);
}

/* tprops_uint - wanted number; -1 with a reason if missing or malformed */
static int
tprops_uint(struct tprops_cur *c, const char *name, const char *stop,
    unsigned int *out)
{
	const char *v;
	char	 shown[80];

	if ((v = tprops_str(c, name, stop, 1)) == NULL)
		return (-1);
	if (attr_parse_uint(v, out) < 0) {
		sys_printable(shown, sizeof(shown), v);
		snprintf(c->err, c->errlen, "malformed numerical data for %s: %s",
		    name, shown);
		return (-1);
	}
	return (0);
}

const char *
tprops_level_name(unsigned int level)
{
	static const char *names[] = {
		"none", "may", "encrypt", "fingerprint", "half-dane", "dane",
		"dane-only", "verify", "secure",
	};

	return (level < sizeof(names) / sizeof(names[0]) ? names[level] : "unknown");
}

long
tprops_b64_decode(const char *in, unsigned char *out, size_t outlen)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t	 len = strlen(in), i, n = 0;
	unsigned int acc = 0, pad = 0, k = 0;
	const char *p;

	if (len % 4 != 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			/* Only at the end, at most two. */
			if (i + 2 < len || (i + 1 < len && in[i + 1] != '='))
				return (-1);
			pad++;
			acc <<= 6;
		} else {
			if (pad || (p = strchr(alphabet, in[i])) == NULL)
				return (-1);
			acc = (acc << 6) | (unsigned int)(p - alphabet);
		}
		if (++k == 4) {
			if (n + 3 - pad > outlen)
				return (-1);
			out[n++] = (unsigned char)(acc >> 16);
			if (pad < 2)
				out[n++] = (unsigned char)(acc >> 8);
			if (pad < 1)
				out[n++] = (unsigned char)acc;
			acc = 0;
			k = 0;
		}
	}
	return ((long)n);
}

/*
 * tprops_argv - an ARGV list: argv_size, then that many argv_value
 * before the attribute stop; *out is an owned array of borrowed strings
 */
static int
tprops_argv(struct tprops_cur *c, const char *what, const char *stop,
    const char ***out, size_t *n)
{
	unsigned int size, i;

	*out = NULL;
	*n = 0;
	if (tprops_uint(c, "argv_size", NULL, &size) < 0)
		return (-1);
	if (size > TPROPS_MATCH_MAX) {
		snprintf(c->err, c->errlen, "too many %s: %u", what, size);
		return (-1);
	}
	if (size > 0 && (*out = calloc(size, sizeof(**out))) == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		return (-1);
	}
	for (i = 0; i < size; i++) {
		if (((*out)[i] = tprops_str(c, "argv_value", stop, 1)) == NULL)
			return (-1);
		*n = i + 1;
	}
	return (0);
}

/*
 * tprops_decode_tlsrpt - the TLSRPT block of a USE_TLSRPT build (3.10+):
 * tlsrpt, and when it is 1 what a report needs
 */
static int
tprops_decode_tlsrpt(struct tprops_cur *c, struct tprops_tlsrpt *t)
{
	if (tprops_uint(c, "tlsrpt", NULL, &t->enabled) < 0)
		return (-1);
	if (!t->enabled)
		return (0);
	if ((t->socket_name = tprops_str(c, "rpt_socket_name", NULL, 1)) == NULL ||
	    (t->policy_domain = tprops_str(c, "rpt_policy_domain", NULL, 1)) == NULL ||
	    (t->policy_string = tprops_str(c, "rpt_policy_string", NULL, 1)) == NULL ||
	    tprops_uint(c, "tls_policy_type", NULL, &t->policy_type) < 0 ||
	    tprops_argv(c, "TLSRPT policy strings", "tls_policy_domain",
	    &t->policy_strings,
	    &t->npolicy_strings) < 0 ||
	    (t->tls_policy_domain = tprops_str(c, "tls_policy_domain", NULL,
	    1)) == NULL ||
	    tprops_argv(c, "TLSRPT MX patterns", "snd_mta_addr", &t->mx_patterns,
	    &t->nmx_patterns) < 0 ||
	    (t->snd_mta_addr = tprops_str(c, "snd_mta_addr", NULL, 1)) == NULL ||
	    (t->rcv_mta_name = tprops_str(c, "rcv_mta_name", NULL, 1)) == NULL ||
	    (t->rcv_mta_addr = tprops_str(c, "rcv_mta_addr", NULL, 1)) == NULL ||
	    (t->rcv_mta_ehlo = tprops_str(c, "rcv_mta_ehlo", NULL, 1)) == NULL ||
	    tprops_uint(c, "skip_reused_hs", NULL, &t->skip_reused_hs) < 0 ||
	    tprops_uint(c, "flags", NULL, &t->flags) < 0)
		return (-1);
	return (0);
}

/* tprops_decode_tlsa - dane=1 in the 3.6+ form: domain, count, records */
static int
tprops_decode_tlsa(struct tprops_cur *c, struct tprops_client *p)
{
	struct tprops_tlsa *t;
	const char *data;
	unsigned int count, i;
	long	 n;

	if ((p->dane_domain = tprops_str(c, "domain", NULL, 1)) == NULL ||
	    tprops_uint(c, "count", NULL, &count) < 0)
		return (-1);
	if (count > TPROPS_TLSA_MAX) {
		snprintf(c->err, c->errlen, "too many TLSA records: %u", count);
		return (-1);
	}
	if (count == 0)
		return (0);
	if ((p->tlsa = calloc(count, sizeof(*p->tlsa))) == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		return (-1);
	}
	for (i = 0; i < count; i++) {
		t = &p->tlsa[i];
		p->ntlsa = i + 1;
		if (tprops_uint(c, "usage", NULL, &t->usage) < 0 ||
		    tprops_uint(c, "selector", NULL, &t->selector) < 0 ||
		    tprops_uint(c, "mtype", NULL, &t->mtype) < 0 ||
		    (data = tprops_str(c, "data", NULL, 1)) == NULL)
			return (-1);
		if ((t->data = malloc(strlen(data) / 4 * 3 + 1)) == NULL) {
			snprintf(c->err, c->errlen, "out of memory");
			return (-1);
		}
		if ((n = tprops_b64_decode(data, t->data, strlen(data) / 4 * 3 + 1)) < 0) {
			snprintf(c->err, c->errlen, "malformed base64 data in TLSA "
			    "record %u", i + 1);
			return (-1);
		}
		t->len = (size_t)n;
	}
	return (0);
}

int
tprops_client_decode(const struct attr_rec *rec, struct tprops_client *p,
    char *err, size_t errlen)
{
	struct tprops_cur cur = { rec, 0, err, errlen }, *c = &cur;
	unsigned int i;
	long	 b;
	int	 v312 = 0, v39 = 0, v310 = 0;

	memset(p, 0, sizeof(*p));
	p->dane_domain = "";

	/* Group A: everything before the first group B attribute. */
	if ((b = tprops_find(c, "log_param", NULL)) < 0) {
		snprintf(err, errlen, "missing attribute log_param");
		return (-1);
	}
	for (i = 0; i < (unsigned int)b && p->nparams < TPROPS_PARAMS_MAX; i++) {
		p->params[p->nparams].name = rec->v[i].name;
		p->params[p->nparams].value = rec->v[i].value;
		p->nparams++;
	}
	c->pos = (size_t)b;

	/* Group B. */
	if ((p->log_param = tprops_str(c, "log_param", NULL, 1)) == NULL ||
	    (p->log_level = tprops_str(c, "log_level", "timeout", 1)) == NULL ||
	    tprops_uint(c, "verifydepth", "timeout", &p->verifydepth) < 0 ||
	    (p->cache_type = tprops_str(c, "cache_type", "timeout", 1)) == NULL ||
	    (p->chain_files = tprops_str(c, "chain_files", "timeout", 1)) == NULL ||
	    (p->cert_file = tprops_str(c, "cert_file", "timeout", 1)) == NULL ||
	    (p->key_file = tprops_str(c, "key_file", "timeout", 1)) == NULL ||
	    (p->dcert_file = tprops_str(c, "dcert_file", "timeout", 1)) == NULL ||
	    (p->dkey_file = tprops_str(c, "dkey_file", "timeout", 1)) == NULL ||
	    (p->eccert_file = tprops_str(c, "eccert_file", "timeout", 1)) == NULL ||
	    (p->eckey_file = tprops_str(c, "eckey_file", "timeout", 1)) == NULL ||
	    (p->CAfile = tprops_str(c, "CAfile", "timeout", 1)) == NULL ||
	    (p->CApath = tprops_str(c, "CApath", "timeout", 1)) == NULL ||
	    (p->init_mdalg = tprops_str(c, "mdalg", "timeout", 1)) == NULL)
		goto fail;

	/* Group C. 3.12 starts it with its own log_param and log_level. */
	if (c->pos < rec->n && strcmp(rec->v[c->pos].name, "log_param") == 0)
		v312 = 1;
	if (tprops_uint(c, "timeout", NULL, &p->timeout) < 0)
		goto fail;
	if (tprops_find(c, "enable_rpk", "tls_level") >= 0)
		v39 = 1;
	if (tprops_uint(c, "tls_level", NULL, &p->tls_level) < 0 ||
	    (p->nexthop = tprops_str(c, "nexthop", NULL, 1)) == NULL ||
	    (p->host = tprops_str(c, "host", NULL, 1)) == NULL ||
	    (p->namaddr = tprops_str(c, "namaddr", NULL, 1)) == NULL ||
	    (p->sni = tprops_str(c, "sni", NULL, 1)) == NULL ||
	    (p->serverid = tprops_str(c, "serverid", NULL, 1)) == NULL ||
	    (p->helo = tprops_str(c, "helo", NULL, 1)) == NULL ||
	    (p->protocols = tprops_str(c, "protocols", NULL, 1)) == NULL ||
	    (p->cipher_grade = tprops_str(c, "cipher_grade", NULL, 1)) == NULL ||
	    (p->cipher_exclusions = tprops_str(c, "cipher_exclusions", NULL, 1)) == NULL ||
	    tprops_argv(c, "match names", "mdalg", &p->match, &p->nmatch) < 0)
		goto fail;
	if ((p->mdalg = tprops_str(c, "mdalg", "dane", 1)) == NULL ||
	    tprops_uint(c, "dane", NULL, &p->dane) < 0)
		goto fail;
	if (p->dane) {
		if (tprops_find(c, "domain", "count") >= 0) {
			if (tprops_decode_tlsa(c, p) < 0)
				goto fail;
		} else {
			/* 3.4/3.5: TLSA digests in ARGV lists; we cannot use them. */
			p->legacy_dane = 1;
		}
	}
	/*
	 * 3.10+: the TLSRPT block (USE_TLSRPT builds only), then, in every
	 * build, forced_failure_type: the mark of a 3.10 or later client.
	 */
	if (tprops_find(c, "tlsrpt", "forced_failure_type") >= 0) {
		p->has_tlsrpt = 1;
		if (tprops_decode_tlsrpt(c, &p->tlsrpt) < 0)
			goto fail;
	}
	if (tprops_find(c, "forced_failure_type", NULL) >= 0) {
		v310 = 1;
		p->forced_failure = tprops_str(c, "forced_failure_type", NULL, 1);
	}
	if (tprops_find(c, "trace_size_limit", NULL) >= 0 ||
	    tprops_param(p, "tls_fast_shutdown_enable") != NULL)
		v312 = 1;
	/* 3.11 dropped tls_legacy_public_key_fingerprints from group A. */
	p->version = v312 ? 312 : (v310 || p->has_tlsrpt) ?
	    (tprops_param(p, "tls_legacy_public_key_fingerprints") == NULL ? 311 :
	    310) : v39 ? 309 : tprops_param(p, "tls_ffdhe_auto_groups") != NULL ?
	    308 : p->legacy_dane ? 305 : 306;
	p->r3 = p->version >= 312 ? TPROPS_R3_312 : p->version >= 310 ?
	    TPROPS_R3_310 : p->version >= 309 ? TPROPS_R3_39 : p->version >= 306 ?
	    TPROPS_R3_36 : TPROPS_R3_35;
	return (0);
fail:
	tprops_client_free(p);
	return (-1);
}

int
tprops_server_decode(const struct attr_rec *rec, struct tprops_server *p,
    char *err, size_t errlen)
{
	struct tprops_cur cur = { rec, 0, err, errlen }, *c = &cur;
	long	 b;
	size_t	 i;

	memset(p, 0, sizeof(*p));
	if ((b = tprops_find(c, "log_param", NULL)) < 0) {
		snprintf(err, errlen, "missing attribute log_param");
		return (-1);
	}
	for (i = 0; i < (size_t)b && p->nparams < TPROPS_PARAMS_MAX; i++) {
		p->params[p->nparams].name = rec->v[i].name;
		p->params[p->nparams].value = rec->v[i].value;
		p->nparams++;
	}
	c->pos = (size_t)b;
	if ((p->log_param = tprops_str(c, "log_param", NULL, 1)) == NULL ||
	    (p->log_level = tprops_str(c, "log_level", NULL, 1)) == NULL ||
	    tprops_uint(c, "verifydepth", NULL, &p->verifydepth) < 0 ||
	    (p->cache_type = tprops_str(c, "cache_type", NULL, 1)) == NULL ||
	    tprops_uint(c, "set_sessid", NULL, &p->set_sessid) < 0 ||
	    (p->chain_files = tprops_str(c, "chain_files", NULL, 1)) == NULL ||
	    (p->cert_file = tprops_str(c, "cert_file", NULL, 1)) == NULL ||
	    (p->key_file = tprops_str(c, "key_file", NULL, 1)) == NULL ||
	    (p->dcert_file = tprops_str(c, "dcert_file", NULL, 1)) == NULL ||
	    (p->dkey_file = tprops_str(c, "dkey_file", NULL, 1)) == NULL ||
	    (p->eccert_file = tprops_str(c, "eccert_file", NULL, 1)) == NULL ||
	    (p->eckey_file = tprops_str(c, "eckey_file", NULL, 1)) == NULL ||
	    (p->CAfile = tprops_str(c, "CAfile", NULL, 1)) == NULL ||
	    (p->CApath = tprops_str(c, "CApath", NULL, 1)) == NULL ||
	    (p->protocols = tprops_str(c, "protocols", NULL, 1)) == NULL ||
	    (p->eecdh_grade = tprops_str(c, "eecdh_grade", NULL, 1)) == NULL ||
	    (p->dh1024_param_file = tprops_str(c, "dh1024_param_file", NULL,
	    1)) == NULL ||
	    (p->dh512_param_file = tprops_str(c, "dh512_param_file", NULL,
	    1)) == NULL ||
	    tprops_uint(c, "ask_ccert", NULL, &p->ask_ccert) < 0 ||
	    (p->mdalg = tprops_str(c, "mdalg", NULL, 1)) == NULL)
		return (-1);
	/* Group C has a log_param and log_level of its own. */
	if (tprops_str(c, "log_param", NULL, 1) == NULL ||
	    tprops_str(c, "log_level", NULL, 1) == NULL ||
	    tprops_uint(c, "timeout", NULL, &p->timeout) < 0 ||
	    tprops_uint(c, "enable_rpk", NULL, &p->enable_rpk) < 0 ||
	    tprops_uint(c, "requirecert", NULL, &p->requirecert) < 0 ||
	    (p->serverid = tprops_str(c, "serverid", NULL, 1)) == NULL ||
	    (p->namaddr = tprops_str(c, "namaddr", NULL, 1)) == NULL ||
	    (p->cipher_grade = tprops_str(c, "cipher_grade", NULL, 1)) == NULL ||
	    (p->cipher_exclusions = tprops_str(c, "cipher_exclusions", NULL,
	    1)) == NULL ||
	    (p->start_mdalg = tprops_str(c, "mdalg", NULL, 1)) == NULL ||
	    tprops_uint(c, "trace_size_limit", NULL, &p->trace_size_limit) < 0 ||
	    (p->trace_peer = tprops_str(c, "trace_peer", NULL, 1)) == NULL)
		return (-1);
	return (0);
}

void
tprops_client_free(struct tprops_client *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->ntlsa; i++)
		free(p->tlsa[i].data);
	free(p->tlsa);
	free(p->match);
	free(p->tlsrpt.policy_strings);
	free(p->tlsrpt.mx_patterns);
	p->tlsa = NULL;
	p->ntlsa = 0;
	p->match = NULL;
	p->nmatch = 0;
	p->tlsrpt.policy_strings = p->tlsrpt.mx_patterns = NULL;
	p->tlsrpt.npolicy_strings = p->tlsrpt.nmx_patterns = 0;
}

const char *
tprops_param(const struct tprops_client *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, name) == 0)
			return (p->params[i].value);
	return (NULL);
}

int
tprops_context_encode(const struct tprops_context *x, enum tprops_r3 r3,
    struct attr_rec *out)
{
	int	 r = 0;

	r |= attr_rec_add(out, "peer_CN", x->peer_CN);
	r |= attr_rec_add(out, "issuer_CN", x->issuer_CN);
	r |= attr_rec_add(out, "peer_fingerprint", x->peer_fingerprint);
	r |= attr_rec_add(out, "peer_pubkey_fingerprint", x->peer_pubkey_fingerprint);
	if (r3 != TPROPS_R3_35)
		r |= attr_rec_add_uint(out, "level", x->level);
	r |= attr_rec_add_uint(out, "peer_status", x->peer_status);
	r |= attr_rec_add(out, "cipher_protocol", x->cipher_protocol);
	r |= attr_rec_add(out, "cipher_name", x->cipher_name);
	r |= attr_rec_add_uint(out, "cipher_usebits", x->cipher_usebits);
	r |= attr_rec_add_uint(out, "cipher_algbits", x->cipher_algbits);
	r |= attr_rec_add(out, "key_exchange", x->key_exchange);
	r |= attr_rec_add(out, "key_exchange_curve", x->key_exchange_curve);
	r |= attr_rec_add_uint(out, "key_exchange_bits", x->key_exchange_bits);
	if (r3 >= TPROPS_R3_39) {
		r |= attr_rec_add_uint(out, "ctos_rpk", x->ctos_rpk);
		r |= attr_rec_add_uint(out, "stoc_rpk", x->stoc_rpk);
	}
	r |= attr_rec_add(out, "clnt_signature", x->clnt_signature);
	r |= attr_rec_add(out, "clnt_signature_curve", x->clnt_signature_curve);
	r |= attr_rec_add_uint(out, "clnt_signature_bits", x->clnt_signature_bits);
	r |= attr_rec_add(out, "clnt_signature_digest", x->clnt_signature_digest);
	r |= attr_rec_add(out, "srvr_signature", x->srvr_signature);
	r |= attr_rec_add(out, "srvr_signature_curve", x->srvr_signature_curve);
	r |= attr_rec_add_uint(out, "srvr_signature_bits", x->srvr_signature_bits);
	r |= attr_rec_add(out, "srvr_signature_digest", x->srvr_signature_digest);
	r |= attr_rec_add(out, "namaddr", x->namaddr);
	if (r3 >= TPROPS_R3_310)
		r |= attr_rec_add_uint(out, "rpt_reported", x->rpt_reported);
	if (r3 >= TPROPS_R3_312)
		r |= attr_rec_add_uint(out, "trace_size_limit", x->trace_size_limit);
	return (r != 0 ? -1 : 0);
}

/* tprops_sig - " NAME-signature SIG[ (CURVE)| (N bits)][ NAME-digest D]" */
static size_t
tprops_sig(char *buf, size_t len, const char *who, const char *sig,
    const char *curve, unsigned int bits, const char *dgst)
{
	size_t	 n;

	if (*sig == '\0' || len == 0)
		return (0);
	n = (size_t)snprintf(buf, len, " %s-signature %s", who, sig);
	if (n < len && *curve != '\0')
		n += (size_t)snprintf(buf + n, len - n, " (%s)", curve);
	else if (n < len && bits > 0)
		n += (size_t)snprintf(buf + n, len - n, " (%u bits)", bits);
	if (n < len && *dgst != '\0')
		n += (size_t)snprintf(buf + n, len - n, " %s-digest %s", who, dgst);
	return (n);
}

void
tprops_context_summary(const struct tprops_context *x, char *buf, size_t buflen)
{
	size_t	 n;

	n = (size_t)snprintf(buf, buflen, "%s with cipher %s (%u/%u bits)",
	    x->cipher_protocol, x->cipher_name, x->cipher_usebits,
	    x->cipher_algbits);
	if (n < buflen && *x->key_exchange != '\0') {
		n += (size_t)snprintf(buf + n, buflen - n, " key-exchange %s",
		    x->key_exchange);
		if (n < buflen && *x->key_exchange_curve != '\0')
			n += (size_t)snprintf(buf + n, buflen - n, " (%s)",
			    x->key_exchange_curve);
		else if (n < buflen && x->key_exchange_bits > 0)
			n += (size_t)snprintf(buf + n, buflen - n, " (%u bits)",
			    x->key_exchange_bits);
	}
	if (n < buflen)
		n += tprops_sig(buf + n, buflen - n, "server", x->srvr_signature,
		    x->srvr_signature_curve, x->srvr_signature_bits,
		    x->srvr_signature_digest);
	if (n < buflen)
		(void)tprops_sig(buf + n, buflen - n, "client", x->clnt_signature,
		    x->clnt_signature_curve, x->clnt_signature_bits,
		    x->clnt_signature_digest);
}

const char *
tprops_trust(unsigned int peer_status)
{
	if (!(peer_status & TPROPS_PEER_PRESENT))
		return ("Anonymous");
	if (peer_status & TPROPS_PEER_SECURED)
		return ("Verified");
	if (peer_status & TPROPS_PEER_TRUSTED)
		return ("Trusted");
	return ("Untrusted");
}
