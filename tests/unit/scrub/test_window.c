/* Tests of scrub/window.c's hash map: as a set (no values held, 0 stored as 1, growth keeps
 * every key), as a map (put overwrites, get reads back), and a set that later gets values. */
#include "tests/unit/tap.h"

#include "scrub/window.h"
#include "common/hash.h"

int main(void)
{
    struct scrub_hmap s = {0};
    CHECK(!scrub_hmap_get(&s, 42, NULL), "an empty map holds nothing");
    int added = 1, again = 0;
    for (uint64_t k = 0; k < 5000; k++) {
        added &= scrub_hmap_add(&s, scrub_hash(0, &k, sizeof(k)));
        again |= scrub_hmap_add(&s, scrub_hash(0, &k, sizeof(k)));
    }
    CHECK(added && !again && s.n == 5000, "a set adds each key once, through its growth");
    CHECK(s.vals == NULL, "a set holds no values");
    int all = 1;
    for (uint64_t k = 0; k < 5000; k++)
        all &= scrub_hmap_get(&s, scrub_hash(0, &k, sizeof(k)), NULL);
    CHECK(all, "every added key is found after growth");
    CHECK(scrub_hmap_add(&s, 0) == 1 && scrub_hmap_get(&s, 1, NULL) && !scrub_hmap_add(&s, 1),
          "0 is stored as 1");
    uint64_t v = 9;
    scrub_hmap_put(&s, 7, 70);
    CHECK(scrub_hmap_get(&s, 7, &v) && v == 70, "a set that gets a value becomes a map");
    uint64_t k0 = 0;
    CHECK(scrub_hmap_get(&s, scrub_hash(0, &k0, sizeof(k0)), &v) && v == 0,
          "keys added before the first value read 0");
    scrub_hmap_deinit(&s);

    struct scrub_hmap m = {0};
    scrub_hmap_put(&m, 5, 1);
    scrub_hmap_put(&m, 5, 2);
    CHECK(scrub_hmap_get(&m, 5, &v) && v == 2 && m.n == 1, "put overwrites");
    CHECK(scrub_hmap_add(&m, 6) == 1 && scrub_hmap_get(&m, 6, &v) && v == 0,
          "add in a map stores 0");
    CHECK(!scrub_hmap_add(&m, 5) && scrub_hmap_get(&m, 5, &v) && v == 2,
          "add leaves a present key's value alone");
    scrub_hmap_deinit(&m);
    CHECK(hash_mix64(1) != 1 && hash_mix64(1) != hash_mix64(2), "scrub_mix64 mixes");

    struct buf qb;
    buf_init(&qb);
    scrub_quote_ident(&qb, "a\"b'c\\d");
    CHECK(qb.len == 11 && memcmp(qb.data, "\"a\\\"b'c\\\\d\"", 11) == 0,
          "scrub_quote_ident escapes \" and \\ only");
    buf_clear(&qb);
    scrub_quote_string(&qb, "a\"b'c\\d");
    CHECK(qb.len == 11 && memcmp(qb.data, "'a\"b\\'c\\\\d'", 11) == 0,
          "scrub_quote_string escapes ' and \\ only");
    buf_deinit(&qb);
    return tap_done();
}
