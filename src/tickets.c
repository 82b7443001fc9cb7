/*
 * NAME
 *	tickets - TLS session ticket key ring: rotation, key file, callback
 * SYNOPSIS
 *	#include "tickets.h"
 *
 *	int tkey_configure(const char *cipher, long lifetime,
 *	    const char *keyfile, int64_t now, char *err, size_t errlen);
 *	void tkey_tick(int64_t now);
 *	void tkey_shutdown(void);
 *	int tkey_cb(SSL *ssl, unsigned char key_name[TKEY_NAME_LEN],
 *	    unsigned char *iv, EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx,
 *	    int enc);
 *	size_t tkey_count(void);
 *	int tkey_name(size_t i, unsigned char name[TKEY_NAME_LEN]);
 * DESCRIPTION
 *	One process-wide ring of at most TKEY_MAX_KEYS keys, newest
 *	(current) first. A key is a 16-byte public name, a 32-byte cipher
 *	key (the cipher uses as many bytes as it needs), a 32-byte
 *	HMAC-SHA256 key, its creation time, and the cipher it works with.
 *
 *	In-memory mode (no key file): tkey_configure() makes a random key
 *	when the ring is empty, comes from a key file, or was made for
 *	another cipher; a change of lifetime alone keeps every key.
 *	tkey_tick() makes a new current key once the current one is a
 *	lifetime old, keeps the one before it for decryption, and drops
 *	any older key, and any old key two lifetimes past its creation:
 *	a ticket is accepted at most two lifetimes after it was made.
 *	Secrets come from RAND_priv_bytes(), names from RAND_bytes().
 *
 *	Key file mode: the ring is the file's first TKEY_MAX_KEYS keys,
 *	in the file's order (see tickets.h for the format). The file must
 *	be a regular file with no group or other permission bits, like a
 *	private key. tkey_tick() stat()s it and re-reads it when its
 *	device, inode, size, mode, mtime or ctime changed. A file that
 *	cannot be read, or is malformed, keeps the previous ring and logs
 *	one warning per change of the file, not one a second. Adding or
 *	removing the key file on reload replaces the ring entirely, so
 *	that file keys and random keys never mix.
 *
 *	tkey_cb() encrypts with the current key (1), or decrypts with the
 *	key the ticket names: 1 for the current key, 2 for an older one,
 *	so that OpenSSL issues a fresh ticket under the current key, 0
 *	for an unknown name (full handshake). It counts
 *	STAT_TICKET_ISSUED, STAT_TICKET_RENEWED and
 *	STAT_TICKET_DECRYPT_FAIL.
 *
 *	Locking: one rwlock guards all state. The callback copies the one
 *	key it needs under the read lock and sets up the cipher and MAC
 *	contexts after releasing it. Writers (tkey_configure(),
 *	tkey_tick(), tkey_shutdown()) copy the state out under the read
 *	lock, do file I/O, random generation and OpenSSL work unlocked,
 *	then install the new state under the write lock only if nobody
 *	changed it in between (a generation number); otherwise
 *	tkey_configure() starts over and tkey_tick() tries again next
 *	second. No I/O, logging, allocation or OpenSSL call happens under
 *	the lock. Installing a state overwrites the old one in place,
 *	which is also what wipes dropped keys; every stack copy of a key
 *	is wiped with OPENSSL_cleanse() before its function returns.
 *
 *	Key storage: the ring, and the buffer a key file is read into,
 *	are pages of their own (sys_secmem_alloc()): left out of core
 *	dumps (MADV_DONTDUMP, on top of the daemon's PR_SET_DUMPABLE 0)
 *	and locked in RAM where RLIMIT_MEMLOCK allows, again in the child
 *	after fork(). The short-lived stack copies above are not.
 *
 *	Fetched ciphers are referenced by keys that the callback copies
 *	and uses after unlocking, so they are never freed while the
 *	process runs: each distinct cipher is fetched into a small table
 *	once, and only tkey_shutdown() frees them, after the workers
 *	stopped. A reload that changes the cipher back and forth reuses
 *	the table entries.
 * DIAGNOSTICS
 *	tkey_configure() returns -1 with one line in err: bad arguments,
 *	an unknown or unsuitable cipher (AEAD, key outside 16..32 bytes,
 *	IV outside 12..16 bytes), a key file that cannot be opened or
 *	read, is not a regular file, is accessible by group or other, is
 *	over 64 KiB, has no key, or has a malformed line ("file:line:
 *	reason"; key material is never quoted). Nothing changes then.
 *	tkey_tick() logs warnings (log_warnx) for the same file problems,
 *	and an info line when it loads a changed file.
 *	tkey_cb() returns -1 when OpenSSL or the random generator fails;
 *	the OpenSSL error queue is left for the handshake code to log.
 * SEE ALSO
 *	contrib/tlsproxy-ticketkeys, which writes key files.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "log.h"
#include "privsep.h"
#include "stats.h"
#include "sys.h"
#include "tickets.h"

#define TKEY_SECRET_LEN		32	/* cipher and HMAC key bytes */
#define TKEY_MAX_CIPHERS	16	/* distinct ciphers per process life */
#define TKEY_CIPHER_NAME_MAX	64
#define TKEY_PATH_MAX		PATH_MAX
#define TKEY_FILE_MAX		(64 * 1024)	/* 8 keys need under 2 KiB */
#define TKEY_RETRIES		8	/* configure vs. a concurrent tick */
#define TKEY_NFIELDS		4	/* name, cipher key, HMAC key, time */

struct tkey_key {
	unsigned char	 name[TKEY_NAME_LEN];	/* public: sent in tickets */
	unsigned char	 ckey[TKEY_SECRET_LEN];	/* cipher key */
	unsigned char	 hkey[TKEY_SECRET_LEN];	/* HMAC-SHA256 key */
	int64_t		 created;		/* unix time */
	EVP_CIPHER	*cipher;		/* borrowed from tkey_ciphers */
};

/* What a key file looked like when last read (or failed to be). */
struct tkey_fsig {
	int		 set;		/* 0: nothing recorded */
	int		 err;		/* errno of a failed stat/open, else 0 */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	mode_t		 mode;
	struct timespec	 mtime;
	struct timespec	 ctime;
};

struct tkey_state {
	int		 configured;	/* tkey_configure() succeeded */
	EVP_CIPHER	*cipher;	/* borrowed: for new in-memory keys */
	long		 lifetime;	/* seconds, > 0 */
	char		 keyfile[TKEY_PATH_MAX];	/* "" = in-memory keys */
	struct tkey_fsig loaded;	/* file version the ring came from */
	struct tkey_fsig warned;	/* broken version already logged */
	size_t		 nkeys;
	struct tkey_key	 keys[TKEY_MAX_KEYS];	/* [0] = current; unused
						 * slots are all zero */
};

struct tkey_cipher {
	char		 name[TKEY_CIPHER_NAME_MAX];	/* OpenSSL's name */
	EVP_CIPHER	*cipher;	/* owned; freed by tkey_shutdown() */
};

/* Everything below is guarded by tkey_lock. */
static pthread_rwlock_t tkey_lock;
static pthread_once_t tkey_once = PTHREAD_ONCE_INIT;
/*
 * The ring lives in pages of its own that core dumps leave out and that
 * are locked in RAM where allowed (sys_secmem_alloc()); the static
 * fallback serves only when that allocation fails. Set once by
 * tkey_lock_init(), never freed; tkey_shutdown() wipes it.
 */
static struct tkey_state *tkey_st;
static struct tkey_state tkey_st_static;
static uint64_t tkey_gen;		/* bumped by every install */
static struct tkey_cipher tkey_ciphers[TKEY_MAX_CIPHERS];
static size_t tkey_nciphers;

static char tkey_digest[] = "SHA256";	/* OSSL_PARAM wants non-const */

static void tkey_err(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* tkey_err - format one diagnostic line, tolerating a missing buffer */
static void
tkey_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* tkey_strerror - strerror that is safe while workers run */
static const char *
tkey_strerror(int errnum, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return (strerror_r(errnum, buf, len));
#else
	if (strerror_r(errnum, buf, len) != 0)
		(void)snprintf(buf, len, "error %d", errnum);
	return (buf);
#endif
}

/* tkey_atfork_child - a child does not inherit the ring's memory lock */
static void
tkey_atfork_child(void)
{
	sys_secmem_relock(tkey_st, sizeof(*tkey_st));
}

/* tkey_lock_init - the ring's storage and the rwlock, preferring writers */
static void
tkey_lock_init(void)
{
	pthread_rwlockattr_t attr;

	if ((tkey_st = sys_secmem_alloc(sizeof(*tkey_st))) != NULL) {
		/* The daemon forks into the background after loading keys. */
		(void)pthread_atfork(NULL, NULL, tkey_atfork_child);
	} else {
		log_warn("%s: no separate memory for the ticket keys; they may "
		    "appear in core dumps", __func__);
		tkey_st = &tkey_st_static;
	}

	if (pthread_rwlockattr_init(&attr) != 0)
		log_panic("%s: pthread_rwlockattr_init", __func__);
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	/*
	 * glibc's default lets a steady stream of handshakes (readers)
	 * starve tkey_tick(); every critical section here is a copy, so
	 * letting the writer in first costs the readers nothing.
	 */
	(void)pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	if (pthread_rwlock_init(&tkey_lock, &attr) != 0)
		log_panic("%s: pthread_rwlock_init", __func__);
	(void)pthread_rwlockattr_destroy(&attr);
}

/* tkey_rdlock - take the read lock; failing means a bug here */
static void
tkey_rdlock(void)
{
	(void)pthread_once(&tkey_once, tkey_lock_init);
	if (pthread_rwlock_rdlock(&tkey_lock) != 0)
		log_panic("%s: pthread_rwlock_rdlock", __func__);
}

/* tkey_wrlock - take the write lock; failing means a bug here */
static void
tkey_wrlock(void)
{
	(void)pthread_once(&tkey_once, tkey_lock_init);
	if (pthread_rwlock_wrlock(&tkey_lock) != 0)
		log_panic("%s: pthread_rwlock_wrlock", __func__);
}

/* tkey_unlock - release either lock */
static void
tkey_unlock(void)
{
	if (pthread_rwlock_unlock(&tkey_lock) != 0)
		log_panic("%s: pthread_rwlock_unlock", __func__);
}

/* tkey_snapshot - copy the whole state out, so slow work runs unlocked */
static uint64_t
tkey_snapshot(struct tkey_state *st)
{
	uint64_t gen;

	tkey_rdlock();
	memcpy(st, tkey_st, sizeof(*st));
	gen = tkey_gen;
	tkey_unlock();
	return (gen);
}

/*
 * tkey_install - make next the state, unless someone installed another
 * since gen was read; add, if not NULL, joins the cipher table. The
 * copy overwrites the old keys in place: that is their wipe, and the
 * stores cannot be optimized away because the state is a global.
 */
static int
tkey_install(const struct tkey_state *next, uint64_t gen,
    const struct tkey_cipher *add)
{
	int	 ok = 0;

	tkey_wrlock();
	if (gen == tkey_gen &&
	    (add == NULL || tkey_nciphers < TKEY_MAX_CIPHERS)) {
		if (add != NULL)
			tkey_ciphers[tkey_nciphers++] = *add;
		memcpy(tkey_st, next, sizeof(*tkey_st));
		tkey_gen++;
		ok = 1;
	}
	tkey_unlock();
	return (ok ? 0 : -1);
}

/* tkey_ring_drop - wipe and drop keys from index i on */
static void
tkey_ring_drop(struct tkey_state *st, size_t i)
{
	if (i >= st->nkeys)
		return;
	OPENSSL_cleanse(&st->keys[i], (st->nkeys - i) * sizeof(st->keys[0]));
	st->nkeys = i;
}

/* tkey_ring_push - make k current, keep the previous one, drop the rest */
static void
tkey_ring_push(struct tkey_state *st, const struct tkey_key *k)
{
	/* The previous current key still decrypts its tickets. */
	tkey_ring_drop(st, 1);
	if (st->nkeys == 1)
		st->keys[1] = st->keys[0];
	st->keys[0] = *k;
	st->nkeys++;
}

/* tkey_key_new - a random key for cipher c, created now */
static int
tkey_key_new(struct tkey_key *k, EVP_CIPHER *c, int64_t now)
{
	memset(k, 0, sizeof(*k));
	/* The name travels in clear in every ticket: no need for priv. */
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_priv_bytes(k->ckey, sizeof(k->ckey)) != 1 ||
	    RAND_priv_bytes(k->hkey, sizeof(k->hkey)) != 1) {
		OPENSSL_cleanse(k, sizeof(*k));
		return (-1);
	}
	k->created = now;
	k->cipher = c;
	return (0);
}

/* tkey_cipher_fetch - fetch and check a ticket cipher by name */
static EVP_CIPHER *
tkey_cipher_fetch(const char *name, char *err, size_t errlen)
{
	EVP_CIPHER *c;
	int	 klen, ivlen;

	/* An unknown name is our diagnostic, not an OpenSSL error to log. */
	ERR_set_mark();
	c = EVP_CIPHER_fetch(NULL, name, NULL);
	ERR_pop_to_mark();
	if (c == NULL) {
		tkey_err(err, errlen, "unknown ticket cipher \"%s\"", name);
		return (NULL);
	}
	klen = EVP_CIPHER_get_key_length(c);
	ivlen = EVP_CIPHER_get_iv_length(c);
	if ((EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0) {
		/* OpenSSL MACs tickets itself and has no room for a tag. */
		tkey_err(err, errlen, "ticket cipher \"%s\": AEAD ciphers "
		    "cannot encrypt tickets; use e.g. aes-256-cbc", name);
	} else if (klen < 16 || klen > TKEY_SECRET_LEN) {
		tkey_err(err, errlen, "ticket cipher \"%s\": key of %d bytes; "
		    "need 16 to %d", name, klen, TKEY_SECRET_LEN);
	} else if (ivlen < 12 || ivlen > EVP_MAX_IV_LENGTH) {
		/* The ticket holds the IV; it must be random and whole. */
		tkey_err(err, errlen, "ticket cipher \"%s\": IV of %d bytes; "
		    "need 12 to %d", name, ivlen, EVP_MAX_IV_LENGTH);
	} else {
		return (c);
	}
	EVP_CIPHER_free(c);
	return (NULL);
}

/*
 * tkey_cipher_get - the table's cipher for name, or a fresh one in
 * *add for tkey_install() to keep. Lookup is by OpenSSL's own name,
 * so that "AES-256-CBC" and "aes-256-cbc" share one entry.
 */
static EVP_CIPHER *
tkey_cipher_get(const char *name, struct tkey_cipher *add, char *err,
    size_t errlen)
{
	EVP_CIPHER *c, *found = NULL;
	const char *canon;
	size_t	 i, used;

	memset(add, 0, sizeof(*add));
	if ((c = tkey_cipher_fetch(name, err, errlen)) == NULL)
		return (NULL);
	if ((canon = EVP_CIPHER_get0_name(c)) == NULL)
		canon = name;
	tkey_rdlock();
	for (i = 0; i < tkey_nciphers && found == NULL; i++)
		if (strcasecmp(tkey_ciphers[i].name, canon) == 0)
			found = tkey_ciphers[i].cipher;
	used = tkey_nciphers;
	tkey_unlock();
	if (found != NULL) {
		EVP_CIPHER_free(c);
		return (found);
	}
	if (used >= TKEY_MAX_CIPHERS) {
		tkey_err(err, errlen, "ticket cipher \"%s\": more than %d "
		    "different ticket ciphers since startup; restart instead",
		    name, TKEY_MAX_CIPHERS);
		EVP_CIPHER_free(c);
		return (NULL);
	}
	(void)snprintf(add->name, sizeof(add->name), "%s", canon);
	add->cipher = c;
	return (c);
}

/* tkey_fsig_from - record what stat() said about a key file */
static void
tkey_fsig_from(struct tkey_fsig *sig, const struct stat *sb, int errnum)
{
	memset(sig, 0, sizeof(*sig));
	sig->set = 1;
	sig->err = errnum;
	if (errnum != 0)
		return;
	sig->dev = sb->st_dev;
	sig->ino = sb->st_ino;
	sig->size = sb->st_size;
	sig->mode = sb->st_mode;
	sig->mtime = sb->st_mtim;
	sig->ctime = sb->st_ctim;
}

/* tkey_fsig_eq - same version of the file (or the same failure)? */
static int
tkey_fsig_eq(const struct tkey_fsig *a, const struct tkey_fsig *b)
{
	return (a->set && b->set && a->err == b->err && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size && a->mode == b->mode &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec);
}

/* tkey_hexval - value of one hex digit, or -1 */
static int
tkey_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* tkey_unhex - decode exactly 2 * outlen hex digits */
static int
tkey_unhex(const char *s, size_t slen, unsigned char *out, size_t outlen)
{
	size_t	 i;
	int	 hi, lo;

	if (slen != 2 * outlen)
		return (-1);
	for (i = 0; i < outlen; i++) {
		if ((hi = tkey_hexval((unsigned char)s[2 * i])) < 0 ||
		    (lo = tkey_hexval((unsigned char)s[2 * i + 1])) < 0)
			return (-1);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (0);
}

/* tkey_time - a non-negative decimal unix time */
static int
tkey_time(const char *s, size_t len, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	if (len == 0 || len > 18)	/* 18 digits cannot overflow */
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return (0);
}

struct tkey_field {
	const char	*p;
	size_t		 len;
};

/* tkey_split - whitespace-separated fields of [p, end); counts them all */
static int
tkey_split(const char *p, const char *end, struct tkey_field *f, int max)
{
	int	 n = 0;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end)
			return (n);
		if (n < max)
			f[n].p = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (n < max)
			f[n].len = (size_t)(p - f[n].p);
		n++;
	}
}

/*
 * tkey_parse_line - one key line into k; errors name the field, never
 * its content, which may be a secret.
 */
static int
tkey_parse_line(const char *p, const char *end, struct tkey_key *k,
    const char **why)
{
	struct tkey_field f[TKEY_NFIELDS];
	int	 n;

	if ((n = tkey_split(p, end, f, TKEY_NFIELDS)) != TKEY_NFIELDS)
		*why = n < TKEY_NFIELDS ? "too few fields (want: name, cipher "
		    "key, HMAC key, creation time)" : "text after the creation "
		    "time";
	else if (tkey_unhex(f[0].p, f[0].len, k->name, sizeof(k->name)) < 0)
		*why = "key name: expected 32 hex digits";
	else if (tkey_unhex(f[1].p, f[1].len, k->ckey, sizeof(k->ckey)) < 0)
		*why = "cipher key: expected 64 hex digits";
	else if (tkey_unhex(f[2].p, f[2].len, k->hkey, sizeof(k->hkey)) < 0)
		*why = "HMAC key: expected 64 hex digits";
	else if (tkey_time(f[3].p, f[3].len, &k->created) < 0)
		*why = "creation time: expected a unix time in seconds";
	else
		return (0);
	return (-1);
}

/* tkey_parse - key file text into keys[]; the first keys are kept */
static int
tkey_parse(const char *path, const char *buf, size_t len,
    struct tkey_key *keys, size_t *nkeys, EVP_CIPHER *c, char *err,
    size_t errlen)
{
	struct tkey_key k;
	const char *p = buf, *end = buf + len, *eol, *s, *why = NULL;
	unsigned int line = 0;
	size_t	 n = 0, i;

	*nkeys = 0;
	for (; p < end; p = eol + (eol < end)) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		for (s = p; s < eol && (*s == ' ' || *s == '\t' ||
		    *s == '\r'); s++)
			;
		if (s == eol || *s == '#')
			continue;
		memset(&k, 0, sizeof(k));
		if (tkey_parse_line(s, eol, &k, &why) < 0)
			break;
		for (i = 0; i < n && why == NULL; i++)
			if (memcmp(keys[i].name, k.name, sizeof(k.name)) == 0)
				why = "duplicate key name";
		if (why != NULL)
			break;
		/* Older keys past the ring's size are checked, not kept. */
		if (n < TKEY_MAX_KEYS) {
			k.cipher = c;
			keys[n++] = k;
		}
	}
	OPENSSL_cleanse(&k, sizeof(k));
	if (why == NULL && n == 0)
		tkey_err(err, errlen, "%s: no ticket keys in the file", path);
	else if (why != NULL)
		tkey_err(err, errlen, "%s:%u: %s", path, line, why);
	if (why != NULL || n == 0) {
		OPENSSL_cleanse(keys, n * sizeof(keys[0]));
		return (-1);
	}
	*nkeys = n;
	return (0);
}

/*
 * tkey_load - open, check and parse a key file. sig records the
 * version actually read (fstat of the open file), so that a change
 * after the read is seen by the next tkey_tick().
 */
static int
tkey_load(const char *path, EVP_CIPHER *c, struct tkey_key *keys,
    size_t *nkeys, struct tkey_fsig *sig, char *err, size_t errlen)
{
	struct stat sb;
	char	 ebuf[128], *buf = NULL;
	size_t	 len = 0;
	ssize_t	 r;
	int	 fd, rc = -1;

	/* Through the privileged helper, if there is one (privsep.h). */
	if ((fd = priv_open_file(path, ebuf, sizeof(ebuf))) < 0) {
		tkey_err(err, errlen, "ticket key file %s: %s", path, ebuf);
		return (-1);
	}
	if (fstat(fd, &sb) < 0) {
		tkey_err(err, errlen, "ticket key file %s: fstat: %s", path,
		    tkey_strerror(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		tkey_err(err, errlen, "ticket key file %s: not a regular file",
		    path);
		goto done;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		/* Whoever reads these keys can decrypt every session. */
		tkey_err(err, errlen, "ticket key file %s: mode %04o: must "
		    "not be accessible by group or other (chmod 600)", path,
		    (unsigned int)(sb.st_mode & 07777));
		goto done;
	}
	if (sb.st_size > TKEY_FILE_MAX) {
		tkey_err(err, errlen, "ticket key file %s: larger than %d bytes",
		    path, TKEY_FILE_MAX);
		goto done;
	}
	/* The text is the keys in hex: no-dump pages too. */
	if ((buf = sys_secmem_alloc(TKEY_FILE_MAX + 1)) == NULL) {
		tkey_err(err, errlen, "ticket key file %s: out of memory", path);
		goto done;
	}
	/* Read to EOF: the file may have grown since fstat(). */
	while (len <= TKEY_FILE_MAX) {
		r = read(fd, buf + len, TKEY_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			tkey_err(err, errlen, "ticket key file %s: read: %s",
			    path, tkey_strerror(errno, ebuf, sizeof(ebuf)));
			goto done;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > TKEY_FILE_MAX) {
		tkey_err(err, errlen, "ticket key file %s: larger than %d bytes",
		    path, TKEY_FILE_MAX);
		goto done;
	}
	if (tkey_parse(path, buf, len, keys, nkeys, c, err, errlen) < 0)
		goto done;
	tkey_fsig_from(sig, &sb, 0);
	rc = 0;
done:
	sys_secmem_free(buf, TKEY_FILE_MAX + 1);	/* wipes */
	(void)close(fd);
	return (rc);
}

/*
 * tkey_configure - set cipher, lifetime and key file; see tickets.h.
 * Everything is checked and loaded before the state changes, so a
 * failed reload leaves the running keys alone.
 */
int
tkey_configure(const char *cipher, long lifetime, const char *keyfile,
    int64_t now, char *err, size_t errlen)
{
	struct tkey_state next;
	struct tkey_key	 fkeys[TKEY_MAX_KEYS], k;
	struct tkey_fsig fsig;
	struct tkey_cipher add;
	EVP_CIPHER *c;
	uint64_t gen;
	size_t	 nfkeys = 0;
	int	 try, rc = -1;

	if (keyfile == NULL)
		keyfile = "";
	if (cipher == NULL || *cipher == '\0') {
		tkey_err(err, errlen, "no ticket cipher given");
		return (-1);
	}
	if (strlen(cipher) >= TKEY_CIPHER_NAME_MAX) {
		tkey_err(err, errlen, "ticket cipher name too long");
		return (-1);
	}
	if (lifetime <= 0) {
		tkey_err(err, errlen, "ticket key lifetime must be positive");
		return (-1);
	}
	if (strlen(keyfile) >= sizeof(next.keyfile)) {
		tkey_err(err, errlen, "ticket key file name too long");
		return (-1);
	}
	if ((c = tkey_cipher_get(cipher, &add, err, errlen)) == NULL)
		return (-1);
	memset(fkeys, 0, sizeof(fkeys));
	memset(&k, 0, sizeof(k));
	memset(&fsig, 0, sizeof(fsig));
	if (*keyfile != '\0' &&
	    tkey_load(keyfile, c, fkeys, &nfkeys, &fsig, err, errlen) < 0)
		goto done;

	for (try = 0; try < TKEY_RETRIES; try++) {
		gen = tkey_snapshot(&next);
		if (*keyfile != '\0') {
			tkey_ring_drop(&next, 0);
			memcpy(next.keys, fkeys, sizeof(fkeys));
			next.nkeys = nfkeys;
			next.loaded = fsig;
		} else {
			/* Random keys never mix with a file's keys. */
			if (!next.configured || next.keyfile[0] != '\0')
				tkey_ring_drop(&next, 0);
			memset(&next.loaded, 0, sizeof(next.loaded));
			/*
			 * A new cipher gets a new current key; the old one
			 * keeps its own cipher and decrypts its tickets.
			 */
			if (next.nkeys == 0 || next.keys[0].cipher != c) {
				if (tkey_key_new(&k, c, now) < 0) {
					tkey_err(err, errlen, "cannot make a "
					    "ticket key: random generator "
					    "failed");
					break;
				}
				tkey_ring_push(&next, &k);
			}
		}
		memset(&next.warned, 0, sizeof(next.warned));
		(void)snprintf(next.keyfile, sizeof(next.keyfile), "%s",
		    keyfile);
		next.cipher = c;
		next.lifetime = lifetime;
		next.configured = 1;
		if (tkey_install(&next, gen, add.cipher != NULL ? &add :
		    NULL) == 0) {
			add.cipher = NULL;	/* the table owns it now */
			rc = 0;
			break;
		}
	}
	if (rc < 0 && try == TKEY_RETRIES)
		tkey_err(err, errlen, "ticket keys kept changing during "
		    "reconfiguration; try again");
	OPENSSL_cleanse(&next, sizeof(next));
done:
	OPENSSL_cleanse(fkeys, sizeof(fkeys));
	OPENSSL_cleanse(&k, sizeof(k));
	EVP_CIPHER_free(add.cipher);
	return (rc);
}

/* tkey_tick_memory - rotate in-memory keys when due (unlocked work) */
static void
tkey_tick_memory(struct tkey_state *st, uint64_t gen, int64_t now)
{
	struct tkey_key k;
	int	 changed = 0;
	size_t	 i;

	/* A clock that went back must not stretch a key's life either. */
	if (st->nkeys == 0 || now - st->keys[0].created >= st->lifetime ||
	    now < st->keys[0].created) {
		if (tkey_key_new(&k, st->cipher, now) < 0) {
			log_warnx("cannot make a new ticket key: random "
			    "generator failed; keeping the current key");
			return;
		}
		tkey_ring_push(st, &k);
		OPENSSL_cleanse(&k, sizeof(k));
		changed = 1;
	}
	/* Also after a long sleep: two lifetimes is the upper bound. */
	for (i = 1; i < st->nkeys; i++) {
		if (now - st->keys[i].created >= 2 * (int64_t)st->lifetime) {
			tkey_ring_drop(st, i);
			changed = 1;
			break;
		}
	}
	/* Lost a race with tkey_configure(): next second tries again. */
	if (changed)
		(void)tkey_install(st, gen, NULL);
}

/* tkey_tick_file - re-read a changed key file (unlocked work) */
static void
tkey_tick_file(struct tkey_state *st, uint64_t gen)
{
	struct tkey_key keys[TKEY_MAX_KEYS];
	struct tkey_fsig now_sig, read_sig;
	struct stat sb;
	char	 err[TKEY_PATH_MAX + 256], ebuf[128];
	size_t	 n;

	if (stat(st->keyfile, &sb) < 0)
		tkey_fsig_from(&now_sig, NULL, errno);
	else
		tkey_fsig_from(&now_sig, &sb, 0);
	if (tkey_fsig_eq(&now_sig, &st->loaded) ||
	    tkey_fsig_eq(&now_sig, &st->warned))
		return;

	memset(keys, 0, sizeof(keys));
	memset(&read_sig, 0, sizeof(read_sig));
	if (now_sig.err != 0) {
		tkey_err(err, sizeof(err), "ticket key file %s: %s",
		    st->keyfile, tkey_strerror(now_sig.err, ebuf, sizeof(ebuf)));
	} else if (tkey_load(st->keyfile, st->cipher, keys, &n, &read_sig,
	    err, sizeof(err)) == 0) {
		tkey_ring_drop(st, 0);
		memcpy(st->keys, keys, sizeof(keys));
		OPENSSL_cleanse(keys, sizeof(keys));
		st->nkeys = n;
		st->loaded = read_sig;
		memset(&st->warned, 0, sizeof(st->warned));
		if (tkey_install(st, gen, NULL) == 0)
			log_info("ticket key file %s changed: loaded %zu key%s",
			    st->keyfile, n, n == 1 ? "" : "s");
		return;
	}
	/* Remember this version, so that it is logged once, not each second. */
	st->warned = now_sig;
	if (tkey_install(st, gen, NULL) == 0)
		log_warnx("%s; keeping the previous ticket keys", err);
}

/* tkey_tick - rotate in-memory keys or re-read a changed key file */
void
tkey_tick(int64_t now)
{
	struct tkey_state st;
	uint64_t gen;

	gen = tkey_snapshot(&st);
	if (st.configured) {
		if (st.keyfile[0] == '\0')
			tkey_tick_memory(&st, gen, now);
		else
			tkey_tick_file(&st, gen);
	}
	OPENSSL_cleanse(&st, sizeof(st));
}

/* tkey_shutdown - drop and wipe every key, free the ciphers */
void
tkey_shutdown(void)
{
	struct tkey_cipher old[TKEY_MAX_CIPHERS];
	size_t	 n, i;

	tkey_wrlock();
	OPENSSL_cleanse(tkey_st, sizeof(*tkey_st));	/* all zero: unconfigured */
	memcpy(old, tkey_ciphers, sizeof(old));
	n = tkey_nciphers;
	memset(tkey_ciphers, 0, sizeof(tkey_ciphers));
	tkey_nciphers = 0;
	tkey_gen++;
	tkey_unlock();
	/* Callers stop the workers first: no callback still holds these. */
	for (i = 0; i < n; i++)
		EVP_CIPHER_free(old[i].cipher);
}

/* tkey_mac_init - HMAC-SHA256 with the key's MAC secret */
static int
tkey_mac_init(EVP_MAC_CTX *hctx, unsigned char *hkey)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    tkey_digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    hkey, TKEY_SECRET_LEN);
	params[2] = OSSL_PARAM_construct_end();
	return (EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1);
}

/*
 * tkey_cb - SSL_CTX_set_tlsext_ticket_key_evp_cb() callback. Runs on
 * many workers at once; holds the read lock only to copy one key.
 */
int
tkey_cb(SSL *ssl, unsigned char key_name[TKEY_NAME_LEN], unsigned char *iv,
    EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tkey_key k;
	size_t	 i, at = 0;
	int	 found = 0, ivlen, ret = -1;

	tkey_rdlock();
	if (enc) {
		if ((found = tkey_st->nkeys > 0) != 0)
			k = tkey_st->keys[0];
	} else {
		for (i = 0; i < tkey_st->nkeys && !found; i++) {
			if (memcmp(tkey_st->keys[i].name, key_name,
			    TKEY_NAME_LEN) == 0) {
				k = tkey_st->keys[i];
				at = i;
				found = 1;
			}
		}
	}
	tkey_unlock();

	if (!found) {
		/* No key yet (enc), or one we dropped or never had. */
		if (!enc)
			STATS_INC(STAT_TICKET_DECRYPT_FAIL);
		return (0);
	}
	if (enc) {
		ivlen = EVP_CIPHER_get_iv_length(k.cipher);
		memcpy(key_name, k.name, TKEY_NAME_LEN);
		if (ivlen > 0 && ivlen <= EVP_MAX_IV_LENGTH &&
		    RAND_bytes(iv, ivlen) == 1 &&
		    EVP_EncryptInit_ex2(ctx, k.cipher, k.ckey, iv, NULL) == 1 &&
		    tkey_mac_init(hctx, k.hkey) == 0) {
			STATS_INC(STAT_TICKET_ISSUED);
			ret = 1;
		}
	} else {
		if (EVP_DecryptInit_ex2(ctx, k.cipher, k.ckey, iv, NULL) == 1 &&
		    tkey_mac_init(hctx, k.hkey) == 0) {
			/*
			 * 2: OpenSSL issues a new ticket. Under an older key it
			 * must; with TLS 1.3 always, since clients use a ticket
			 * once (RFC 8446, C.4) and would otherwise fall back to
			 * a full handshake every other time. TLS 1.2 keeps its
			 * ticket while the key is current.
			 */
			if (at > 0)
				STATS_INC(STAT_TICKET_RENEWED);
			ret = at > 0 || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
		}
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return (ret);
}

/* tkey_count - keys in the ring (tests) */
size_t
tkey_count(void)
{
	size_t	 n;

	tkey_rdlock();
	n = tkey_st->nkeys;
	tkey_unlock();
	return (n);
}

/* tkey_name - name of key i, 0 = current (tests) */
int
tkey_name(size_t i, unsigned char name[TKEY_NAME_LEN])
{
	int	 rc = -1;

	tkey_rdlock();
	if (i < tkey_st->nkeys) {
		memcpy(name, tkey_st->keys[i].name, TKEY_NAME_LEN);
		rc = 0;
	}
	tkey_unlock();
	return (rc);
}
