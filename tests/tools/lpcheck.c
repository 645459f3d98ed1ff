/* lpcheck: run lp_normalize from the command line, for people and for the influxd comparison
 * test (tests/integ/test_lineproto_influxd.py). Single-threaded; not built by the Makefile.
 *
 *   lpcheck [-p PRECISION] [-n NOW_NS] [-u] [-e MAX_ERRORS] [-x]
 *
 * Without -x, stdin is one request body; each stored line is printed as "ACCEPT <line>" and each
 * rejected line as "REJECT <error>", then "# points=N rejected=N stamped=N".
 * With -x, each stdin line is one whole body written escaped (\\ \n \r \t \xHH), and each gives
 * exactly one output line: "SKIP" (nothing stored or rejected), "ACCEPT <out>", "REJECT <errors>"
 * or "PARTIAL <out>\t<errors>", where <out> is the stored bytes without the last "\n" and
 * <errors> is res.errors, both escaped the same way. Exit status 2 on bad usage. */
#include "common/buf.h"
#include "relay/lineproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c > 0x7e)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode an escaped body in place; returns its length, or -1 if the escaping is malformed. */
static long unescape(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            s[o++] = s[i];
            continue;
        }
        if (++i >= n)
            return -1;
        switch (s[i]) {
        case '\\':
            s[o++] = '\\';
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        case 't':
            s[o++] = '\t';
            break;
        case 'x': {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            s[o++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            return -1;
        }
    }
    return (long)o;
}

static void run_escaped(const char *body, size_t len, enum lp_precision p, int64_t now,
                        const struct lp_options *opt)
{
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    lp_result_init(&res);
    lp_normalize(body, len, p, now, opt, &out, &res);
    size_t olen = out.len > 0 ? out.len - 1 : 0;
    if (res.points == 0 && res.rejected == 0) {
        fputs("SKIP", stdout);
    } else if (res.rejected == 0) {
        fputs("ACCEPT ", stdout);
        put_escaped(out.data, olen);
    } else if (res.points == 0) {
        fputs("REJECT ", stdout);
        put_escaped(res.errors.data, res.errors.len);
    } else {
        fputs("PARTIAL ", stdout);
        put_escaped(out.data, olen);
        putchar('\t');
        put_escaped(res.errors.data, res.errors.len);
    }
    putchar('\n');
    buf_deinit(&out);
    lp_result_deinit(&res);
}

static void run_plain(const char *body, size_t len, enum lp_precision p, int64_t now,
                      const struct lp_options *opt)
{
    struct buf out;
    struct lp_result res;
    buf_init(&out);
    lp_result_init(&res);
    lp_normalize(body, len, p, now, opt, &out, &res);
    /* A stored line can hold a quoted newline; splitting on every '\n' is good enough here. */
    size_t start = 0;
    for (size_t i = 0; i < out.len; i++) {
        if (out.data[i] == '\n') {
            fputs("ACCEPT ", stdout);
            put_escaped(out.data + start, i - start);
            putchar('\n');
            start = i + 1;
        }
    }
    static const char sep[] = "\nunable to parse '";
    const char *e = res.errors.data, *end = e + res.errors.len;
    while (e != NULL && e < end) {
        const char *next = memmem(e + 1, (size_t)(end - e - 1), sep, sizeof(sep) - 1);
        const char *stop = next != NULL ? next : end;
        fputs("REJECT ", stdout);
        put_escaped(e, (size_t)(stop - e));
        putchar('\n');
        e = next != NULL ? next + 1 : NULL;
    }
    printf("# points=%zu rejected=%zu stamped=%zu\n", res.points, res.rejected, res.stamped);
    buf_deinit(&out);
    lp_result_deinit(&res);
}

static int usage(void)
{
    fputs("usage: lpcheck [-p PRECISION] [-n NOW_NS] [-u] [-e MAX_ERRORS] [-x] < body\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    enum lp_precision p = LP_NS;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    struct lp_options opt = {.allow_unsigned = 0, .max_errors = 1000};
    int escaped = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-u") == 0) {
            opt.allow_unsigned = 1;
        } else if (strcmp(a, "-x") == 0) {
            escaped = 1;
        } else if (i + 1 < argc && strcmp(a, "-p") == 0) {
            a = argv[++i];
            if (lp_parse_precision(a, strlen(a), 0, &p) != 0)
                return usage();
        } else if (i + 1 < argc && strcmp(a, "-n") == 0) {
            char *end;
            errno = 0;
            now = strtoll(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0')
                return usage();
        } else if (i + 1 < argc && strcmp(a, "-e") == 0) {
            opt.max_errors = strtoul(argv[++i], NULL, 10);
        } else {
            return usage();
        }
    }

    struct buf in;
    buf_init(&in);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        buf_append(&in, chunk, n);

    if (!escaped) {
        run_plain(in.data, in.len, p, now, &opt);
    } else {
        size_t start = 0;
        for (size_t i = 0; i <= in.len; i++) {
            if (i < in.len && in.data[i] != '\n')
                continue;
            if (i == in.len && i == start)
                break; /* no body after the last newline */
            long len = unescape(in.data + start, i - start);
            if (len < 0) {
                fputs("BADESCAPE\n", stdout);
            } else {
                run_escaped(in.data + start, (size_t)len, p, now, &opt);
            }
            start = i + 1;
        }
    }
    fflush(stdout);
    buf_deinit(&in);
    return 0;
}
