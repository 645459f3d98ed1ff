/* influxd's rejection texts: for a line the scanner refused, the message influxd 1.6.7 would give
 * for it ("unable to parse '<line>': <reason>"), quoting its parts as influxd names them
 * (unescaped keys, Go's %q). Pure, any thread; see lineproto_int.h. */
#include "relay/lineproto_int.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"

#include <string.h>

/* The measurement as influxd names it in messages: up to the first comma not preceded by a
 * backslash, with \, \" \space \= unescaped. */
static void append_name(struct buf *e, const unsigned char *b, size_t key_len)
{
    size_t end = 0;
    while (end < key_len && !(b[end] == ',' && (end == 0 || b[end - 1] != '\\')))
        end++;
    for (size_t i = 0; i < end; i++) {
        if (b[i] == '\\' && i + 1 < end &&
            (b[i + 1] == ',' || b[i + 1] == '"' || b[i + 1] == ' ' || b[i + 1] == '='))
            i++;
        buf_append(e, &b[i], 1);
    }
}

/* Go's %q for the bytes s[0, n), near enough: the message is for people. */
static void append_quoted(struct buf *e, const unsigned char *s, size_t n)
{
    buf_append(e, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        size_t u = ch >= 0x80 ? utf8_valid_len(s + i, n - i) : 0;
        if (u > 0) {
            buf_append(e, s + i, u);
            i += u - 1;
        } else if (ch == '"' || ch == '\\') {
            buf_printf(e, "\\%c", ch);
        } else if (ch == '\n') {
            buf_append_str(e, "\\n");
        } else if (ch == '\t') {
            buf_append_str(e, "\\t");
        } else if (ch == '\r') {
            buf_append_str(e, "\\r");
        } else if (ch < 0x20 || ch >= 0x7f) {
            buf_printf(e, "\\x%02x", ch);
        } else {
            buf_append(e, &ch, 1);
        }
    }
    buf_append(e, "\"", 1);
}

/* Go's strconv error for the text s[0, n): strconv.<func>: parsing "<s>": <why>. */
static void append_strconv(struct buf *e, const char *func, const void *s, size_t n, int range)
{
    buf_printf(e, "strconv.%s: parsing ", func);
    append_quoted(e, s, n);
    buf_append_str(e, range ? ": value out of range" : ": invalid syntax");
}

/* A field key as influxd's iterator names it (unescaped). */
static void append_key(struct buf *e, const struct lp_field *f)
{
    for (size_t i = 0; i < f->kn;) {
        unsigned char ch = lp_unesc_next(f->k, f->kn, &i);
        buf_append(e, &ch, 1);
    }
}

/* influxd's engine error for a value it cannot read (the write fails with a 500). */
static void append_engine_error(struct buf *e, const struct lp_point *pt, int64_t ns)
{
    const struct lp_field *f = &pt->cf[1];
    int bad = (int)pt->num;
    static const struct {
        const char *kind, *func;
        size_t trim;
    } how[] = {
        [T_FLOAT] = {"floating point", "ParseFloat", 0},
        [T_INTEGER] = {"integer", "ParseInt", 1},
        [T_UNSIGNED] = {"unsigned", "ParseUint", 1},
        [T_BOOLEAN] = {"bool", "ParseBool", 0},
    };
    if (f->type == T_STRING) {
        buf_append_str(e, "runtime error: slice bounds out of range [1:0]");
        return;
    }
    if (f->type == T_EMPTY) {
        /* Then the point as influxd prints it (it would sort unsorted tags; we do not). */
        buf_append_str(e, "engine: unknown field type for ");
        append_key(e, f);
        buf_append_str(e, ": ");
        buf_append(e, pt->b, pt->fields_end);
        buf_append(e, " ", 1);
        buf_append_i64(e, ns);
        return;
    }
    size_t vn = f->vn - how[f->type].trim;
    buf_printf(e, "engine: unable to parse %s value ", how[f->type].kind);
    append_quoted(e, f->v, vn);
    buf_append_str(e, ": ");
    append_strconv(e, how[f->type].func, f->v, vn, bad == 2);
}

void lp_error_add(struct lp_result *res, size_t max_errors, const struct lp_point *pt,
                  int64_t now_ns)
{
    static const char *const text[] = {
        [R_MISSING_MEASUREMENT] = "missing measurement",
        [R_MISSING_FIELDS] = "missing fields",
        [R_MISSING_TAG_KEY] = "missing tag key",
        [R_MISSING_TAG_VALUE] = "missing tag value",
        [R_INVALID_TAG_FORMAT] = "invalid tag format",
        [R_DUPLICATE_TAGS] = "duplicate tags",
        [R_MISSING_FIELD_KEY] = "missing field key",
        [R_MISSING_FIELD_VALUE] = "missing field value",
        [R_UNBALANCED_QUOTES] = "unbalanced quotes",
        [R_INVALID_FIELD_FORMAT] = "invalid field format",
        [R_INVALID_NUMBER] = "invalid number",
        [R_INVALID_FLOAT] = "invalid float",
        [R_INVALID_BOOLEAN] = "invalid boolean",
        [R_BAD_TIMESTAMP] = "bad timestamp",
        [R_TIME_RANGE] = "time outside range -9223372036854775806 - 9223372036854775806",
        [R_POINT_INVALID] = "point is invalid",
        [R_AMBIGUOUS] = "ambiguous line: stored with a nanosecond timestamp it would parse "
                        "differently (trailing backslash or open quote)",
    };
    res->rejected++;
    if (res->rejected > max_errors)
        return;
    struct buf *e = &res->errors;
    if (res->rejected > 1)
        buf_append(e, "\n", 1);
    buf_append_str(e, "unable to parse '");
    buf_append(e, pt->b, pt->n);
    buf_append_str(e, "': ");
    const char *span = (const char *)pt->b + pt->ea;
    size_t span_len = pt->eb - pt->ea;
    switch (pt->reason) {
    case R_TAG_PANIC:
        buf_printf(e, "runtime error: index out of range [%zu] with length %zu", pt->num, pt->num);
        break;
    case R_MAX_KEY:
        buf_printf(e, "max key length exceeded: %zu > %d", pt->num, LP_MAX_KEY);
        break;
    case R_INT_RANGE:
    case R_UINT_RANGE:
        buf_append_str(e, pt->reason == R_INT_RANGE ? "unable to parse integer "
                                                    : "unable to parse unsigned ");
        buf_append(e, span, span_len);
        buf_append_str(e, ": ");
        append_strconv(e, pt->reason == R_INT_RANGE ? "ParseInt" : "ParseUint", span, span_len, 1);
        break;
    case R_INVALID_VALUE:
        buf_append_str(e, "invalid value: field-key=");
        buf_append(e, span, span_len);
        break;
    case R_TS_SYNTAX:
    case R_TS_RANGE:
        append_strconv(e, "ParseInt", span, span_len, pt->reason == R_TS_RANGE);
        break;
    case R_TIME_TAG:
    case R_TIME_FIELD:
        buf_append_str(e, pt->reason == R_TIME_TAG ? "invalid tag key: input tag \"time\""
                                                   : "invalid field name: input field \"time\"");
        buf_append_str(e, " on measurement \"");
        append_name(e, pt->b, pt->key_len);
        buf_append_str(e, "\" is invalid");
        break;
    case R_TYPE_CONFLICT: {
        static const char *const tname[] = {"float", "integer", "unsigned", "string", "boolean"};
        buf_append_str(e, "field type conflict: input field \"");
        append_key(e, &pt->cf[1]);
        buf_append_str(e, "\" on measurement \"");
        append_name(e, pt->b, pt->key_len);
        buf_printf(e, "\" is type %s, already exists as type %s", tname[pt->cf[1].type],
                   tname[pt->cf[0].type]);
        break;
    }
    case R_ENGINE:
        append_engine_error(e, pt, pt->ts_end > pt->ts_start ? pt->ts : now_ns);
        break;
    default:
        IWR_ASSERT(pt->reason > R_OK && pt->reason <= R_AMBIGUOUS && text[pt->reason] != NULL);
        buf_append_str(e, text[pt->reason]);
        break;
    }
}
