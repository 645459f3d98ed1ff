/* The consistent-hash ring (see relay/shard_ring.h for the hash and the point names, which
 * are part of the log's meaning). Pure; a ring is immutable once built. */
#include "relay/shard_ring.h"

#include "common/err.h"
#include "common/hash.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ring_point {
    uint64_t hash;
    uint32_t shard;
};

struct shard_ring {
    char **names;
    size_t n_names;
    struct ring_point *points; /* sorted by hash, then by shard name */
    size_t n_points;
};

uint64_t shard_ring_hash(const void *p, size_t len)
{
    return hash_mix64(hash_fnv1a(HASH_FNV_OFFSET, p, len));
}

/* qsort has no context argument: the names are reached through this while sorting, which
 * shard_ring_new does on one thread and only there. */
static char *const *sorting_names;

static int point_cmp(const void *a, const void *b)
{
    const struct ring_point *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return strcmp(sorting_names[x->shard], sorting_names[y->shard]);
}

struct shard_ring *shard_ring_new(const char *const *names, size_t n)
{
    if (n == 0)
        return NULL;
    IWR_ASSERT(n <= UINT16_MAX);
    struct shard_ring *r = xcalloc(1, sizeof(*r));
    r->names = xcalloc(n, sizeof(*r->names));
    r->n_names = n;
    r->n_points = n * SHARD_RING_VNODES;
    r->points = xcalloc(r->n_points, sizeof(*r->points));
    for (size_t i = 0; i < n; i++) {
        r->names[i] = xstrdup(names[i]);
        for (size_t v = 0; v < SHARD_RING_VNODES; v++) {
            char pt[96];
            int len = snprintf(pt, sizeof(pt), "%.64s#%zu", names[i], v);
            struct ring_point *p = &r->points[i * SHARD_RING_VNODES + v];
            p->hash = shard_ring_hash(pt, (size_t)len);
            p->shard = (uint32_t)i;
        }
    }
    sorting_names = r->names;
    qsort(r->points, r->n_points, sizeof(*r->points), point_cmp);
    sorting_names = NULL;
    return r;
}

void shard_ring_free(struct shard_ring *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r->points);
    free(r);
}

size_t shard_ring_lookup(const struct shard_ring *r, const void *key, size_t len)
{
    uint64_t h = shard_ring_hash(key, len);
    size_t lo = 0, hi = r->n_points; /* the first point with hash >= h */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->points[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return r->points[lo == r->n_points ? 0 : lo].shard;
}
