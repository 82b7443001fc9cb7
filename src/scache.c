/*
 * NAME
 *	scache - bounded, expiring, sharded key/value cache for TLS sessions
 * SYNOPSIS
 *	#include "scache.h"
 * DESCRIPTION
 *	See scache.h for the interface. Layout:
 *
 *	The cache is an array of shards (a power of two). A key's 64-bit
 *	hash is SipHash-1-3 under a per-cache random key taken from
 *	getrandom(), so a peer that chooses session ids cannot aim them
 *	all at one bucket. The top bits of the hash pick the shard, the
 *	low bits the bucket, so the two choices stay independent.
 *
 *	Each shard has its own mutex, chained hash buckets, a doubly
 *	linked LRU list (head = most recently used) and its counters.
 *	Bounds are per shard: max_entries / nshards entries and
 *	max_bytes / nshards bytes, where an entry costs its key, its
 *	value and SCACHE_ENT_OVERHEAD. Per-shard bounds keep every
 *	decision local to one lock; the price is that a skewed key set
 *	may evict from a full shard while others have room.
 *
 *	The bucket array starts small and doubles when a shard holds
 *	more entries than buckets, up to the first power of two that
 *	covers the shard's entry bound. The new array is allocated with
 *	the lock released; only the rehash runs under it.
 *
 *	Entries are immutable once built and carry an atomic reference
 *	count: one reference belongs to the table, one to each
 *	scache_get() that is copying the value out. That is how
 *	scache_get() avoids allocating under the lock without knowing
 *	the value size in advance: it takes a reference under the lock,
 *	then allocates and copies with the lock released. An entry
 *	unlinked meanwhile (evicted, replaced, removed) is freed by
 *	whoever drops the last reference. Entries are wiped before they
 *	are freed (values are TLS sessions with their master secrets);
 *	the copy scache_get() hands out is the caller's to wipe.
 *
 *	Lock discipline: under a shard lock there is no allocation, no
 *	free, no logging, no I/O and no OpenSSL; entries that leave the
 *	table are collected on a private list and released after the
 *	unlock. Locks of different shards are never held together.
 * DIAGNOSTICS
 *	scache_create() returns NULL on bad arguments or no memory;
 *	scache_put() returns -1 when the entry alone exceeds a shard's
 *	byte bound, or on no memory; scache_get() returns -1 on no
 *	memory. A damaged cache handle aborts via log_panic().
 */
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "scache.h"
#include "stats.h"

#define SCACHE_MAGIC		0x53434845u
#define SCACHE_MAX_SHARDS	256
#define SCACHE_INIT_BUCKETS	16
#define SCACHE_MAX_BUCKETS	((size_t)1 << 30)

/*
 * Eviction looks this many entries up from the LRU tail for one that
 * has already expired: dropping a dead entry beats evicting a live
 * one, and a short scan keeps the cost bounded under the lock.
 */
#define SCACHE_EXPIRE_SCAN	8

#define SCACHE_CACHELINE	64

struct scache_ent {
	struct scache_ent *hnext;	/* bucket chain */
	struct scache_ent *prev;	/* LRU, towards the head (MRU) */
	struct scache_ent *next;	/* LRU, towards the tail; after
					 * unlinking: the victim list */
	uint64_t	 hash;
	int64_t		 expires_ms;
	atomic_uint	 refs;		/* table + readers copying out */
	size_t		 klen;
	size_t		 vlen;
	unsigned char	 data[];	/* key, then value */
};

/*
 * What an entry counts against the byte bound besides its key and
 * value: the header above plus typical allocator bookkeeping, so that
 * many tiny entries cannot use far more memory than configured.
 */
#define SCACHE_ENT_OVERHEAD	(sizeof(struct scache_ent) + 16)

/*
 * Aligned so that shards never share a cache line. The first line
 * holds what a cache hit writes besides the entry (the lock, the LRU
 * head, the hit counter), so a hit moves as few lines between CPUs
 * as possible.
 */
struct scache_shard {
	alignas(SCACHE_CACHELINE) pthread_mutex_t lock;
	struct scache_ent *head;	/* most recently used */
	struct scache_ent *tail;	/* least recently used */
	uint64_t	 hits;
	struct scache_ent **buckets;	/* owned; guarded by lock */
	size_t		 nbuckets;	/* power of two */
	size_t		 max_buckets;	/* growth stops here */
	size_t		 entries;
	size_t		 bytes;
	size_t		 max_entries;
	size_t		 max_bytes;
	uint64_t	 misses;
	uint64_t	 stores;
	uint64_t	 evictions;
	uint64_t	 expired;
	uint64_t	 removed;
};

struct scache {
	unsigned int	 magic;		/* SCACHE_MAGIC */
	unsigned int	 nshards;
	unsigned int	 shard_shift;	/* 64 - log2(nshards) */
	uint64_t	 k0, k1;	/* hash key, random per cache */
	struct scache_shard *shards;	/* owned, nshards of them */
};

/* scache_check - abort on a handle that is not a live cache */
static void
scache_check(const struct scache *sc, const char *fn)
{
	if (sc->magic != SCACHE_MAGIC)
		log_panic("%s: bad scache handle %p", fn, (const void *)sc);
}

/* scache_rotl - 64-bit rotate left */
static inline uint64_t
scache_rotl(uint64_t x, unsigned int b)
{
	return ((x << b) | (x >> (64 - b)));
}

/* scache_load64 - little-endian 64-bit load, any alignment */
static inline uint64_t
scache_load64(const unsigned char *p)
{
	return ((uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
}

#define SCACHE_SIPROUND(v0, v1, v2, v3) do {				\
	(v0) += (v1); (v1) = scache_rotl((v1), 13); (v1) ^= (v0);	\
	(v0) = scache_rotl((v0), 32);					\
	(v2) += (v3); (v3) = scache_rotl((v3), 16); (v3) ^= (v2);	\
	(v0) += (v3); (v3) = scache_rotl((v3), 21); (v3) ^= (v0);	\
	(v2) += (v1); (v1) = scache_rotl((v1), 17); (v1) ^= (v2);	\
	(v2) = scache_rotl((v2), 32);					\
} while (0)

/*
 * scache_hash - SipHash-1-3 of the key under the cache's secret key.
 * A keyed hash, unlike FNV, gives an attacker who picks session ids
 * no way to predict collisions; 1-3 rounds are plenty for a table
 * whose chains are short and whose outputs are never revealed.
 */
static uint64_t
scache_hash(const struct scache *sc, const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t	 v0 = sc->k0 ^ 0x736f6d6570736575ULL;
	uint64_t	 v1 = sc->k1 ^ 0x646f72616e646f6dULL;
	uint64_t	 v2 = sc->k0 ^ 0x6c7967656e657261ULL;
	uint64_t	 v3 = sc->k1 ^ 0x7465646279746573ULL;
	uint64_t	 m;
	size_t		 left = klen, i;

	for (; left >= 8; p += 8, left -= 8) {
		m = scache_load64(p);
		v3 ^= m;
		SCACHE_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	m = (uint64_t)(klen & 0xff) << 56;
	for (i = 0; i < left; i++)
		m |= (uint64_t)p[i] << (8 * i);
	v3 ^= m;
	SCACHE_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v2 ^= 0xff;
	SCACHE_SIPROUND(v0, v1, v2, v3);
	SCACHE_SIPROUND(v0, v1, v2, v3);
	SCACHE_SIPROUND(v0, v1, v2, v3);
	return (v0 ^ v1 ^ v2 ^ v3);
}

/*
 * scache_seed - fill the hash key from the kernel. Without entropy
 * (no getrandom(), e.g. an old kernel or a seccomp filter) the cache
 * still works; fall back to a clock- and address-derived key, which
 * only weakens resistance to deliberate collisions.
 */
static void
scache_seed(struct scache *sc)
{
	uint64_t	 k[2];
	unsigned char	*p = (unsigned char *)k;
	size_t		 got = 0;
	ssize_t		 n;
	struct timespec	 ts;

	while (got < sizeof(k)) {
		n = getrandom(p + got, sizeof(k) - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;
	}
	if (got < sizeof(k)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)(uintptr_t)sc;
		k[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ULL ^
		    (uint64_t)(uintptr_t)&ts;
	}
	sc->k0 = k[0];
	sc->k1 = k[1];
}

/* scache_shard_of - the shard that owns a hash (top bits) */
static struct scache_shard *
scache_shard_of(const struct scache *sc, uint64_t hash)
{
	/* A shift by 64 is undefined: one shard is special. */
	if (sc->nshards == 1)
		return (&sc->shards[0]);
	return (&sc->shards[hash >> sc->shard_shift]);
}

/* scache_ent_cost - bytes an entry counts against the byte bound */
static size_t
scache_ent_cost(const struct scache_ent *e)
{
	return (e->klen + e->vlen + SCACHE_ENT_OVERHEAD);
}

/* scache_ent_new - build an entry holding copies of key and value */
static struct scache_ent *
scache_ent_new(const void *key, size_t klen, const void *val, size_t vlen,
    int64_t expires_ms)
{
	struct scache_ent *e;

	/* Caller bounded klen + vlen by a shard's byte bound: no overflow. */
	if ((e = malloc(sizeof(*e) + klen + vlen)) == NULL)
		return (NULL);
	e->hnext = e->prev = e->next = NULL;
	e->hash = 0;
	e->expires_ms = expires_ms;
	atomic_init(&e->refs, 1);
	e->klen = klen;
	e->vlen = vlen;
	if (klen > 0)
		memcpy(e->data, key, klen);
	if (vlen > 0)
		memcpy(e->data + klen, val, vlen);
	return (e);
}

/*
 * scache_ent_free - wipe and free: values are TLS sessions, which hold
 * their master secret.
 */
static void
scache_ent_free(struct scache_ent *e)
{
	explicit_bzero(e->data, e->klen + e->vlen);
	free(e);
}

/*
 * scache_ent_unref - drop one reference; the last one frees. The
 * release/acquire pair orders a reader's copy-out before the free.
 */
static void
scache_ent_unref(struct scache_ent *e)
{
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
		scache_ent_free(e);
}

/* scache_unref_list - release the table's reference on each victim */
static void
scache_unref_list(struct scache_ent *victims)
{
	struct scache_ent *e;

	while ((e = victims) != NULL) {
		victims = e->next;
		scache_ent_unref(e);
	}
}

/* scache_find_locked - the entry for key in this shard, or NULL */
static struct scache_ent *
scache_find_locked(struct scache_shard *sh, uint64_t hash, const void *key,
    size_t klen)
{
	struct scache_ent *e;

	for (e = sh->buckets[hash & (sh->nbuckets - 1)]; e != NULL;
	    e = e->hnext)
		if (e->hash == hash && e->klen == klen &&
		    (klen == 0 || memcmp(e->data, key, klen) == 0))
			return (e);
	return (NULL);
}

/* scache_lru_unlink_locked - take an entry out of the LRU list */
static void
scache_lru_unlink_locked(struct scache_shard *sh, struct scache_ent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		sh->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		sh->tail = e->prev;
	e->prev = e->next = NULL;
}

/* scache_lru_push_locked - make an entry the most recently used */
static void
scache_lru_push_locked(struct scache_shard *sh, struct scache_ent *e)
{
	e->prev = NULL;
	e->next = sh->head;
	if (sh->head != NULL)
		sh->head->prev = e;
	else
		sh->tail = e;
	sh->head = e;
}

/* scache_link_locked - insert a new entry (key known to be absent) */
static void
scache_link_locked(struct scache_shard *sh, struct scache_ent *e)
{
	struct scache_ent **bp = &sh->buckets[e->hash & (sh->nbuckets - 1)];

	e->hnext = *bp;
	*bp = e;
	scache_lru_push_locked(sh, e);
	sh->entries++;
	sh->bytes += scache_ent_cost(e);
}

/*
 * scache_unlink_locked - take an entry out of the table and push it on
 * the caller's victim list; the table's reference goes with it and is
 * dropped after the unlock.
 */
static void
scache_unlink_locked(struct scache_shard *sh, struct scache_ent *e,
    struct scache_ent **victims)
{
	struct scache_ent **pp = &sh->buckets[e->hash & (sh->nbuckets - 1)];

	while (*pp != e) {
		if (*pp == NULL)
			return;		/* not reached: e is in the table */
		pp = &(*pp)->hnext;
	}
	*pp = e->hnext;
	e->hnext = NULL;
	scache_lru_unlink_locked(sh, e);
	sh->entries--;
	sh->bytes -= scache_ent_cost(e);
	e->next = *victims;
	*victims = e;
}

/*
 * scache_trim_locked - evict until the shard is within both bounds.
 * The newest entry sits at the LRU head and fits the bounds alone
 * (scache_put() checked), so the loop ends before reaching it unless
 * it was already expired on arrival.
 */
static void
scache_trim_locked(struct scache_shard *sh, int64_t now_ms,
    struct scache_ent **victims, size_t *nevicted, size_t *nexpired)
{
	struct scache_ent *e;
	int		 i;

	while (sh->tail != NULL &&
	    (sh->entries > sh->max_entries || sh->bytes > sh->max_bytes)) {
		for (e = sh->tail, i = 0; e != NULL && i < SCACHE_EXPIRE_SCAN;
		    e = e->prev, i++)
			if (e->expires_ms <= now_ms)
				break;
		if (e != NULL && i < SCACHE_EXPIRE_SCAN) {
			sh->expired++;
			(*nexpired)++;
		} else {
			e = sh->tail;
			sh->evictions++;
			(*nevicted)++;
		}
		scache_unlink_locked(sh, e, victims);
	}
}

/*
 * scache_shard_grow - double a shard's bucket array. The array is
 * allocated unlocked (unbounded work stays out of the critical
 * section); under the lock only the rehash runs, and only if nobody
 * grew the shard in the meantime.
 */
static void
scache_shard_grow(struct scache_shard *sh, size_t from)
{
	struct scache_ent **nb, **old, *e, *next;
	size_t		 n = from * 2, i;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;			/* not fatal: chains get longer */
	pthread_mutex_lock(&sh->lock);
	if (sh->nbuckets != from) {
		old = nb;
	} else {
		for (i = 0; i < sh->nbuckets; i++) {
			for (e = sh->buckets[i]; e != NULL; e = next) {
				next = e->hnext;
				e->hnext = nb[e->hash & (n - 1)];
				nb[e->hash & (n - 1)] = e;
			}
		}
		old = sh->buckets;
		sh->buckets = nb;
		sh->nbuckets = n;
	}
	pthread_mutex_unlock(&sh->lock);
	free(old);
}

/* scache_create - build an empty cache */
struct scache *
scache_create(size_t max_entries, size_t max_bytes, unsigned int nshards)
{
	struct scache	*sc;
	struct scache_shard *sh;
	void		*mem;
	size_t		 per_entries, max_nb;
	unsigned int	 i, bits;

	/*
	 * Bounds are divided evenly among shards, so each shard must get
	 * at least one entry and one byte.
	 */
	if (nshards == 0 || nshards > SCACHE_MAX_SHARDS ||
	    (nshards & (nshards - 1)) != 0 ||
	    max_entries < nshards || max_bytes < nshards)
		return (NULL);
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return (NULL);
	if (posix_memalign(&mem, SCACHE_CACHELINE,
	    nshards * sizeof(*sc->shards)) != 0) {
		free(sc);
		return (NULL);
	}
	sc->shards = mem;
	memset(sc->shards, 0, nshards * sizeof(*sc->shards));
	for (bits = 0; (1u << bits) < nshards; bits++)
		;
	sc->nshards = nshards;
	sc->shard_shift = 64 - bits;
	scache_seed(sc);

	per_entries = max_entries / nshards;
	for (max_nb = 1; max_nb < per_entries && max_nb < SCACHE_MAX_BUCKETS;
	    max_nb <<= 1)
		;
	for (i = 0; i < nshards; i++) {
		sh = &sc->shards[i];
		sh->max_entries = per_entries;
		sh->max_bytes = max_bytes / nshards;
		sh->max_buckets = max_nb;
		sh->nbuckets = max_nb < SCACHE_INIT_BUCKETS ?
		    max_nb : SCACHE_INIT_BUCKETS;
		if ((sh->buckets = calloc(sh->nbuckets,
		    sizeof(*sh->buckets))) == NULL ||
		    pthread_mutex_init(&sh->lock, NULL) != 0) {
			free(sh->buckets);
			sc->nshards = i;	/* only the built ones */
			scache_free(sc);
			return (NULL);
		}
	}
	sc->magic = SCACHE_MAGIC;
	return (sc);
}

/* scache_free - destroy a cache nobody else is using any more */
void
scache_free(struct scache *sc)
{
	struct scache_shard *sh;
	struct scache_ent *e, *next;
	unsigned int	 i;

	if (sc == NULL)
		return;
	for (i = 0; i < sc->nshards; i++) {
		sh = &sc->shards[i];
		for (e = sh->head; e != NULL; e = next) {
			next = e->next;
			scache_ent_free(e);
		}
		free(sh->buckets);
		pthread_mutex_destroy(&sh->lock);
	}
	free(sc->shards);
	sc->magic = 0;
	free(sc);
}

/* scache_put - store a copy of val under key */
int
scache_put(struct scache *sc, const void *key, size_t klen, const void *val,
    size_t vlen, int64_t expires_ms, int64_t now_ms)
{
	struct scache_shard *sh;
	struct scache_ent *e, *old, *victims = NULL;
	size_t		 max, nevicted = 0, nexpired = 0, grow_from = 0;
	uint64_t	 hash;

	if (sc == NULL || (key == NULL && klen > 0) ||
	    (val == NULL && vlen > 0))
		return (-1);
	scache_check(sc, __func__);

	/*
	 * Refuse, before touching the table, an entry that could never
	 * fit its shard: evicting everything else for it would be no
	 * use. All shards share one bound, so the shard need not be
	 * known yet. The checks are ordered to avoid overflow.
	 */
	max = sc->shards[0].max_bytes;
	if (klen > max || vlen > max - klen ||
	    SCACHE_ENT_OVERHEAD > max - klen - vlen)
		return (-1);

	hash = scache_hash(sc, key, klen);
	if ((e = scache_ent_new(key, klen, val, vlen, expires_ms)) == NULL)
		return (-1);
	e->hash = hash;
	sh = scache_shard_of(sc, hash);

	pthread_mutex_lock(&sh->lock);
	if ((old = scache_find_locked(sh, hash, key, klen)) != NULL)
		scache_unlink_locked(sh, old, &victims);
	scache_link_locked(sh, e);
	sh->stores++;
	scache_trim_locked(sh, now_ms, &victims, &nevicted, &nexpired);
	if (sh->entries > sh->nbuckets && sh->nbuckets < sh->max_buckets)
		grow_from = sh->nbuckets;
	pthread_mutex_unlock(&sh->lock);

	scache_unref_list(victims);
	STATS_INC(STAT_CACHE_STORES);
	if (nevicted > 0)
		STATS_ADD(STAT_CACHE_EVICTIONS, nevicted);
	if (nexpired > 0)
		STATS_ADD(STAT_CACHE_EXPIRED, nexpired);
	if (grow_from > 0)
		scache_shard_grow(sh, grow_from);
	return (0);
}

/* scache_get - copy out the value stored under key */
int
scache_get(struct scache *sc, const void *key, size_t klen, void **valp,
    size_t *vlenp, int64_t now_ms)
{
	struct scache_shard *sh;
	struct scache_ent *e, *victims = NULL;
	uint64_t	 hash;
	int		 expired = 0;
	void		*copy;

	if (sc == NULL || (key == NULL && klen > 0) || valp == NULL ||
	    vlenp == NULL)
		return (-1);
	scache_check(sc, __func__);
	hash = scache_hash(sc, key, klen);
	sh = scache_shard_of(sc, hash);

	pthread_mutex_lock(&sh->lock);
	if ((e = scache_find_locked(sh, hash, key, klen)) != NULL &&
	    e->expires_ms <= now_ms) {
		scache_unlink_locked(sh, e, &victims);
		sh->expired++;
		expired = 1;
		e = NULL;
	}
	if (e == NULL) {
		sh->misses++;
	} else {
		sh->hits++;
		if (sh->head != e) {
			scache_lru_unlink_locked(sh, e);
			scache_lru_push_locked(sh, e);
		}
		/* Keeps e alive for the copy below, after the unlock. */
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&sh->lock);

	scache_unref_list(victims);
	if (e == NULL) {
		STATS_INC(STAT_CACHE_MISSES);
		if (expired)
			STATS_INC(STAT_CACHE_EXPIRED);
		return (0);
	}
	STATS_INC(STAT_CACHE_HITS);

	/* The value is immutable: copying it unlocked is safe. */
	if ((copy = malloc(e->vlen > 0 ? e->vlen : 1)) == NULL) {
		scache_ent_unref(e);
		return (-1);
	}
	if (e->vlen > 0)
		memcpy(copy, e->data + e->klen, e->vlen);
	*valp = copy;
	*vlenp = e->vlen;
	scache_ent_unref(e);
	return (1);
}

/* scache_remove - drop key if present */
int
scache_remove(struct scache *sc, const void *key, size_t klen)
{
	struct scache_shard *sh;
	struct scache_ent *e, *victims = NULL;
	uint64_t	 hash;

	if (sc == NULL || (key == NULL && klen > 0))
		return (-1);
	scache_check(sc, __func__);
	hash = scache_hash(sc, key, klen);
	sh = scache_shard_of(sc, hash);

	pthread_mutex_lock(&sh->lock);
	if ((e = scache_find_locked(sh, hash, key, klen)) != NULL) {
		scache_unlink_locked(sh, e, &victims);
		sh->removed++;
	}
	pthread_mutex_unlock(&sh->lock);

	scache_unref_list(victims);
	return (e != NULL);
}

/*
 * scache_expire - drop every expired entry. Each shard's LRU list is
 * walked whole under its lock: the walk is bounded by the shard's
 * entry bound, touches no memory outside the shard, and other shards
 * stay available meanwhile.
 */
size_t
scache_expire(struct scache *sc, int64_t now_ms)
{
	struct scache_shard *sh;
	struct scache_ent *e, *prev, *victims;
	size_t		 total = 0, n;
	unsigned int	 i;

	if (sc == NULL)
		return (0);
	scache_check(sc, __func__);
	for (i = 0; i < sc->nshards; i++) {
		sh = &sc->shards[i];
		victims = NULL;
		n = 0;
		pthread_mutex_lock(&sh->lock);
		for (e = sh->tail; e != NULL; e = prev) {
			prev = e->prev;
			if (e->expires_ms <= now_ms) {
				scache_unlink_locked(sh, e, &victims);
				n++;
			}
		}
		sh->expired += n;
		pthread_mutex_unlock(&sh->lock);
		scache_unref_list(victims);
		total += n;
	}
	if (total > 0)
		STATS_ADD(STAT_CACHE_EXPIRED, total);
	return (total);
}

/*
 * scache_get_stats - sum the shards' counters. Each shard is read
 * consistently under its own lock; the sum is not one atomic
 * snapshot of the whole cache, which no caller needs.
 */
void
scache_get_stats(struct scache *sc, struct scache_stats *st)
{
	struct scache_shard *sh;
	unsigned int	 i;

	if (st == NULL)
		return;
	memset(st, 0, sizeof(*st));
	if (sc == NULL)
		return;
	scache_check(sc, __func__);
	for (i = 0; i < sc->nshards; i++) {
		sh = &sc->shards[i];
		pthread_mutex_lock(&sh->lock);
		st->hits += sh->hits;
		st->misses += sh->misses;
		st->stores += sh->stores;
		st->evictions += sh->evictions;
		st->expired += sh->expired;
		st->removed += sh->removed;
		st->entries += sh->entries;
		st->bytes += sh->bytes;
		pthread_mutex_unlock(&sh->lock);
	}
}
