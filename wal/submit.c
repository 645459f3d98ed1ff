/* The submit side of the log: ops queued by any thread for the writer, the done list handed
 * back by it, wal_complete (callbacks, then the "records were committed" event), the
 * synchronous helpers of the CLI and tests, and the counters read out for /metrics.
 *
 * Owns the queue and the done list, both under 'mu'. Submits run on any thread; wal_complete,
 * wal_complete_wait and the sync helpers on the thread that owns the callbacks. */
#include "wal/wal_int.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct wal_op *op_new(enum wal_op_kind kind, wal_done_cb *done, void *arg)
{
    struct wal_op *op = xcalloc(1, sizeof(*op));
    op->kind = kind;
    op->done = done;
    op->arg = arg;
    return op;
}

static void op_free(struct wal_op *op)
{
    free(op->enc.val);
    free(op->answer);
    free(op);
}

/* Hand 'op' to the writer, or straight to the done list when it is already settled or the
 * writer is gone. */
static void op_submit(struct wal *w, struct wal_op *op)
{
    int wake = 0;
    pthread_mutex_lock(&w->mu);
    if (!op->settled && (w->fatal || w->stopping || !w->writer_started)) {
        op->rc = w->fatal ? w->fatal : w->writer_started ? IWR_ESTOPPED : IWR_EINVAL;
        op->settled = 1;
    }
    if (op->settled) {
        *w->done_tail = op;
        w->done_tail = &op->next;
        pthread_cond_broadcast(&w->done_cv);
        wake = 1;
    } else {
        *w->queue_tail = op;
        w->queue_tail = &op->next;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    if (wake && w->opt.wake != NULL)
        w->opt.wake(w->opt.wake_arg);
}

struct wal_op *wal_append_prepare(const struct wal_record *rec)
{
    struct wal_op *op = op_new(OP_APPEND, NULL, NULL);
    op->rc = wal_record_prepare(rec, &op->enc);
    op->settled = op->rc != 0; /* refused at submit, through 'done', as wal_append refuses */
    return op;
}

void wal_append_submit(struct wal *w, struct wal_op *op, wal_done_cb *done, void *arg)
{
    op->done = done;
    op->arg = arg;
    op_submit(w, op);
}

void wal_append_discard(struct wal_op *op)
{
    if (op != NULL)
        op_free(op);
}

void wal_append(struct wal *w, const struct wal_record *rec, wal_done_cb *done, void *arg)
{
    wal_append_submit(w, wal_append_prepare(rec), done, arg);
}

static struct wal_op *name_op(enum wal_op_kind kind, const char *name, int allow_all,
                              wal_done_cb *done, void *arg)
{
    struct wal_op *op = op_new(kind, done, arg);
    if (name == NULL && allow_all)
        return op;
    if (name == NULL || !wal_name_valid(name)) {
        op->rc = IWR_EINVAL;
        op->settled = 1;
        return op;
    }
    strcpy(op->name, name);
    return op;
}

void wal_cursor_move(struct wal *w, const char *name, uint64_t expect, uint64_t to,
                     wal_done_cb *done, void *arg)
{
    struct wal_op *op = name_op(OP_CURSOR_MOVE, name, 0, done, arg);
    op->expect = expect;
    op->to = to;
    op_submit(w, op);
}

void wal_cursor_forget(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_CURSOR_FORGET, name, 0, done, arg));
}

void wal_state_set(struct wal *w, const char *name, const char *val, size_t len, wal_done_cb *done,
                   void *arg)
{
    struct wal_op *op = name_op(OP_STATE_SET, name, 0, done, arg);
    if (!op->settled && len > WAL_STATE_MAX) {
        op->rc = IWR_EINVAL;
        op->settled = 1;
    }
    if (!op->settled && len > 0) {
        op->answer = xstrndup(val, len);
        op->answer_len = len;
    }
    op_submit(w, op);
}

void wal_dead_add(struct wal *w, const char *name, const struct wal_record *rec,
                  const char *answer, size_t answer_len, wal_done_cb *done, void *arg)
{
    struct wal_op *op = name_op(OP_DEAD_ADD, name, 0, done, arg);
    if (!op->settled) {
        op->rc = wal_record_prepare(rec, &op->enc);
        op->settled = op->rc != 0;
    }
    if (!op->settled) {
        wal_record_seal(&op->enc, rec->seq, rec->offset);
        op->src_seq = rec->seq;
        op->answer = xstrndup(answer, answer_len);
        op->answer_len = answer_len;
    }
    op_submit(w, op);
}

void wal_dead_requeue(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_DEAD_REQUEUE, name, 1, done, arg));
}

void wal_dead_purge(struct wal *w, const char *name, wal_done_cb *done, void *arg)
{
    op_submit(w, name_op(OP_DEAD_PURGE, name, 1, done, arg));
}

void wal_hand_back(struct wal *w, struct wal_op *batch, int committed)
{
    pthread_mutex_lock(&w->mu);
    *w->done_tail = batch;
    while (*w->done_tail != NULL)
        w->done_tail = &(*w->done_tail)->next;
    w->committed |= committed;
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
    if (w->opt.wake != NULL)
        w->opt.wake(w->opt.wake_arg);
}

void wal_on_commit(struct wal *w, void (*cb)(void *arg), void *arg)
{
    w->on_commit = cb;
    w->on_commit_arg = arg;
}

size_t wal_complete(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    struct wal_op *list = w->done;
    w->done = NULL;
    w->done_tail = &w->done;
    int committed = w->committed;
    w->committed = 0;
    pthread_mutex_unlock(&w->mu);
    size_t n = 0;
    while (list != NULL) {
        struct wal_op *op = list;
        list = op->next;
        if (op->done != NULL)
            op->done(op->arg, op->rc, op->result);
        op_free(op);
        n++;
    }
    /* After the callbacks: a listener that reads the log then finds what they acknowledged. */
    if (committed && w->on_commit != NULL)
        w->on_commit(w->on_commit_arg);
    return n;
}

size_t wal_complete_wait(struct wal *w, int timeout_ms)
{
    struct timespec until;
    clock_deadline_ts(&until, timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (w->done == NULL) {
        if (pthread_cond_timedwait(&w->done_cv, &w->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
    return wal_complete(w);
}

/* The synchronous helpers: submit, then complete until our op came back. Only for callers
 * that own the completions (no wake hook): the CLI and tests. */
struct sync_wait {
    int finished;
    int rc;
    uint64_t result;
};

static void sync_done(void *arg, int rc, uint64_t result)
{
    struct sync_wait *s = arg;
    s->finished = 1;
    s->rc = rc;
    s->result = result;
}

static int sync_wait_for(struct wal *w, struct sync_wait *s, uint64_t *result)
{
    while (!s->finished)
        wal_complete_wait(w, 1000);
    if (result != NULL)
        *result = s->result;
    return s->rc;
}

int wal_append_sync(struct wal *w, const struct wal_record *rec, uint64_t *seq)
{
    struct sync_wait s = {0};
    wal_append(w, rec, sync_done, &s);
    return sync_wait_for(w, &s, seq);
}

int wal_cursor_move_sync(struct wal *w, const char *name, uint64_t expect, uint64_t to)
{
    struct sync_wait s = {0};
    wal_cursor_move(w, name, expect, to, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_state_set_sync(struct wal *w, const char *name, const char *val, size_t len)
{
    struct sync_wait s = {0};
    wal_state_set(w, name, val, len, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_cursor_forget_sync(struct wal *w, const char *name)
{
    struct sync_wait s = {0};
    wal_cursor_forget(w, name, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_dead_add_sync(struct wal *w, const char *name, const struct wal_record *rec,
                      const char *answer, size_t answer_len)
{
    struct sync_wait s = {0};
    wal_dead_add(w, name, rec, answer, answer_len, sync_done, &s);
    return sync_wait_for(w, &s, NULL);
}

int wal_dead_requeue_sync(struct wal *w, const char *name, uint64_t *count)
{
    struct sync_wait s = {0};
    wal_dead_requeue(w, name, sync_done, &s);
    return sync_wait_for(w, &s, count);
}

int wal_dead_purge_sync(struct wal *w, const char *name, uint64_t *count)
{
    struct sync_wait s = {0};
    wal_dead_purge(w, name, sync_done, &s);
    return sync_wait_for(w, &s, count);
}

void wal_counters_get(struct wal *w, struct wal_counters *c)
{
    pthread_mutex_lock(&w->stats_mu);
    *c = w->counters;
    wal_space_judge(w, c);
    pthread_mutex_unlock(&w->stats_mu);
}

void wal_commit_hist_get(struct wal *w, struct hist *seconds, struct hist *records)
{
    pthread_mutex_lock(&w->stats_mu);
    *seconds = w->hist_seconds;
    *records = w->hist_records;
    pthread_mutex_unlock(&w->stats_mu);
}
