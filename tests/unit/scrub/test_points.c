/* Tests of scrub/points.c: the values of a SELECT * ... GROUP BY * answer keyed by series
 * (non-empty tags in any order), time and field, the points written back as line protocol
 * (escaping, the field types of the side asked for, only the values the caller picks), and a
 * callback's value stopping the walk. */
#include "tests/unit/tap.h"

#include "common/xalloc.h"
#include "scrub/points.h"

#include <inttypes.h>

static json_t *answer(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        printf("# bad test JSON: %s\n", err.text);
    return j;
}

struct got {
    struct buf lines;
    int points, values, stop_at;
    unsigned skip; /* bit n set: the value n (from 0) is not written */
};

static int on_value(void *arg, uint64_t key, uint64_t val, int *write)
{
    struct got *g = arg;
    (void)key;
    (void)val;
    g->values++;
    if (g->stop_at != 0 && g->values == g->stop_at)
        return 7;
    *write = !((g->skip >> (g->values - 1)) & 1);
    return 0;
}

static int on_point(void *arg, const char *line, size_t len)
{
    struct got *g = arg;
    g->points++;
    buf_append(&g->lines, line, len);
    return 0;
}

static void unit_init(struct scrub_unit *u, const char *m)
{
    memset(u, 0, sizeof(*u));
    u->db = xstrdup("db");
    u->rp = xstrdup("autogen");
    u->m = xstrdup(m);
    scrub_unit_add_field(u, "f", 0, SCRUB_FT_FLOAT);
    scrub_unit_add_field(u, "f", 1, SCRUB_FT_INTEGER);
    scrub_unit_add_field(u, "i", 0, SCRUB_FT_INTEGER);
    scrub_unit_add_field(u, "u", 1, SCRUB_FT_UNSIGNED);
    scrub_unit_add_field(u, "s\"q", 0, SCRUB_FT_STRING);
    scrub_unit_add_field(u, "b", 0, SCRUB_FT_BOOLEAN);
}

int main(void)
{
    struct scrub_unit u;
    unit_init(&u, "m x,y");

    /* Escaping, and every type as influxd answers it. */
    json_t *a = answer("{\"series\":[{\"name\":\"m x,y\",\"tags\":{\"t k\":\"v,1\",\"e\":\"\"},"
                       "\"columns\":[\"time\",\"f\",\"i\",\"u\",\"s\\\"q\",\"b\"],"
                       "\"values\":[[1000,1.5,3,7,\"a\\\"b\\\\c\",true],"
                       "[2000,null,null,null,null,false]]}]}");
    struct got g;
    memset(&g, 0, sizeof(g));
    buf_init(&g.lines);
    struct scrub_points p;
    scrub_points_init(&p, &u, 0);
    p.value = on_value;
    p.point = on_point;
    p.arg = &g;
    CHECK_EQ_INT(scrub_points_add(&p, a), 0, "a walk with callbacks that go on returns 0");
    buf_append(&g.lines, "", 1);
    CHECK_EQ_STR(g.lines.data,
                 "m\\ x\\,y,t\\ k=v\\,1 f=1.5,i=3i,u=7u,s\"q=\"a\\\"b\\\\c\",b=true 1000\n"
                 "m\\ x\\,y,t\\ k=v\\,1 b=false 2000\n",
                 "points as line protocol: escaped names, typed values, empty tags left out, "
                 "nulls skipped");
    CHECK_EQ_INT(g.values, 6, "each non-null value goes to the callback once");
    scrub_points_deinit(&p);

    /* The side's own types first: f is an integer on side 1. */
    buf_clear(&g.lines);
    g.points = g.values = 0;
    g.skip = ~1u;
    scrub_points_init(&p, &u, 1);
    p.value = on_value;
    p.point = on_point;
    p.arg = &g;
    json_t *b = answer("{\"series\":[{\"name\":\"m x,y\",\"tags\":{\"t k\":\"v,1\"},"
                       "\"columns\":[\"time\",\"f\",\"i\"],\"values\":[[5,4,9],[6,null,8]]}]}");
    scrub_points_add(&p, b);
    buf_append(&g.lines, "", 1);
    CHECK_EQ_STR(g.lines.data, "m\\ x\\,y,t\\ k=v\\,1 f=4i 5\n",
                 "side 1's type of f, only the values picked, no point without one");
    scrub_points_deinit(&p);

    /* A callback's value stops the walk and is returned. */
    g.points = g.values = 0;
    g.skip = 0;
    g.stop_at = 2;
    scrub_points_init(&p, &u, 0);
    p.value = on_value;
    p.point = on_point;
    p.arg = &g;
    CHECK_EQ_INT(scrub_points_add(&p, a), 7, "the value that stopped the walk is returned");
    CHECK(g.values == 2 && g.points == 0, "nothing is read after the stop, the point not ended");
    scrub_points_deinit(&p);

    /* Keeping: the same point with its tags in another order, or with an empty tag, has the
     * same keys; another time, series or value does not. */
    struct scrub_hmap k1 = {0}, k2 = {0};
    scrub_points_init(&p, &u, 0);
    p.keep = &k1;
    json_t *c1 = answer("{\"series\":[{\"tags\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"\"},"
                        "\"columns\":[\"time\",\"f\",\"i\"],\"values\":[[10,1.0,2]]}]}");
    json_t *c2 = answer("{\"series\":[{\"tags\":{\"b\":\"2\",\"a\":\"1\"},"
                        "\"columns\":[\"time\",\"i\",\"f\"],\"values\":[[10,2,1.0],"
                        "[11,2,1.0]]},{\"tags\":{\"a\":\"1\",\"b\":\"3\"},"
                        "\"columns\":[\"time\",\"f\"],\"values\":[[10,1.0]]}]}");
    json_t *c3 = answer("{\"series\":[{\"tags\":{\"a\":\"1\",\"b\":\"2\"},"
                        "\"columns\":[\"time\",\"f\",\"i\"],\"values\":[[10,1.5,2]]}]}");
    CHECK_EQ_INT(scrub_points_add(&p, c1), 0, "keeping returns 0");
    CHECK(k1.n == 2 && p.n_values == 2 && !p.too_many, "keeping puts each value in the map");
    scrub_points_deinit(&p);
    scrub_points_init(&p, &u, 0);
    p.keep = &k2;
    scrub_points_add(&p, c2);
    scrub_points_deinit(&p);
    int same = 1;
    uint64_t v1, v2;
    for (size_t i = 0; i < k1.cap; i++)
        if (k1.keys[i] != 0)
            same &= scrub_hmap_get(&k2, k1.keys[i], &v2) && scrub_hmap_get(&k1, k1.keys[i], &v1) &&
                    v1 == v2;
    CHECK(same, "tags in another order and empty tags: the same keys and values");
    CHECK_EQ_INT(k2.n, 5, "another time or another series: other keys");
    struct scrub_hmap k3 = {0};
    scrub_points_init(&p, &u, 0);
    p.keep = &k3;
    scrub_points_add(&p, c3);
    scrub_points_deinit(&p);
    size_t differ = 0;
    for (size_t i = 0; i < k3.cap; i++)
        if (k3.keys[i] != 0 && (!scrub_hmap_get(&k1, k3.keys[i], &v1) ||
                                (scrub_hmap_get(&k3, k3.keys[i], &v2) && v1 != v2)))
            differ++;
    CHECK_EQ_INT(differ, 1, "another value of the same key: its hash differs, the rest match");
    scrub_hmap_deinit(&k1);
    scrub_hmap_deinit(&k2);
    scrub_hmap_deinit(&k3);

    CHECK(scrub_unit_ftype(&u, "f", 0) == SCRUB_FT_FLOAT &&
              scrub_unit_ftype(&u, "u", 0) == SCRUB_FT_UNSIGNED &&
              scrub_unit_ftype(&u, "nope", 1) == SCRUB_FT_NONE,
          "a field's type: the side's, else the other's, none for no such field");
    json_decref(a);
    json_decref(b);
    json_decref(c1);
    json_decref(c2);
    json_decref(c3);
    buf_deinit(&g.lines);
    scrub_unit_deinit(&u);
    return tap_done();
}
