/*
 * NAME
 *	scache - bounded, expiring, sharded key/value cache for TLS sessions
 * SYNOPSIS
 *	#include "scache.h"
 * DESCRIPTION
 *	A hash table of opaque byte keys to opaque byte values (serialized
 *	SSL_SESSIONs), shared by every worker thread. Bounded both by the
 *	number of entries and by the total bytes of keys and values: a
 *	store that would exceed a bound first evicts least recently used
 *	entries. Each entry expires at an absolute time given by the
 *	caller (milliseconds on the caller's clock, e.g. sys_now_ms()), so
 *	tests control time.
 *
 *	The table is split into shards, each with its own mutex and LRU
 *	list, chosen by key hash, so concurrent handshakes rarely contend.
 *	Bounds are per shard (total / nshards). Locks are held only for
 *	the table operation itself: values are copied in before the lock
 *	is taken and out after it is released (entries are immutable and
 *	reference-counted), and nothing under a lock allocates, logs, does
 *	I/O or calls OpenSSL.
 *
 *	Counters (hits, misses, stores, evictions, expirations) are kept
 *	per cache and also added to the process-wide stats module.
 * DIAGNOSTICS
 *	scache_create(): NULL (bad arguments, no memory). scache_put():
 *	-1 when the entry alone exceeds a shard's byte bound, or no memory.
 */
#ifndef TLSPROXY_SCACHE_H
#define TLSPROXY_SCACHE_H

#include <stddef.h>
#include <stdint.h>

struct scache;

struct scache_stats {
	uint64_t	 hits;
	uint64_t	 misses;
	uint64_t	 stores;
	uint64_t	 evictions;
	uint64_t	 expired;
	uint64_t	 removed;
	size_t		 entries;
	size_t		 bytes;
};

/* max_entries >= nshards, max_bytes >= nshards, nshards a power of two (1..256). */
struct scache	*scache_create(size_t max_entries, size_t max_bytes,
		    unsigned int nshards);
void		 scache_free(struct scache *);

/* Store a copy of val under key, replacing an existing entry. */
int		 scache_put(struct scache *, const void *key, size_t klen,
		    const void *val, size_t vlen, int64_t expires_ms, int64_t now_ms);
/*
 * Look up key. 1: found and not expired; *valp is a malloc'ed copy the
 * caller frees, *vlenp its length; the entry becomes most recently
 * used. 0: not found (an expired entry is removed and counted).
 * -1: no memory.
 */
int		 scache_get(struct scache *, const void *key, size_t klen,
		    void **valp, size_t *vlenp, int64_t now_ms);
/* Remove key; 1 if it was there. */
int		 scache_remove(struct scache *, const void *key, size_t klen);
/* Drop every expired entry (called periodically). Returns how many. */
size_t		 scache_expire(struct scache *, int64_t now_ms);
void		 scache_get_stats(struct scache *, struct scache_stats *);

#endif
