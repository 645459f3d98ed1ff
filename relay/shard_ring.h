/* The consistent-hash ring that places shard keys on shards. Pure: no I/O, no globals; a ring
 * is read-only after shard_ring_new, so any thread may look up in it.
 *
 * Hash: FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the bytes, then the
 * splitmix64 finaliser (FNV-1a alone spreads short, similar strings poorly). Each shard gets
 * SHARD_RING_VNODES points, the hashes of "NAME#I" for I = 0..SHARD_RING_VNODES-1; a key goes to
 * the shard owning the first point at or after the key's hash, wrapping round (ties: the shard
 * named first in byte order). A key is the values its [sharding] key names, each followed by a
 * 0 byte ("database", "measurement" as written in line protocol, with its escapes, "tag:NAME":
 * the tag's value as written, empty when the point has no such tag).
 *
 * Changing the hash, the finaliser, SHARD_RING_VNODES or the point names moves keys between
 * shards: that is a reshard. tests/unit/relay/test_shard_ring.c pins them with a test vector. */
#ifndef IWR_SHARD_RING_H
#define IWR_SHARD_RING_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_RING_VNODES 128

struct shard_ring;

/* A ring over the 'n' shards named in 'names' (copied; 1..65535 of them, distinct). Caller
 * frees with shard_ring_free. NULL for n == 0. */
struct shard_ring *shard_ring_new(const char *const *names, size_t n);
void shard_ring_free(struct shard_ring *r);
/* The index (into the names given to shard_ring_new) of the shard holding 'key'. */
size_t shard_ring_lookup(const struct shard_ring *r, const void *key, size_t len);
/* The hash the ring uses (FNV-1a 64 with the splitmix64 finaliser). */
uint64_t shard_ring_hash(const void *p, size_t len);

#endif
