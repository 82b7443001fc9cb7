/*
 * NAME
 *	test_client - CUnit suite for the TLS client role
 * DESCRIPTION
 *	Codec: the client-role request records captured from Postfix 3.7
 *	(encrypt, fingerprint, verify), alone and as part of the whole
 *	captured sessions, decode to the expected fields (levels, names,
 *	match list, TLSA records decoded from base64), and the descriptor
 *	byte after them is left alone. The context records are
 *	re-encoded byte for byte from their field values, standalone and
 *	inside each session's reply stream; the summary built from them is
 *	the line Postfix logged. Records in the shape of other Postfix
 *	versions (3.5 DANE, 3.7.0, 3.8, 3.9, 3.10, 3.12) pick the matching
 *	context layout; broken records give Postfix's reasons.
 *
 *	Levels: real handshakes in memory (BIO pairs) between an OpenSSL
 *	server with a certificate from a test CA and the client role, for
 *	may/encrypt, fingerprint, verify, secure, dane and dane-only, with
 *	matching and non-matching data, checking peer_status, the level
 *	and the log lines; the second identical session resumes; the
 *	context cache shares one SSL_CTX per property set.
 *
 *	The captures are read from $SHARED_DIR/vectors (see unit.h).
 * DIAGNOSTICS
 *	Exit status is the number of failed assertions (0 = pass).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attr.h"
#include "tls_client.h"
#include "tls_common.h"
#include "tls_props.h"
#include "unit.h"

struct t_buf {
	unsigned char	*p;
	size_t		 len;
};

/* t_load - read a vector file; -1 if missing */
static int
t_load(const char *rel, struct t_buf *b)
{
	char	 path[1024];
	FILE	*fp;
	long	 sz;

	b->p = NULL;
	b->len = 0;
	(void)snprintf(path, sizeof(path), "%s/vectors/%s", shared_dir(), rel);
	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return (-1);
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (b->p = malloc((size_t)sz + 1)) == NULL ||
	    fread(b->p, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		free(b->p);
		b->p = NULL;
		return (-1);
	}
	fclose(fp);
	b->len = (size_t)sz;
	return (0);
}

/* t_record - decode the single record in a file */
static int
t_record(const char *rel, struct attr_rec *rec, struct t_buf *b)
{
	char	 err[256];
	size_t	 used;

	attr_rec_init(rec);
	if (t_load(rel, b) < 0)
		return (-1);
	if (attr_decode(b->p, b->len, rec, &used, err, sizeof(err)) != 1 ||
	    used != b->len) {
		fprintf(stderr, "%s: %s\n", rel, err);
		return (-1);
	}
	return (0);
}

/* t_decode - decode a Q2 file into p; the record stays in rec */
static int
t_decode(const char *rel, struct attr_rec *rec, struct tprops_client *p)
{
	struct t_buf b;
	char	 err[256];
	int	 r;

	if (t_record(rel, rec, &b) < 0) {
		free(b.p);
		return (-1);
	}
	free(b.p);
	if ((r = tprops_client_decode(rec, p, err, sizeof(err))) < 0)
		fprintf(stderr, "%s: %s\n", rel, err);
	return (r);
}

/* t_common - what all three captured requests share */
static void
t_common(const struct tprops_client *p)
{
	CU_ASSERT_EQUAL(p->nparams, 20);
	CU_ASSERT_STRING_EQUAL(tprops_param(p, "config_file"), "default");
	CU_ASSERT_STRING_EQUAL(tprops_param(p, "config_name"), "");
	CU_ASSERT_STRING_EQUAL(tprops_param(p, "tls_medium_cipherlist"),
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
	CU_ASSERT_STRING_EQUAL(tprops_param(p, "tls_wildcard_matches_multiple_labels"),
	    "1");
	CU_ASSERT_PTR_NULL(tprops_param(p, "log_param"));
	CU_ASSERT_STRING_EQUAL(p->log_param, "smtp_tls_loglevel");
	CU_ASSERT_STRING_EQUAL(p->log_level, "1");
	CU_ASSERT_EQUAL(p->verifydepth, 9);
	CU_ASSERT_STRING_EQUAL(p->cache_type, "smtp");
	CU_ASSERT_STRING_EQUAL(p->chain_files, "");
	CU_ASSERT_STRING_EQUAL(p->cert_file, "");
	CU_ASSERT_STRING_EQUAL(p->CAfile, "");
	CU_ASSERT_STRING_EQUAL(p->CApath, "");
	CU_ASSERT_STRING_EQUAL(p->init_mdalg, "sha256");
	CU_ASSERT_EQUAL(p->timeout, 300);
	CU_ASSERT_STRING_EQUAL(p->nexthop, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(p->host, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(p->namaddr, "127.0.0.1[127.0.0.1]:2526");
	CU_ASSERT_STRING_EQUAL(p->sni, "");
	CU_ASSERT_STRING_EQUAL(p->serverid, "smtp&[127.0.0.1]:2526&127.0.0.1&127.0.0.1&");
	CU_ASSERT_STRING_EQUAL(p->helo, "vm");
	CU_ASSERT_STRING_EQUAL(p->protocols, ">=TLSv1");
	CU_ASSERT_STRING_EQUAL(p->cipher_grade, "medium");
	CU_ASSERT_STRING_EQUAL(p->mdalg, "sha256");
	CU_ASSERT_EQUAL(p->r3, TPROPS_R3_36);
	CU_ASSERT_EQUAL(p->legacy_dane, 0);
}

static void
test_decode_encrypt(void)
{
	struct attr_rec rec;
	struct tprops_client p;

	CU_ASSERT_FATAL(t_decode("records/client-props-encrypt.bin", &rec, &p) == 0);
	t_common(&p);
	CU_ASSERT_EQUAL(p.tls_level, TPROPS_LEV_ENCRYPT);
	CU_ASSERT_STRING_EQUAL(tprops_level_name(p.tls_level), "encrypt");
	CU_ASSERT_STRING_EQUAL(p.cipher_exclusions, "eNULL");
	CU_ASSERT_EQUAL(p.nmatch, 0);
	CU_ASSERT_EQUAL(p.dane, 0);
	CU_ASSERT_EQUAL(p.ntlsa, 0);
	CU_ASSERT_STRING_EQUAL(p.dane_domain, "");
	tprops_client_free(&p);
	attr_rec_free(&rec);
}

/* The certificate digest the fingerprint level matched (98:21:8E:...). */
static const char t_fp_hex[] =
    "98218EDFA310FC58E1A79E7ED800784AE788D30254C0858DDA4D6EA92EADEA7D";

static void
test_decode_fingerprint(void)
{
	struct attr_rec rec;
	struct tprops_client p;
	unsigned char want[32];
	unsigned int i, v;

	for (i = 0; i < 32; i++) {
		(void)sscanf(t_fp_hex + 2 * i, "%2x", &v);
		want[i] = (unsigned char)v;
	}
	CU_ASSERT_FATAL(t_decode("records/client-props-fingerprint.bin", &rec,
	    &p) == 0);
	t_common(&p);
	CU_ASSERT_EQUAL(p.tls_level, TPROPS_LEV_FPRINT);
	CU_ASSERT_STRING_EQUAL(p.cipher_exclusions, "aNULL");
	CU_ASSERT_EQUAL(p.nmatch, 0);
	CU_ASSERT_EQUAL(p.dane, 1);
	CU_ASSERT_STRING_EQUAL(p.dane_domain, "");
	CU_ASSERT_FATAL(p.ntlsa == 2);
	CU_ASSERT_EQUAL(p.tlsa[0].usage, 3);
	CU_ASSERT_EQUAL(p.tlsa[0].selector, 1);
	CU_ASSERT_EQUAL(p.tlsa[0].mtype, 255);
	CU_ASSERT_EQUAL(p.tlsa[1].usage, 3);
	CU_ASSERT_EQUAL(p.tlsa[1].selector, 0);
	CU_ASSERT_EQUAL(p.tlsa[1].mtype, 255);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(p.tlsa[i].len, 32);
		CU_ASSERT(memcmp(p.tlsa[i].data, want, 32) == 0);
	}
	tprops_client_free(&p);
	attr_rec_free(&rec);
}

static void
test_decode_verify(void)
{
	struct attr_rec rec;
	struct tprops_client p;

	CU_ASSERT_FATAL(t_decode("records/client-props-verify.bin", &rec, &p) == 0);
	t_common(&p);
	CU_ASSERT_EQUAL(p.tls_level, TPROPS_LEV_VERIFY);
	CU_ASSERT_STRING_EQUAL(tprops_level_name(p.tls_level), "verify");
	CU_ASSERT_STRING_EQUAL(p.cipher_exclusions, "aNULL");
	CU_ASSERT_FATAL(p.nmatch == 1);
	CU_ASSERT_STRING_EQUAL(p.match[0], "hostname");
	CU_ASSERT_EQUAL(p.dane, 0);
	tprops_client_free(&p);
	attr_rec_free(&rec);
}

/* Whole sessions: Q1 + Q2 in one write, then the descriptor byte. */
static void
test_decode_sessions(void)
{
	static const struct {
		const char	*dir;
		size_t		 fd_off;
		unsigned int	 level;
	} s[] = {
		{ "client-encrypt-reuse", 1245, TPROPS_LEV_ENCRYPT },
		{ "client-fingerprint", 1419, TPROPS_LEV_FPRINT },
		{ "client-verify-fail", 1265, TPROPS_LEV_VERIFY },
	};
	struct attr_rec q1, q2;
	struct tprops_client p;
	struct t_buf b;
	char	 path[256], err[256];
	size_t	 used1, used2, i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/request.bin", s[i].dir);
		CU_ASSERT_FATAL(t_load(path, &b) == 0);
		attr_rec_init(&q1);
		attr_rec_init(&q2);
		CU_ASSERT_FATAL(attr_decode(b.p, b.len, &q1, &used1, err,
		    sizeof(err)) == 1);
		CU_ASSERT_STRING_EQUAL(attr_rec_get(&q1, "flags"), "6");
		CU_ASSERT_FATAL(attr_decode(b.p + used1, b.len - used1, &q2, &used2,
		    err, sizeof(err)) == 1);
		CU_ASSERT_EQUAL(used1 + used2, s[i].fd_off);
		CU_ASSERT_EQUAL(b.p[s[i].fd_off], 0);	/* the descriptor byte */
		CU_ASSERT_FATAL(tprops_client_decode(&q2, &p, err, sizeof(err)) == 0);
		CU_ASSERT_EQUAL(p.tls_level, s[i].level);
		CU_ASSERT_STRING_EQUAL(p.namaddr, "127.0.0.1[127.0.0.1]:2526");
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_36);
		tprops_client_free(&p);
		attr_rec_free(&q1);
		attr_rec_free(&q2);
		free(b.p);
	}
}

/* t_fill - context fields from a decoded context record */
static void
t_fill(const struct attr_rec *r, struct tprops_context *x)
{
#define T_STR(f) snprintf(x->f, sizeof(x->f), "%s", attr_rec_get(r, #f))
#define T_NUM(f) (void)attr_parse_uint(attr_rec_get(r, #f), &x->f)
	memset(x, 0, sizeof(*x));
	T_STR(peer_CN);
	T_STR(issuer_CN);
	T_STR(peer_fingerprint);
	T_STR(peer_pubkey_fingerprint);
	T_NUM(level);
	T_NUM(peer_status);
	T_STR(cipher_protocol);
	T_STR(cipher_name);
	T_NUM(cipher_usebits);
	T_NUM(cipher_algbits);
	T_STR(key_exchange);
	T_STR(key_exchange_curve);
	T_NUM(key_exchange_bits);
	T_STR(clnt_signature);
	T_STR(clnt_signature_curve);
	T_NUM(clnt_signature_bits);
	T_STR(clnt_signature_digest);
	T_STR(srvr_signature);
	T_STR(srvr_signature_curve);
	T_NUM(srvr_signature_bits);
	T_STR(srvr_signature_digest);
	T_STR(namaddr);
#undef T_STR
#undef T_NUM
}

/* t_encode - the context record for layout r3, as bytes (malloc'ed) */
static unsigned char *
t_encode(const struct tprops_context *x, enum tprops_r3 r3, size_t *len,
    size_t *nattr)
{
	struct attr_rec out;
	unsigned char *buf;

	attr_rec_init(&out);
	if (tprops_context_encode(x, r3, &out) < 0)
		return (NULL);
	*len = attr_encoded_len(&out);
	*nattr = out.n;
	if ((buf = malloc(*len)) != NULL &&
	    attr_encode(&out, buf, *len) != (long)*len) {
		free(buf);
		buf = NULL;
	}
	attr_rec_free(&out);
	return (buf);
}

static const char t_summary[] = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
    "(256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
    "server-digest SHA256";

/* t_context_exact - re-encode a captured context byte for byte */
static void
t_context_exact(const char *rel, unsigned int level, unsigned int status,
    const char *trust)
{
	struct attr_rec rec;
	struct tprops_context x;
	struct t_buf b;
	unsigned char *out;
	char	 sum[512];
	size_t	 len, n;

	CU_ASSERT_FATAL(t_record(rel, &rec, &b) == 0);
	CU_ASSERT_EQUAL(rec.n, 22);
	t_fill(&rec, &x);
	CU_ASSERT_EQUAL(x.level, level);
	CU_ASSERT_EQUAL(x.peer_status, status);
	CU_ASSERT_FATAL((out = t_encode(&x, TPROPS_R3_36, &len, &n)) != NULL);
	CU_ASSERT_EQUAL(n, 22);
	CU_ASSERT_EQUAL(len, b.len);
	CU_ASSERT(len == b.len && memcmp(out, b.p, len) == 0);
	tprops_context_summary(&x, sum, sizeof(sum));
	CU_ASSERT_STRING_EQUAL(sum, t_summary);
	CU_ASSERT_STRING_EQUAL(tprops_trust(x.peer_status), trust);
	free(out);
	free(b.p);
	attr_rec_free(&rec);
}

static void
test_context_untrusted(void)
{
	t_context_exact("records/context-untrusted.bin", 2, 1, "Untrusted");
}

static void
test_context_verified(void)
{
	t_context_exact("records/context-verified.bin", 3, 29, "Verified");
}

/* The reply streams: R1, R2, then our R3 bytes at offset 38. */
static void
test_context_in_sessions(void)
{
	static const char *dirs[] = {
		"client-encrypt-reuse", "client-fingerprint", "client-verify-fail",
	};
	static const unsigned char r1r2[] =
	    "protocol\0tlsproxy_protocol\0\0status\0" "1\0";
	struct attr_rec rec;
	struct tprops_context x;
	struct t_buf b;
	unsigned char *out;
	char	 path[256], err[256];
	size_t	 used, len, n, i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/reply.bin", dirs[i]);
		CU_ASSERT_FATAL(t_load(path, &b) == 0);
		CU_ASSERT(b.len > 38 && memcmp(b.p, r1r2, 38) == 0);
		attr_rec_init(&rec);
		CU_ASSERT_FATAL(attr_decode(b.p + 38, b.len - 38, &rec, &used, err,
		    sizeof(err)) == 1);
		t_fill(&rec, &x);
		CU_ASSERT_FATAL((out = t_encode(&x, TPROPS_R3_36, &len, &n)) != NULL);
		CU_ASSERT(len == used && memcmp(out, b.p + 38, len) == 0);
		free(out);
		free(b.p);
		attr_rec_free(&rec);
	}
}

/* Context layouts of other versions: attribute counts and positions. */
static void
test_context_layouts(void)
{
	struct tprops_context x;
	struct attr_rec rec;
	unsigned char *out;
	char	 err[256];
	size_t	 len, n, used;

	memset(&x, 0, sizeof(x));
	x.level = 3;
	x.ctos_rpk = 1;
	x.rpt_reported = 1;
	out = t_encode(&x, TPROPS_R3_35, &len, &n);
	CU_ASSERT_EQUAL(n, 21);
	CU_ASSERT(out != NULL && memmem(out, len, "level\0", 6) == NULL);
	free(out);
	out = t_encode(&x, TPROPS_R3_39, &len, &n);
	CU_ASSERT_EQUAL(n, 24);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(out != NULL && attr_decode(out, len, &rec, &used, err,
	    sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(rec.v[12].name, "key_exchange_bits");
	CU_ASSERT_STRING_EQUAL(rec.v[13].name, "ctos_rpk");
	CU_ASSERT_STRING_EQUAL(rec.v[13].value, "1");
	CU_ASSERT_STRING_EQUAL(rec.v[14].name, "stoc_rpk");
	CU_ASSERT_STRING_EQUAL(rec.v[15].name, "clnt_signature");
	attr_rec_free(&rec);
	free(out);
	out = t_encode(&x, TPROPS_R3_310, &len, &n);
	CU_ASSERT_EQUAL(n, 25);
	attr_rec_init(&rec);
	CU_ASSERT_FATAL(out != NULL && attr_decode(out, len, &rec, &used, err,
	    sizeof(err)) == 1);
	CU_ASSERT_STRING_EQUAL(rec.v[24].name, "rpt_reported");
	attr_rec_free(&rec);
	free(out);
	out = t_encode(&x, TPROPS_R3_312, &len, &n);
	CU_ASSERT_EQUAL(n, 26);
	free(out);
}

/*
 * Request records of other versions, made by editing the captured 3.7
 * one: drop names, insert names after a given one, append at the end.
 */
struct t_edit {
	const char	*drop[4];
	const char	*after;		/* insert after the first NAME (or NULL) */
	const char	*ins[16];	/* name, value, ... */
};

static struct attr_rec t_vrec;		/* the last edited record */

/*
 * t_version - decode an edited copy of a captured request, with tail
 * appended; the strings in p stay valid until the next call, what p
 * owns is already freed.
 */
static int
t_version(const char *rel, const struct t_edit *e, const char *const *tail,
    struct tprops_client *p, char *err, size_t errlen)
{
	struct attr_rec rec;
	struct t_buf b;
	size_t	 i, j;
	int	 drop, inserted = 0, r;

	attr_rec_free(&t_vrec);
	attr_rec_init(&t_vrec);
	if (t_record(rel, &rec, &b) < 0) {
		free(b.p);
		return (-2);
	}
	free(b.p);
	for (i = 0; i < rec.n; i++) {
		for (drop = 0, j = 0; j < 4 && e->drop[j] != NULL; j++)
			if (strcmp(rec.v[i].name, e->drop[j]) == 0)
				drop = 1;
		if (!drop)
			(void)attr_rec_add(&t_vrec, rec.v[i].name, rec.v[i].value);
		if (!inserted && e->after != NULL &&
		    strcmp(rec.v[i].name, e->after) == 0) {
			for (j = 0; j < 16 && e->ins[j] != NULL; j += 2)
				(void)attr_rec_add(&t_vrec, e->ins[j], e->ins[j + 1]);
			inserted = 1;
		}
	}
	attr_rec_free(&rec);
	for (j = 0; tail != NULL && tail[j] != NULL; j += 2)
		(void)attr_rec_add(&t_vrec, tail[j], tail[j + 1]);
	if ((r = tprops_client_decode(&t_vrec, p, err, errlen)) == 0)
		tprops_client_free(p);
	return (r);
}

static void
test_versions(void)
{
	struct tprops_client p;
	char	 err[256];
	const char *rel = "records/client-props-encrypt.bin";

	/* 3.7.0-3.7.5, 3.6.0-3.6.9: no config_file/config_name. */
	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "config_file",
	    "config_name" }, NULL, { NULL } }, NULL, &p, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.nparams, 18);
	CU_ASSERT_EQUAL(p.r3, TPROPS_R3_36);
	CU_ASSERT_EQUAL(p.tls_level, 2);

	/* 3.8: no low/export lists, ffdhe groups added. */
	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "tls_low_cipherlist",
	    "tls_export_cipherlist" }, "tls_eecdh_ultra_curve",
	    { "tls_ffdhe_auto_groups", "ffdhe2048 ffdhe3072" } }, NULL,
	    &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.nparams, 19);
	CU_ASSERT_EQUAL(p.r3, TPROPS_R3_36);

	/* 3.9: enable_rpk right after the start props' timeout. */
	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { NULL }, "timeout",
	    { "enable_rpk", "0" } }, NULL, &p, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.r3, TPROPS_R3_39);
	CU_ASSERT_EQUAL(p.tls_level, 2);

	/*
	 * 3.10/3.11 default build: forced_failure_type, no TLSRPT block; it
	 * still wants rpt_reported. 3.11 has no legacy fingerprint switch.
	 */
	{
		static const char *const tail[] = { "forced_failure_type", "",
		    NULL };

		CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { NULL },
		    "timeout", { "enable_rpk", "0" } }, tail, &p, err,
		    sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_310);
		CU_ASSERT_EQUAL(p.version, 310);
		CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){
		    { "tls_legacy_public_key_fingerprints" }, "timeout",
		    { "enable_rpk", "0" } }, tail, &p, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_310);
		CU_ASSERT_EQUAL(p.version, 311);
	}

	/* 3.10/3.11 USE_TLSRPT build: the block, disabled and enabled. */
	{
		static const char *const off[] = { "tlsrpt", "0",
		    "forced_failure_type", "", NULL };
		static const char *const on[] = { "tlsrpt", "1",
		    "rpt_socket_name", "/run/tlsrpt.sock",
		    "rpt_policy_domain", "example.org",
		    "rpt_policy_string", "v=TLSRPTv1; rua=mailto:r@example.org",
		    "tls_policy_type", "2", "argv_size", "2",
		    "argv_value", "version: STSv1", "argv_value", "mode: enforce",
		    "tls_policy_domain", "example.org", "argv_size", "1",
		    "argv_value", "*.mx.example.org", "snd_mta_addr", "192.0.2.1",
		    "rcv_mta_name", "mx1.mx.example.org", "rcv_mta_addr",
		    "198.51.100.2", "rcv_mta_ehlo", "", "skip_reused_hs", "1",
		    "flags", "3", "forced_failure_type", "sts-webpki-invalid",
		    NULL };
		struct tprops_client q;

		CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { NULL },
		    "timeout", { "enable_rpk", "0" } }, off, &p, err,
		    sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_310);
		CU_ASSERT_EQUAL(p.has_tlsrpt, 1);
		CU_ASSERT_EQUAL(p.tlsrpt.enabled, 0);
		/* Decoded here (t_version frees what it decoded). */
		{
			struct attr_rec rec;
			struct t_buf b;
			size_t	 j;

			CU_ASSERT_FATAL(t_record(rel, &rec, &b) == 0);
			free(b.p);
			for (j = 0; on[j] != NULL; j += 2)
				(void)attr_rec_add(&rec, on[j], on[j + 1]);
			CU_ASSERT_EQUAL_FATAL(tprops_client_decode(&rec, &q, err,
			    sizeof(err)), 0);
			CU_ASSERT_EQUAL(q.tlsrpt.enabled, 1);
			CU_ASSERT_STRING_EQUAL(q.tlsrpt.policy_domain, "example.org");
			CU_ASSERT_EQUAL(q.tlsrpt.policy_type, 2);
			CU_ASSERT_EQUAL(q.tlsrpt.npolicy_strings, 2);
			CU_ASSERT_STRING_EQUAL(q.tlsrpt.policy_strings[1], "mode: enforce");
			CU_ASSERT_EQUAL(q.tlsrpt.nmx_patterns, 1);
			CU_ASSERT_STRING_EQUAL(q.tlsrpt.rcv_mta_name, "mx1.mx.example.org");
			CU_ASSERT_EQUAL(q.tlsrpt.skip_reused_hs, 1);
			CU_ASSERT_EQUAL(q.tlsrpt.flags, 3);
			CU_ASSERT_STRING_EQUAL(q.forced_failure, "sts-webpki-invalid");
			CU_ASSERT_EQUAL(q.nmatch, 0);	/* lists stay apart */
			tprops_client_free(&q);
			attr_rec_free(&rec);
		}
	}

	/* 3.12: log_param/log_level first in the start props, trace at the end. */
	{
		static const char *const tail[] = { "tlsrpt", "0",
		    "forced_failure_type", "", "trace_size_limit", "0",
		    "trace_peer", "", NULL };

		CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { NULL }, "mdalg",
		    { "log_param", "smtp_tls_loglevel", "log_level", "1" } }, tail,
		    &p, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_312);
		CU_ASSERT_EQUAL(p.version, 312);
		CU_ASSERT_EQUAL(p.timeout, 300);
		CU_ASSERT_STRING_EQUAL(p.namaddr, "127.0.0.1[127.0.0.1]:2526");
	}

	/* 3.4/3.5 DANE encoding (dane=1, then lists): 21-attribute context. */
	{
		struct attr_rec rec;
		struct t_buf b;
		size_t	 i;

		CU_ASSERT_FATAL(t_record(rel, &rec, &b) == 0);
		free(b.p);
		for (i = 0; i < rec.n; i++)
			if (strcmp(rec.v[i].name, "dane") == 0)
				rec.v[i].value[0] = '1';
		(void)attr_rec_add(&rec, "count", "0");
		(void)attr_rec_add(&rec, "count", "0");
		(void)attr_rec_add(&rec, "count", "0");
		(void)attr_rec_add(&rec, "count", "0");
		(void)attr_rec_add(&rec, "domain", "");
		(void)attr_rec_add(&rec, "flags", "0");
		(void)attr_rec_add(&rec, "exp", "0");
		CU_ASSERT_EQUAL(tprops_client_decode(&rec, &p, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(p.legacy_dane, 1);
		CU_ASSERT_EQUAL(p.ntlsa, 0);
		CU_ASSERT_EQUAL(p.r3, TPROPS_R3_35);
		tprops_client_free(&p);
		attr_rec_free(&rec);
	}

	/* Unknown attributes anywhere are skipped. */
	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { NULL }, "helo",
	    { "x_future", "1", "y_future", "" } }, NULL, &p, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.tls_level, 2);
	CU_ASSERT_EQUAL(p.r3, TPROPS_R3_36);
}

static void
test_decode_errors(void)
{
	struct tprops_client p;
	char	 err[256];
	const char *rel = "records/client-props-fingerprint.bin";

	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "tls_level" }, NULL,
	    { NULL } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute tls_level");

	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "log_param" }, NULL,
	    { NULL } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute log_param");

	/* Group B attributes are not looked for among the start props. */
	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "CApath" }, NULL,
	    { NULL } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute CApath");

	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "count" }, "domain",
	    { "count", "2x" } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "malformed numerical data for count: 2x");

	CU_ASSERT_EQUAL(t_version(rel, &(struct t_edit){ { "data" }, "mtype",
	    { "data", "not*base64" } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "malformed base64 data in TLSA record 1");

	CU_ASSERT_EQUAL(t_version("records/client-props-verify.bin",
	    &(struct t_edit){ { "argv_value" }, NULL, { NULL } }, NULL,
	    &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "missing attribute argv_value");

	CU_ASSERT_EQUAL(t_version("records/client-props-verify.bin",
	    &(struct t_edit){ { "argv_size" }, "cipher_exclusions",
	    { "argv_size", "100000" } }, NULL, &p, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "too many match names: 100000");
}

static void
test_b64(void)
{
	unsigned char out[64];

	CU_ASSERT_EQUAL(tprops_b64_decode("", out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zg==", out, sizeof(out)), 1);
	CU_ASSERT_EQUAL(out[0], 'f');
	CU_ASSERT_EQUAL(tprops_b64_decode("Zm8=", out, sizeof(out)), 2);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zm9v", out, sizeof(out)), 3);
	CU_ASSERT(memcmp(out, "foo", 3) == 0);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zm9vYmE=", out, sizeof(out)), 5);
	CU_ASSERT(memcmp(out, "fooba", 5) == 0);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zm9", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(tprops_b64_decode("Z=9v", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zg=a", out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(tprops_b64_decode("Zm9v", out, 2), -1);
	CU_ASSERT_EQUAL(tprops_b64_decode("mCGO36MQ/Fjhp55+2AB4SueI0wJUwIWN2k1uqS6t6n0=",
	    out, sizeof(out)), 32);
	CU_ASSERT_EQUAL(out[0], 0x98);
	CU_ASSERT_EQUAL(out[31], 0x7d);
}

/*
 * Handshakes in memory.
 */

static EVP_PKEY *t_ca_key, *t_leaf_key;
static SSL_CTX *t_sctx;			/* one server: its tickets stay valid */
static X509 *t_ca, *t_leaf;
static char t_dir[256], t_cafile[300], t_logfile[300];
static unsigned char t_leaf_dgst[32], t_spki_dgst[32], t_ca_dgst[32];

/* t_cert - a certificate for key, signed by issuer (NULL: self) */
static X509 *
t_cert(EVP_PKEY *key, const char *cn, const char *san, int ca, X509 *issuer,
    EVP_PKEY *ikey, long serial)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509	*x;

	if ((x = X509_new()) == NULL)
		return (NULL);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "CA:FALSE")) != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (san != NULL && (ext = X509V3_EXT_conf_nid(NULL, &v3,
	    NID_subject_alt_name, san)) != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, ikey ? ikey : key, EVP_sha256()) <= 0) {
		X509_free(x);
		return (NULL);
	}
	return (x);
}

static int
t_setup(void)
{
	unsigned char *der = NULL;
	unsigned int n;
	FILE	*fp;
	int	 len;

	(void)snprintf(t_dir, sizeof(t_dir), "%s/test_client.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(t_dir) == NULL)
		return (-1);
	(void)snprintf(t_cafile, sizeof(t_cafile), "%s/ca.pem", t_dir);
	(void)snprintf(t_logfile, sizeof(t_logfile), "%s/log", t_dir);
	if ((t_ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (t_leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)) == NULL ||
	    (t_ca = t_cert(t_ca_key, "Test CA", NULL, 1, NULL, NULL, 1)) == NULL ||
	    (t_leaf = t_cert(t_leaf_key, "sink.test", "DNS:sink.test,DNS:*.wild.test",
	    0, t_ca, t_ca_key, 2)) == NULL)
		return (-1);
	if ((fp = fopen(t_cafile, "w")) == NULL)
		return (-1);
	PEM_write_X509(fp, t_ca);
	fclose(fp);
	len = i2d_X509(t_leaf, &der);
	EVP_Digest(der, (size_t)len, t_leaf_dgst, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
	der = NULL;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(t_leaf), &der);
	EVP_Digest(der, (size_t)len, t_spki_dgst, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
	der = NULL;
	len = i2d_X509(t_ca, &der);
	EVP_Digest(der, (size_t)len, t_ca_dgst, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
	if ((t_sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(t_sctx, t_leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(t_sctx, t_leaf_key) != 1 ||
	    SSL_CTX_add1_chain_cert(t_sctx, t_ca) != 1)
		return (-1);
	return (0);
}

static int
t_teardown(void)
{
	tlsc_ctx_flush();
	SSL_CTX_free(t_sctx);
	X509_free(t_ca);
	X509_free(t_leaf);
	EVP_PKEY_free(t_ca_key);
	EVP_PKEY_free(t_leaf_key);
	(void)unlink(t_cafile);
	(void)unlink(t_logfile);
	(void)rmdir(t_dir);
	return (0);
}

/* Log capture: fd 2 goes to a file while a session runs. */
static int t_saved_fd = -1;

static void
t_log_begin(void)
{
	int	 fd;

	fflush(stderr);
	t_saved_fd = dup(2);
	if ((fd = open(t_logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static char t_log[16384];

static void
t_log_end(void)
{
	FILE	*fp;
	size_t	 n = 0;

	fflush(stderr);
	dup2(t_saved_fd, 2);
	close(t_saved_fd);
	t_log[0] = '\0';
	if ((fp = fopen(t_logfile, "r")) != NULL) {
		n = fread(t_log, 1, sizeof(t_log) - 1, fp);
		fclose(fp);
	}
	t_log[n] = '\0';
	fputs(t_log, stderr);
}

struct t_case {
	unsigned int	 level;
	const char	*CAfile;
	const char	*host;
	const char	*nexthop;
	const char	*match[4];
	struct tprops_tlsa tlsa[3];
	size_t		 ntlsa;
	const char	*dane_domain;
	unsigned int	 pf_version;	/* the requester's release; 0: 3.7 */
	const char	*forced;	/* forced_failure_type */
};

struct t_result {
	int		 ok;		/* handshake completed */
	int		 reused;
	struct tprops_context x;
};

/* t_step - one handshake step: 1 done, 0 wants I/O, -1 failed */
static int
t_step(SSL *ssl)
{
	int	 r, e;

	if ((r = SSL_do_handshake(ssl)) == 1)
		return (1);
	e = SSL_get_error(ssl, r);
	return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1);
}

/* t_run - one session of the client role against a server with t_leaf */
static void
t_run(const struct t_case *c, struct t_result *res)
{
	struct tlsc_init_props ip;
	struct tlsc_start_props sp;
	struct tlsc_ctx *ctx;
	SSL	*s = NULL, *cl;
	BIO	*bs, *bc;
	char	 err[256], buf[16];
	size_t	 nmatch = 0;
	int	 i, sdone = 0, cdone = 0;

	memset(res, 0, sizeof(*res));
	memset(&ip, 0, sizeof(ip));
	ip.loglevel = 1;
	ip.verifydepth = 9;
	ip.cache_type = "smtp";
	ip.chain_files = ip.cert_file = ip.key_file = "";
	ip.dcert_file = ip.dkey_file = ip.eccert_file = ip.eckey_file = "";
	ip.CAfile = c->CAfile ? c->CAfile : "";
	ip.CApath = "";
	ip.mdalg = "sha256";
	ip.curves = "X25519 X448 prime256v1 secp521r1 secp384r1";
	ip.disable_workarounds = "";
	while (nmatch < 4 && c->match[nmatch] != NULL)
		nmatch++;
	memset(&sp, 0, sizeof(sp));
	sp.level = c->level;
	sp.namaddr = "Sink.Test[127.0.0.1]:2526";
	sp.host = c->host ? c->host : "sink.test";
	sp.nexthop = c->nexthop ? c->nexthop : "sink.test";
	sp.sni = "";
	sp.serverid = "smtp&[127.0.0.1]:2526&sink.test&127.0.0.1&";
	sp.helo = "vm";
	sp.protocols = ">=TLSv1";
	sp.cipherlist = "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:!aNULL";
	sp.match = c->match;
	sp.nmatch = nmatch;
	sp.mdalg = "sha256";
	sp.dane_domain = c->dane_domain ? c->dane_domain : "";
	sp.tlsa = c->tlsa;
	sp.ntlsa = c->ntlsa;
	sp.cache = 1;
	sp.pf_version = c->pf_version ? c->pf_version : 306;
	sp.forced_failure = c->forced;

	CU_ASSERT_FATAL((ctx = tlsc_ctx_get(&ip, err, sizeof(err))) != NULL);
	cl = tlsc_ssl_new(ctx, &sp, err, sizeof(err));
	tlsc_ctx_release(ctx);
	CU_ASSERT_FATAL(cl != NULL);
	CU_ASSERT_FATAL((s = SSL_new(t_sctx)) != NULL);
	CU_ASSERT_FATAL(BIO_new_bio_pair(&bs, 0, &bc, 0) == 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(cl, bc, bc);
	SSL_set_accept_state(s);
	for (i = 0; i < 50 && !(sdone && cdone); i++) {
		if (!cdone && (cdone = t_step(cl)) < 0)
			break;
		if (!sdone && (sdone = t_step(s)) < 0)
			break;
	}
	res->ok = sdone == 1 && cdone == 1;
	if (res->ok) {
		/* The server speaks first; TLS 1.3 tickets arrive before. */
		CU_ASSERT(SSL_write(s, "220 x\r\n", 7) == 7);
		CU_ASSERT(SSL_read(cl, buf, sizeof(buf)) == 7);
		res->reused = SSL_session_reused(cl);
		tlsc_finish(cl, &res->x);
		(void)SSL_shutdown(cl);
		(void)SSL_shutdown(s);
		tls_mark_clean(cl);
	}
	ERR_clear_error();
	SSL_free(cl);
	SSL_free(s);
}

/* t_expect - run, then check level, status and one log line */
static void
t_expect(const char *what, const struct t_case *c, unsigned int level,
    unsigned int status, const char *logline)
{
	struct t_result r;

	t_log_begin();
	t_run(c, &r);
	t_log_end();
	if (!r.ok || r.x.level != level || r.x.peer_status != status ||
	    (logline != NULL && strstr(t_log, logline) == NULL))
		fprintf(stderr, "case %s: ok=%d level=%u status=%u\n", what, r.ok,
		    r.x.level, r.x.peer_status);
	CU_ASSERT(r.ok);
	CU_ASSERT_EQUAL(r.x.level, level);
	CU_ASSERT_EQUAL(r.x.peer_status, status);
	CU_ASSERT_STRING_EQUAL(r.x.namaddr, "sink.test[127.0.0.1]:2526");
	CU_ASSERT_STRING_EQUAL(r.x.peer_CN, "sink.test");
	CU_ASSERT_STRING_EQUAL(r.x.issuer_CN, "Test CA");
	if (logline != NULL)
		CU_ASSERT_PTR_NOT_NULL(strstr(t_log, logline));
}

#define T_TLSA(u, s, m, d) { (u), (s), (m), (d), sizeof(d) }

static void
test_level_encrypt(void)
{
	t_expect("may", &(struct t_case){ .level = TPROPS_LEV_MAY }, 1, 1,
	    "Untrusted TLS connection established to sink.test[127.0.0.1]:2526: TLSv1.3 "
	    "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
	    "server-signature RSA-PSS (2048 bits) server-digest SHA256");
	t_expect("encrypt", &(struct t_case){ .level = TPROPS_LEV_ENCRYPT }, 2, 1,
	    "Untrusted TLS connection established");
	CU_ASSERT_PTR_NULL(strstr(t_log, "verification failed"));
	/* With the CA the chain verifies: "Trusted", still not matched. */
	t_expect("encrypt+CA", &(struct t_case){ .level = TPROPS_LEV_ENCRYPT,
	    .CAfile = t_cafile }, 2, 5, "Trusted TLS connection established");
}

static void
test_level_fingerprint(void)
{
	unsigned char wrong[32];

	memset(wrong, 0x5a, sizeof(wrong));
	t_expect("fingerprint", &(struct t_case){ .level = TPROPS_LEV_FPRINT,
	    .tlsa = { T_TLSA(3, 1, 255, t_leaf_dgst), T_TLSA(3, 0, 255, t_leaf_dgst) },
	    .ntlsa = 2 }, 3, 29, "Verified TLS connection established to "
	    "sink.test[127.0.0.1]:2526");
	t_expect("fingerprint spki", &(struct t_case){ .level = TPROPS_LEV_FPRINT,
	    .tlsa = { T_TLSA(3, 1, 255, t_spki_dgst) }, .ntlsa = 1 }, 3, 29,
	    "Verified TLS connection established");
	t_expect("fingerprint wrong", &(struct t_case){ .level = TPROPS_LEV_FPRINT,
	    .tlsa = { T_TLSA(3, 1, 255, wrong), T_TLSA(3, 0, 255, wrong) },
	    .ntlsa = 2 }, 3, 1, "certificate verification failed for "
	    "sink.test[127.0.0.1]:2526");
	/* A chain the CA vouches for is no substitute for the fingerprint. */
	t_expect("fingerprint wrong+CA", &(struct t_case){ .level = TPROPS_LEV_FPRINT,
	    .CAfile = t_cafile, .tlsa = { T_TLSA(3, 0, 255, wrong) }, .ntlsa = 1 },
	    3, 1, "Untrusted TLS connection established");
	t_expect("fingerprint none", &(struct t_case){ .level = TPROPS_LEV_FPRINT,
	    .CAfile = t_cafile }, 3, 1, "all fingerprints unusable");
}

static void
test_level_verify(void)
{
	t_expect("verify", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .CAfile = t_cafile, .match = { "hostname" } }, 7, 29,
	    "Verified TLS connection established");
	t_expect("verify no CA", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .match = { "hostname" } }, 7, 1,
	    "certificate verification failed for sink.test[127.0.0.1]:2526: "
	    "untrusted issuer /CN=Test CA");
	t_expect("verify wrong name", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .CAfile = t_cafile, .host = "other.test", .match = { "hostname" } },
	    7, 1, "server certificate verification failed for "
	    "sink.test[127.0.0.1]:2526: num=62:hostname mismatch");
	t_expect("verify literal", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .CAfile = t_cafile, .host = "other.test",
	    .match = { "hostname", "sink.test" } }, 7, 29, "Verified TLS");
	t_expect("verify wildcard", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .CAfile = t_cafile, .host = "mx.wild.test", .match = { "hostname" } },
	    7, 29, "Verified TLS");
	t_expect("verify no names", &(struct t_case){ .level = TPROPS_LEV_VERIFY,
	    .CAfile = t_cafile }, 7, 1, "could not configure peer name checks");
}

/* Where Postfix releases differ, the requester's release is followed. */
static void
test_versions_differ(void)
{
	/* 3.10+: OpenSSL's group name for the key exchange. */
	t_expect("3.11 may", &(struct t_case){ .level = TPROPS_LEV_MAY,
	    .match = { "v311" }, .pf_version = 311 }, 1, 1,
	    "Untrusted TLS connection established to sink.test[127.0.0.1]:2526: TLSv1.3 "
	    "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange x25519 "
	    "server-signature RSA-PSS (2048 bits) server-digest SHA256");
	t_expect("3.9 may", &(struct t_case){ .level = TPROPS_LEV_MAY,
	    .match = { "v309" }, .pf_version = 309 }, 1, 1, "(256/256 bits) key-exchange X25519 server");
	/* 3.10.4+: a good chain with the wrong name is Trusted, not matched. */
	t_expect("3.11 verify wrong name", &(struct t_case){ .level =
	    TPROPS_LEV_VERIFY, .CAfile = t_cafile, .host = "other.test",
	    .match = { "hostname", "v311.invalid" }, .pf_version = 311 }, 7, 5,
	    "Trusted TLS connection established to sink.test");
	CU_ASSERT_PTR_NOT_NULL(strstr(t_log, "num=62:hostname mismatch"));
	t_expect("3.9 verify wrong name", &(struct t_case){ .level =
	    TPROPS_LEV_VERIFY, .CAfile = t_cafile, .host = "other.test",
	    .match = { "hostname", "v309.invalid" }, .pf_version = 309 }, 7, 1,
	    "Untrusted TLS connection established to sink.test");
	/* Without the CA the chain error wins over the name: Untrusted. */
	t_expect("3.11 verify wrong name, no CA", &(struct t_case){ .level =
	    TPROPS_LEV_VERIFY, .host = "other.test", .match = { "hostname",
	    "v311-noca.invalid" }, .pf_version = 311 }, 7, 1, "untrusted issuer /CN=Test CA");
	/* 3.10+: an outside policy failure makes authentication fail. */
	t_expect("3.11 forced failure", &(struct t_case){ .level =
	    TPROPS_LEV_VERIFY, .CAfile = t_cafile, .match = { "hostname",
	    "v311-forced.invalid" }, .pf_version = 311,
	    .forced = "sts-webpki-invalid" }, 7, 1,
	    "certificate verification failed for sink.test[127.0.0.1]:2526: "
	    "external policy failure (sts-webpki-invalid)");
}

static void
test_level_secure(void)
{
	t_expect("secure dot-nexthop", &(struct t_case){ .level = TPROPS_LEV_SECURE,
	    .CAfile = t_cafile, .nexthop = "test", .match = { "nexthop",
	    "dot-nexthop" } }, 8, 29, "Verified TLS");
	t_expect("secure nexthop only", &(struct t_case){ .level = TPROPS_LEV_SECURE,
	    .CAfile = t_cafile, .nexthop = "test", .match = { "nexthop" } }, 8, 1,
	    "hostname mismatch");
	t_expect("secure .domain", &(struct t_case){ .level = TPROPS_LEV_SECURE,
	    .CAfile = t_cafile, .nexthop = "example.org", .match = { ".test" } }, 8,
	    29, "Verified TLS");
}

static void
test_level_dane(void)
{
	static unsigned char junk[32] = { 1 };

	t_expect("dane-only EE", &(struct t_case){ .level = TPROPS_LEV_DANE_ONLY,
	    .dane_domain = "sink.test", .match = { "hostname" }, .tlsa = { T_TLSA(3, 1, 1, t_spki_dgst) },
	    .ntlsa = 1 }, 6, 29, "Verified TLS");
	/* DANE-EE: no name checks. */
	t_expect("dane EE other name", &(struct t_case){ .level = TPROPS_LEV_DANE,
	    .dane_domain = "other.test", .host = "other.test",
	    .match = { "hostname" }, .tlsa = { T_TLSA(3, 0, 1, t_leaf_dgst) },
	    .ntlsa = 1 }, 5, 29, "Verified TLS");
	t_expect("dane TA", &(struct t_case){ .level = TPROPS_LEV_DANE,
	    .dane_domain = "sink.test", .match = { "hostname" },
	    .tlsa = { T_TLSA(2, 0, 1, t_ca_dgst) }, .ntlsa = 1 }, 5, 29,
	    "Verified TLS");
	t_expect("dane TA wrong name", &(struct t_case){ .level = TPROPS_LEV_DANE,
	    .dane_domain = "other.test", .host = "other.test",
	    .match = { "hostname" }, .tlsa = { T_TLSA(2, 0, 1, t_ca_dgst) },
	    .ntlsa = 1 }, 5, 1, "hostname mismatch");
	t_expect("dane no match", &(struct t_case){ .level = TPROPS_LEV_DANE,
	    .dane_domain = "sink.test", .match = { "hostname" }, .tlsa = { T_TLSA(3, 1, 1, junk) },
	    .ntlsa = 1 }, 5, 1, "certificate verification failed");
	t_expect("dane unusable", &(struct t_case){ .level = TPROPS_LEV_DANE,
	    .dane_domain = "sink.test", .match = { "hostname" }, .tlsa = { T_TLSA(3, 1, 9, junk) },
	    .ntlsa = 1 }, 2, 1, "all TLSA records unusable, fallback to "
	    "unauthenticated TLS");
	t_expect("dane-only unusable", &(struct t_case){ .level =
	    TPROPS_LEV_DANE_ONLY, .dane_domain = "sink.test",
	    .match = { "hostname" }, .tlsa = { T_TLSA(3, 1, 9, junk) }, .ntlsa = 1 }, 6, 1,
	    "all TLSA records unusable");
	t_expect("dane-only no names", &(struct t_case){ .level =
	    TPROPS_LEV_DANE_ONLY, .dane_domain = "sink.test",
	    .tlsa = { T_TLSA(3, 1, 1, t_spki_dgst) }, .ntlsa = 1 }, 6, 1,
	    "could not configure peer name checks");
	t_expect("half-dane", &(struct t_case){ .level = TPROPS_LEV_HALF_DANE,
	    .dane_domain = "sink.test", .match = { "hostname" }, .tlsa = { T_TLSA(3, 1, 1, t_spki_dgst) },
	    .ntlsa = 1 }, 4, 13, "Trusted TLS connection established");
}

static void
test_resume(void)
{
	struct t_case c = { .level = TPROPS_LEV_FPRINT,
	    .tlsa = { T_TLSA(3, 0, 255, t_leaf_dgst) }, .ntlsa = 1 };
	struct t_result a, b;

	c.host = "resume.test";		/* a key no other case used */
	t_run(&c, &a);
	t_run(&c, &b);
	CU_ASSERT(a.ok && b.ok);
	CU_ASSERT_EQUAL(a.reused, 0);
	CU_ASSERT_EQUAL(b.reused, 1);
	CU_ASSERT_EQUAL(b.x.peer_status, 29);
	/* Another policy never resumes that session. */
	c.tlsa[0].usage = 3;
	c.tlsa[0].selector = 1;
	c.tlsa[0].data = t_spki_dgst;
	t_run(&c, &b);
	CU_ASSERT(b.ok);
	CU_ASSERT_EQUAL(b.reused, 0);
}

static void
test_ctx_cache(void)
{
	struct tlsc_init_props ip;
	struct tlsc_ctx *a, *b, *c;
	char	 err[256];

	tlsc_ctx_flush();
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), 0);
	memset(&ip, 0, sizeof(ip));
	ip.loglevel = 1;
	ip.verifydepth = 9;
	ip.cache_type = "smtp";
	ip.chain_files = ip.cert_file = ip.key_file = "";
	ip.dcert_file = ip.dkey_file = ip.eccert_file = ip.eckey_file = "";
	ip.CAfile = ip.CApath = "";
	ip.mdalg = "sha256";
	ip.curves = "X25519 no-such-curve prime256v1";
	ip.disable_workarounds = "";
	CU_ASSERT_FATAL((a = tlsc_ctx_get(&ip, err, sizeof(err))) != NULL);
	CU_ASSERT_FATAL((b = tlsc_ctx_get(&ip, err, sizeof(err))) != NULL);
	CU_ASSERT_PTR_EQUAL(a, b);
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), 1);
	ip.CAfile = t_cafile;
	CU_ASSERT_FATAL((c = tlsc_ctx_get(&ip, err, sizeof(err))) != NULL);
	CU_ASSERT_PTR_NOT_EQUAL(a, c);
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), 2);
	/* Flushed while in use: freed with the last reference. */
	tlsc_ctx_flush();
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), 0);
	tlsc_ctx_release(a);
	tlsc_ctx_release(b);
	tlsc_ctx_release(c);

	ip.CAfile = "/nonexistent/ca.pem";
	CU_ASSERT_PTR_NULL(tlsc_ctx_get(&ip, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot load CA certificates from "
	    "/nonexistent/ca.pem"));
	ip.CAfile = "";
	ip.mdalg = "nosuchdigest";
	CU_ASSERT_PTR_NULL(tlsc_ctx_get(&ip, err, sizeof(err)));
	CU_ASSERT_STRING_EQUAL(err, "unsupported fingerprint digest \"nosuchdigest\"");
	ip.mdalg = "sha256";
	ip.cert_file = t_cafile;
	CU_ASSERT_PTR_NULL(tlsc_ctx_get(&ip, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "must be set together"));
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), 0);
}

/* More distinct property sets than the cache holds: it stays bounded. */
static void
test_ctx_bound(void)
{
	struct tlsc_init_props ip;
	struct tlsc_ctx *t;
	char	 err[256], ct[32];
	int	 i;

	memset(&ip, 0, sizeof(ip));
	ip.verifydepth = 9;
	ip.chain_files = ip.cert_file = ip.key_file = "";
	ip.dcert_file = ip.dkey_file = ip.eccert_file = ip.eckey_file = "";
	ip.CAfile = ip.CApath = "";
	ip.mdalg = "sha256";
	ip.curves = "X25519";
	ip.disable_workarounds = "";
	for (i = 0; i < TLSC_CTX_CACHE_MAX + 8; i++) {
		snprintf(ct, sizeof(ct), "type%d", i);
		ip.cache_type = ct;
		CU_ASSERT_FATAL((t = tlsc_ctx_get(&ip, err, sizeof(err))) != NULL);
		tlsc_ctx_release(t);
	}
	CU_ASSERT_EQUAL(tlsc_ctx_cached(), TLSC_CTX_CACHE_MAX);
	tlsc_ctx_flush();
}

/* Workers share, evict and flush contexts at once (run under TSan). */
#define T_THREADS	8
#define T_ITERS		40

static void *
t_worker(void *arg)
{
	struct tlsc_init_props ip;
	struct tlsc_ctx *t;
	char	 err[256], ct[32];
	long	 id = (long)arg;
	int	 i;
	SSL	*ssl;
	struct tlsc_start_props sp;

	memset(&ip, 0, sizeof(ip));
	ip.verifydepth = 9;
	ip.chain_files = ip.cert_file = ip.key_file = "";
	ip.dcert_file = ip.dkey_file = ip.eccert_file = ip.eckey_file = "";
	ip.CAfile = ip.CApath = "";
	ip.mdalg = "sha256";
	ip.curves = "X25519";
	ip.disable_workarounds = "";
	memset(&sp, 0, sizeof(sp));
	sp.level = TPROPS_LEV_ENCRYPT;
	sp.namaddr = sp.nexthop = sp.host = "thread.test";
	sp.sni = sp.helo = sp.mdalg = sp.dane_domain = "";
	sp.serverid = "smtp";
	sp.protocols = ">=TLSv1.2";
	sp.cipherlist = "HIGH";
	for (i = 0; i < T_ITERS; i++) {
		snprintf(ct, sizeof(ct), "t%d", (int)((i * 7 + id) % 24));
		ip.cache_type = ct;
		if ((t = tlsc_ctx_get(&ip, err, sizeof(err))) == NULL)
			return ((void *)1);
		ssl = tlsc_ssl_new(t, &sp, err, sizeof(err));
		tlsc_ctx_release(t);
		if (ssl == NULL)
			return ((void *)1);
		SSL_free(ssl);
		if (id == 0 && i % 10 == 9)
			tlsc_ctx_flush();
	}
	return (NULL);
}

static void
test_ctx_threads(void)
{
	pthread_t th[T_THREADS];
	void	*rv;
	long	 i;
	int	 bad = 0;

	for (i = 0; i < T_THREADS; i++)
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, t_worker, (void *)i) == 0);
	for (i = 0; i < T_THREADS; i++) {
		(void)pthread_join(th[i], &rv);
		bad += rv != NULL;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(tlsc_ctx_cached() <= TLSC_CTX_CACHE_MAX);
	tlsc_ctx_flush();
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "decode: encrypt request", test_decode_encrypt },
		{ "decode: fingerprint request (TLSA)", test_decode_fingerprint },
		{ "decode: verify request (match list)", test_decode_verify },
		{ "decode: whole captured sessions", test_decode_sessions },
		{ "context: untrusted, byte-exact", test_context_untrusted },
		{ "context: verified, byte-exact", test_context_verified },
		{ "context: in the captured replies", test_context_in_sessions },
		{ "context: other versions' layouts", test_context_layouts },
		{ "decode: other versions", test_versions },
		{ "decode: errors", test_decode_errors },
		{ "base64", test_b64 },
		{ "level: may, encrypt", test_level_encrypt },
		{ "level: fingerprint", test_level_fingerprint },
		{ "level: verify", test_level_verify },
		{ "level: secure", test_level_secure },
		{ "Postfix release differences", test_versions_differ },
		{ "level: dane, dane-only, half-dane", test_level_dane },
		{ "session resumption", test_resume },
		{ "context cache", test_ctx_cache },
		{ "context cache bound", test_ctx_bound },
		{ "context cache, 8 threads", test_ctx_threads },
		{ NULL, NULL },
	};

	return (unit_run("tls_client", tests, (CU_InitializeFunc)t_setup,
	    t_teardown));
}
