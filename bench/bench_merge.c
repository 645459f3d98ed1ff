/* Benchmark of the shards' merge of /query answers (shard_merge_answers_plan, one thread), which
 * runs on the relay's loop: two shards' answers of N series each, as influxd writes them with
 * epoch=ns, merged as series that each live on one shard (GROUP BY host with the default key:
 * SERIES) and as count() buckets of series found on both shards (a tag in the key: BUCKETS,
 * 10 buckets a series). Beside each, the same-run reference: jansson parsing and printing the
 * same bodies alone. CPU time is the process's own (getrusage). Prints milliseconds per merge
 * and MB/s of input; about 4 s of CPU in all. */
#include "common/buf.h"
#include "relay/shard_merge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MIN_CPU_S 0.5 /* per figure */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Shard k's answer: n series cpu,host=h<i> (k's own hosts, or the same on both with 'shared'),
 * 10 rows of [time, count] each. */
static void answer(struct buf *b, int k, int n, int shared)
{
    buf_append_str(b, "{\"results\":[{\"statement_id\":0,\"series\":[");
    for (int i = 0; i < n; i++) {
        buf_printf(b,
                   "%s{\"name\":\"cpu\",\"tags\":{\"host\":\"h%d\"},\"columns\":[\"time\","
                   "\"count\"],\"values\":[",
                   i ? "," : "", shared ? i : 2 * i + k);
        for (int r = 0; r < 10; r++)
            buf_printf(b, "%s[%lld,%d]", r ? "," : "", 1700000040000000000LL + r * 60000000000LL,
                       (i + r + k) % 97);
        buf_append_str(b, "]}");
    }
    buf_append_str(b, "]}]}");
}

static void run(int n, enum shard_merge_kind kind)
{
    struct buf b[2];
    for (int k = 0; k < 2; k++) {
        buf_init(&b[k]);
        answer(&b[k], k, n, kind == SHARD_MERGE_BUCKETS);
    }
    const char *bodies[] = {b[0].data, b[1].data};
    size_t lens[] = {b[0].len, b[1].len};
    struct shard_merge_plan p;
    memset(&p, 0, sizeof(p));
    p.kind = kind;
    p.n_ops = 1;
    p.ops[0] = SHARD_OP_ADD;
    double in_mb = (double)(lens[0] + lens[1]) / 1e6;
    size_t out_len = 0;
    int runs = 0;
    double t0 = cpu_s();
    while (cpu_s() - t0 < MIN_CPU_S || runs < 2) {
        struct buf out, err;
        buf_init(&out);
        buf_init(&err);
        if (shard_merge_answers_plan(bodies, lens, 2, &p, 1, &out, &err) != 0) {
            printf("merge failed: %.*s\n", (int)err.len, err.data);
            exit(1);
        }
        out_len = out.len;
        buf_deinit(&out);
        buf_deinit(&err);
        runs++;
    }
    double merge = (cpu_s() - t0) / runs;
    runs = 0;
    t0 = cpu_s();
    while (cpu_s() - t0 < MIN_CPU_S || runs < 2) {
        for (int k = 0; k < 2; k++) {
            json_error_t je;
            json_t *d = json_loadb(bodies[k], lens[k], 0, &je);
            char *text = json_dumps(d, JSON_COMPACT);
            free(text);
            json_decref(d);
        }
        runs++;
    }
    double ref = (cpu_s() - t0) / runs;
    printf("%-8s 2 x %6d series, %5.1f MB in, %5.1f MB out: merge %8.1f ms (%5.1f MB/s); "
           "jansson parse + print alone %8.1f ms\n",
           kind == SHARD_MERGE_BUCKETS ? "buckets" : "series", n, in_mb, (double)out_len / 1e6,
           merge * 1e3, in_mb / merge, ref * 1e3);
    buf_deinit(&b[0]);
    buf_deinit(&b[1]);
}

int main(void)
{
    int sizes[] = {1000, 10000};
    for (size_t i = 0; i < 2; i++) {
        run(sizes[i], SHARD_MERGE_SERIES);
        run(sizes[i], SHARD_MERGE_BUCKETS);
    }
    return 0;
}
