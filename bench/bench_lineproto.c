/* Micro-benchmark of lp_normalize on typical telegraf-like lines: builds about 200 MB of lines
 * in memory, then normalises them in 1 MB request bodies, with and without timestamps, and
 * prints MB/s and lines/s for each. Single-threaded; about 5 s. */
#include "common/buf.h"
#include "common/clock.h"
#include "relay/lineproto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL_BYTES ((size_t)200 << 20)
#define BODY_BYTES ((size_t)1 << 20)

static double now_s(void)
{
    return (double)clock_monotonic_ns() / 1e9;
}

/* Lines shaped like telegraf's cpu, mem, disk and net inputs. */
static size_t make_lines(struct buf *b, int with_ts, size_t total)
{
    static const char *const hosts[] = {"server01", "server02", "web-17", "db-3"};
    static const char *const regions[] = {"us-west", "us-east", "eu-central"};
    uint64_t ts = UINT64_C(1700000000000000000);
    size_t lines = 0;
    unsigned r = 12345;
    while (b->len < total) {
        r = r * 1103515245u + 12345u;
        const char *host = hosts[(r >> 8) % 4], *region = regions[(r >> 12) % 3];
        double v = (double)((r >> 4) % 10000) / 100.0;
        char line[512];
        int n;
        switch (lines % 4) {
        case 0:
            n = snprintf(line, sizeof(line),
                         "cpu,host=%s,region=%s usage_idle=%.2f,usage_user=%.2f,usage_system="
                         "%.3f,count=%ui",
                         host, region, v, 100.0 - v, v / 7.0, r % 1000);
            break;
        case 1:
            n = snprintf(line, sizeof(line),
                         "mem,host=%s available=%ui,used_percent=%.4f,total=16777216000i,"
                         "free=%ui",
                         host, r, v, r / 3);
            break;
        case 2:
            n = snprintf(line, sizeof(line),
                         "disk,device=sda1,fstype=ext4,host=%s,mode=rw,path=/var used=%ui,"
                         "free=%ui,used_percent=%.2f,inodes_free=%ui",
                         host, r, r / 2, v, r % 100000);
            break;
        default:
            n = snprintf(line, sizeof(line),
                         "net,host=%s,interface=eth0 bytes_recv=%ui,bytes_sent=%ui,err_in=0i,"
                         "drop_in=%ui,up=true",
                         host, r, r / 5, r % 7);
            break;
        }
        buf_append(b, line, (size_t)n);
        if (with_ts) {
            buf_append(b, " ", 1);
            buf_append_u64(b, ts);
            ts += 10000000000u;
        }
        buf_append(b, "\n", 1);
        lines++;
    }
    return lines;
}

static int run(int with_ts)
{
    struct buf in, out;
    buf_init(&in);
    buf_init(&out);
    size_t lines = make_lines(&in, with_ts, TOTAL_BYTES);
    buf_reserve(&out, in.len + in.len / 4);
    struct lp_options opt = {.allow_unsigned = 0, .max_errors = 10};
    size_t points = 0, rejected = 0;

    double t0 = now_s();
    size_t pos = 0;
    while (pos < in.len) {
        /* Cut bodies at a line end, as clients send them. */
        size_t end = pos + BODY_BYTES < in.len ? pos + BODY_BYTES : in.len;
        while (end < in.len && in.data[end - 1] != '\n')
            end++;
        struct lp_result res;
        lp_result_init(&res);
        buf_clear(&out);
        lp_normalize(in.data + pos, end - pos, LP_NS, INT64_C(1700000123456789012), &opt, &out,
                     &res);
        points += res.points;
        rejected += res.rejected;
        lp_result_deinit(&res);
        pos = end;
    }
    double dt = now_s() - t0;

    printf("lineproto %-16s %7.1f MB in %.3f s: %7.1f MB/s, %9.0f lines/s (%zu lines, %zu "
           "rejected)\n",
           with_ts ? "with timestamps" : "no timestamps", (double)in.len / 1e6, dt,
           (double)in.len / 1e6 / dt, (double)lines / dt, points, rejected);
    int ok = points == lines && rejected == 0;
    buf_deinit(&in);
    buf_deinit(&out);
    return ok ? 0 : 1;
}

int main(void)
{
    int rc = run(1);
    rc |= run(0);
    return rc;
}
