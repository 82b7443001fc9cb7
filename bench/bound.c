/*
 * NAME
 *	bound - OpenSSL's own CPU cost of one server-side TLS handshake
 * SYNOPSIS
 *	bound -e ec.pem -E ec.key -r rsa.pem -R rsa.key [-n COUNT] [-b BATCHES]
 *	    [-t SECONDS]
 * DESCRIPTION
 *	Runs a TLS client and a TLS server in one thread, connected by an
 *	in-memory BIO pair, so that no socket, thread switch or system call
 *	is involved. Only the server's calls are timed, with the thread's
 *	CPU clock: SSL_new(), every SSL_do_handshake() step (for TLS 1.3
 *	that includes writing the session tickets), SSL_shutdown() (one
 *	close_notify) and SSL_free(). The
 *	result is the lower bound of what any TLS terminator on this
 *	machine must spend per handshake with the same settings.
 *
 *	Cases (the same settings as the load generator uses):
 *	  ecdsa_full13   TLS 1.3, X25519, ECDSA P-256, full handshake
 *	  rsa_full13     TLS 1.3, X25519, RSA-2048 (RSA-PSS), full handshake
 *	  ecdsa_full12   TLS 1.2, X25519, ECDHE-ECDSA-AES128-GCM-SHA256
 *	  rsa_full12     TLS 1.2, X25519, ECDHE-RSA-AES128-GCM-SHA256
 *	  resumed13      TLS 1.3 ticket (psk_dhe_ke, so one X25519 exchange)
 *	  resumed12_ticket  TLS 1.2 RFC 5077 ticket
 *	  resumed12_id   TLS 1.2 session id (server-side cache)
 *
 *	Each case runs BATCHES batches of COUNT handshakes (or fewer when
 *	the time budget of the case runs out); the median batch gives the
 *	figure. Output: one JSON object on standard output, microseconds
 *	per server handshake, plus the client's cost for reference.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS13_SUITE	"TLS_AES_128_GCM_SHA256"
#define TLS12_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
/* X25519 is used; P-256 is listed so that TLS 1.2 may use the ECDSA P-256 certificate. */
#define BENCH_GROUPS	"X25519:P-256"

enum resume { R_NONE, R_TICKET, R_ID };

struct bcase {
	const char *name;
	int	 rsa;		/* certificate: 0 ECDSA, 1 RSA */
	int	 version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	enum resume resume;
};

static const struct bcase cases[] = {
	{ "ecdsa_full13", 0, TLS1_3_VERSION, R_NONE },
	{ "rsa_full13", 1, TLS1_3_VERSION, R_NONE },
	{ "ecdsa_full12", 0, TLS1_2_VERSION, R_NONE },
	{ "rsa_full12", 1, TLS1_2_VERSION, R_NONE },
	{ "resumed13", 0, TLS1_3_VERSION, R_TICKET },
	{ "resumed12_ticket", 0, TLS1_2_VERSION, R_TICKET },
	{ "resumed12_id", 0, TLS1_2_VERSION, R_ID },
};

static void
die(const char *what)
{
	fprintf(stderr, "bound: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
cpu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static SSL_CTX *
server_ctx(const char *cert, const char *key, const struct bcase *c)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		die("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("cannot load the server certificate or key");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_set1_groups_list(ctx, BENCH_GROUPS) != 1)
		die("groups");
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"bound", 5);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (c->resume == R_ID)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return (ctx);
}

static SSL_CTX *
client_ctx(const struct bcase *c)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, c->version);
	SSL_CTX_set_max_proto_version(ctx, c->version);
	if (SSL_CTX_set1_groups_list(ctx, BENCH_GROUPS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITE) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		die("client settings");
	if (SSL_CTX_set1_sigalgs_list(ctx, c->rsa ?
	    "rsa_pss_rsae_sha256:RSA+SHA256" : "ECDSA+SHA256") != 1)
		die("sigalgs");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (c->resume == R_ID)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return (ctx);
}

/*
 * one_handshake - one connection; the server's CPU microseconds go to
 * *srv_us, the client's to *cli_us. With sessp, offer *sessp and
 * replace it with the newest session. Returns 1 if resumed, 0 if not.
 */
static int
one_handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION **sessp,
    double *srv_us, double *cli_us)
{
	BIO	*sb, *cb;
	SSL	*s, *c;
	double	 t0, st = 0, ct = 0;
	int	 sdone = 0, cdone = 0, r, e, rounds = 0, reused;
	unsigned char buf[256];

	t0 = cpu_now_us();
	if ((s = SSL_new(sctx)) == NULL)
		die("SSL_new server");
	st += cpu_now_us() - t0;

	t0 = cpu_now_us();
	if ((c = SSL_new(cctx)) == NULL)
		die("SSL_new client");
	if (BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		die("BIO_new_bio_pair");
	SSL_set_bio(c, cb, cb);
	if (sessp && *sessp)
		SSL_set_session(c, *sessp);
	SSL_set_connect_state(c);
	ct += cpu_now_us() - t0;
	SSL_set_bio(s, sb, sb);
	SSL_set_accept_state(s);

	while (!(sdone && cdone)) {
		if (++rounds > 100)
			die("handshake does not finish");
		if (!cdone) {
			t0 = cpu_now_us();
			r = SSL_do_handshake(c);
			ct += cpu_now_us() - t0;
			if (r == 1)
				cdone = 1;
			else if ((e = SSL_get_error(c, r)) != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				die("client handshake");
		}
		if (!sdone) {
			t0 = cpu_now_us();
			r = SSL_do_handshake(s);
			st += cpu_now_us() - t0;
			if (r == 1)
				sdone = 1;
			else if ((e = SSL_get_error(s, r)) != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				die("server handshake");
		}
	}
	/* The client takes in what is left (TLS 1.3 tickets): no app data. */
	t0 = cpu_now_us();
	r = SSL_read(c, buf, sizeof(buf));
	if (r > 0)
		die("unexpected application data");
	reused = SSL_session_reused(c);
	if (sessp) {
		SSL_SESSION *n = SSL_get1_session(c);

		if (n != NULL) {
			SSL_SESSION_free(*sessp);
			*sessp = n;
		}
	}
	/* A session is only resumable after a clean shutdown. */
	(void)SSL_shutdown(c);
	SSL_free(c);
	ct += cpu_now_us() - t0;

	t0 = cpu_now_us();
	(void)SSL_shutdown(s);
	SSL_free(s);
	st += cpu_now_us() - t0;

	*srv_us = st;
	*cli_us = ct;
	return (reused);
}

int
main(int argc, char **argv)
{
	const char *ec = NULL, *eck = NULL, *rsa = NULL, *rsak = NULL;
	int	 count = 200, batches = 7, ch, first = 1;
	double	 budget = 4.0;
	size_t	 i;

	while ((ch = getopt(argc, argv, "e:E:r:R:n:b:t:")) != -1) {
		switch (ch) {
		case 'e': ec = optarg; break;
		case 'E': eck = optarg; break;
		case 'r': rsa = optarg; break;
		case 'R': rsak = optarg; break;
		case 'n': count = atoi(optarg); break;
		case 'b': batches = atoi(optarg); break;
		case 't': budget = atof(optarg); break;
		default:
			fprintf(stderr, "usage: bound -e ec.pem -E ec.key -r rsa.pem "
			    "-R rsa.key [-n COUNT] [-b BATCHES] [-t SECONDS]\n");
			return (2);
		}
	}
	if (!ec || !eck || !rsa || !rsak || count < 1 || batches < 1) {
		fprintf(stderr, "bound: -e, -E, -r and -R are required\n");
		return (2);
	}

	printf("{\"openssl\": \"%s\", \"unit\": \"server CPU microseconds per handshake\"",
	    OpenSSL_version(OPENSSL_VERSION));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bcase *c = &cases[i];
		SSL_CTX	*sctx, *cctx;
		SSL_SESSION *sess = NULL;
		double	*smed, *cmed, s_us, c_us, ssum, csum, start;
		struct timespec ts;
		int	 b, k, resumed = 0, done = 0, nb = 0;

		sctx = server_ctx(c->rsa ? rsa : ec, c->rsa ? rsak : eck, c);
		cctx = client_ctx(c);
		smed = calloc((size_t)batches, sizeof(double));
		cmed = calloc((size_t)batches, sizeof(double));
		if (!smed || !cmed)
			die("out of memory");
		/* Warm up (and, for resumption, get the first session). */
		for (k = 0; k < 20; k++)
			one_handshake(sctx, cctx, c->resume ? &sess : NULL, &s_us, &c_us);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		start = ts.tv_sec + ts.tv_nsec / 1e9;
		for (b = 0; b < batches; b++) {
			ssum = csum = 0;
			for (k = 0; k < count; k++) {
				resumed += one_handshake(sctx, cctx,
				    c->resume ? &sess : NULL, &s_us, &c_us);
				ssum += s_us;
				csum += c_us;
				done++;
			}
			smed[nb] = ssum / count;
			cmed[nb] = csum / count;
			nb++;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (ts.tv_sec + ts.tv_nsec / 1e9 - start > budget && nb >= 3)
				break;
		}
		qsort(smed, (size_t)nb, sizeof(double), cmp_double);
		qsort(cmed, (size_t)nb, sizeof(double), cmp_double);
		if (c->resume != R_NONE && resumed != done) {
			fprintf(stderr, "bound: %s: only %d of %d handshakes resumed\n",
			    c->name, resumed, done);
			return (1);
		}
		if (c->resume == R_NONE && resumed != 0)
			die("a full-handshake case resumed");
		printf(",\n \"%s\": {\"server_us\": %.1f, \"server_us_min\": %.1f, "
		    "\"client_us\": %.1f, \"handshakes\": %d, \"batches\": %d}",
		    c->name, smed[nb / 2], smed[0], cmed[nb / 2], done, nb);
		first = 0;
		SSL_SESSION_free(sess);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		free(smed);
		free(cmed);
	}
	(void)first;
	printf("\n}\n");
	return (0);
}
