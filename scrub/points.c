/* The point-by-point look at one window (see points.h): the values of a SELECT * ... GROUP BY *
 * answer keyed and hashed, and its points as line protocol. Pure; the caller's thread. */
#include "scrub/points.h"

#include <inttypes.h>
#include <string.h>

uint64_t scrub_value_hash(enum scrub_ftype t, const json_t *v)
{
    uint64_t h = (uint64_t)t * 0x9e3779b97f4a7c15ull;
    if (t == SCRUB_FT_FLOAT) {
        double d = json_number_value(v);
        return scrub_hash(h, &d, sizeof(d));
    }
    if (t == SCRUB_FT_INTEGER || t == SCRUB_FT_UNSIGNED) {
        int64_t i = json_integer_value(v);
        return scrub_hash(h, &i, sizeof(i));
    }
    if (t == SCRUB_FT_BOOLEAN)
        return scrub_hash(h, json_is_true(v) ? "t" : "f", 1);
    const char *s = json_string_value(v);
    return scrub_hash(h, s ? s : "", s ? json_string_length(v) : 0);
}

uint64_t scrub_point_key(uint64_t series, int64_t t, const char *field)
{
    /* The time is hashed as bytes, not xor'ed into the series' hash: FNV-1a starts by xor'ing
     * the first byte, so (h ^ t1, "n") and (h ^ t2, "v") collided whenever t1 ^ t2 was 'n' ^ 'v'
     * (24 ns apart), and a point the other side lacked was taken for present. */
    return scrub_hash(scrub_hash(series, &t, sizeof(t)), field, strlen(field));
}

void scrub_lp_escape(struct buf *b, const char *s, const char *special)
{
    for (; *s != '\0'; s++) {
        if (strchr(special, *s) != NULL)
            buf_append(b, "\\", 1);
        buf_append(b, s, 1);
    }
}

void scrub_lp_value(struct buf *b, enum scrub_ftype ft, const json_t *v)
{
    if (ft == SCRUB_FT_FLOAT) {
        buf_printf(b, "%.17g", json_number_value(v));
    } else if (ft == SCRUB_FT_INTEGER || ft == SCRUB_FT_UNSIGNED) {
        buf_printf(b, "%" PRId64 "%s", (int64_t)json_integer_value(v),
                   ft == SCRUB_FT_INTEGER ? "i" : "u");
    } else if (ft == SCRUB_FT_BOOLEAN) {
        buf_append_str(b, json_is_true(v) ? "true" : "false");
    } else {
        const char *sv = json_string_value(v);
        buf_append(b, "\"", 1);
        scrub_lp_escape(b, sv ? sv : "", "\"\\");
        buf_append(b, "\"", 1);
    }
}

enum scrub_ftype scrub_unit_ftype(const struct scrub_unit *u, const char *name, int side)
{
    for (size_t i = 0; i < u->n_fields; i++)
        if (strcmp(u->fields[i].name, name) == 0)
            return u->fields[i].type[side] != SCRUB_FT_NONE ? u->fields[i].type[side]
                                                            : u->fields[i].type[1 - side];
    return SCRUB_FT_NONE;
}

void scrub_points_init(struct scrub_points *p, const struct scrub_unit *u, int side)
{
    memset(p, 0, sizeof(*p));
    p->u = u;
    p->side = side;
    buf_init(&p->series);
    buf_init(&p->line);
}

void scrub_points_deinit(struct scrub_points *p)
{
    buf_deinit(&p->series);
    buf_deinit(&p->line);
}

/* The series' hash, and its key as line protocol ("m,k=v,...") in p->series. */
static uint64_t series_of(struct scrub_points *p, const json_t *tags)
{
    /* GROUP BY * names every tag key of the measurement, "" where the series has none: only
     * the non-empty ones are the series, summed so that their order does not matter. */
    uint64_t sh = 0;
    const char *k;
    json_t *v;
    buf_clear(&p->series);
    scrub_lp_escape(&p->series, p->u->m, ", ");
    json_object_foreach((json_t *)tags, k, v)
    {
        const char *tv = json_string_value(v);
        if (tv == NULL || tv[0] == '\0')
            continue;
        sh += scrub_hash(scrub_hash(0, k, strlen(k) + 1), tv, strlen(tv));
        buf_append(&p->series, ",", 1);
        scrub_lp_escape(&p->series, k, ",= ");
        buf_append(&p->series, "=", 1);
        scrub_lp_escape(&p->series, tv, ",= ");
    }
    return sh;
}

/* One row: its values to the map or the callback, then its point when a value was written. */
static int row_of(struct scrub_points *p, uint64_t sh, const json_t *cols, const json_t *row)
{
    int64_t t = json_integer_value(json_array_get(row, 0));
    size_t written = 0;
    buf_clear(&p->line);
    buf_append(&p->line, p->series.data, p->series.len);
    for (size_t c = 1; c < json_array_size(cols) && c < json_array_size(row); c++) {
        const json_t *cv = json_array_get(row, c);
        const char *fname = json_string_value(json_array_get(cols, c));
        if (json_is_null(cv) || fname == NULL)
            continue;
        enum scrub_ftype ft = scrub_unit_ftype(p->u, fname, p->side);
        uint64_t key = scrub_point_key(sh, t, fname);
        uint64_t val = scrub_value_hash(ft, cv);
        if (p->keep != NULL) {
            if (++p->n_values > SCRUB_POINTS_MAX_VALUES) {
                p->too_many = 1;
                return 1;
            }
            scrub_hmap_put(p->keep, key, val);
            continue;
        }
        int write = 0;
        int rc = p->value(p->arg, key, val, &write);
        if (rc != 0)
            return rc;
        if (!write)
            continue;
        buf_append(&p->line, written++ ? "," : " ", 1);
        scrub_lp_escape(&p->line, fname, ",= ");
        buf_append(&p->line, "=", 1);
        scrub_lp_value(&p->line, ft, cv);
    }
    if (written == 0 || p->point == NULL)
        return 0;
    buf_printf(&p->line, " %" PRId64 "\n", t);
    return p->point(p->arg, p->line.data, p->line.len);
}

int scrub_points_add(struct scrub_points *p, const json_t *result)
{
    const json_t *all = json_object_get(result, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        const json_t *ser = json_array_get(all, i);
        const json_t *cols = json_object_get(ser, "columns");
        const json_t *vals = json_object_get(ser, "values");
        uint64_t sh = series_of(p, json_object_get(ser, "tags"));
        for (size_t r = 0; r < json_array_size(vals); r++) {
            int rc = row_of(p, sh, cols, json_array_get(vals, r));
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}
