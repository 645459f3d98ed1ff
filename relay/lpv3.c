/* Line protocol for /api/v3/write_lp: precision names, auto precision, a verdict per line; see
 * lpv3.h. A body is first normalised whole, in one lp_normalize pass, which is the answer
 * whenever no line is refused and every line is read in one precision (under auto: every
 * timestamp of the first line's unit). Otherwise each line is found with lineproto's own
 * splitter (lp_line_next) and validated alone with lp_normalize, so lines are cut and judged
 * exactly as on /write, and each refusal gets its line number. Pure; any thread. */
#include "relay/lpv3.h"

#include "common/err.h"

#include <string.h>

int lpv3_parse_precision(const char *s, size_t len, struct lpv3_precision *out)
{
    static const struct {
        const char *name;
        int is_auto;
        enum lp_precision p;
    } tab[] = {
        {"auto", 1, LP_NS},         {"second", 0, LP_S},      {"s", 0, LP_S},
        {"millisecond", 0, LP_MS},  {"ms", 0, LP_MS},         {"microsecond", 0, LP_US},
        {"us", 0, LP_US},           {"u", 0, LP_US},          {"nanosecond", 0, LP_NS},
        {"ns", 0, LP_NS},           {"n", 0, LP_NS},
    };
    if (s == NULL)
        return IWR_EPARSE;
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strlen(tab[i].name) == len && memcmp(tab[i].name, s, len) == 0) {
            out->is_auto = tab[i].is_auto;
            out->p = tab[i].p;
            return 0;
        }
    }
    return IWR_EPARSE;
}

enum lp_precision lpv3_guess_precision(int64_t ts)
{
    /* In unsigned arithmetic, so that INT64_MIN has an absolute value too. */
    uint64_t mag = ts < 0 ? (uint64_t)0 - (uint64_t)ts : (uint64_t)ts;
    uint64_t whole = mag / 1000000000u;
    if (whole < 5)
        return LP_S;
    if (whole < 5000)
        return LP_MS;
    if (whole < 5000000)
        return LP_US;
    return LP_NS;
}

const char *lpv3_check_db_name(const char *name, size_t len)
{
    if (len == 0)
        return "db name cannot be empty";
    if (len > 511)
        return "db name too long: max 511";
    int slash = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (ch >= 0x80)
            return "invalid character in database or rp name: must be ASCII, containing only "
                   "letters, numbers, underscores, or hyphens";
        if (i == 0) {
            if (!alnum)
                return "db name did not start with a number or letter";
        } else if (ch == '/') {
            if (slash)
                return "db name with invalid retention policy, if providing a retention policy "
                       "name, must be of form '<db_name>/<rp_name>'";
            slash = 1;
        } else if (!alnum && ch != '_' && ch != '-') {
            return "invalid character in database or rp name: must be ASCII, containing only "
                   "letters, numbers, underscores, or hyphens";
        }
    }
    if (name[len - 1] == '/')
        return "db name with invalid retention policy, if providing a retention policy name, "
               "must be of form '<db_name>/<rp_name>'";
    return NULL;
}

void lpv3_result_init(struct lpv3_result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->errors_json);
    buf_init(&r->first_json);
}

void lpv3_result_deinit(struct lpv3_result *r)
{
    buf_deinit(&r->errors_json);
    buf_deinit(&r->first_json);
}

void lpv3_append_line_error(struct buf *out, const char *msg, size_t msg_len, size_t line_number,
                            const char *line, size_t line_len)
{
    /* 3.x keeps at most 20 bytes of the line, cut back to a UTF-8 character boundary. */
    size_t keep = line_len;
    if (keep > LPV3_ORIGINAL_LINE_MAX) {
        keep = LPV3_ORIGINAL_LINE_MAX;
        while (keep > 0 && ((unsigned char)line[keep] & 0xc0) == 0x80)
            keep--;
    }
    buf_append_str(out, "{\"error_message\":\"");
    buf_append_json_str(out, msg, msg_len);
    buf_append_str(out, "\",\"line_number\":");
    buf_append_u64(out, line_number);
    buf_append_str(out, ",\"original_line\":\"");
    buf_append_json_str(out, line, keep);
    buf_append_str(out, "\"}");
}

/* Where the first line holding more than blanks or a comment starts in s[from, to), and how many
 * "\n" come before it in s[from, ...): the line a refusal names. (A comment holding a quote
 * that spans lines is taken to end at its "\n" here; only the number and text named differ.) */
static size_t skip_empty_lines(const char *s, size_t from, size_t to, size_t *newlines)
{
    size_t i = from;
    while (i < to) {
        size_t j = i;
        while (j < to && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\0'))
            j++;
        if (j < to && s[j] != '\n' && s[j] != '#')
            return i;
        while (j < to && s[j] != '\n')
            j++;
        if (j == to)
            return to;
        (*newlines)++;
        i = j + 1;
    }
    return to;
}

/* 'opt' (NULL: the defaults) describing one refused line: lpv3 takes only the first text of
 * each lp_normalize call. */
static struct lp_options one_description(const struct lp_options *opt)
{
    struct lp_options one = {0};
    if (opt != NULL)
        one = *opt;
    one.max_errors = 1;
    return one;
}

int lpv3_normalize_by_line(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                           const struct lp_options *opt, struct buf *out, struct lpv3_result *res)
{
    res->as_received = 0;
    struct lp_options one = one_description(opt);
    struct lp_result lr;
    lp_result_init(&lr);
    size_t pos = 0;
    size_t line_no = 1; /* of the byte at 'pos' */
    while (pos < len) {
        size_t from = pos;
        struct lp_line ln;
        int rc = lp_line_next(in, len, &pos, LP_NS, &ln);
        if (pos > len)
            pos = len; /* past the "\n" a last line lacks */
        if (rc == 0 && pos <= from)
            break;
        size_t nl = 0;
        size_t start = skip_empty_lines(in, from, pos, &nl);
        size_t this_line = line_no + nl;
        for (size_t i = from; i < pos; i++)
            line_no += in[i] == '\n';
        enum lp_precision p = prec.p;
        if (prec.is_auto)
            p = rc == 1 && ln.has_ts ? lpv3_guess_precision(ln.ts_ns) : LP_NS;
        size_t rejected_before = lr.rejected;
        buf_clear(&lr.errors);
        /* The whole piece the splitter took, so that lp_normalize drops the blank and comment
         * lines before it by its own rule (a quote in a comment line spans lines, as in
         * influxd). 'start' only names the line. */
        lp_normalize(in + from, pos - from, p, now_ns, &one, out, &lr);
        if (lr.rejected == rejected_before)
            continue;
        res->rejected++;
        size_t end = start;
        while (end < pos && in[end] != '\n')
            end++;
        if (end > start && in[end - 1] == '\r')
            end--;
        if (res->rejected == 1)
            lpv3_append_line_error(&res->first_json, lr.errors.data, lr.errors.len, this_line,
                                   in + start, end - start);
        if (res->rejected <= LPV3_MAX_DESCRIBED) {
            if (res->errors_json.len > 0)
                buf_append_str(&res->errors_json, ",");
            lpv3_append_line_error(&res->errors_json, lr.errors.data, lr.errors.len, this_line,
                                   in + start, end - start);
        }
    }
    res->points += lr.points;
    res->stamped += lr.stamped;
    lp_result_deinit(&lr);
    return 0;
}

/* The unit auto reads the body's first line in, as the line-by-line path reads it: its
 * timestamp's, or ns (how a line without one, or a refused one, is read). */
static enum lp_precision auto_first_unit(const char *in, size_t len)
{
    size_t pos = 0;
    struct lp_line ln;
    if (lp_line_next(in, len, &pos, LP_NS, &ln) == 1 && ln.has_ts)
        return lpv3_guess_precision(ln.ts_ns);
    return LP_NS;
}

/* Whether auto reads every line 'lr' accepted at precision 'p' in 'p' itself: each timestamp
 * as sent (ns / the unit) guesses 'p', which the smallest and the largest decide, the guess
 * growing with the magnitude; and a line without one is stamped in ns, as auto stamps it. */
static int auto_reads_all_in(const struct lp_result *lr, enum lp_precision p)
{
    if (lr->stamped > 0 && p != LP_NS)
        return 0;
    if (lr->ts_mag_min > lr->ts_mag_max)
        return 1; /* no timestamp */
    /* Accepted timestamps are in [LP_MIN_NANO, LP_MAX_NANO]: the magnitudes fit in int64. */
    uint64_t unit = (uint64_t)lp_precision_ns(p);
    return lpv3_guess_precision((int64_t)(lr->ts_mag_min / unit)) == p &&
           lpv3_guess_precision((int64_t)(lr->ts_mag_max / unit)) == p;
}

static int normalize(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                     const struct lp_options *opt, struct buf *out, struct lpv3_result *res,
                     int may_borrow)
{
    struct lp_options one = one_description(opt);
    struct lp_result lr;
    lp_result_init(&lr);
    size_t at = out->len;
    /* Under auto the whole pass reads every line in the unit of the first: the answer when the
     * others guess the same unit (checked after it). */
    enum lp_precision p = prec.is_auto ? auto_first_unit(in, len) : prec.p;
    if (may_borrow)
        lp_normalize_borrow(in, len, p, now_ns, &one, out, &lr);
    else
        lp_normalize(in, len, p, now_ns, &one, out, &lr);
    /* A line's verdict and stored form depend on that line alone, and the whole pass cuts lines
     * where lp_line_next does, so without refusals the pass is the line-by-line answer. A
     * refusal needs that path for its line number (and the lines after it for theirs). */
    if (lr.rejected == 0 && (!prec.is_auto || auto_reads_all_in(&lr, p))) {
        res->points += lr.points;
        res->stamped += lr.stamped;
        res->as_received = lr.as_received;
    } else {
        out->len = at;
        lpv3_normalize_by_line(in, len, prec, now_ns, opt, out, res);
    }
    lp_result_deinit(&lr);
    return 0;
}

int lpv3_normalize(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                   const struct lp_options *opt, struct buf *out, struct lpv3_result *res)
{
    return normalize(in, len, prec, now_ns, opt, out, res, 0);
}

int lpv3_normalize_borrow(const char *in, size_t len, struct lpv3_precision prec, int64_t now_ns,
                          const struct lp_options *opt, struct buf *out, struct lpv3_result *res)
{
    return normalize(in, len, prec, now_ns, opt, out, res, 1);
}
