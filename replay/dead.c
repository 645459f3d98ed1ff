/* The daemon's dead letters: the lines a backend refused for good go to the log's dead-letter
 * table (wal_dead_add, one per record they came from) before the cursor moves past them, and
 * a batch counts as done only once every one of them is written. Loop thread only. */
#include "replay/replay_int.h"

#include "common/err.h"
#include "common/log.h"

#include <inttypes.h>

static void dead_done(void *arg, int rc, uint64_t id)
{
    struct batch *b = arg;
    struct sender *s = (struct sender *)b->owner;
    (void)id;
    s->wal_ops--;
    b->dead_pending--;
    if (rc != 0)
        b->dead_failed = rc;
    int settled = b->dead_pending == 0;
    if (settled && b->orphan) {
        batch_free(b);
    } else if (settled && b->dead_failed != 0) {
        log_warn("event=dead_letter_failed backend=%s seq=%" PRIu64 " err=\"%s\"", s->conf->name,
                 b->segs[0].seq, iwr_strerror(b->dead_failed));
        b->state = BATCH_DEAD_RETRY;
        if (!s->retired)
            sender_schedule_backoff(s);
    } else if (settled) {
        char ans[300];
        log_quote(ans, sizeof(ans), b->answer, b->answer_len);
        log_warn("event=dead_letter backend=%s seq=%" PRIu64 " last_seq=%" PRIu64
                 " lines=%zu answer=%s",
                 s->conf->name, b->segs[0].seq, b->segs[b->n_segs - 1].seq, b->lines, ans);
        s->st.dead_letters_total += b->lines;
        b->state = BATCH_DONE;
    }
    if (s->retired) {
        replay_reap_retired(s->r);
        return;
    }
    if (settled)
        sender_pump(s);
}

void dead_submit(struct sender *s, struct batch *b)
{
    b->state = BATCH_DEAD;
    b->dead_failed = 0;
    b->dead_pending = b->n_segs;
    b->owner = s;
    for (size_t i = 0; i < b->n_segs; i++) {
        struct wal_record rec;
        batch_seg_record(b, i, &rec);
        s->wal_ops++;
        wal_dead_add(s->r->w, s->conf->name, &rec, b->answer, b->answer_len, dead_done, b);
    }
}

void dead_retry(struct sender *s)
{
    if (s->waiting)
        return;
    for (struct batch *b = s->head; b != NULL; b = b->next)
        if (b->state == BATCH_DEAD_RETRY)
            dead_submit(s, b);
}
