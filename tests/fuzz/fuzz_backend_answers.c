/* libFuzzer target for what the relay reads from backends' answers: the shards' /query answers
 * merged (shard_merge_answers) and 3.x's write_lp answers (gen_v3_partial_lines,
 * gen_classify_v3). The first byte picks the batch's line count (1..64); the rest is split at
 * 0xFF bytes into up to four answer bodies. Checks:
 * - the merge either fails with a reason or gives a body ending in '\n'; merging one answer
 *   with itself gives the same as merging it alone (duplicates are kept once);
 * - merged by a SELECT's plan (kind, order, widening, limit, ops from the first byte), the
 *   same: a body ending in '\n' or a reason;
 * - the partial-write line numbers are sorted, without repeats, each in [1, lines];
 * - a split point is never past the batch. */
#include "common/buf.h"
#include "relay/shard_merge.h"
#include "replay/generation.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t lines = (size_t)(data[0] & 63) + 1;
    const char *bodies[4];
    size_t lens[4], n = 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (n < 4) {
        const char *cut = memchr(p, 0xff, (size_t)(end - p));
        bodies[n] = p;
        lens[n] = (size_t)((cut ? cut : end) - p);
        n++;
        if (cut == NULL)
            break;
        p = cut + 1;
    }

    struct buf out, err, one, twice;
    buf_init(&out);
    buf_init(&err);
    buf_init(&one);
    buf_init(&twice);
    if (shard_merge_answers(bodies, lens, n, &out, &err) == 0)
        require(out.len > 0 && out.data[out.len - 1] == '\n');
    else
        require(err.len > 0);
    const char *pair[2] = {bodies[0], bodies[0]};
    size_t pair_len[2] = {lens[0], lens[0]};
    buf_clear(&err);
    int rc1 = shard_merge_answers(bodies, lens, 1, &one, &err);
    buf_clear(&err);
    int rc2 = shard_merge_answers(pair, pair_len, 2, &twice, &err);
    require(rc1 == rc2);
    if (rc1 == 0)
        require(one.len == twice.len && memcmp(one.data, twice.data, one.len) == 0);
    buf_deinit(&one);
    buf_deinit(&twice);

    struct shard_merge_plan plans[2];
    memset(plans, 0, sizeof(plans));
    for (size_t i = 0; i < 2; i++) {
        uint8_t b = (uint8_t)(data[0] >> (i * 3));
        plans[i].kind = (enum shard_merge_kind)(1 + b % 4);
        plans[i].desc = (b >> 2) & 1;
        plans[i].widen_columns = (b >> 3) & 1;
        plans[i].widen_tags = (b >> 4) & 1;
        plans[i].limit = (b >> 5) & 3;
        plans[i].select_row = (b >> 6) & 1;
        plans[i].one_row = (b >> 7) & 1;
        plans[i].n_ops = 2;
        plans[i].ops[0] = (enum shard_merge_op)(b % 4);
        plans[i].ops[1] = (enum shard_merge_op)((b >> 1) % 4);
        plans[i].op_all = (b >> 1) & 1;
        strcpy(plans[i].why, "refused");
    }
    buf_clear(&out);
    buf_clear(&err);
    if (shard_merge_answers_plan(bodies, lens, n, plans, 2, &out, &err) == 0)
        require(out.len > 0 && out.data[out.len - 1] == '\n');
    else
        require(err.len > 0);

    size_t nums[16];
    size_t k = gen_v3_partial_lines(bodies[0], lens[0], lines, nums, 16);
    require(k <= 16);
    for (size_t i = 0; i < k; i++) {
        require(nums[i] >= 1 && nums[i] <= lines);
        require(i == 0 || nums[i] > nums[i - 1]);
    }
    buf_deinit(&out);
    buf_deinit(&err);
    size_t split_after = 0;
    (void)gen_classify_v3(CURLE_OK, 400, bodies[0], lens[0], lines, &split_after);
    require(split_after <= lines);
    return 0;
}
