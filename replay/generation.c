/* The generations of InfluxDB a backend can be: write URLs (1.x /write, 2.x /api/v2/write,
 * 3.x /api/v3/write_lp), liveness paths, the reading of 2.x's and 3.x's answers and the
 * statements that have an equivalent there. Pure; owns nothing; any thread.
 *
 * 3.x (InfluxDB 3 Core) answers a write with line protocol errors as a 400 whose JSON body has
 * an "error" text and a "data" array of {"original_line","line_number","error_message"}, with
 * accept_partial=true (its default) after it stored the other lines, with accept_partial=false
 * having stored nothing. It refuses what 1.x takes, per line: a tag and a field of one name, a
 * new tag on a table that exists, a field of another type than the table's. Lines are numbered
 * from 1 in the body as sent. */
#include "replay/generation.h"

#include "common/err.h"
#include "common/precision.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *replay_api_name(enum replay_api api)
{
    switch (api) {
    case REPLAY_API_V2:
        return "v2";
    case REPLAY_API_V3:
        return "v3";
    case REPLAY_API_V1:
        break;
    }
    return "v1";
}

int replay_api_parse(const char *s, enum replay_api *out)
{
    if (strcmp(s, "v1") == 0)
        *out = REPLAY_API_V1;
    else if (strcmp(s, "v2") == 0)
        *out = REPLAY_API_V2;
    else if (strcmp(s, "v3") == 0)
        *out = REPLAY_API_V3;
    else
        return IWR_EINVAL;
    return 0;
}

void gen_append_escaped(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const char *end = s + n; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        /* Not isalnum: a locale must not let a byte above 127 through. */
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append(out, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(out, e, 3);
        }
    }
}

void gen_expand(struct buf *out, const char *tmpl, const char *db, const char *rp)
{
    const char *p = tmpl;
    while (*p != '\0') {
        if (strncmp(p, "{db}", 4) == 0) {
            buf_append_str(out, db);
            p += 4;
        } else if (strncmp(p, "{rp}", 4) == 0) {
            buf_append_str(out, rp[0] != '\0' ? rp : "autogen");
            p += 4;
        } else {
            buf_append(out, p, 1);
            p++;
        }
    }
}

void gen_target_name(struct buf *out, const struct gen_target *t, const char *db, const char *rp)
{
    switch (t->api) {
    case REPLAY_API_V2:
        gen_expand(out, t->bucket_template != NULL ? t->bucket_template : "{db}/{rp}", db, rp);
        break;
    case REPLAY_API_V3:
        gen_expand(out, t->database_template != NULL ? t->database_template : "{db}", db, rp);
        break;
    case REPLAY_API_V1:
        buf_append_str(out, db);
        break;
    }
}

/* 2.x's spellings (ns, us, ms, s) and 3.x's (nanosecond, ...). The log holds nanoseconds, so
 * anything coarser than seconds never reaches here; it is sent as nanoseconds to be safe. */
static const char *precision_name(enum replay_api api, uint8_t p)
{
    static const char *const v2[] = {"ns", "us", "ms", "s"};
    static const char *const v3[] = {"nanosecond", "microsecond", "millisecond", "second"};
    unsigned i = p <= LP_S ? p : LP_NS;
    return api == REPLAY_API_V3 ? v3[i] : v2[i];
}

void gen_write_url(struct buf *out, const struct gen_target *t, const char *db, const char *rp,
                   uint8_t precision)
{
    struct buf name;
    buf_init(&name);
    gen_target_name(&name, t, db, rp);
    buf_append_str(out, t->base);
    switch (t->api) {
    case REPLAY_API_V1:
        buf_append_str(out, "/write?db=");
        gen_append_escaped(out, name.data, name.len);
        if (rp[0] != '\0') {
            buf_append_str(out, "&rp=");
            gen_append_escaped(out, rp, strlen(rp));
        }
        buf_append_str(out, "&precision=");
        buf_append_str(out, lp_precision_v1_name(precision));
        break;
    case REPLAY_API_V2:
        buf_append_str(out, "/api/v2/write?org=");
        if (t->org != NULL)
            gen_append_escaped(out, t->org, strlen(t->org));
        buf_append_str(out, "&bucket=");
        gen_append_escaped(out, name.data, name.len);
        buf_append_str(out, "&precision=");
        buf_append_str(out, precision_name(t->api, precision));
        break;
    case REPLAY_API_V3:
        buf_append_str(out, "/api/v3/write_lp?db=");
        gen_append_escaped(out, name.data, name.len);
        buf_append_str(out, "&precision=");
        buf_append_str(out, precision_name(t->api, precision));
        buf_append_str(out, t->accept_partial ? "&accept_partial=true" : "&accept_partial=false");
        if (t->no_sync)
            buf_append_str(out, "&no_sync=true");
        break;
    }
    buf_append(out, "", 1);
    buf_deinit(&name);
}

const char *gen_ping_path(enum replay_api api)
{
    return api == REPLAY_API_V1 ? "/ping" : "/health";
}

/* ---- answers ------------------------------------------------------------------------------ */

/* The next "line_number": N in p[0, end): *v = N (0 when no digits follow the key), the text
 * after it returned; NULL when there is none. */
static const char *next_line_number(const char *p, const char *end, size_t *v)
{
    const char *k = replay_body_find(p, (size_t)(end - p), "\"line_number\"");
    if (k == NULL)
        return NULL;
    p = k + 13;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n'))
        p++;
    *v = 0;
    for (int digits = 0; p < end && *p >= '0' && *p <= '9' && digits < 12; digits++)
        *v = *v * 10 + (size_t)(*p++ - '0');
    return p;
}

/* The "line_number": N in 'body' that are 1 to 'max', sorted, without repeats, the smallest
 * 'cap' of them into 'out'; how many. Reads the numbers only: an "original_line" holding that
 * text inside its string is escaped JSON and cannot have an unescaped quote before the colon,
 * so "\"line_number\":" is only ever the key. */
static size_t line_numbers(const char *body, size_t len, size_t max, size_t *out, size_t cap)
{
    size_t n = 0;
    const char *p = body, *end = body + len;
    for (;;) {
        size_t v;
        p = next_line_number(p, end, &v);
        if (p == NULL)
            break;
        if (v == 0 || v > max)
            continue;
        size_t i = n;
        while (i > 0 && out[i - 1] > v) /* insertion: the list is short */
            i--;
        if ((i > 0 && out[i - 1] == v) || i == cap)
            continue;
        if (n == cap) /* keep the smallest: the largest goes */
            n--;
        memmove(out + i + 1, out + i, (n - i) * sizeof(*out));
        out[i] = v;
        n++;
    }
    return n;
}

/* The smallest "line_number": N in 'body' (0: none). */
static size_t first_line_number(const char *body, size_t len)
{
    size_t first;
    return line_numbers(body, len, SIZE_MAX, &first, 1) == 1 ? first : 0;
}

size_t gen_v3_partial_lines(const char *body, size_t len, size_t lines, size_t *out, size_t cap)
{
    if (replay_body_find(body, len, "partial write of line protocol occurred") == NULL)
        return 0;
    return line_numbers(body, len, lines, out, cap);
}

struct replay_verdict gen_classify_v3(CURLcode result, long http, const char *body, size_t len,
                                      size_t lines, size_t *split_after)
{
    *split_after = 0;
    struct replay_verdict v = replay_classify(result, http, body, len);
    v.db_missing = 0; /* 3.x creates a database on its first write */
    if (result != CURLE_OK || http != 400)
        return v;
    size_t first = first_line_number(body, len);
    if (first == 0 || first > lines) {
        /* Not about a line (a database name 3.x refuses, a bad parameter): every line of the
         * batch shares it. */
        v.action = REPLAY_DEAD;
        return v;
    }
    if (lines <= 1) {
        v.action = REPLAY_DEAD;
        return v;
    }
    v.action = REPLAY_SPLIT;
    /* Lines before the first refused one, or that line alone when it is the first. */
    *split_after = first > 1 ? first - 1 : 1;
    return v;
}

struct replay_verdict gen_classify_v2(CURLcode result, long http, const char *body, size_t len)
{
    struct replay_verdict v = replay_classify(result, http, body, len);
    v.db_missing = 0;
    if (result == CURLE_OK && http == 422) /* outside the bucket's retention: all of it */
        v.action = REPLAY_SPLIT;
    /* OSS answers an org that is not there with 400 (the reference's PostWrite orgNotFound
     * example), not 404: the backend's configuration, not the lines, so hold like a 404
     * rather than split the batch into dead letters. */
    if (result == CURLE_OK && http == 400 &&
        replay_body_find(body, len, "failed to decode request body: organization not found") !=
            NULL) {
        v.action = REPLAY_HOLD;
        v.down = 0;
    }
    return v;
}

struct replay_verdict gen_classify_v3_statement(CURLcode result, long http, enum gen_stmt kind)
{
    if (result == CURLE_OK && ((http == 409 && kind == GEN_STMT_CREATE_DATABASE) ||
                               (http == 404 && kind == GEN_STMT_DROP_DATABASE))) {
        struct replay_verdict v = {REPLAY_ACK, 0, 0};
        return v;
    }
    /* Otherwise a /query answer's rules, without a body: 3.x's JSON answers carry no
     * statement "error" member. */
    return replay_classify_statement(result, http, NULL, 0);
}

struct replay_verdict gen_classify_v2_statement(CURLcode result, long http, enum gen_stmt kind,
                                                int step)
{
    if (result == CURLE_OK && step == 0 && http == 200 && kind == GEN_STMT_CREATE_DATABASE) {
        struct replay_verdict v = {REPLAY_DEAD, 0, 0}; /* no org of that name */
        return v;
    }
    if (result == CURLE_OK && step == 1 && http == 422 && kind == GEN_STMT_CREATE_DATABASE) {
        struct replay_verdict v = {REPLAY_ACK, 0, 0};
        return v;
    }
    /* A DELETE on a bucket that is not there (404) had nothing to delete: applied. */
    if (kind == GEN_STMT_DELETE)
        return gen_classify_v3_statement(result, http, GEN_STMT_DROP_DATABASE);
    /* DROP's DELETE answering 404 is applied by the 3.x rule; CREATE's lookup 404 (no such
     * org) is refused by it. */
    enum gen_stmt as = step == 1 ? kind : GEN_STMT_CREATE_DATABASE;
    return gen_classify_v3_statement(result, http, as);
}

/* ---- statements --------------------------------------------------------------------------- */

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Keyword 'kw' (case-insensitive) followed by a space: *pp moves past both. */
static int keyword(const char **pp, const char *end, const char *kw)
{
    size_t n = strlen(kw);
    const char *p = skip_space(*pp, end);
    if ((size_t)(end - p) <= n || strncasecmp(p, kw, n) != 0 || !isspace((unsigned char)p[n]))
        return 0;
    *pp = p + n;
    return 1;
}

/* The text between the quote at p and the next one of the same kind, backslash escapes
 * taken, into out (NUL-terminated, *len its length): identifiers and string literals quote
 * alike. The text after the closing quote; NULL when it is missing or the text needs more
 * than 'cap'. */
static const char *unquote(const char *p, const char *end, char *out, size_t cap, size_t *len)
{
    char quote = *p;
    size_t n = 0;
    for (p++; p < end && *p != quote; p++) {
        if (*p == '\\' && p + 1 < end)
            p++;
        if (n + 1 >= cap)
            return NULL;
        out[n++] = *p;
    }
    if (p >= end)
        return NULL;
    out[n] = '\0';
    *len = n;
    return p + 1;
}

/* A bare [A-Za-z0-9_] identifier or a "quoted" one (backslash escapes). */
static int identifier(const char **pp, const char *end, char *out, size_t cap)
{
    const char *p = skip_space(*pp, end);
    size_t n = 0;
    if (p < end && *p == '"') {
        p = unquote(p, end, out, cap, &n);
        if (p == NULL)
            return 0;
    } else {
        while (p < end && (isalnum((unsigned char)*p) || *p == '_')) {
            if (n + 1 >= cap)
                return 0;
            out[n++] = *p++;
        }
        out[n] = '\0';
    }
    *pp = p;
    return n > 0;
}

/* Only space, and one ';' with space after it, from p to the end: a single statement. */
static int statement_ends(const char *p, const char *end)
{
    p = skip_space(p, end);
    if (p < end && *p == ';')
        p = skip_space(p + 1, end);
    return p == end;
}

enum gen_stmt gen_statement_kind(const char *q, size_t len, char *db, size_t db_cap)
{
    const char *p = q, *end = q + len;
    enum gen_stmt kind;
    if (keyword(&p, end, "CREATE"))
        kind = GEN_STMT_CREATE_DATABASE;
    else if (keyword(&p, end, "DROP"))
        kind = GEN_STMT_DROP_DATABASE;
    else
        return GEN_STMT_UNSUPPORTED;
    if (!keyword(&p, end, "DATABASE") || !identifier(&p, end, db, db_cap))
        return GEN_STMT_UNSUPPORTED;
    return statement_ends(p, end) ? kind : GEN_STMT_UNSUPPORTED; /* WITH, a second statement */
}

/* ---- DELETE for 2.x's delete API ---------------------------------------------------------- */

#define GEN_TIME_MIN (INT64_MIN + 2) /* 2.x's earliest and latest storable times */
#define GEN_TIME_MAX (INT64_MAX - 1)

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char **pp, const char *end, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++, (*pp)++) {
        if (*pp >= end || !isdigit((unsigned char)**pp))
            return 0;
        v = v * 10 + (**pp - '0');
    }
    *out = v;
    return 1;
}

/* 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.frac]' or RFC 3339 ('T', then 'Z' or an offset), as
 * InfluxQL reads a time string; s[0, len) is between the quotes. */
static int parse_time_string(const char *s, size_t len, int64_t *ns)
{
    const char *p = s, *end = s + len;
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
    if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    if (p < end) {
        if (*p != 'T' && *p != ' ')
            return 0;
        p++;
        if (!digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi) ||
            p >= end || *p++ != ':' || !digits(&p, end, 2, &sec) || h > 23 || mi > 59 || sec > 60)
            return 0;
        if (p < end && *p == '.') {
            int n = 0;
            for (p++; p < end && isdigit((unsigned char)*p); p++, n++)
                if (n < 9)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return 0;
            for (; n < 9; n++)
                frac *= 10;
        }
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
            int sign = *p++ == '-' ? -1 : 1;
            int64_t oh, om;
            if (!digits(&p, end, 2, &oh) || p >= end || *p++ != ':' || !digits(&p, end, 2, &om))
                return 0;
            off = sign * (oh * 3600 + om * 60);
        }
        if (p != end)
            return 0;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    if (secs <= GEN_TIME_MIN / 1000000000 || secs >= GEN_TIME_MAX / 1000000000)
        return 0;
    *ns = secs * 1000000000 + frac;
    return 1;
}

/* A time in a comparison: an integer (nanoseconds), or a 'string', optionally followed by
 * "+ 1h" / "- 30m" (what now() - 1h becomes once logged: iql_rewrite_now). */
static int time_value(const char **pp, const char *end, int64_t *ns)
{
    const char *p = skip_space(*pp, end);
    if (p < end && *p == '\'') {
        const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
        if (q == NULL || !parse_time_string(p + 1, (size_t)(q - p - 1), ns))
            return 0;
        p = q + 1;
    } else {
        int neg = p < end && *p == '-';
        p += neg;
        if (p >= end || !isdigit((unsigned char)*p))
            return 0;
        int64_t v = 0;
        for (; p < end && isdigit((unsigned char)*p); p++) {
            if (v > (INT64_MAX - 9) / 10)
                return 0;
            v = v * 10 + (*p - '0');
        }
        *ns = neg ? -v : v;
    }
    const char *r = skip_space(p, end);
    if (r < end && (*r == '+' || *r == '-')) {
        int sign = *r == '-' ? -1 : 1;
        r = skip_space(r + 1, end);
        int64_t n = 0;
        if (r >= end || !isdigit((unsigned char)*r))
            return 0;
        for (; r < end && isdigit((unsigned char)*r); r++) {
            if (n > 1000000000000LL)
                return 0;
            n = n * 10 + (*r - '0');
        }
        static const struct {
            const char *u;
            int64_t ns;
        } units[] = {{"ns", 1},
                     {"ms", 1000000},
                     {"us", 1000},
                     {"u", 1000},
                     {"s", 1000000000LL},
                     {"m", 60000000000LL},
                     {"h", 3600000000000LL},
                     {"d", 86400000000000LL},
                     {"w", 604800000000000LL}};
        size_t i = 0;
        for (; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t ul = strlen(units[i].u);
            if ((size_t)(end - r) >= ul && strncmp(r, units[i].u, ul) == 0 &&
                (r + ul == end || !isalnum((unsigned char)r[ul]))) {
                r += ul;
                break;
            }
        }
        if (i == sizeof(units) / sizeof(units[0]) || n > INT64_MAX / units[i].ns / 2)
            return 0;
        if (__builtin_add_overflow(*ns, sign * n * units[i].ns, ns))
            return 0;
        p = r;
    }
    *pp = p;
    return 1;
}

/* A 'string' literal's contents into out (backslash escapes taken). */
static int string_literal(const char **pp, const char *end, char *out, size_t cap)
{
    const char *p = skip_space(*pp, end);
    size_t n;
    if (p >= end || *p != '\'')
        return 0;
    p = unquote(p, end, out, cap, &n);
    if (p == NULL)
        return 0;
    *pp = p;
    return 1;
}

static void append_rfc3339nano(struct buf *out, int64_t ns)
{
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    buf_printf(out, "\"%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09lldZ\"", (long long)y,
               (long long)m, (long long)d, (long long)(rem / 3600), (long long)(rem / 60 % 60),
               (long long)(rem % 60), (long long)frac);
}

/* A double-quoted delete-predicate string ("a \"b\"": 2.x's predicate escapes quotes). */
static void append_predicate_string(struct buf *out, const char *s)
{
    buf_append_str(out, "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_append_str(out, "\\");
        buf_append(out, s, 1);
    }
    buf_append_str(out, "\"");
}

int gen_v2_delete_body(struct buf *out, const char *q, size_t len)
{
    const char *p = q, *end = q + len;
    char name[256], value[256];
    struct buf pred;
    buf_init(&pred);
    int64_t start = GEN_TIME_MIN, stop = GEN_TIME_MAX;
    int ok = keyword(&p, end, "DELETE");
    int any = 0;
    if (ok && keyword(&p, end, "FROM")) {
        ok = identifier(&p, end, name, sizeof(name));
        if (ok) {
            buf_append_str(&pred, "_measurement=");
            append_predicate_string(&pred, name);
            any = 1;
        }
        const char *r = skip_space(p, end);
        /* Nothing but a space or the end after the name: no "a, b", no "db.rp.m". */
        ok = ok && (r == end || *r == ';' || isspace((unsigned char)p[0]));
    }
    if (ok && keyword(&p, end, "WHERE")) {
        any = 1;
        do {
            if (!identifier(&p, end, name, sizeof(name))) {
                ok = 0;
                break;
            }
            p = skip_space(p, end);
            if (strcasecmp(name, "time") == 0) { /* bare or "quoted", as InfluxQL reads it */
                int op;                          /* 3 '>=', 2 '>', 1 '<=', 0 '<' */
                if (p < end && (*p == '>' || *p == '<')) {
                    op = *p++ == '>' ? 2 : 0;
                    if (p < end && *p == '=') {
                        op |= 1;
                        p++;
                    }
                } else {
                    ok = 0;
                    break;
                }
                int64_t t;
                if (!time_value(&p, end, &t)) {
                    ok = 0;
                    break;
                }
                if (t < GEN_TIME_MIN + 1)
                    t = GEN_TIME_MIN + 1;
                if (t > GEN_TIME_MAX - 1)
                    t = GEN_TIME_MAX - 1;
                /* 2.x's start and stop are both inclusive. */
                if (op == 3 && t > start)
                    start = t;
                else if (op == 2 && t + 1 > start)
                    start = t + 1;
                else if (op == 1 && t < stop)
                    stop = t;
                else if (op == 0 && t - 1 < stop)
                    stop = t - 1;
            } else {
                if (p >= end || *p != '=' || (p + 1 < end && p[1] == '~') ||
                    !string_literal((p++, &p), end, value, sizeof(value))) {
                    ok = 0; /* !=, =~, a number, a field: 2.x's predicate has no equivalent */
                    break;
                }
                if (pred.len > 0)
                    buf_append_str(&pred, " AND ");
                if (name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789_")] != '\0') {
                    ok = 0; /* a key the predicate cannot write bare */
                    break;
                }
                buf_append_str(&pred, name);
                buf_append_str(&pred, "=");
                append_predicate_string(&pred, value);
            }
        } while (keyword(&p, end, "AND"));
    }
    ok = ok && any && statement_ends(p, end) && start <= stop;
    if (ok) {
        buf_append_str(out, "{\"start\":");
        append_rfc3339nano(out, start);
        buf_append_str(out, ",\"stop\":");
        append_rfc3339nano(out, stop);
        if (pred.len > 0) {
            buf_append_str(out, ",\"predicate\":");
            buf_append(&pred, "", 1);
            buf_append_json_quoted(out, pred.data);
        }
        buf_append_str(out, "}");
    }
    buf_deinit(&pred);
    return ok ? 0 : IWR_EINVAL;
}
