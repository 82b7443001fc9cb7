/*
 * NAME
 *	test_scache - CUnit suite for the sharded TLS session cache
 * DESCRIPTION
 *	Round trip (bytes identical, caller frees), replace, remove,
 *	expiry at the exact boundary, scache_expire(), LRU eviction by
 *	entry count (a get refreshes recency) and by bytes, refusal of
 *	an entry larger than a shard's byte bound without collateral
 *	loss, bounds under many stores, keys one byte apart, empty
 *	values, bad arguments, and an 8-thread stress run whose
 *	counters and contents are checked afterwards (meant to run
 *	under ThreadSanitizer and AddressSanitizer too).
 *
 *	Last, a throughput measurement: 1 and 8 threads against 1 and 16
 *	shards. It prints ops/second and asserts nothing about timing.
 */
#include <inttypes.h>
#include <stdalign.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scache.h"
#include "stats.h"
#include "unit.h"

#define FAR_FUTURE	INT64_MAX

/* test_rand - splitmix64: a tiny per-thread generator, no shared state */
static uint64_t
test_rand(uint64_t *s)
{
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* test_put_str - store a NUL-free string under a string key */
static int
test_put_str(struct scache *sc, const char *k, const char *v, int64_t exp,
    int64_t now)
{
	return (scache_put(sc, k, strlen(k), v, strlen(v), exp, now));
}

/* test_has - 1 if key is present (and not expired at now) */
static int
test_has(struct scache *sc, const char *k, int64_t now)
{
	void		*v = NULL;
	size_t		 vlen;
	int		 r;

	r = scache_get(sc, k, strlen(k), &v, &vlen, now);
	free(v);
	return (r);
}

/* test_overhead - the fixed per-entry overhead, as the cache counts it */
static size_t
test_overhead(void)
{
	struct scache	*sc;
	struct scache_stats st;

	sc = scache_create(4, 1 << 20, 1);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(scache_put(sc, "k", 1, "vv", 2, FAR_FUTURE, 0), 0);
	scache_get_stats(sc, &st);
	scache_free(sc);
	CU_ASSERT_FATAL(st.bytes > 3);
	return (st.bytes - 3);
}

static void
test_round_trip(void)
{
	struct scache	*sc;
	struct scache_stats st;
	unsigned char	 key[48], val[3000];
	void		*out = NULL;
	size_t		 outlen = 0, i, ov = test_overhead();
	uint64_t	 hits0 = stats_get(STAT_CACHE_HITS);
	uint64_t	 stores0 = stats_get(STAT_CACHE_STORES);

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < sizeof(val); i++)
		val[i] = (unsigned char)(i * 13 + 5);
	sc = scache_create(100, 1 << 20, 4);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(scache_put(sc, key, sizeof(key), val, sizeof(val),
	    1000, 0), 0);
	CU_ASSERT_EQUAL(scache_get(sc, key, sizeof(key), &out, &outlen, 10), 1);
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_EQUAL(outlen, sizeof(val));
	CU_ASSERT_PTR_NOT_EQUAL(out, val);
	CU_ASSERT_EQUAL(memcmp(out, val, sizeof(val)), 0);
	free(out);

	/* The caller's buffers were copied: changing them changes nothing. */
	val[0] ^= 0xff;
	CU_ASSERT_EQUAL(scache_get(sc, key, sizeof(key), &out, &outlen, 10), 1);
	CU_ASSERT_NOT_EQUAL(((unsigned char *)out)[0], val[0]);
	free(out);

	CU_ASSERT_EQUAL(scache_get(sc, "nope", 4, &out, &outlen, 10), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.hits, 2);
	CU_ASSERT_EQUAL(st.misses, 1);
	CU_ASSERT_EQUAL(st.stores, 1);
	CU_ASSERT_EQUAL(st.entries, 1);
	CU_ASSERT_EQUAL(st.bytes, sizeof(key) + sizeof(val) + ov);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_HITS) - hits0, 2);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_STORES) - stores0, 1);
	scache_free(sc);
}

static void
test_replace(void)
{
	struct scache	*sc;
	struct scache_stats st;
	void		*out;
	size_t		 outlen;

	sc = scache_create(10, 1 << 16, 1);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(test_put_str(sc, "key", "first value", 100, 0), 0);
	CU_ASSERT_EQUAL(test_put_str(sc, "key", "2nd", 200, 0), 0);
	CU_ASSERT_EQUAL(scache_get(sc, "key", 3, &out, &outlen, 150), 1);
	CU_ASSERT_EQUAL(outlen, 3);
	CU_ASSERT_EQUAL(memcmp(out, "2nd", 3), 0);
	free(out);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 1);
	CU_ASSERT_EQUAL(st.bytes, 3 + 3 + test_overhead());
	CU_ASSERT_EQUAL(st.stores, 2);
	CU_ASSERT_EQUAL(st.evictions, 0);
	scache_free(sc);
}

static void
test_remove(void)
{
	struct scache	*sc;
	struct scache_stats st;

	sc = scache_create(10, 1 << 16, 2);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(test_put_str(sc, "a", "1", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_put_str(sc, "b", "2", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(scache_remove(sc, "a", 1), 1);
	CU_ASSERT_EQUAL(scache_remove(sc, "a", 1), 0);
	CU_ASSERT_EQUAL(test_has(sc, "a", 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "b", 0), 1);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.removed, 1);
	CU_ASSERT_EQUAL(st.entries, 1);
	CU_ASSERT_EQUAL(st.bytes, 2 + test_overhead());
	CU_ASSERT_EQUAL(scache_remove(sc, "b", 1), 1);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 0);
	CU_ASSERT_EQUAL(st.bytes, 0);
	scache_free(sc);
}

static void
test_expiry_boundary(void)
{
	struct scache	*sc;
	struct scache_stats st;
	uint64_t	 exp0 = stats_get(STAT_CACHE_EXPIRED);

	sc = scache_create(10, 1 << 16, 1);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(test_put_str(sc, "sess", "data", 1000, 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "sess", 999), 1);
	CU_ASSERT_EQUAL(test_has(sc, "sess", 1000), 0);	/* now == expires */
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.hits, 1);
	CU_ASSERT_EQUAL(st.misses, 1);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.entries, 0);
	CU_ASSERT_EQUAL(st.bytes, 0);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_EXPIRED) - exp0, 1);

	/* Gone for good: even an earlier clock no longer finds it. */
	CU_ASSERT_EQUAL(test_has(sc, "sess", 500), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.misses, 2);
	scache_free(sc);
}

static void
test_expire_purges(void)
{
	struct scache	*sc;
	struct scache_stats st;
	char		 k[16];
	int		 i;

	sc = scache_create(64, 1 << 16, 4);
	CU_ASSERT_FATAL(sc != NULL);
	for (i = 1; i <= 10; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CU_ASSERT_EQUAL(test_put_str(sc, k, "v", i * 100, 0), 0);
	}
	CU_ASSERT_EQUAL(scache_expire(sc, 499), 4);
	CU_ASSERT_EQUAL(scache_expire(sc, 500), 1);	/* boundary */
	CU_ASSERT_EQUAL(scache_expire(sc, 500), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 5);
	CU_ASSERT_EQUAL(st.expired, 5);
	for (i = 1; i <= 10; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CU_ASSERT_EQUAL(test_has(sc, k, 0), i > 5);
	}
	CU_ASSERT_EQUAL(scache_expire(sc, FAR_FUTURE), 5);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 0);
	CU_ASSERT_EQUAL(st.bytes, 0);
	scache_free(sc);
}

static void
test_lru_by_count(void)
{
	struct scache	*sc;
	struct scache_stats st;
	uint64_t	 ev0 = stats_get(STAT_CACHE_EVICTIONS);

	/* One shard, so the entry bound is exactly 4. */
	sc = scache_create(4, 1 << 20, 1);
	CU_ASSERT_FATAL(sc != NULL);
	test_put_str(sc, "k0", "v", FAR_FUTURE, 0);
	test_put_str(sc, "k1", "v", FAR_FUTURE, 0);
	test_put_str(sc, "k2", "v", FAR_FUTURE, 0);
	test_put_str(sc, "k3", "v", FAR_FUTURE, 0);
	CU_ASSERT_EQUAL(test_has(sc, "k0", 0), 1);	/* k0 now recent */

	CU_ASSERT_EQUAL(test_put_str(sc, "k4", "v", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k1", 0), 0);	/* oldest untouched */
	CU_ASSERT_EQUAL(test_has(sc, "k0", 0), 1);

	CU_ASSERT_EQUAL(test_put_str(sc, "k5", "v", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k2", 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k3", 0), 1);
	CU_ASSERT_EQUAL(test_has(sc, "k4", 0), 1);
	CU_ASSERT_EQUAL(test_has(sc, "k5", 0), 1);
	CU_ASSERT_EQUAL(test_has(sc, "k0", 0), 1);

	/* Replacing refreshes recency too: k3 is oldest, then rewritten. */
	CU_ASSERT_EQUAL(test_put_str(sc, "k3", "w", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_put_str(sc, "k6", "v", FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k3", 0), 1);
	CU_ASSERT_EQUAL(test_has(sc, "k4", 0), 0);

	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 4);
	CU_ASSERT_EQUAL(st.evictions, 3);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_EVICTIONS) - ev0, 3);
	scache_free(sc);
}

static void
test_lru_prefers_expired(void)
{
	struct scache	*sc;
	struct scache_stats st;

	/* When room is needed, an expired entry near the tail goes first. */
	sc = scache_create(3, 1 << 20, 1);
	CU_ASSERT_FATAL(sc != NULL);
	test_put_str(sc, "old", "v", FAR_FUTURE, 0);
	test_put_str(sc, "dying", "v", 50, 0);
	test_put_str(sc, "new", "v", FAR_FUTURE, 0);
	CU_ASSERT_EQUAL(test_put_str(sc, "newer", "v", FAR_FUTURE, 100), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.evictions, 0);
	CU_ASSERT_EQUAL(test_has(sc, "old", 100), 1);
	CU_ASSERT_EQUAL(test_has(sc, "dying", 0), 0);
	scache_free(sc);
}

static void
test_lru_by_bytes(void)
{
	struct scache	*sc;
	struct scache_stats st;
	size_t		 cost, ov = test_overhead();
	char		 val[1000], k[8];
	int		 i;

	memset(val, 'x', sizeof(val));
	cost = 2 + sizeof(val) + ov;
	/* Room for three entries (and a bit), entry bound far away. */
	sc = scache_create(100, 3 * cost + cost / 2, 1);
	CU_ASSERT_FATAL(sc != NULL);
	for (i = 0; i < 3; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CU_ASSERT_EQUAL(scache_put(sc, k, 2, val, sizeof(val),
		    FAR_FUTURE, 0), 0);
	}
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 3);
	CU_ASSERT_EQUAL(st.evictions, 0);

	CU_ASSERT_EQUAL(scache_put(sc, "k3", 2, val, sizeof(val),
	    FAR_FUTURE, 0), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 3);
	CU_ASSERT_EQUAL(st.evictions, 1);
	CU_ASSERT(st.bytes <= 3 * cost + cost / 2);
	CU_ASSERT_EQUAL(test_has(sc, "k0", 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k1", 0), 1);

	/* One small entry fits in the slack without evicting anything. */
	CU_ASSERT_EQUAL(test_put_str(sc, "s", "", FAR_FUTURE, 0), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 4);
	CU_ASSERT_EQUAL(st.evictions, 1);

	/* A value twice as big needs two victims: the two least recent. */
	{
		char	 big[2 * sizeof(val)];

		memset(big, 'y', sizeof(big));
		CU_ASSERT_EQUAL(scache_put(sc, "kb", 2, big, sizeof(big),
		    FAR_FUTURE, 0), 0);
	}
	scache_get_stats(sc, &st);
	CU_ASSERT(st.bytes <= 3 * cost + cost / 2);
	CU_ASSERT_EQUAL(test_has(sc, "k2", 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k3", 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "k1", 0), 1);
	CU_ASSERT_EQUAL(test_has(sc, "kb", 0), 1);
	scache_free(sc);
}

static void
test_too_large(void)
{
	struct scache	*sc;
	struct scache_stats before, after;
	size_t		 ov = test_overhead(), shard_bytes = 4096;
	unsigned char	*big;
	char		 k[8];
	int		 i;

	/* Four shards of 4096 bytes each. */
	sc = scache_create(64, 4 * shard_bytes, 4);
	CU_ASSERT_FATAL(sc != NULL);
	for (i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CU_ASSERT_EQUAL(test_put_str(sc, k, "v", FAR_FUTURE, 0), 0);
	}
	big = calloc(1, 4 * shard_bytes);
	CU_ASSERT_FATAL(big != NULL);
	scache_get_stats(sc, &before);

	/* Smaller than the total, larger than one shard: refused. */
	CU_ASSERT_EQUAL(scache_put(sc, "huge", 4, big, shard_bytes,
	    FAR_FUTURE, 0), -1);
	CU_ASSERT_EQUAL(scache_put(sc, "huge", 4, big, 4 * shard_bytes,
	    FAR_FUTURE, 0), -1);
	/* One byte over the shard bound, counting the overhead: refused. */
	CU_ASSERT_EQUAL(scache_put(sc, "huge", 4, big,
	    shard_bytes - ov - 4 + 1, FAR_FUTURE, 0), -1);
	/* Absurd lengths must not overflow into acceptance. */
	CU_ASSERT_EQUAL(scache_put(sc, "huge", SIZE_MAX, big, 1,
	    FAR_FUTURE, 0), -1);
	CU_ASSERT_EQUAL(scache_put(sc, "huge", 4, big, SIZE_MAX - 2,
	    FAR_FUTURE, 0), -1);
	scache_get_stats(sc, &after);
	CU_ASSERT_EQUAL(after.entries, before.entries);
	CU_ASSERT_EQUAL(after.bytes, before.bytes);
	CU_ASSERT_EQUAL(after.stores, before.stores);
	CU_ASSERT_EQUAL(after.evictions, 0);
	for (i = 0; i < 8; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CU_ASSERT_EQUAL(test_has(sc, k, 0), 1);
	}
	CU_ASSERT_EQUAL(test_has(sc, "huge", 0), 0);

	/* Exactly the shard bound fits (by evicting its shard-mates). */
	CU_ASSERT_EQUAL(scache_put(sc, "huge", 4, big, shard_bytes - ov - 4,
	    FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(test_has(sc, "huge", 0), 1);
	scache_get_stats(sc, &after);
	CU_ASSERT(after.bytes <= 4 * shard_bytes);
	free(big);
	scache_free(sc);
}

static void
test_bounds_hold(void)
{
	struct scache	*sc;
	struct scache_stats st;
	unsigned char	 val[1000], key[40];
	const size_t	 max_entries = 64, max_bytes = 16384;
	uint64_t	 rng = 42;
	size_t		 vlen, klen, ok = 0;
	int		 i, over = 0;

	memset(val, 'v', sizeof(val));
	sc = scache_create(max_entries, max_bytes, 8);
	CU_ASSERT_FATAL(sc != NULL);
	for (i = 0; i < 5000; i++) {
		/* Unique keys, so entries == stores - evictions. */
		klen = (size_t)snprintf((char *)key, sizeof(key), "key-%d-", i);
		klen += test_rand(&rng) % (sizeof(key) - klen);
		vlen = test_rand(&rng) % sizeof(val);
		if (scache_put(sc, key, klen, val, vlen, FAR_FUTURE, 0) == 0)
			ok++;
		scache_get_stats(sc, &st);
		if (st.entries > max_entries || st.bytes > max_bytes)
			over++;
	}
	CU_ASSERT_EQUAL(over, 0);
	CU_ASSERT_EQUAL(ok, 5000);
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.stores, ok);
	CU_ASSERT_EQUAL(st.entries, st.stores - st.evictions);
	CU_ASSERT(st.entries > 0);
	scache_free(sc);
}

static void
test_growth(void)
{
	struct scache	*sc;
	struct scache_stats st;
	char		 k[32];
	void		*out;
	size_t		 outlen;
	int		 i, missing = 0, wrong = 0;

	/* One shard grows its buckets from a few to thousands. */
	sc = scache_create(5000, 1 << 24, 1);
	CU_ASSERT_FATAL(sc != NULL);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "grow-%d", i);
		CU_ASSERT_EQUAL(scache_put(sc, k, strlen(k), &i, sizeof(i),
		    FAR_FUTURE, 0), 0);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "grow-%d", i);
		if (scache_get(sc, k, strlen(k), &out, &outlen, 0) != 1) {
			missing++;
			continue;
		}
		if (outlen != sizeof(i) || memcmp(out, &i, sizeof(i)) != 0)
			wrong++;
		free(out);
	}
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(wrong, 0);
	for (i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "grow-%d", i);
		CU_ASSERT_EQUAL(scache_remove(sc, k, strlen(k)), 1);
	}
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 2500);
	CU_ASSERT_EQUAL(st.evictions, 0);
	scache_free(sc);
}

static void
test_one_byte_apart(void)
{
	struct scache	*sc;
	struct scache_stats st;
	unsigned char	 base[300], k[300];
	void		*out;
	size_t		 outlen, i;
	uint32_t	 tag;
	int		 bad = 0;

	for (i = 0; i < sizeof(base); i++)
		base[i] = (unsigned char)('a' + i % 26);
	sc = scache_create(1024, 1 << 22, 16);
	CU_ASSERT_FATAL(sc != NULL);

	/* The base key and 300 variants, each with one byte flipped. */
	tag = UINT32_MAX;
	CU_ASSERT_EQUAL(scache_put(sc, base, sizeof(base), &tag, sizeof(tag),
	    FAR_FUTURE, 0), 0);
	for (i = 0; i < sizeof(base); i++) {
		memcpy(k, base, sizeof(k));
		k[i] ^= 0x01;
		tag = (uint32_t)i;
		CU_ASSERT_EQUAL(scache_put(sc, k, sizeof(k), &tag, sizeof(tag),
		    FAR_FUTURE, 0), 0);
	}
	/* Prefixes of the base key are distinct keys too. */
	for (i = 0; i < 16; i++) {
		tag = 1000 + (uint32_t)i;
		CU_ASSERT_EQUAL(scache_put(sc, base, i, &tag, sizeof(tag),
		    FAR_FUTURE, 0), 0);
	}
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(st.entries, 1 + sizeof(base) + 16);
	CU_ASSERT_EQUAL(st.evictions, 0);

	for (i = 0; i < sizeof(base); i++) {
		memcpy(k, base, sizeof(k));
		k[i] ^= 0x01;
		if (scache_get(sc, k, sizeof(k), &out, &outlen, 0) != 1) {
			bad++;
			continue;
		}
		memcpy(&tag, out, sizeof(tag));
		if (outlen != sizeof(tag) || tag != (uint32_t)i)
			bad++;
		free(out);
	}
	CU_ASSERT_EQUAL(bad, 0);
	for (i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL_FATAL(scache_get(sc, base, i, &out, &outlen, 0),
		    1);
		memcpy(&tag, out, sizeof(tag));
		CU_ASSERT_EQUAL(tag, 1000 + (uint32_t)i);
		free(out);
	}
	CU_ASSERT_EQUAL_FATAL(scache_get(sc, base, sizeof(base), &out, &outlen,
	    0), 1);
	memcpy(&tag, out, sizeof(tag));
	CU_ASSERT_EQUAL(tag, UINT32_MAX);
	free(out);
	scache_free(sc);
}

static void
test_empty_value(void)
{
	struct scache	*sc;
	void		*out = NULL;
	size_t		 outlen = 99;

	sc = scache_create(10, 1 << 16, 2);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(scache_put(sc, "e1", 2, NULL, 0, FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(scache_put(sc, "e2", 2, "ignored", 0, FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(scache_get(sc, "e1", 2, &out, &outlen, 0), 1);
	CU_ASSERT_PTR_NOT_NULL(out);		/* still a pointer to free */
	CU_ASSERT_EQUAL(outlen, 0);
	free(out);
	out = NULL;
	outlen = 99;
	CU_ASSERT_EQUAL(scache_get(sc, "e2", 2, &out, &outlen, 0), 1);
	CU_ASSERT_EQUAL(outlen, 0);
	free(out);
	/* The empty key is a key like any other. */
	CU_ASSERT_EQUAL(scache_put(sc, NULL, 0, "x", 1, FAR_FUTURE, 0), 0);
	CU_ASSERT_EQUAL(scache_get(sc, "", 0, &out, &outlen, 0), 1);
	CU_ASSERT_EQUAL(outlen, 1);
	free(out);
	scache_free(sc);
}

static void
test_bad_args(void)
{
	struct scache	*sc;
	struct scache_stats st;
	void		*out;
	size_t		 outlen;

	CU_ASSERT_PTR_NULL(scache_create(0, 1000, 1));
	CU_ASSERT_PTR_NULL(scache_create(100, 0, 1));
	CU_ASSERT_PTR_NULL(scache_create(100, 1000, 0));
	CU_ASSERT_PTR_NULL(scache_create(100, 1000, 3));	/* not 2^n */
	CU_ASSERT_PTR_NULL(scache_create(100, 1000, 12));
	CU_ASSERT_PTR_NULL(scache_create(1000, 100000, 512));	/* > 256 */
	CU_ASSERT_PTR_NULL(scache_create(7, 1000, 8));	/* < 1 per shard */
	CU_ASSERT_PTR_NULL(scache_create(100, 7, 8));
	sc = scache_create(256, 256, 256);
	CU_ASSERT_PTR_NOT_NULL(sc);
	scache_free(sc);
	scache_free(NULL);

	CU_ASSERT_EQUAL(scache_put(NULL, "k", 1, "v", 1, 1, 0), -1);
	CU_ASSERT_EQUAL(scache_get(NULL, "k", 1, &out, &outlen, 0), -1);
	CU_ASSERT_EQUAL(scache_remove(NULL, "k", 1), -1);
	CU_ASSERT_EQUAL(scache_expire(NULL, 0), 0);
	scache_get_stats(NULL, &st);
	CU_ASSERT_EQUAL(st.entries, 0);

	sc = scache_create(10, 1000, 1);
	CU_ASSERT_FATAL(sc != NULL);
	CU_ASSERT_EQUAL(scache_put(sc, NULL, 1, "v", 1, 1, 0), -1);
	CU_ASSERT_EQUAL(scache_put(sc, "k", 1, NULL, 1, 1, 0), -1);
	CU_ASSERT_EQUAL(scache_get(sc, "k", 1, NULL, &outlen, 0), -1);
	CU_ASSERT_EQUAL(scache_get(sc, "k", 1, &out, NULL, 0), -1);
	CU_ASSERT_EQUAL(scache_remove(sc, NULL, 1), -1);
	scache_free(sc);
}

/*
 * Stress: threads hammer a small cache with random put/get/remove on a
 * small key space. Each value's bytes are a function of its key and
 * length, so any copy-out can be checked for torn or foreign data.
 */
#define STRESS_THREADS	8
#define STRESS_OPS	20000
#define STRESS_KEYS	400
#define STRESS_ENTRIES	256
#define STRESS_BYTES	(64 * 1024)
#define STRESS_VMAX	600

struct stress_arg {
	alignas(64) struct scache *sc;
	uint64_t	 seed;
	uint64_t	 hits, misses, stores, removed, errors, corrupt;
};

static atomic_int stress_done;
static atomic_int stress_over;		/* bound violations seen */

/* stress_key - the key for id (variable length, ~40..60 bytes) */
static size_t
stress_key(unsigned char *buf, size_t size, unsigned int id)
{
	return ((size_t)snprintf((char *)buf, size,
	    "ctx:smtp:example.org:%u:%0*u", id, (int)(id % 21), id));
}

/* stress_byte - the i-th byte of any value stored under id */
static unsigned char
stress_byte(unsigned int id, size_t vlen, size_t i)
{
	return ((unsigned char)(id * 131 + vlen * 7 + i));
}

static void *
stress_worker(void *p)
{
	struct stress_arg *a = p;
	unsigned char	 key[80], val[STRESS_VMAX];
	void		*out;
	size_t		 klen, vlen, outlen, i;
	unsigned int	 id, op;
	int64_t		 now;
	int		 n, r;

	for (n = 0; n < STRESS_OPS; n++) {
		id = (unsigned int)(test_rand(&a->seed) % STRESS_KEYS);
		op = (unsigned int)(test_rand(&a->seed) % 100);
		klen = stress_key(key, sizeof(key), id);
		now = n;
		if (op < 45) {
			vlen = test_rand(&a->seed) % STRESS_VMAX;
			for (i = 0; i < vlen; i++)
				val[i] = stress_byte(id, vlen, i);
			/* Some entries expire soon after, some never. */
			r = scache_put(a->sc, key, klen, val, vlen,
			    op < 5 ? now + (int64_t)(op * 100) : FAR_FUTURE,
			    now);
			if (r == 0)
				a->stores++;
			else
				a->errors++;
		} else if (op < 90) {
			r = scache_get(a->sc, key, klen, &out, &outlen, now);
			if (r == 1) {
				a->hits++;
				for (i = 0; i < outlen; i++)
					if (((unsigned char *)out)[i] !=
					    stress_byte(id, outlen, i)) {
						a->corrupt++;
						break;
					}
				free(out);
			} else if (r == 0) {
				a->misses++;
			} else {
				a->errors++;
			}
		} else {
			r = scache_remove(a->sc, key, klen);
			if (r == 1)
				a->removed++;
			else if (r != 0)
				a->errors++;
		}
	}
	return (NULL);
}

/* stress_monitor - watch the bounds and purge while workers run */
static void *
stress_monitor(void *p)
{
	struct scache	*sc = p;
	struct scache_stats st;
	int64_t		 now = 0;

	while (!atomic_load(&stress_done)) {
		scache_get_stats(sc, &st);
		if (st.entries > STRESS_ENTRIES || st.bytes > STRESS_BYTES)
			atomic_fetch_add(&stress_over, 1);
		scache_expire(sc, now);
		now += 50;
	}
	return (NULL);
}

static void
test_stress(void)
{
	struct scache	*sc;
	struct scache_stats st;
	struct stress_arg args[STRESS_THREADS];
	pthread_t	 tids[STRESS_THREADS], mon;
	uint64_t	 hits = 0, misses = 0, stores = 0, removed = 0;
	uint64_t	 errors = 0, corrupt = 0, g_hits0, g_miss0, g_st0;
	uint64_t	 g_ev0, g_exp0;
	unsigned char	 key[80];
	void		*out;
	size_t		 klen, outlen, found = 0, bytes = 0, ov;
	unsigned int	 id;
	int		 i;

	ov = test_overhead();
	g_hits0 = stats_get(STAT_CACHE_HITS);
	g_miss0 = stats_get(STAT_CACHE_MISSES);
	g_st0 = stats_get(STAT_CACHE_STORES);
	g_ev0 = stats_get(STAT_CACHE_EVICTIONS);
	g_exp0 = stats_get(STAT_CACHE_EXPIRED);
	sc = scache_create(STRESS_ENTRIES, STRESS_BYTES, 4);
	CU_ASSERT_FATAL(sc != NULL);
	atomic_store(&stress_done, 0);
	atomic_store(&stress_over, 0);
	CU_ASSERT_FATAL(pthread_create(&mon, NULL, stress_monitor, sc) == 0);
	for (i = 0; i < STRESS_THREADS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].sc = sc;
		args[i].seed = 0x1234 + (uint64_t)i * 7919;
		CU_ASSERT_FATAL(pthread_create(&tids[i], NULL, stress_worker,
		    &args[i]) == 0);
	}
	for (i = 0; i < STRESS_THREADS; i++) {
		pthread_join(tids[i], NULL);
		hits += args[i].hits;
		misses += args[i].misses;
		stores += args[i].stores;
		removed += args[i].removed;
		errors += args[i].errors;
		corrupt += args[i].corrupt;
	}
	atomic_store(&stress_done, 1);
	pthread_join(mon, NULL);

	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(corrupt, 0);
	CU_ASSERT_EQUAL(atomic_load(&stress_over), 0);
	scache_get_stats(sc, &st);
	CU_ASSERT(st.entries <= STRESS_ENTRIES);
	CU_ASSERT(st.bytes <= STRESS_BYTES);
	CU_ASSERT_EQUAL(st.hits, hits);
	CU_ASSERT_EQUAL(st.misses, misses);
	CU_ASSERT_EQUAL(st.stores, stores);
	CU_ASSERT_EQUAL(st.removed, removed);
	CU_ASSERT_EQUAL(hits + misses, st.hits + st.misses);
	CU_ASSERT(st.evictions > 0);	/* the cache was really too small */

	/*
	 * What is left must match the counters: probe every key at a
	 * clock before any expiry, so each stored entry is found.
	 */
	for (id = 0; id < STRESS_KEYS; id++) {
		klen = stress_key(key, sizeof(key), id);
		if (scache_get(sc, key, klen, &out, &outlen, INT64_MIN) == 1) {
			found++;
			bytes += klen + outlen + ov;
			free(out);
		}
	}
	scache_get_stats(sc, &st);
	CU_ASSERT_EQUAL(found, st.entries);
	CU_ASSERT_EQUAL(bytes, st.bytes);
	CU_ASSERT_EQUAL(st.hits, hits + found);
	CU_ASSERT_EQUAL(st.misses, misses + (STRESS_KEYS - found));

	/* The process-wide counters saw the same events. */
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_HITS) - g_hits0, st.hits);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_MISSES) - g_miss0, st.misses);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_STORES) - g_st0, st.stores);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_EVICTIONS) - g_ev0, st.evictions);
	CU_ASSERT_EQUAL(stats_get(STAT_CACHE_EXPIRED) - g_exp0, st.expired);
	printf("\n    stress: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64
	    " stores, %" PRIu64 " evictions, %" PRIu64 " expired, %" PRIu64
	    " removed, %zu left ",
	    st.hits, st.misses, st.stores, st.evictions, st.expired,
	    st.removed, st.entries);
	scache_free(sc);
}

/*
 * Throughput: a session-cache-like mix (90% get, 8% put, 2% remove)
 * on 48-byte keys and 1 KiB values, every thread running for a fixed
 * wall-clock time. Printed only: timing depends on the machine.
 */
#define BENCH_KEYS	4096
#define BENCH_VLEN	1024
#define BENCH_MS	300

/* Cache-line aligned: per-thread counters must not share a line. */
struct bench_arg {
	alignas(64) struct scache *sc;
	uint64_t	 seed;
	uint64_t	 ops;
};

static atomic_int bench_stop;

static void *
bench_worker(void *p)
{
	struct bench_arg *a = p;
	unsigned char	 key[48], val[BENCH_VLEN];
	void		*out;
	size_t		 outlen;
	unsigned int	 id, op;

	memset(val, 's', sizeof(val));
	memset(key, 'k', sizeof(key));
	while (!atomic_load_explicit(&bench_stop, memory_order_relaxed)) {
		id = (unsigned int)(test_rand(&a->seed) % BENCH_KEYS);
		op = (unsigned int)(test_rand(&a->seed) % 100);
		memcpy(key, &id, sizeof(id));
		if (op < 90) {
			if (scache_get(a->sc, key, sizeof(key), &out, &outlen,
			    0) == 1)
				free(out);
		} else if (op < 98) {
			scache_put(a->sc, key, sizeof(key), val, sizeof(val),
			    FAR_FUTURE, 0);
		} else {
			scache_remove(a->sc, key, sizeof(key));
		}
		a->ops++;
	}
	return (NULL);
}

/* bench_run - ops/second for nthreads against a cache of nshards */
static double
bench_run(int nthreads, unsigned int nshards)
{
	struct scache	*sc;
	struct bench_arg args[8];
	pthread_t	 tids[8];
	struct timespec	 t0, t1, nap = { 0, BENCH_MS * 1000000L };
	unsigned char	 key[48], val[BENCH_VLEN];
	uint64_t	 ops = 0;
	unsigned int	 id;
	double		 secs;
	int		 i, started = 0;

	sc = scache_create(2 * BENCH_KEYS, 64u << 20, nshards);
	if (sc == NULL)
		return (0);
	memset(val, 's', sizeof(val));
	memset(key, 'k', sizeof(key));
	for (id = 0; id < BENCH_KEYS; id++) {
		memcpy(key, &id, sizeof(id));
		scache_put(sc, key, sizeof(key), val, sizeof(val),
		    FAR_FUTURE, 0);
	}
	atomic_store(&bench_stop, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nthreads; i++) {
		args[i].sc = sc;
		args[i].seed = 99 + (uint64_t)i;
		args[i].ops = 0;
		if (pthread_create(&tids[i], NULL, bench_worker, &args[i]) != 0)
			break;
		started++;
	}
	nanosleep(&nap, NULL);
	atomic_store(&bench_stop, 1);
	for (i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		ops += args[i].ops;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	scache_free(sc);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return (secs > 0 ? (double)ops / secs : 0);
}

static void
test_bench(void)
{
	static const struct {
		int		 threads;
		unsigned int	 shards;
	} cfg[] = { { 1, 1 }, { 1, 16 }, { 8, 1 }, { 8, 16 } };
	double		 r[4];
	size_t		 i;

	printf("\n");
	for (i = 0; i < 4; i++) {
		r[i] = bench_run(cfg[i].threads, cfg[i].shards);
		CU_ASSERT(r[i] > 0);
		printf("    %d thread(s), %2u shard(s): %12.0f ops/s\n",
		    cfg[i].threads, cfg[i].shards, r[i]);
	}
	if (r[2] > 0)
		printf("    8 threads: 16 shards / 1 shard = %.2fx\n",
		    r[3] / r[2]);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "put/get round trip", test_round_trip },
		{ "put replaces", test_replace },
		{ "remove", test_remove },
		{ "expiry at the exact boundary", test_expiry_boundary },
		{ "scache_expire purges", test_expire_purges },
		{ "LRU eviction by entry count", test_lru_by_count },
		{ "eviction prefers expired entries", test_lru_prefers_expired },
		{ "LRU eviction by bytes", test_lru_by_bytes },
		{ "oversized entry refused, nothing lost", test_too_large },
		{ "bounds hold over many stores", test_bounds_hold },
		{ "bucket growth keeps every entry", test_growth },
		{ "keys one byte apart", test_one_byte_apart },
		{ "zero-length value and key", test_empty_value },
		{ "bad arguments", test_bad_args },
		{ "8 threads x 20000 mixed ops", test_stress },
		{ "throughput, 1 vs 8 threads, 1 vs 16 shards", test_bench },
		{ NULL, NULL },
	};

	return (unit_run("scache", tests, NULL, NULL));
}
