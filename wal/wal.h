/* The durable log: an LMDB environment with four tables (log, cursors, dead, meta), one writer
 * thread that owns every write transaction (group commit), and read views for the senders and
 * the CLI. No networking and no event loop: completions are handed back through a wake hook
 * (the daemon passes uv_async_send) and run by whoever calls wal_complete().
 *
 * Threads: wal_open/wal_close on the owner thread; the submit functions (wal_append,
 * wal_cursor_move, ...) from any thread; wal_complete on the thread that owns the callbacks;
 * readers from any one thread each. */
#ifndef IWR_WAL_H
#define IWR_WAL_H

#include "common/hist.h"

#include <stddef.h>
#include <stdint.h> /* and SIZE_MAX */

/* The newest format this build reads and writes. 1: records without shard parts; 2: a record
 * may also carry shard parts (wal/record.c). A log is marked 2 only when a daemon that may write
 * shard parts opens it (wal_options.format), so a log without shards stays readable by 0.1; an
 * older build refuses a log marked 2 (IWR_EVERSION) instead of taking its sharded records for
 * corrupt. Format-1 records stay readable and unsharded records are still written in format 1. */
#define WAL_FORMAT_VERSION 2
#define WAL_NAME_MAX 64 /* backend names: [A-Za-z0-9_.-]{1,64} */

struct wal;
struct wal_reader;

enum wal_full_policy { WAL_FULL_REJECT = 0, WAL_FULL_DROP_OLDEST = 1 };
/* Which limit made the log refuse appends. */
enum wal_full_reason {
    WAL_FULL_NONE = 0,
    WAL_FULL_MAX_SIZE = 1, /* the log's size limit (max-size) */
    WAL_FULL_RESERVE = 2,  /* the filesystem's free-space reserve (min-free) */
    WAL_FULL_DISK = 3,     /* the filesystem itself (ENOSPC) */
};

/* min_free_bytes: the default reserve, for a daemon whose configuration does not set one. At
 * open (daemon only, not readonly or adopt) the log sizes its filesystem (statvfs): the
 * default is the smaller of 64 MiB and 5% of it; a reserve set explicitly is used as written,
 * except one as large as the filesystem itself (nothing could ever be written), which gets the
 * default with a warning. When max_bytes plus the reserve does not fit the filesystem, the
 * limit in force is the filesystem's size less the reserve (warned once, never an error). */
#define WAL_MIN_FREE_DEFAULT SIZE_MAX
#define WAL_MIN_FREE_DEFAULT_CAP ((size_t)64 << 20)

struct wal_options {
    const char *dir;         /* created if missing (0750) */
    size_t max_bytes;        /* size limit of the records; 0 = 1 GiB */
    size_t map_bytes;        /* LMDB map size; 0 = derived from max_bytes (never below it) */
    size_t min_free_bytes;   /* keep this much free on the filesystem (statvfs); 0 = none;
                              * WAL_MIN_FREE_DEFAULT = the smaller of 64 MiB and 5% of it */
    enum wal_full_policy full_policy;
    int nosync;              /* benchmarks only: commits are not fsync'd, 204 means nothing */
    uint64_t retain_ns;      /* keep acknowledged records this long */
    size_t trim_chunk;       /* records deleted per commit at most; 0 = 4096 */
    int readonly;            /* open for reading only: no writer thread, submits fail */
    int format;              /* the format this opener may write: 0 or 1, records without shard
                              * parts; WAL_FORMAT_VERSION, also with them. The log is marked with
                              * the larger of its own and this, never lowered */
    int adopt;               /* a second process next to the daemon (the CLI): never create,
                              * adopt the map size and limit recorded in the directory */
    /* Called on the writer thread when completions are ready; must be async-signal-like cheap
     * (uv_async_send). NULL: wal_complete_wait() is used instead. */
    void (*wake)(void *arg);
    void *wake_arg;
};

/* Record flags. A record without WAL_REC_STATEMENT is line protocol. With it, the body is
 * InfluxQL text (one or more ';'-separated statements, now() already replaced by the commit
 * time) that each backend runs through POST /query with the record's db and rp, after every
 * record before it and before any after it; points is 0. Readers must treat a record with a
 * flag bit they do not know as opaque: such bits are reserved for later kinds (a barrier
 * between relays, for one), and the format version stays 1 while old readers can skip them. */
#define WAL_REC_STATEMENT 0x0001u
/* A fence between relays (replay/fence.c): always with WAL_REC_STATEMENT, so that readers that
 * know statements only show it as one; its body is an InfluxQL comment, "-- fence origin=R
 * statement=N": the sender holds everything after it until relay R applied its statement N. */
#define WAL_REC_FENCE 0x0002u
#define WAL_REC_KNOWN 0x0003u /* every flag bit this build understands */

/* One record as stored. In a view from a reader, the pointers borrow LMDB's pages and die with
 * the read transaction; for wal_append they are borrowed for the call only. */
struct wal_record {
    uint64_t seq;            /* set by the log */
    uint64_t recv_ns;        /* receive time, CLOCK_REALTIME */
    uint64_t offset;         /* bytes of bodies appended before this one, ever (set by the log) */
    uint32_t points;
    uint8_t precision;       /* enum lp_precision of the body's timestamps (normally ns) */
    uint8_t consistency;     /* 0 default, 1 any, 2 one, 3 quorum, 4 all */
    uint16_t flags;          /* WAL_REC_*; bits not defined here are reserved (0) */
    const char *db;
    size_t db_len;
    const char *rp;          /* empty: the database's default */
    size_t rp_len;
    const char *target;      /* empty: every backend; else only this one (a requeued dead letter) */
    size_t target_len;
    const char *body;        /* line protocol, each line ending in '\n' */
    size_t body_len;
    /* Shard parts (format 2): n_parts 0 means the record is for every shard. Otherwise the
     * body is the concatenation of n_parts parts, one per shard, in table order, and 'parts'
     * is the table (parts_len bytes, built with wal_part_encode): per part a u8 name length,
     * the shard's name, u32 body bytes, u32 points (little-endian). The parts' bytes add up to
     * body_len and their points to 'points'. One request split by shard is one record, so one
     * transaction and one acknowledgement. */
    uint8_t n_parts;
    const unsigned char *parts;
    size_t parts_len;
};

#define WAL_PARTS_MAX 255
#define WAL_PART_ENTRY_MAX (1 + WAL_NAME_MAX + 8)
/* Write one part table entry to 'out' (WAL_PART_ENTRY_MAX bytes of room); returns its length.
 * 'shard' must pass wal_name_valid. */
size_t wal_part_encode(unsigned char *out, const char *shard, uint32_t body_len, uint32_t points);
/* The part of 'rec' for 'shard' as a view in *view (rec's fields with body and points
 * narrowed to the part, no parts): 1. A record without parts is every shard's: 1 with *view =
 * *rec. 0 when the record has parts but none for 'shard' (or 'shard' is NULL: an unsharded
 * reader takes the whole record, 1). The view borrows what 'rec' borrows. */
int wal_record_part(const struct wal_record *rec, const char *shard, struct wal_record *view);
/* The part name no shard has (config/ refuses shard names starting with '.'): a record whose
 * only part is it is a marker in log order that no reader sends, not even an unsharded one
 * (wal_record_part returns 0); the switch of the active shards is one (relay/shard_active.c). */
#define WAL_PART_MARK ".mark"

/* A backend's position and how far behind the head it is. */
struct wal_cursor_info {
    char name[WAL_NAME_MAX + 1];
    uint64_t seq;            /* last acknowledged sequence */
    uint64_t updated_ns;     /* when it last moved */
    uint64_t lag_records;    /* last_seq - seq, 0 when caught up */
    uint64_t lag_bytes;      /* body bytes after the cursor */
    uint64_t lag_ns;         /* now - receive time of the oldest unacknowledged record */
    uint64_t dead_letters;
};

struct wal_stats {
    uint64_t first_seq;      /* 0 when empty */
    uint64_t last_seq;       /* highest sequence ever assigned (also when trimmed away) */
    uint64_t records;
    size_t log_bytes;        /* pages used by the records */
    size_t file_bytes;       /* data.mdb on disk */
    size_t max_bytes;
    size_t map_bytes;
    uint64_t head_offset;    /* 'offset' the next record will get */
    uint64_t dropped_records; /* by drop-oldest, ever */
    uint64_t dead_letters;
};

/* Cheap counters the writer keeps up to date after each commit, for /metrics: no LMDB access.
 * The last group is the log's own judgement of whether it takes writes, for /metrics and
 * /health to render as they are. */
struct wal_counters {
    uint64_t first_seq, last_seq, records, log_bytes, dropped_records;
    uint64_t commits, appended, rejected_full, commit_ns_total;
    uint64_t dead_letters; /* in the table now, every backend */
    /* Writable: no append was refused in the last few seconds (none went in since), and under
     * the reject policy there is room for a large request or appends went in lately.
     * Appends going through prove it writable whatever the size says (drop-oldest). */
    int writable;
    size_t limit_bytes;              /* the size limit in force (max_bytes, or less: see
                                      * WAL_MIN_FREE_DEFAULT) */
    size_t min_free_bytes;           /* the filesystem reserve in force; 0 = none */
    uint64_t rejected_max_size, rejected_reserve, rejected_disk; /* rejected_full by limit */
    enum wal_full_policy full_policy;
    enum wal_full_reason full_reason; /* why it is not writable; WAL_FULL_NONE when it is */
    int fatal;                       /* IWR_EFATAL once the environment is unusable, else 0 */
};

/* The bounds of the commit histograms (durations in seconds, records per commit), for
 * /metrics: wal_commit_hist_get's struct hist borrow them. */
#define WAL_HIST_BUCKETS 12
extern const double wal_commit_seconds_bounds[WAL_HIST_BUCKETS];
extern const double wal_commit_records_bounds[WAL_HIST_BUCKETS];

/* Which limit a refusal names: IWR_EFULL max-size, IWR_ERESERVE min-free, IWR_ENOSPACE the
 * filesystem; WAL_FULL_NONE for any other code. */
enum wal_full_reason wal_full_reason_of(int rc);
/* For /metrics labels and JSON: "max-size", "min-free", "filesystem"; "" for WAL_FULL_NONE. */
const char *wal_full_reason_name(enum wal_full_reason reason);
/* One sentence naming the limit: "the log's max-size is reached", ... */
const char *wal_full_reason_text(enum wal_full_reason reason);

typedef void wal_done_cb(void *arg, int rc, uint64_t seq);

/* Every submit's 'done' may also get IWR_EFATAL: a panic, a remap or an I/O error left the
 * environment unusable. The log never exits the process: it logs the cause once, fails what
 * is queued and what comes, and fires the wake hook; the owner (the daemon) decides to exit,
 * and a restart loses nothing committed. Readers get IWR_EFATAL from wal_reader_begin. */

/* One daemon per log: a daemon's open (neither readonly nor adopt) takes an exclusive flock on
 * WAL_LOCK_FILE in the directory and writes its PID there; the kernel drops the lock when the
 * process ends, however it ends, so a SIGKILL leaves nothing stale. A second daemon's open
 * fails with IWR_ELOCKED; the CLI (adopt, readonly) does not take it and works next to one. */
#define WAL_LOCK_FILE "daemon.lock"
/* The PID written in o->dir's lock file by the daemon holding it (after IWR_ELOCKED), or 0
 * when unknown. */
long wal_lock_holder(const char *dir);

/* Open (creating if needed) the log in o->dir. Checks the format version (IWR_EVERSION if the
 * directory is newer), clears stale reader slots, starts the writer unless readonly. 0, -errno,
 * IWR_EVERSION, IWR_ELMDB, IWR_ELOCKED (another daemon has it). */
int wal_open(struct wal **out, const struct wal_options *o);
/* Stop the writer after it committed everything queued, run the last completions (their
 * callbacks fire from here), close the environment. NULL is fine. */
void wal_close(struct wal *w);

/* Queue 'rec' for the next group commit. 'done' runs from wal_complete() with the record's
 * sequence once it is durable (rc 0), or rc IWR_EFULL (log at its limit), IWR_ESTOPPED,
 * IWR_EFATAL (the environment is unusable: see wal_counters.fatal), -errno.
 * Copies what it needs from 'rec' before returning. Any thread. */
void wal_append(struct wal *w, const struct wal_record *rec, wal_done_cb *done, void *arg);
/* wal_append in its two halves, for a submitter that encodes off the thread that submits:
 * wal_append_prepare copies and checksums 'rec' (the half that reads the whole body) into an
 * op the caller owns; it touches nothing of any log, so any thread, and borrows 'rec' for the
 * call only. wal_append_submit queues the op as wal_append would and takes it: 'done' gets
 * what wal_append's gets (an invalid record is IWR_EINVAL there). wal_append_discard drops an
 * op that will not be submitted (NULL is fine). */
struct wal_op;
struct wal_op *wal_append_prepare(const struct wal_record *rec);
void wal_append_submit(struct wal *w, struct wal_op *op, wal_done_cb *done, void *arg);
void wal_append_discard(struct wal_op *op);

#define WAL_SEQ_ANY UINT64_MAX
/* Set backend 'name''s cursor to 'to' (created if missing), but only if it is 'expect' now
 * (WAL_SEQ_ANY: whatever it is). rc IWR_ECONFLICT when it was moved by someone else (the CLI),
 * IWR_EINVAL for a bad name or a 'to' beyond the last sequence. 'seq' in done is the value
 * stored afterwards. */
void wal_cursor_move(struct wal *w, const char *name, uint64_t expect, uint64_t to,
                     wal_done_cb *done, void *arg);
/* Forget a backend: its cursor and dead letters go, it no longer holds truncation back. */
void wal_cursor_forget(struct wal *w, const char *name, wal_done_cb *done, void *arg);

/* A backend's state: a short text kept in the log next to its cursor (meta key "state:NAME"),
 * defined by its owner (replay/'s rebuild: "rebuild from=a seq=P ..."), surviving restarts.
 * It is neither moved nor dropped by cursor moves, forgets or trims. At most WAL_STATE_MAX
 * bytes; len 0 deletes it. rc IWR_EINVAL for a bad name or length; 'seq' in done is 0. */
#define WAL_STATE_MAX 255
void wal_state_set(struct wal *w, const char *name, const char *val, size_t len, wal_done_cb *done,
                   void *arg);
int wal_state_set_sync(struct wal *w, const char *name, const char *val, size_t len);

/* Store the lines of 'rec' (rec->seq is the record they came from) that backend 'name' refused
 * with 'answer' (its HTTP status and body). */
void wal_dead_add(struct wal *w, const char *name, const struct wal_record *rec,
                  const char *answer, size_t answer_len, wal_done_cb *done, void *arg);
/* Requeue: each dead letter of 'name' (NULL: all) is appended again as a new record for its
 * backend only, then removed. Purge: removed. 'seq' in done is how many. */
void wal_dead_requeue(struct wal *w, const char *name, wal_done_cb *done, void *arg);
void wal_dead_purge(struct wal *w, const char *name, wal_done_cb *done, void *arg);

/* Run the callbacks of everything that completed, then, when any commit among them appended
 * records, the wal_on_commit subscriber (once). Returns how many callbacks ran. */
size_t wal_complete(struct wal *w);
/* Subscribe to "new records were committed" (by this process: records another process appends
 * are found by polling): 'cb' runs from wal_complete on its thread, after the callbacks of the
 * commit(s) concerned. One subscriber: a second call replaces it, a NULL 'cb' unsubscribes.
 * Call on the thread that runs wal_complete. */
void wal_on_commit(struct wal *w, void (*cb)(void *arg), void *arg);
/* Without a wake hook: block until something completed (or 'timeout_ms'), then wal_complete. */
size_t wal_complete_wait(struct wal *w, int timeout_ms);
/* Convenience for the CLI and tests (no wake hook): submit through 'submit' and wait. */
int wal_cursor_move_sync(struct wal *w, const char *name, uint64_t expect, uint64_t to);
int wal_cursor_forget_sync(struct wal *w, const char *name);
int wal_append_sync(struct wal *w, const struct wal_record *rec, uint64_t *seq);
int wal_dead_requeue_sync(struct wal *w, const char *name, uint64_t *count);
int wal_dead_purge_sync(struct wal *w, const char *name, uint64_t *count);
int wal_dead_add_sync(struct wal *w, const char *name, const struct wal_record *rec,
                      const char *answer, size_t answer_len);

/* Counters as of the last commit; any thread. */
void wal_counters_get(struct wal *w, struct wal_counters *c);
/* Copies of the commit-duration (seconds) and records-per-commit histograms; any thread. */
void wal_commit_hist_get(struct wal *w, struct hist *seconds, struct hist *records);

/* A consistent snapshot of the stats and every cursor (caller frees *cursors). 0 or error. */
int wal_stats(struct wal *w, struct wal_stats *st, struct wal_cursor_info **cursors,
              size_t *n_cursors);

/* Readers. A reader keeps one read transaction between wal_reader_begin and wal_reader_end;
 * never hold it across a network wait. Views returned die at wal_reader_end. */
int wal_reader_new(struct wal *w, struct wal_reader **out);
void wal_reader_free(struct wal_reader *r);
int wal_reader_begin(struct wal_reader *r);
void wal_reader_end(struct wal_reader *r);
/* The first record with seq > 'after' into 'rec' (a view). 0, IWR_ENOTFOUND at the end, or
 * IWR_ECORRUPT with rec->seq naming the bad record (its data is not returned). */
int wal_reader_next(struct wal_reader *r, uint64_t after, struct wal_record *rec);
/* The cursor of 'name' as stored in this read transaction; IWR_ENOTFOUND if unknown. */
int wal_reader_cursor(struct wal_reader *r, const char *name, uint64_t *seq);
/* The state of 'name' (see wal_state_set) as stored in this read transaction, copied into
 * 'buf' (cap bytes, NUL-terminated, cut to fit). 0, IWR_ENOTFOUND when there is none. */
int wal_reader_state(struct wal_reader *r, const char *name, char *buf, size_t cap);
/* First and last sequence present in the log in this transaction (0, 0 when empty), and the
 * highest ever assigned. */
int wal_reader_bounds(struct wal_reader *r, uint64_t *first, uint64_t *last, uint64_t *high);

/* One dead letter as a view (valid until wal_reader_end). */
struct wal_dead_letter {
    char backend[WAL_NAME_MAX + 1];
    uint64_t id;
    uint64_t time_ns;
    const char *answer;
    size_t answer_len;
    struct wal_record rec;   /* rec.seq: the record the lines came from */
};
/* Iterate dead letters of 'name' (NULL: all) with id > after_id (per backend order). 0,
 * IWR_ENOTFOUND at the end, IWR_ECORRUPT. Pass the returned backend+id to continue. */
int wal_reader_dead_next(struct wal_reader *r, const char *name, const char *after_backend,
                         uint64_t after_id, struct wal_dead_letter *d);

/* Integrity check: every record's checksum and framing, sequence continuity, cursors within
 * bounds, dead letters readable, meta consistent. Each problem is reported through 'problem'
 * as one line. Returns the number of problems (0: healthy) or a negative error. Any thread;
 * runs in one read transaction. */
struct wal_verify_summary {
    uint64_t records, first_seq, last_seq, high_seq, cursors, dead_letters, corrupt;
};
long wal_verify(struct wal *w, void (*problem)(void *arg, const char *line), void *arg,
                struct wal_verify_summary *sum);
/* A compacted copy of the log (free pages dropped) into 'dir', which must exist and be empty.
 * 0 or error. */
int wal_compact(struct wal *w, const char *dir);

/* Record codec, used by the log and the fuzz target. Encode appends the stored form (checksum
 * over the sequence and everything after it) to a malloc'd buffer the caller frees. Decode
 * checks framing and checksum: 0 or IWR_ECORRUPT. */
char *wal_record_encode(const struct wal_record *rec, uint64_t seq, size_t *len);
int wal_record_decode(const void *val, size_t len, uint64_t seq, struct wal_record *rec);
size_t wal_record_encoded_size(const struct wal_record *rec);

int wal_name_valid(const char *name);
/* Now, CLOCK_REALTIME, in ns. */
uint64_t wal_now_ns(void);

#endif
