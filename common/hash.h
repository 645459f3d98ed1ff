/* The project's one 64-bit hash: FNV-1a over bytes, finished with splitmix64's finaliser so
 * that every output bit depends on every input bit. Used where a hash is part of a contract
 * (the shards' ring: changing it is a reshard, pinned by a test vector) and for in-memory
 * tables (scrub windows, audit keys). Pure, any thread. */
#ifndef IWR_HASH_H
#define IWR_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 0xcbf29ce484222325ull

/* splitmix64's finaliser. */
static inline uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* FNV-1a of p[0, n) continued from state 'h' (HASH_FNV_OFFSET to start), not finished. */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
