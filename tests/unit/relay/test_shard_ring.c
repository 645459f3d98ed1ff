/* relay/shard_ring.c: the hash and the ring, pinned by a test vector computed independently
 * (a few lines of Python with the same definition), since changing either is a reshard; the
 * spread over shards; adding a shard moves keys only to it. */
#include "relay/shard_ring.h"

#include "tests/unit/tap.h"

#include <stdio.h>
#include <string.h>

static size_t look(const struct shard_ring *r, const char *db, const char *m)
{
    char key[128];
    size_t n = (size_t)snprintf(key, sizeof(key), "%s%c%s%c", db, 0, m, 0);
    return shard_ring_lookup(r, key, n);
}

static void test_vector(void)
{
    CHECK(shard_ring_hash("", 0) == 0xf52a15e9a9b5e89bull, "hash of nothing");
    CHECK(shard_ring_hash("a", 1) == 0x02c0bdbf481420f8ull, "hash of a");
    CHECK(shard_ring_hash("telegraf\0cpu\0", 13) == 0x6fd4d7c613543477ull, "hash of a key");
    static const char *const names[] = {"s1", "s2", "s3"};
    static const struct {
        const char *m;
        const char *shard;
    } want[] = {
        {"cpu", "s3"},    {"mem", "s1"},       {"disk", "s2"},   {"net", "s3"},
        {"swap", "s1"},   {"system", "s2"},    {"processes", "s3"}, {"kernel", "s1"},
        {"diskio", "s1"}, {"nginx", "s3"},
    };
    struct shard_ring *r = shard_ring_new(names, 3);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        size_t s = look(r, "telegraf", want[i].m);
        CHECK_EQ_STR(names[s], want[i].shard, want[i].m);
    }
    shard_ring_free(r);
    CHECK(shard_ring_new(names, 0) == NULL, "no shards: no ring");
}

static void test_spread_and_growth(void)
{
    static const char *const names[] = {"s1", "s2", "s3", "s4"};
    struct shard_ring *r3 = shard_ring_new(names, 3), *r4 = shard_ring_new(names, 4);
    size_t count[4] = {0}, moved_elsewhere = 0, moved = 0;
    for (int i = 0; i < 30000; i++) {
        char m[32];
        snprintf(m, sizeof(m), "m%d", i);
        size_t a = look(r3, "db", m), b = look(r4, "db", m);
        count[a]++;
        moved += a != b;
        moved_elsewhere += a != b && b != 3;
    }
    for (int i = 0; i < 3; i++)
        CHECK(count[i] > 7500 && count[i] < 12500, "shard %d holds a third (%zu of 30000)", i,
              count[i]);
    CHECK(moved_elsewhere == 0, "a fourth shard takes keys, none move between the others");
    CHECK(moved > 4500 && moved < 10500, "about a quarter move (%zu)", moved);
    shard_ring_free(r3);
    shard_ring_free(r4);
    /* The order the shards are named in does not matter. */
    static const char *const rev[] = {"s3", "s2", "s1"};
    struct shard_ring *a = shard_ring_new(names, 3), *b = shard_ring_new(rev, 3);
    int same = 1;
    for (int i = 0; i < 2000; i++) {
        char m[32];
        snprintf(m, sizeof(m), "x%d", i);
        same &= strcmp(names[look(a, "db", m)], rev[look(b, "db", m)]) == 0;
    }
    CHECK(same, "the same keys land on the same names whatever the order");
    shard_ring_free(a);
    shard_ring_free(b);
}

int main(void)
{
    test_vector();
    test_spread_and_growth();
    return tap_done();
}
