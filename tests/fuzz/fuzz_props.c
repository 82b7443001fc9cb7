/*
 * NAME
 *	fuzz_props - libFuzzer harness for the client-role TLS codec
 * DESCRIPTION
 *	The input is one attribute record as smtp(8) sends it after a
 *	client-role request (the Q2 properties). It is decoded with
 *	attr_decode() and read with tprops_client_decode().
 *
 *	The same record is also read as a TLS context (R3): attributes
 *	with the context's names fill a struct tprops_context, which is
 *	encoded in every layout, decoded again and compared, and
 *	summarized into buffers of several exact sizes.
 *
 *	Every value also goes through tprops_b64_decode().
 *
 *	Checked: a failed decode leaves nothing to free and gives a
 *	reason; a successful one has every required field, bounded
 *	lists, TLSA data of the size its base64 implies, and a known
 *	layout; base64 output fits exactly n bytes and is refused by n-1,
 *	and re-encoding it (OpenSSL) decodes to the same bytes; context
 *	records round-trip through the attribute codec.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "attr.h"
#include "fuzz_util.h"
#include "tls_props.h"

static void
check_client(const struct attr_rec *rec)
{
	struct tprops_client p;
	char	 err[256];
	size_t	 i;
	int	 rc;

	err[0] = '\0';
	rc = tprops_client_decode(rec, &p, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && err[0] != '\0');
		FUZZ_CHECK(p.tlsa == NULL && p.ntlsa == 0);
		FUZZ_CHECK(p.match == NULL && p.nmatch == 0);
		tprops_client_free(&p);		/* harmless */
		return;
	}
	FUZZ_CHECK(p.nparams <= TPROPS_PARAMS_MAX);
	for (i = 0; i < p.nparams; i++) {
		FUZZ_CHECK(p.params[i].name != NULL && p.params[i].value != NULL);
		FUZZ_CHECK(tprops_param(&p, p.params[i].name) != NULL);
	}
	FUZZ_CHECK(p.log_param && p.log_level && p.cache_type && p.chain_files &&
	    p.cert_file && p.key_file && p.dcert_file && p.dkey_file &&
	    p.eccert_file && p.eckey_file && p.CAfile && p.CApath &&
	    p.init_mdalg);
	FUZZ_CHECK(p.nexthop && p.host && p.namaddr && p.sni && p.serverid &&
	    p.helo && p.protocols && p.cipher_grade && p.cipher_exclusions &&
	    p.mdalg && p.dane_domain);
	FUZZ_CHECK(p.nmatch <= TPROPS_MATCH_MAX);
	FUZZ_CHECK(p.nmatch == 0 || p.match != NULL);
	for (i = 0; i < p.nmatch; i++)
		FUZZ_CHECK(p.match[i] != NULL);
	FUZZ_CHECK(p.ntlsa <= TPROPS_TLSA_MAX);
	FUZZ_CHECK(p.ntlsa == 0 || (p.dane && p.tlsa != NULL));
	for (i = 0; i < p.ntlsa; i++)
		FUZZ_CHECK(p.tlsa[i].data != NULL);
	FUZZ_CHECK(p.r3 >= TPROPS_R3_35 && p.r3 <= TPROPS_R3_312);
	FUZZ_CHECK(tprops_level_name(p.tls_level) != NULL);
	FUZZ_CHECK(tprops_param(&p, "no such parameter") == NULL ||
	    p.nparams > 0);
	tprops_client_free(&p);
	FUZZ_CHECK(p.tlsa == NULL && p.match == NULL);
	tprops_client_free(&p);		/* twice is fine */
}

/* check_b64 - exact-size output, refusal one byte short, re-encoding */
static void
check_b64(const char *in)
{
	unsigned char *out, *again;
	char	*enc;
	size_t	 len = strlen(in), cap;
	long	 n, m;

	cap = len / 4 * 3 + 1;
	if ((out = malloc(cap)) == NULL)
		abort();
	n = tprops_b64_decode(in, out, cap);
	if (n < 0) {
		free(out);
		return;
	}
	FUZZ_CHECK(len % 4 == 0);
	FUZZ_CHECK((size_t)n <= len / 4 * 3 && (size_t)n + 2 >= len / 4 * 3);
	free(out);
	if ((out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		abort();
	FUZZ_CHECK(tprops_b64_decode(in, out, (size_t)n) == n);
	if (n > 0) {
		unsigned char *shortbuf = malloc((size_t)n - 1 > 0 ?
		    (size_t)n - 1 : 1);

		if (shortbuf == NULL)
			abort();
		FUZZ_CHECK(tprops_b64_decode(in, shortbuf, (size_t)n - 1) == -1);
		free(shortbuf);
	}

	/* What OpenSSL encodes from the bytes decodes back to them. */
	if ((enc = malloc(((size_t)n + 2) / 3 * 4 + 1)) == NULL)
		abort();
	(void)EVP_EncodeBlock((unsigned char *)enc, out, (int)n);
	if ((again = malloc((size_t)n + 1)) == NULL)
		abort();
	m = tprops_b64_decode(enc, again, (size_t)n + 1);
	FUZZ_CHECK(m == n && memcmp(again, out, (size_t)n) == 0);
	free(again);
	free(enc);
	free(out);
}

/* ctx_str - copy a value into a fixed context field, truncated */
static void
ctx_str(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

/* fill_context - take the context fields the record has */
static void
fill_context(const struct attr_rec *rec, struct tprops_context *x)
{
	const struct attr *a;
	unsigned int u;
	size_t	 i;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < rec->n; i++) {
		a = &rec->v[i];
		if (attr_parse_uint(a->value, &u) != 0)
			u = (unsigned int)a->vlen;
#define S(f)	if (strcmp(a->name, #f) == 0) ctx_str(x->f, sizeof(x->f), a->value)
#define U(f)	if (strcmp(a->name, #f) == 0) x->f = u
		S(peer_CN); S(issuer_CN); S(peer_fingerprint);
		S(peer_pubkey_fingerprint); U(level); U(peer_status);
		S(cipher_protocol); S(cipher_name); U(cipher_usebits);
		U(cipher_algbits); S(key_exchange); S(key_exchange_curve);
		U(key_exchange_bits); U(ctos_rpk); U(stoc_rpk);
		S(clnt_signature); S(clnt_signature_curve);
		U(clnt_signature_bits); S(clnt_signature_digest);
		S(srvr_signature); S(srvr_signature_curve);
		U(srvr_signature_bits); S(srvr_signature_digest); S(namaddr);
		U(rpt_reported); U(trace_size_limit);
#undef S
#undef U
	}
}

static void
check_context(const struct attr_rec *rec)
{
	static const size_t sizes[] = { 1, 2, 17, 80, 200, 1024 };
	static const size_t want_n[] = { 0, 21, 22, 24, 25, 26 };
	struct tprops_context x;
	struct attr_rec enc, dec;
	unsigned char *wire;
	char	*buf, err[128];
	size_t	 i, len, used;
	long	 n;
	int	 r3;

	fill_context(rec, &x);
	for (r3 = TPROPS_R3_35; r3 <= TPROPS_R3_312; r3++) {
		attr_rec_init(&enc);
		FUZZ_CHECK(tprops_context_encode(&x, (enum tprops_r3)r3,
		    &enc) == 0);
		FUZZ_CHECK(enc.n == want_n[r3]);
		len = attr_encoded_len(&enc);
		if ((wire = malloc(len)) == NULL)
			abort();
		n = attr_encode(&enc, wire, len);
		FUZZ_CHECK(n >= 0 && (size_t)n == len);
		attr_rec_init(&dec);
		FUZZ_CHECK(attr_decode(wire, len, &dec, &used, err,
		    sizeof(err)) == 1 && used == len);
		FUZZ_CHECK(dec.n == enc.n);
		for (i = 0; i < dec.n; i++)
			FUZZ_CHECK(strcmp(dec.v[i].name, enc.v[i].name) == 0 &&
			    strcmp(dec.v[i].value, enc.v[i].value) == 0);
		FUZZ_CHECK(strcmp(attr_rec_get(&dec, "peer_CN"), x.peer_CN) == 0);
		FUZZ_CHECK(strcmp(attr_rec_get(&dec, "namaddr"), x.namaddr) == 0);
		attr_rec_free(&dec);
		attr_rec_free(&enc);
		free(wire);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if ((buf = malloc(sizes[i])) == NULL)
			abort();
		tprops_context_summary(&x, buf, sizes[i]);
		FUZZ_CHECK(memchr(buf, '\0', sizes[i]) != NULL);
		free(buf);
	}
	FUZZ_CHECK(tprops_trust(x.peer_status) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_rec rec;
	char	 err[256];
	size_t	 used, i;

	attr_rec_init(&rec);
	if (attr_decode(data, size, &rec, &used, err, sizeof(err)) != 1)
		return (0);
	check_client(&rec);
	check_context(&rec);
	for (i = 0; i < rec.n; i++)
		check_b64(rec.v[i].value);
	attr_rec_free(&rec);
	return (0);
}
