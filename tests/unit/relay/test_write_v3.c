/* Table test of write_map_bucket (relay/write_v3.c): a 2.x bucket or a 3.x database name to the
 * db/rp it is written to, through [[bucket]] first, else "db/rp" or "db". */
#include "tests/unit/tap.h"

#include "relay/relay_int.h"

int main(void)
{
    static const struct relay_bucket map[] = {
        {"by-name", "mapped", NULL},
        {"metrics/short", "m", "weekly"},
    };
    struct relay_options cfg = {.buckets = map, .n_buckets = 2};
    static const struct {
        const char *bucket, *db, *rp;
    } rows[] = {
        {"db", "db", ""},
        {"db/rp", "db", "rp"},
        {"db/rp/x", "db", "rp/x"},
        {"db/", "db", ""},
        {"/rp", "", "rp"},
        {"", "", ""},
        {"by-name", "mapped", ""},
        {"by-name/rp", "by-name", "rp"},
        {"metrics/short", "m", "weekly"},
        {"metrics", "metrics", ""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct buf db, rp;
        buf_init(&db);
        buf_init(&rp);
        write_map_bucket(&cfg, rows[i].bucket, strlen(rows[i].bucket), &db, &rp);
        if (!CHECK(strcmp(db.data, rows[i].db) == 0 && strcmp(rp.data, rows[i].rp) == 0 &&
                       db.len == strlen(rows[i].db) && rp.len == strlen(rows[i].rp),
                   "bucket '%s' -> '%s' / '%s'", rows[i].bucket, rows[i].db, rows[i].rp))
            printf("#   got '%s' / '%s'\n", db.data, rp.data);
        buf_deinit(&db);
        buf_deinit(&rp);
    }
    /* The length bounds the read: the name need not be NUL-terminated. */
    struct buf db, rp;
    buf_init(&db);
    buf_init(&rp);
    write_map_bucket(&cfg, "by-name/xyz", 7, &db, &rp);
    CHECK(strcmp(db.data, "mapped") == 0 && rp.len == 0, "reads 'len' bytes only");
    buf_deinit(&db);
    buf_deinit(&rp);
    return tap_done();
}
