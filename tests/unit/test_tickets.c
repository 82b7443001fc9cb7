/*
 * NAME
 *	test_tickets - CUnit suite for the session ticket key ring
 * DESCRIPTION
 *	Real TLS handshakes between a server SSL_CTX that uses tkey_cb()
 *	and a client SSL_CTX, in memory over BIO pairs, with a
 *	self-signed certificate made at startup: a full handshake issues
 *	a ticket; the ticket resumes; after one rotation it still resumes
 *	and is renewed under the new key; after two it does not; the same
 *	for TLS 1.3. Key file mode: loading, re-reading on change (and
 *	keeping the keys when the new file is broken, with one warning per
 *	change), malformed lines named by file:line, permission checks.
 *	Eight threads handshake while others rotate and reconfigure (run
 *	under TSan). Finally contrib/tlsproxy-ticketkeys is run, when
 *	found under $TOP_SRCDIR (default ".."): create, rotate, -k,
 *	mode 0600, refusal of a group/other readable file.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "stats.h"
#include "sys.h"
#include "tickets.h"
#include "unit.h"

#define T_LIFETIME	3600
#define T_THREADS	8
#define T_ITERS		12

static EVP_PKEY	*t_pkey;
static X509	*t_cert;
static char	 t_dir[512];
static int64_t	 t_t0;

struct t_conn {
	int		 reused;
	SSL_SESSION	*sess;		/* owned by the caller */
	unsigned char	 name[TKEY_NAME_LEN];	/* key name in its ticket */
	int		 has_ticket;
};

/* t_make_cert - a self-signed P-256 certificate for the server */
static int
t_make_cert(void)
{
	X509_NAME *nm;

	if ((t_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (t_cert = X509_new()) == NULL)
		return (-1);
	nm = X509_get_subject_name(t_cert);
	if (X509_set_version(t_cert, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(t_cert), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(t_cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(t_cert), 86400) == NULL ||
	    X509_set_pubkey(t_cert, t_pkey) != 1 ||
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"tickets.test", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(t_cert, nm) != 1 ||
	    X509_sign(t_cert, t_pkey, EVP_sha256()) <= 0)
		return (-1);
	return (0);
}

/* t_server_ctx - tickets only: no session cache to fall back on */
static SSL_CTX *
t_server_ctx(int version)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return (NULL);
	if (SSL_CTX_use_certificate(ctx, t_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, t_pkey) != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tkey_cb) != 1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return (ctx);
}

/* t_client_ctx - a client of the given protocol version, no verification */
static SSL_CTX *
t_client_ctx(int version)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (NULL);
	if (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, version) != 1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}

/* t_step - one handshake step; 1 done, 0 wants I/O, -1 failed */
static int
t_step(SSL *ssl)
{
	int	 r, e;

	if ((r = SSL_do_handshake(ssl)) == 1)
		return (1);
	e = SSL_get_error(ssl, r);
	return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1);
}

/*
 * t_connect - one handshake over a BIO pair, resuming resume if not
 * NULL; the client's session (after any TLS 1.3 NewSessionTicket) in
 * out->sess. 0 or -1.
 */
static int
t_connect(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume,
    struct t_conn *out)
{
	SSL	*s = NULL, *c = NULL;
	BIO	*bs = NULL, *bc = NULL;
	const unsigned char *tick;
	unsigned char buf[16];
	size_t	 ticklen;
	int	 i, r, sdone = 0, cdone = 0, given = 0, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((s = SSL_new(sctx)) == NULL || (c = SSL_new(cctx)) == NULL ||
	    BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		goto done;
	SSL_set_bio(s, bs, bs);		/* each SSL now owns its end */
	SSL_set_bio(c, bc, bc);
	given = 1;
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (resume != NULL && SSL_set_session(c, resume) != 1)
		goto done;
	for (i = 0; i < 50 && !(sdone && cdone); i++) {
		if (!cdone && (cdone = t_step(c)) < 0)
			goto done;
		if (!sdone && (sdone = t_step(s)) < 0)
			goto done;
	}
	if (!(sdone && cdone))
		goto done;
	/* TLS 1.3 tickets come after the handshake: let the client read. */
	for (i = 0; i < 4; i++)
		if ((r = SSL_read(c, buf, sizeof(buf))) <= 0 &&
		    SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
			break;
	ERR_clear_error();
	out->reused = SSL_session_reused(c);
	if ((out->sess = SSL_get1_session(c)) == NULL)
		goto done;
	SSL_SESSION_get0_ticket(out->sess, &tick, &ticklen);
	if (ticklen >= TKEY_NAME_LEN) {
		memcpy(out->name, tick, TKEY_NAME_LEN);
		out->has_ticket = 1;
	}
	/* Without a close_notify, SSL_free() makes the session unusable. */
	(void)SSL_shutdown(c);
	(void)SSL_shutdown(s);
	rc = 0;
done:
	if (!given) {
		BIO_free(bs);
		BIO_free(bc);
	}
	SSL_free(c);
	SSL_free(s);
	ERR_clear_error();
	return (rc);
}

/* t_path - a file name in the test directory */
static const char *
t_path(char *buf, size_t len, const char *name)
{
	(void)snprintf(buf, len, "%s/%s", t_dir, name);
	return (buf);
}

/* t_write - write text with mode, replacing path atomically (rename) */
static int
t_write(const char *path, const char *text, mode_t mode)
{
	char	 tmp[600];
	int	 fd;
	size_t	 len = strlen(text);

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return (-1);
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
		(void)close(fd);
		return (-1);
	}
	(void)close(fd);
	return (rename(tmp, path));
}

/* t_keyline - one key file line, every hex digit of a field alike */
static void
t_keyline(char *buf, size_t len, char n, char ck, char hk, long created)
{
	char	 name[33], ckey[65], hkey[65];

	memset(name, n, 32);
	name[32] = '\0';
	memset(ckey, ck, 64);
	ckey[64] = '\0';
	memset(hkey, hk, 64);
	hkey[64] = '\0';
	(void)snprintf(buf, len, "%s %s %s %ld\n", name, ckey, hkey, created);
}

/* t_name_is - is key i of the ring named with the hex digit pair cc? */
static int
t_name_is(size_t i, char c)
{
	unsigned char name[TKEY_NAME_LEN], want[TKEY_NAME_LEN];
	char	 hex[3] = { c, c, '\0' };

	if (tkey_name(i, name) < 0)
		return (0);
	memset(want, (int)strtol(hex, NULL, 16), sizeof(want));
	return (memcmp(name, want, sizeof(name)) == 0);
}

/* t_memory_setup - a fresh in-memory ring at t_t0 */
static void
t_memory_setup(const char *cipher)
{
	char	 err[256];

	tkey_shutdown();
	CU_ASSERT_EQUAL_FATAL(tkey_configure(cipher, T_LIFETIME, "", t_t0, err,
	    sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 1);
}

static void
test_cipher_checks(void)
{
	unsigned char before[TKEY_NAME_LEN], after[TKEY_NAME_LEN];
	char	 err[256];

	t_memory_setup("aes-256-cbc");
	CU_ASSERT_EQUAL(tkey_name(0, before), 0);

	CU_ASSERT_EQUAL(tkey_configure("no-such-cipher", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown ticket cipher"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-cipher"));
	CU_ASSERT_EQUAL(tkey_configure("aes-256-gcm", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "AEAD"));
	CU_ASSERT_EQUAL(tkey_configure("des-ede3-cbc", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "IV"));
	CU_ASSERT_EQUAL(tkey_configure("aes-256-ecb", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(tkey_configure("", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", 0, "", t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lifetime"));

	/* A refused configuration changes nothing. */
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT_EQUAL(tkey_name(0, after), 0);
	CU_ASSERT_EQUAL(memcmp(before, after, sizeof(before)), 0);

	/* Other block and stream modes are fine. */
	CU_ASSERT_EQUAL(tkey_configure("aes-128-cbc", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_configure("AES-256-CTR", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_name(5, after), -1);
}

static void
test_memory_rotation(void)
{
	unsigned char n0[TKEY_NAME_LEN], n1[TKEY_NAME_LEN], n2[TKEY_NAME_LEN];
	unsigned char x[TKEY_NAME_LEN];
	char	 err[256];

	t_memory_setup("aes-256-cbc");
	CU_ASSERT_EQUAL(tkey_name(0, n0), 0);
	tkey_tick(t_t0 + T_LIFETIME - 1);		/* not yet due */
	CU_ASSERT_EQUAL(tkey_count(), 1);

	tkey_tick(t_t0 + T_LIFETIME);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT_EQUAL(tkey_name(0, n1), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(n0, n1, sizeof(n0)), 0);
	CU_ASSERT_EQUAL(tkey_name(1, x), 0);
	CU_ASSERT_EQUAL(memcmp(x, n0, sizeof(x)), 0);

	tkey_tick(t_t0 + 2 * T_LIFETIME);		/* n0 goes */
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT_EQUAL(tkey_name(0, n2), 0);
	CU_ASSERT_EQUAL(tkey_name(1, x), 0);
	CU_ASSERT_EQUAL(memcmp(x, n1, sizeof(x)), 0);

	/* A new lifetime alone keeps every key. */
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", 2 * T_LIFETIME, "",
	    t_t0 + 2 * T_LIFETIME + 5, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT_EQUAL(tkey_name(0, x), 0);
	CU_ASSERT_EQUAL(memcmp(x, n2, sizeof(x)), 0);
	tkey_tick(t_t0 + 3 * T_LIFETIME);		/* not due: 2h now */
	CU_ASSERT_EQUAL(tkey_name(0, x), 0);
	CU_ASSERT_EQUAL(memcmp(x, n2, sizeof(x)), 0);

	/* A new cipher: new current key, the old one still decrypts. */
	CU_ASSERT_EQUAL(tkey_configure("aes-128-cbc", 2 * T_LIFETIME, "",
	    t_t0 + 3 * T_LIFETIME, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT_EQUAL(tkey_name(1, x), 0);
	CU_ASSERT_EQUAL(memcmp(x, n2, sizeof(x)), 0);

	/* After a long sleep, the previous key is too old to keep. */
	tkey_tick(t_t0 + 100 * T_LIFETIME);
	CU_ASSERT_EQUAL(tkey_count(), 1);

	tkey_shutdown();
	CU_ASSERT_EQUAL(tkey_count(), 0);
	CU_ASSERT_EQUAL(tkey_name(0, x), -1);
}

/*
 * t_nodump_find - look for addr (when not NULL) or the bytes
 * [bytes, bytes + blen) (otherwise, in small anonymous read-write ones)
 * among the mappings of this process that core dumps leave out ("dd" in /proc/self/smaps'
 * VmFlags): 1 found, 0 not, -1 smaps unreadable.
 */
static int
t_nodump_find(const void *addr, const void *bytes, size_t blen)
{
	char	 line[512], perms[8];
	unsigned long lo = 0, hi = 0, a, b;
	int	 found = 0, readable = 0, n = 0;
	FILE	*fp;

	if ((fp = fopen("/proc/self/smaps", "r")) == NULL)
		return (-1);
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms,
		    &n) == 3) {
			lo = a;
			hi = b;
			/*
			 * Small private anonymous read-write ones only: not
			 * [vvar], nor a sanitizer's shadow memory.
			 */
			readable = strcmp(perms, "rw-p") == 0 && n > 0 &&
			    (line[n] == '\n' || line[n] == '\0') &&
			    b - a <= 1024 * 1024;
			n = 0;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) != 0 || strstr(line, " dd") == NULL)
			continue;
		if (addr != NULL)
			found = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (readable)
			found = memmem((void *)lo, hi - lo, bytes, blen) != NULL;
	}
	fclose(fp);
	return (found);
}

static void
test_key_storage(void)
{
	unsigned char name[TKEY_NAME_LEN], *p, zero[100];
	long	 page = sysconf(_SC_PAGESIZE);

	/* The allocator: whole zeroed pages, marked no-dump. */
	p = sys_secmem_alloc(sizeof(zero));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL((uintptr_t)p % (uintptr_t)page, 0);
	memset(zero, 0, sizeof(zero));
	CU_ASSERT_EQUAL(memcmp(p, zero, sizeof(zero)), 0);
	memset(p, 0xa5, sizeof(zero));
	CU_ASSERT_EQUAL(t_nodump_find(p, NULL, 0), 1);
	sys_secmem_free(p, sizeof(zero));
	CU_ASSERT_EQUAL(t_nodump_find(p, NULL, 0), 0);	/* unmapped */
	sys_secmem_free(NULL, 1);			/* harmless */

	/* The ring itself is in such pages, and wiped by tkey_shutdown(). */
	t_memory_setup("aes-256-cbc");
	CU_ASSERT_EQUAL_FATAL(tkey_name(0, name), 0);
	CU_ASSERT_EQUAL(t_nodump_find(NULL, name, sizeof(name)), 1);
	tkey_shutdown();
	CU_ASSERT_EQUAL(t_nodump_find(NULL, name, sizeof(name)), 0);
}

/* t_resume_cycle - the rotation story, for one protocol version */
static void
t_resume_cycle(int version)
{
	SSL_CTX	*sctx = t_server_ctx(version), *cctx = t_client_ctx(version);
	struct t_conn first, again, renewed, late, later;
	unsigned char cur[TKEY_NAME_LEN];
	uint64_t issued, renew, fail;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
	t_memory_setup("aes-256-cbc");

	/* Full handshake: a ticket under the current key. */
	issued = stats_get(STAT_TICKET_ISSUED);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, NULL, &first), 0);
	CU_ASSERT_EQUAL(first.reused, 0);
	CU_ASSERT(stats_get(STAT_TICKET_ISSUED) > issued);
	CU_ASSERT_EQUAL_FATAL(first.has_ticket, 1);
	CU_ASSERT_EQUAL(tkey_name(0, cur), 0);
	CU_ASSERT_EQUAL(memcmp(first.name, cur, sizeof(cur)), 0);

	/* Same key: resumed, not renewed. */
	renew = stats_get(STAT_TICKET_RENEWED);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, first.sess, &again), 0);
	CU_ASSERT_EQUAL(again.reused, 1);
	CU_ASSERT_EQUAL(stats_get(STAT_TICKET_RENEWED), renew);

	/* One rotation: still resumes, renewed under the new key. */
	tkey_tick(t_t0 + T_LIFETIME);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT_EQUAL(tkey_name(0, cur), 0);
	issued = stats_get(STAT_TICKET_ISSUED);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, first.sess, &renewed), 0);
	CU_ASSERT_EQUAL(renewed.reused, 1);
	CU_ASSERT_EQUAL(stats_get(STAT_TICKET_RENEWED), renew + 1);
	CU_ASSERT(stats_get(STAT_TICKET_ISSUED) > issued);
	CU_ASSERT_EQUAL(renewed.has_ticket, 1);
	CU_ASSERT_EQUAL(memcmp(renewed.name, cur, sizeof(cur)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(renewed.name, first.name, sizeof(cur)), 0);

	/* Two rotations: the first ticket is refused, a full handshake. */
	tkey_tick(t_t0 + 2 * T_LIFETIME);
	fail = stats_get(STAT_TICKET_DECRYPT_FAIL);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, first.sess, &late), 0);
	CU_ASSERT_EQUAL(late.reused, 0);
	CU_ASSERT_EQUAL(stats_get(STAT_TICKET_DECRYPT_FAIL), fail + 1);

	/* The renewed ticket is one rotation old: it still resumes. */
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, renewed.sess, &later), 0);
	CU_ASSERT_EQUAL(later.reused, 1);

	SSL_SESSION_free(first.sess);
	SSL_SESSION_free(again.sess);
	SSL_SESSION_free(renewed.sess);
	SSL_SESSION_free(late.sess);
	SSL_SESSION_free(later.sess);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls12_resume(void)
{
	t_resume_cycle(TLS1_2_VERSION);
}

static void
test_tls13_resume(void)
{
	t_resume_cycle(TLS1_3_VERSION);
}

static void
test_keyfile(void)
{
	SSL_CTX	*sctx = t_server_ctx(TLS1_2_VERSION);
	SSL_CTX	*cctx = t_client_ctx(TLS1_2_VERSION);
	struct t_conn underb, resumed, gone;
	char	 path[600], a[256], b[256], text[1024], err[1024];
	uint64_t renew, fail;
	long	 created = (long)t_t0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cctx);
	tkey_shutdown();
	t_path(path, sizeof(path), "keys");
	t_keyline(a, sizeof(a), 'a', '1', '2', created + 60);
	t_keyline(b, sizeof(b), 'b', '3', '4', created);

	/* Two keys: both loaded, in file order. */
	(void)snprintf(text, sizeof(text), "# ticket keys\n\n%s%s", a, b);
	CU_ASSERT_EQUAL_FATAL(t_write(path, text, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(tkey_configure("aes-256-cbc", T_LIFETIME, path,
	    t_t0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT(t_name_is(0, 'a'));
	CU_ASSERT(t_name_is(1, 'b'));

	/* Before rotation, only key #2 (b): a ticket made under it. */
	CU_ASSERT_EQUAL_FATAL(t_write(path, b, 0600), 0);
	tkey_tick(t_t0);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT(t_name_is(0, 'b'));
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, NULL, &underb), 0);
	CU_ASSERT_EQUAL_FATAL(underb.has_ticket, 1);

	/* Rotation as the tool does it: a new current key, b kept. */
	(void)snprintf(text, sizeof(text), "%s%s", a, b);
	CU_ASSERT_EQUAL_FATAL(t_write(path, text, 0600), 0);
	tkey_tick(t_t0 + 1);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT(t_name_is(0, 'a'));
	CU_ASSERT(t_name_is(1, 'b'));
	renew = stats_get(STAT_TICKET_RENEWED);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, underb.sess, &resumed), 0);
	CU_ASSERT_EQUAL(resumed.reused, 1);
	CU_ASSERT_EQUAL(stats_get(STAT_TICKET_RENEWED), renew + 1);
	CU_ASSERT(t_name_is(0, 'a'));
	CU_ASSERT_EQUAL(resumed.has_ticket, 1);
	CU_ASSERT_EQUAL(memcmp(resumed.name, "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa"
	    "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa", TKEY_NAME_LEN), 0);

	/* b rotated out of the file: its ticket no longer resumes. */
	CU_ASSERT_EQUAL_FATAL(t_write(path, a, 0600), 0);
	tkey_tick(t_t0 + 2);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	fail = stats_get(STAT_TICKET_DECRYPT_FAIL);
	CU_ASSERT_EQUAL_FATAL(t_connect(sctx, cctx, underb.sess, &gone), 0);
	CU_ASSERT_EQUAL(gone.reused, 0);
	CU_ASSERT_EQUAL(stats_get(STAT_TICKET_DECRYPT_FAIL), fail + 1);

	/* Lifetime does not age file keys: the file decides. */
	tkey_tick(t_t0 + 10 * T_LIFETIME);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT(t_name_is(0, 'a'));

	SSL_SESSION_free(underb.sess);
	SSL_SESSION_free(resumed.sess);
	SSL_SESSION_free(gone.sess);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	tkey_shutdown();
}

/* t_bad_file - configure must refuse text (written with mode); err out */
static int
t_bad_file(const char *text, mode_t mode, char *err, size_t errlen)
{
	char	 path[600];

	t_path(path, sizeof(path), "bad");
	if (t_write(path, text, mode) < 0)
		return (0);
	return (tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0, err,
	    errlen) == -1);
}

static void
test_keyfile_errors(void)
{
	char	 path[600], want[700], a[256], b[256], text[2048];
	char	 err[1024], secret[65];
	int	 i;

	t_memory_setup("aes-256-cbc");
	t_path(path, sizeof(path), "bad");
	t_keyline(a, sizeof(a), 'a', '1', '2', (long)t_t0);
	memset(secret, '2', 64);
	secret[64] = '\0';

	/* Bad hex on line 3, after a comment and a good key. */
	t_keyline(b, sizeof(b), 'b', 'x', '4', (long)t_t0);
	(void)snprintf(text, sizeof(text), "# keys\n%s%s", a, b);
	CU_ASSERT(t_bad_file(text, 0600, err, sizeof(err)));
	(void)snprintf(want, sizeof(want), "%s:3: ", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cipher key"));
	CU_ASSERT_PTR_NULL(strstr(err, secret));	/* never key material */

	/* A short line: three fields, and a short name. */
	CU_ASSERT(t_bad_file("00112233445566778899aabbccddeeff 00 11\n", 0600,
	    err, sizeof(err)));
	(void)snprintf(want, sizeof(want), "%s:1: too few fields", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	(void)snprintf(text, sizeof(text), "\n%s", a + 2);	/* 30 digits */
	CU_ASSERT(t_bad_file(text, 0600, err, sizeof(err)));
	(void)snprintf(want, sizeof(want), "%s:2: key name", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));

	/* Extra field, bad time, duplicate name, no keys. */
	(void)snprintf(text, sizeof(text), "%.*s extra\n", (int)strlen(a) - 1,
	    a);
	CU_ASSERT(t_bad_file(text, 0600, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: text after"));
	CU_ASSERT(t_bad_file("00112233445566778899aabbccddeeff "
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "0000000000000000000000000000000000000000000000000000000000000000 "
	    "-5\n", 0600, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: creation time"));
	(void)snprintf(text, sizeof(text), "%s%s", a, a);
	CU_ASSERT(t_bad_file(text, 0600, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: duplicate key name"));
	CU_ASSERT(t_bad_file("# nothing yet\n", 0600, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no ticket keys"));

	/* Permissions, as for a private key. */
	CU_ASSERT(t_bad_file(a, 0640, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "group or other"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT(t_bad_file(a, 0604, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "mode 0604"));
	CU_ASSERT(t_bad_file(a, 0620, err, sizeof(err)));

	/* Missing file, directory. */
	t_path(path, sizeof(path), "missing");
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOENT)));
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, t_dir, t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));

	/* More keys than the ring holds: the newest are kept. */
	text[0] = '\0';
	for (i = 0; i < TKEY_MAX_KEYS + 2; i++) {
		t_keyline(b, sizeof(b), "0123456789abcdef"[i], '5', '6',
		    (long)t_t0 - i);
		(void)strncat(text, b, sizeof(text) - strlen(text) - 1);
	}
	t_path(path, sizeof(path), "many");
	CU_ASSERT_EQUAL_FATAL(t_write(path, text, 0600), 0);
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), TKEY_MAX_KEYS);
	CU_ASSERT(t_name_is(0, '0'));
	CU_ASSERT(t_name_is(TKEY_MAX_KEYS - 1, '7'));
	tkey_shutdown();
}

/* t_capture - send stderr (the log) to a file, or back; returns old fd */
static int
t_capture(const char *path, int saved)
{
	int	 fd;

	if (path == NULL) {
		(void)dup2(saved, STDERR_FILENO);
		(void)close(saved);
		return (-1);
	}
	saved = dup(STDERR_FILENO);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		(void)dup2(fd, STDERR_FILENO);
		(void)close(fd);
	}
	return (saved);
}

/* t_count_lines - lines of path that contain s */
static int
t_count_lines(const char *path, const char *s)
{
	char	 line[8192];
	FILE	*fp;
	int	 n = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, s) != NULL)
			n++;
	(void)fclose(fp);
	return (n);
}

/* t_dump - copy path to stderr: sanitizer reports caught by t_capture() */
static void
t_dump(const char *path)
{
	char	 line[8192];
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		(void)fputs(line, stderr);
	(void)fclose(fp);
}

static void
test_keyfile_broken_reload(void)
{
	char	 path[600], logf[600], a[256], c[256], bad[256], err[1024];
	int	 saved, i;

	tkey_shutdown();
	t_path(path, sizeof(path), "reload");
	t_path(logf, sizeof(logf), "log");
	t_keyline(a, sizeof(a), 'a', '1', '2', (long)t_t0);
	t_keyline(c, sizeof(c), 'c', '5', '6', (long)t_t0);
	t_keyline(bad, sizeof(bad), 'c', 'q', '6', (long)t_t0);
	CU_ASSERT_EQUAL_FATAL(t_write(path, a, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(tkey_configure("aes-256-cbc", T_LIFETIME, path,
	    t_t0, err, sizeof(err)), 0);

	saved = t_capture(logf, -1);
	/* Broken content: the keys stay, one warning for many ticks. */
	(void)t_write(path, bad, 0600);
	for (i = 0; i < 5; i++)
		tkey_tick(t_t0 + i);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT(t_name_is(0, 'a'));
	/* Good keys, wrong mode: refused too. */
	(void)t_write(path, c, 0644);
	for (i = 0; i < 5; i++)
		tkey_tick(t_t0 + i);
	CU_ASSERT(t_name_is(0, 'a'));
	/* Gone: keep the keys. */
	(void)unlink(path);
	for (i = 0; i < 5; i++)
		tkey_tick(t_t0 + i);
	CU_ASSERT(t_name_is(0, 'a'));
	/* Fixed: loaded. */
	(void)t_write(path, c, 0600);
	tkey_tick(t_t0 + 10);
	tkey_tick(t_t0 + 11);
	(void)t_capture(NULL, saved);
	if (t_count_lines(logf, "Sanitizer") != 0)
		t_dump(logf);

	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT(t_name_is(0, 'c'));
	CU_ASSERT_EQUAL(t_count_lines(logf, "warning: "), 3);
	CU_ASSERT_EQUAL(t_count_lines(logf, "keeping the previous ticket keys"),
	    3);
	CU_ASSERT_EQUAL(t_count_lines(logf, ":1: cipher key"), 1);
	CU_ASSERT_EQUAL(t_count_lines(logf, "mode 0644"), 1);
	CU_ASSERT_EQUAL(t_count_lines(logf, strerror(ENOENT)), 1);
	CU_ASSERT_EQUAL(t_count_lines(logf, "loaded 1 key"), 1);
	CU_ASSERT_EQUAL(t_count_lines(logf, "5555555555"), 0);
	tkey_shutdown();
}

static void
test_mode_switch(void)
{
	unsigned char n0[TKEY_NAME_LEN], x[TKEY_NAME_LEN];
	char	 path[600], a[256], b[256], text[600], err[1024];

	t_memory_setup("aes-256-cbc");
	CU_ASSERT_EQUAL(tkey_name(0, n0), 0);
	tkey_tick(t_t0 + T_LIFETIME);
	CU_ASSERT_EQUAL(tkey_count(), 2);

	/* Memory to file: the file's keys only. */
	t_path(path, sizeof(path), "switch");
	t_keyline(a, sizeof(a), 'a', '1', '2', (long)t_t0);
	t_keyline(b, sizeof(b), 'b', '3', '4', (long)t_t0);
	(void)snprintf(text, sizeof(text), "%s%s", a, b);
	CU_ASSERT_EQUAL_FATAL(t_write(path, text, 0600), 0);
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT(t_name_is(0, 'a'));
	CU_ASSERT(t_name_is(1, 'b'));

	/* Reload with the same file: re-read, same keys. */
	CU_ASSERT_EQUAL(tkey_configure("aes-128-cbc", 60, path, t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 2);
	CU_ASSERT(t_name_is(0, 'a'));

	/* File to memory: one fresh random key, nothing from the file. */
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, "", t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT(!t_name_is(0, 'a') && !t_name_is(0, 'b'));
	CU_ASSERT_EQUAL(tkey_name(0, x), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(x, n0, sizeof(x)), 0);

	/* A broken file on reload: refused, memory keys stay. */
	CU_ASSERT_EQUAL_FATAL(t_write(path, "junk\n", 0600), 0);
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0,
	    err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(tkey_count(), 1);
	CU_ASSERT_EQUAL(tkey_name(0, n0), 0);
	CU_ASSERT_EQUAL(memcmp(x, n0, sizeof(x)), 0);
	tkey_shutdown();
}

/* Concurrency: handshakes on T_THREADS workers while the ring changes. */
struct t_worker {
	SSL_CTX		*sctx;		/* borrowed */
	SSL_CTX		*cctx;		/* borrowed */
	int		 failed;	/* handshakes that did not complete */
	int		 resumed;
};

static atomic_int t_stop;
static char	 t_mtfile[600];		/* "" = in-memory mode */

/* t_worker_run - full handshakes and resumptions, counting outcomes */
static void *
t_worker_run(void *arg)
{
	struct t_worker *w = arg;
	struct t_conn full, res;
	int	 i;

	for (i = 0; i < T_ITERS; i++) {
		if (t_connect(w->sctx, w->cctx, NULL, &full) < 0) {
			w->failed++;
			continue;
		}
		if (t_connect(w->sctx, w->cctx, full.sess, &res) < 0)
			w->failed++;
		else if (res.reused)
			w->resumed++;
		SSL_SESSION_free(full.sess);
		SSL_SESSION_free(res.sess);
	}
	return (NULL);
}

/* t_hexkey - a random key file line */
static void
t_hexkey(char *buf, size_t len, int64_t created)
{
	unsigned char raw[TKEY_NAME_LEN + 64];
	char	 hex[2 * sizeof(raw) + 1];
	size_t	 i;

	(void)RAND_bytes(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	(void)snprintf(buf, len, "%.32s %.64s %.64s %lld\n", hex, hex + 32,
	    hex + 96, (long long)created);
}

/* t_ticker - advance time and rotate; in file mode, rewrite the file */
static void *
t_ticker(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	char	 lines[3][256], text[800];
	int64_t	 now = t_t0;
	int	 n = 0;

	(void)arg;
	memset(lines, 0, sizeof(lines));
	while (!atomic_load(&t_stop)) {
		if (t_mtfile[0] != '\0' && n % 4 == 0) {
			memmove(lines[1], lines[0], 2 * sizeof(lines[0]));
			t_hexkey(lines[0], sizeof(lines[0]), now);
			(void)snprintf(text, sizeof(text), "%s%s%s", lines[0],
			    lines[1], lines[2]);
			(void)t_write(t_mtfile, text, 0600);
		}
		now += T_LIFETIME / 4;
		tkey_tick(now);
		n++;
		(void)nanosleep(&ms, NULL);
	}
	return (NULL);
}

/* t_reloader - reconfigure (reload) while the ticker rotates */
static void *
t_reloader(void *arg)
{
	struct timespec ms = { 0, 3000000 };
	char	 err[1024];
	long	 lifetime = T_LIFETIME;
	size_t	 i;
	unsigned char name[TKEY_NAME_LEN];

	(void)arg;
	while (!atomic_load(&t_stop)) {
		lifetime = lifetime == T_LIFETIME ? T_LIFETIME + 1 : T_LIFETIME;
		/* A file mid-rewrite may fail; the ring must stay usable. */
		(void)tkey_configure("aes-256-cbc", lifetime, t_mtfile, t_t0,
		    err, sizeof(err));
		for (i = 0; i < tkey_count(); i++)
			(void)tkey_name(i, name);
		(void)nanosleep(&ms, NULL);
	}
	return (NULL);
}

/* t_threads - one concurrent run, in memory or key file mode */
static void
t_threads(const char *keyfile)
{
	struct t_worker w[T_THREADS];
	pthread_t th[T_THREADS], tick, reload;
	SSL_CTX	*sctx12 = t_server_ctx(TLS1_2_VERSION);
	SSL_CTX	*sctx13 = t_server_ctx(TLS1_3_VERSION);
	SSL_CTX	*cctx12 = t_client_ctx(TLS1_2_VERSION);
	SSL_CTX	*cctx13 = t_client_ctx(TLS1_3_VERSION);
	char	 err[1024], line[256], logf[600];
	int	 i, saved, failed = 0, resumed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(sctx12);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sctx13);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cctx12);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cctx13);
	tkey_shutdown();
	(void)snprintf(t_mtfile, sizeof(t_mtfile), "%s", keyfile);
	if (*keyfile != '\0') {
		t_hexkey(line, sizeof(line), t_t0);
		CU_ASSERT_EQUAL_FATAL(t_write(keyfile, line, 0600), 0);
	}
	CU_ASSERT_EQUAL_FATAL(tkey_configure("aes-256-cbc", T_LIFETIME,
	    keyfile, t_t0, err, sizeof(err)), 0);

	/* The log: one line per key file change, checked below. */
	saved = t_capture(t_path(logf, sizeof(logf), "mt-log"), -1);
	atomic_store(&t_stop, 0);
	for (i = 0; i < T_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sctx = i % 2 ? sctx13 : sctx12;
		w[i].cctx = i % 2 ? cctx13 : cctx12;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, t_worker_run,
		    &w[i]), 0);
	}
	CU_ASSERT_EQUAL_FATAL(pthread_create(&tick, NULL, t_ticker, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&reload, NULL, t_reloader, NULL),
	    0);
	for (i = 0; i < T_THREADS; i++) {
		(void)pthread_join(th[i], NULL);
		failed += w[i].failed;
		resumed += w[i].resumed;
	}
	atomic_store(&t_stop, 1);
	(void)pthread_join(tick, NULL);
	(void)pthread_join(reload, NULL);
	(void)t_capture(NULL, saved);
	if (t_count_lines(logf, "Sanitizer") != 0)
		t_dump(logf);

	/* Every rewrite was atomic: nothing to warn about. */
	CU_ASSERT_EQUAL(t_count_lines(logf, "warning"), 0);
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT(resumed > 0);
	CU_ASSERT(tkey_count() >= 1 && tkey_count() <= 3);
	SSL_CTX_free(sctx12);
	SSL_CTX_free(sctx13);
	SSL_CTX_free(cctx12);
	SSL_CTX_free(cctx13);
	tkey_shutdown();
}

static void
test_threads_memory(void)
{
	t_threads("");
}

static void
test_threads_keyfile(void)
{
	char	 path[600];

	t_threads(t_path(path, sizeof(path), "mt-keys"));
}

/* t_read_keys - key lines of a file, at most max, into lines[]; count */
static int
t_read_keys(const char *path, char lines[][256], int max)
{
	char	 line[1024];
	FILE	*fp;
	int	 n = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (n < max)
			(void)snprintf(lines[n], 256, "%.255s", line);
		n++;
	}
	(void)fclose(fp);
	return (n);
}

/* t_run - run a shell command line; its exit status, or -1 */
static int
t_run(const char *cmd)
{
	int	 st = system(cmd);

	return (st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void
test_ticketkeys_script(void)
{
	const char *top = getenv("TOP_SRCDIR");
	char	 script[600], path[600], out[600], cmd[2048], err[1024];
	char	 k1[8][256], k2[8][256], secret[80];
	struct stat sb;

	if (top == NULL || *top == '\0')
		top = "..";
	(void)snprintf(script, sizeof(script), "%s/contrib/tlsproxy-ticketkeys",
	    top);
	if (access(script, R_OK) != 0) {
		printf("\n    note: %s not found (set TOP_SRCDIR): skipped ",
		    script);
		return;
	}
	t_path(path, sizeof(path), "tool/ticket.keys");
	t_path(out, sizeof(out), "tool.out");
	(void)snprintf(cmd, sizeof(cmd), "mkdir -p '%s/tool'", t_dir);
	CU_ASSERT_EQUAL_FATAL(t_run(cmd), 0);

	/* Usage errors. */
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' >/dev/null 2>&1", script);
	CU_ASSERT_NOT_EQUAL(t_run(cmd), 0);
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' -k x '%s' >/dev/null 2>&1",
	    script, path);
	CU_ASSERT_NOT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_NOT_EQUAL(stat(path, &sb), 0);

	/* Create: one key, mode 0600, loadable. */
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >'%s' 2>&1", script,
	    path, out);
	CU_ASSERT_EQUAL_FATAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	CU_ASSERT(S_ISREG(sb.st_mode));
	CU_ASSERT_EQUAL(t_read_keys(path, k1, 8), 1);
	CU_ASSERT_EQUAL(tkey_configure("aes-256-cbc", T_LIFETIME, path, t_t0,
	    err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(tkey_count(), 1);

	/* It says what it did, without key material. */
	CU_ASSERT(t_count_lines(out, "") >= 1);
	(void)snprintf(secret, sizeof(secret), "%.64s", k1[0] + 33);
	CU_ASSERT_EQUAL(t_count_lines(out, secret), 0);

	/* Rotate: a new key first, the old one after it. */
	CU_ASSERT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_read_keys(path, k2, 8), 2);
	CU_ASSERT_STRING_EQUAL(k2[1], k1[0]);
	CU_ASSERT_STRING_NOT_EQUAL(k2[0], k1[0]);
	CU_ASSERT_EQUAL(t_count_lines(out, secret), 0);

	/* Twice more with -k 2: at most three keys, newest first. */
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' -k 2 '%s' >'%s' 2>&1",
	    script, path, out);
	CU_ASSERT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_read_keys(path, k1, 8), 3);
	CU_ASSERT_STRING_EQUAL(k1[1], k2[0]);
	CU_ASSERT_STRING_EQUAL(k1[2], k2[1]);
	CU_ASSERT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_read_keys(path, k2, 8), 3);
	CU_ASSERT_STRING_EQUAL(k2[1], k1[0]);
	CU_ASSERT_STRING_EQUAL(k2[2], k1[1]);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);

	/* The daemon picks the rotated file up on its next tick. */
	tkey_tick(t_t0);
	CU_ASSERT_EQUAL(tkey_count(), 3);

	/* -k 0: only the new key. */
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' -k 0 '%s' >/dev/null 2>&1",
	    script, path);
	CU_ASSERT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_read_keys(path, k1, 8), 1);

	/* A readable file is refused and left alone. */
	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >/dev/null 2>&1",
	    script, path);
	CU_ASSERT_NOT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_read_keys(path, k2, 8), 1);
	CU_ASSERT_STRING_EQUAL(k2[0], k1[0]);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0644);

	/* So is a directory, and a malformed file. */
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' '%s/tool' >/dev/null 2>&1",
	    script, t_dir);
	CU_ASSERT_NOT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL_FATAL(t_write(path, "not a key\n", 0600), 0);
	(void)snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >/dev/null 2>&1",
	    script, path);
	CU_ASSERT_NOT_EQUAL(t_run(cmd), 0);
	CU_ASSERT_EQUAL(t_count_lines(path, "not a key"), 1);

	/* No temporary files left behind. */
	(void)snprintf(cmd, sizeof(cmd), "test \"$(ls -A '%s/tool' | wc -l)\""
	    " -eq 1", t_dir);
	CU_ASSERT_EQUAL(t_run(cmd), 0);
	tkey_shutdown();
}

/* t_init - certificate, temp directory, and a fixed "now" */
static int
t_init(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	(void)snprintf(t_dir, sizeof(t_dir), "%s/test_tickets.XXXXXX", tmp);
	if (mkdtemp(t_dir) == NULL)
		return (-1);
	t_t0 = (int64_t)time(NULL);
	return (t_make_cert());
}

/* t_fini - remove what t_init made */
static int
t_fini(void)
{
	char	 cmd[700];

	tkey_shutdown();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	(void)t_run(cmd);
	X509_free(t_cert);
	EVP_PKEY_free(t_pkey);
	return (0);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "cipher checks", test_cipher_checks },
		{ "in-memory rotation", test_memory_rotation },
		{ "TLS 1.2: issue, resume, renew, expire", test_tls12_resume },
		{ "TLS 1.3: issue, resume, renew, expire", test_tls13_resume },
		{ "key file: load, rotate, re-read", test_keyfile },
		{ "key file: errors name file:line", test_keyfile_errors },
		{ "key file: broken on re-read keeps keys",
		    test_keyfile_broken_reload },
		{ "switching between key file and memory", test_mode_switch },
		{ "threads: in-memory rotation", test_threads_memory },
		{ "threads: key file rotation", test_threads_keyfile },
		{ "contrib/tlsproxy-ticketkeys", test_ticketkeys_script },
		{ "key storage: no-dump pages, wiped", test_key_storage },
		{ NULL, NULL },
	};

	return (unit_run("tickets", tests, t_init, t_fini));
}
