/* Option parsing for the CLI's commands: values, flags, sequences and times. */
#include "cmd/influx-wal/cli.h"

#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

int cli_parse(struct cli *cli, const struct cli_opt *opts, const char **pos, size_t max_pos,
              size_t *n_pos)
{
    size_t np = 0;
    for (int i = 0; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (np >= max_pos)
                return cli_usage(cli, "unexpected argument '%s'", a);
            pos[np++] = a;
            continue;
        }
        const struct cli_opt *o = NULL;
        for (const struct cli_opt *p = opts; p && p->name; p++)
            if (strcmp(p->name, a) == 0)
                o = p;
        if (o == NULL)
            return cli_usage(cli, "unknown option %s", a);
        if (o->flag) {
            *o->flag = 1;
        } else {
            if (i + 1 >= cli->argc)
                return cli_usage(cli, "%s needs a value", a);
            *o->val = cli->argv[++i];
        }
    }
    if (n_pos)
        *n_pos = np;
    return 0;
}

int cli_seq(struct cli *cli, const char *what, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0)
        return cli_usage(cli, "%s: '%s' is not a sequence number", what, s);
    *out = v;
    return 0;
}

int cli_time(struct cli *cli, const char *what, const char *s, uint64_t *out_ns)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end != NULL) {
        uint64_t frac = 0, scale = 1000000000u;
        if (*end == '.') {
            for (end++; *end >= '0' && *end <= '9'; end++)
                if (scale > 1) {
                    scale /= 10;
                    frac += (uint64_t)(*end - '0') * scale;
                }
        }
        if (strcmp(end, "Z") == 0) {
            time_t t = timegm(&tm);
            if (t >= 0) {
                *out_ns = (uint64_t)t * 1000000000u + frac;
                return 0;
            }
        }
        return cli_usage(cli, "%s: '%s' is not an RFC 3339 UTC time (2026-11-25T10:00:00Z)",
                         what, s);
    }
    uint64_t ms;
    if (config_parse_duration_ms(s, &ms) == 0 && strspn(s, "0123456789") != strlen(s)) {
        uint64_t now = wal_now_ns();
        uint64_t ago = ms * 1000000u;
        *out_ns = now > ago ? now - ago : 0;
        return 0;
    }
    uint64_t ns;
    if (strspn(s, "0123456789") == strlen(s) && cli_seq(cli, what, s, &ns) == 0) {
        *out_ns = ns;
        return 0;
    }
    return cli_usage(cli, "%s: '%s' is not a time (RFC 3339 UTC, a duration ago like 2h, or Unix ns)",
                     what, s);
}
