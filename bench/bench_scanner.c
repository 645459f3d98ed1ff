/* Benchmark of the line-protocol scanner alone (lp_normalize, one thread): 1000-point bodies of
 * telegraf-like lines (cpu, mem, disk, net; tags, floats, integers, a boolean, one string
 * field), with nanosecond timestamps as telegraf sends them, and without (the relay stamps
 * them), and the first again through lp_normalize_borrow, which stores such a body as
 * received instead of copying it. Each body is normalised as a request would be; CPU time is the
 * process's own user + system time (getrusage), so the figures are per core even on a loaded
 * machine. Prints lines/s and MB/s of input for each shape, about 3 s of CPU in all. */
#include "common/buf.h"
#include "relay/lineproto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BODY_POINTS 1000
#define BODIES 64     /* distinct bodies, cycled through */
#define MIN_CPU_S 1.5 /* per shape */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One body of BODY_POINTS lines shaped like telegraf's cpu, mem, disk and net inputs. */
static void make_body(struct buf *b, int with_ts, unsigned *seed, uint64_t *ts)
{
    static const char *const hosts[] = {"server01.example.net", "server02.example.net",
                                        "web-17.prod", "db-3.prod"};
    static const char *const regions[] = {"us-west-2", "us-east-1", "eu-central-1"};
    for (int k = 0; k < BODY_POINTS; k++) {
        unsigned r = *seed = *seed * 1103515245u + 12345u;
        const char *host = hosts[(r >> 8) % 4], *region = regions[(r >> 12) % 3];
        double v = (double)((r >> 4) % 10000) / 100.0;
        char line[512];
        int n;
        switch (k % 4) {
        case 0:
            n = snprintf(line, sizeof(line),
                         "cpu,cpu=cpu%u,host=%s,region=%s usage_guest=0,usage_idle=%.6f,"
                         "usage_iowait=%.6f,usage_system=%.6f,usage_user=%.6f",
                         r % 8, host, region, v, v / 13.0, v / 7.0, 100.0 - v);
            break;
        case 1:
            n = snprintf(line, sizeof(line),
                         "mem,host=%s,region=%s active=%ui,available=%ui,available_percent=%.6f,"
                         "buffered=%ui,free=%ui,total=16777216000i,used_percent=%.6f",
                         host, region, r, r / 3, v, r % 100000, r / 7, v);
            break;
        case 2:
            n = snprintf(line, sizeof(line),
                         "disk,device=nvme0n1p1,fstype=ext4,host=%s,mode=rw,path=/var/lib "
                         "free=%ui,inodes_free=%ui,inodes_total=6553600i,inodes_used=%ui,"
                         "total=104857600000i,used=%ui,used_percent=%.6f",
                         host, r, r % 100000, r % 1000, r / 2, v);
            break;
        default:
            n = snprintf(line, sizeof(line),
                         "net,host=%s,interface=eth0 bytes_recv=%ui,bytes_sent=%ui,drop_in=%ui,"
                         "err_in=0i,up=true,state=\"running\"",
                         host, r, r / 5, r % 7);
            break;
        }
        buf_append(b, line, (size_t)n);
        if (with_ts) {
            buf_append(b, " ", 1);
            buf_append_u64(b, *ts);
            *ts += 1000000;
        }
        buf_append(b, "\n", 1);
    }
}

/* with_ts: 0 no timestamps, 1 with, 2 with and lp_normalize_borrow (stored as received). */
static int run(int with_ts)
{
    struct buf bodies[BODIES], out;
    unsigned seed = 12345;
    uint64_t ts = UINT64_C(1700000000000000000);
    size_t bytes_per_cycle = 0;
    for (int i = 0; i < BODIES; i++) {
        buf_init(&bodies[i]);
        make_body(&bodies[i], with_ts, &seed, &ts);
        bytes_per_cycle += bodies[i].len;
    }
    buf_init(&out);
    buf_reserve(&out, bodies[0].len * 2);
    struct lp_options opt = {.allow_unsigned = 0, .max_errors = 8};
    size_t lines = 0, bytes = 0, bad = 0;
    double t0 = cpu_s(), dt;
    do {
        for (int i = 0; i < BODIES; i++) {
            struct lp_result res;
            lp_result_init(&res);
            buf_clear(&out);
            (with_ts == 2 ? lp_normalize_borrow : lp_normalize)(bodies[i].data, bodies[i].len,
                                                                LP_NS, INT64_C(1700000123456789012),
                                                                &opt, &out, &res);
            bad += res.rejected + (res.points != BODY_POINTS);
            lp_result_deinit(&res);
        }
        lines += (size_t)BODIES * BODY_POINTS;
        bytes += bytes_per_cycle;
        dt = cpu_s() - t0;
    } while (dt < MIN_CPU_S);

    printf("scanner %-16s %5.0f B/line: %8.1f MB/s per core, %6.2f M lines/s per core "
           "(%.1f MB in %.2f s CPU)%s\n",
           with_ts == 2 ? "as-received"
           : with_ts    ? "with timestamps"
                        : "no timestamps",
           (double)bytes_per_cycle / BODIES / BODY_POINTS, (double)bytes / 1e6 / dt,
           (double)lines / 1e6 / dt, (double)bytes / 1e6, dt, bad ? "  REJECTED LINES" : "");
    for (int i = 0; i < BODIES; i++)
        buf_deinit(&bodies[i]);
    buf_deinit(&out);
    return bad ? 1 : 0;
}

int main(void)
{
    int rc = run(1);
    rc |= run(0);
    rc |= run(2);
    return rc;
}
