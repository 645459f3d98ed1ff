/* influx-wal rebuild --backend B --from A: make an empty (or wiped) backend B hold what A holds,
 * while writes keep flowing through the relays, then let B's sender continue from the right
 * place. The steps, each a logfmt line on stderr (or a redrawn line on a terminal):
 *
 *   check     A answers /ping and B holds no database but _internal (else exit 1)
 *   start     POST /api/rebuild/start on every relay: each pauses B's sender and holds B's
 *             cursor at A's position P (everything up to P is applied on A)
 *   backup    influxd backup -portable from A's RPC address, after every relay recorded P, so
 *             the snapshot holds everything up to P (later writes in it are harmless: the
 *             replay from P writes them again with the same values, statements in order)
 *   restore   influxd restore -portable -db D into B's RPC address, database by database
 *   finish    POST /api/rebuild/finish on every relay: B's sender resumes after P
 *   verify    once B caught up on every relay: per database its retention policies (duration,
 *             shard duration, replication, default), its measurements, its field keys and per
 *             measurement the count of every field for points older than 10 s before the
 *             verify began, equal on A and B (retried while writes are in flight)
 *
 * Resumable: the state (relays and their P, databases, what is restored) is kept in a
 * directory (--state-dir, default DATA_DIR/rebuild/B); running the same command again
 * continues: the backup is reused while every relay still holds its P, restored databases are
 * kept, a half-restored one is dropped on B and restored again. A relay that lost its start
 * point (its log neared its limit) makes the run take a new one: new P, new backup, B wiped of
 * what was restored. Memory stays flat: influxd's own tools move the data; /query answers are
 * read chunk by chunk. One thread. */
#include "cmd/influx-wal/influx.h"
#include "cmd/influx-wal/progress.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"
#include "config/config.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PACKAGED_CONFIG "/etc/influx-wal-relay/relay.toml"
#define MAX_URLS 16
#define MAX_RELAYS 16
#define MAX_DBS 4096
#define RPC_DEFAULT_PORT "8088"
#define VERIFY_TIMEOUT_S 120
#define VERIFY_MARGIN_S 10u
#define ATTEMPTS_MAX 3

/* ---- the state directory ------------------------------------------------------------------- */

struct rb_relay {
    const char *url; /* borrowed from argv or the config copy */
    uint64_t seq;    /* P as this relay answered it; 0 with !known */
    int known;
};

struct rb {
    struct cli *cli;
    const char *backend, *from;
    char dir[1024];
    struct rb_relay relays[MAX_RELAYS];
    size_t n_relays;
    char *dbs[MAX_DBS]; /* to restore, as the source listed them before the backup */
    size_t n_dbs;
    int restored[MAX_DBS];
    int restoring; /* index of the database being restored, -1 none */
    int backup_done;
    int have_state; /* the file existed */
    struct cli_backend src, dst;
    struct influx *qs, *qd;
    const char *influxd;
    char src_rpc[300], dst_rpc[300];
    struct progress pg;
    uint64_t bytes_total;
    uint64_t t0_ns;
    uint64_t verify_before_ns; /* verify counts points older than this (realtime) */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Names in the state file: bytes outside [A-Za-z0-9_.-] as %XX, so any database name fits on
 * a line. */
static void enc_name(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '_' || ch == '.' || ch == '-')
            fputc(ch, f);
        else
            fprintf(f, "%%%02X", ch);
    }
}

static char *dec_name(const char *s)
{
    struct buf b;
    buf_init(&b);
    for (; *s && *s != '\n'; s++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
            char ch = (char)v;
            buf_append(&b, &ch, 1);
            s += 2;
        } else {
            buf_append(&b, s, 1);
        }
    }
    buf_append(&b, "", 1);
    return buf_steal(&b);
}

static int state_save(struct rb *r)
{
    char tmp[1100], path[1100];
    snprintf(tmp, sizeof(tmp), "%s/state.tmp", r->dir);
    snprintf(path, sizeof(path), "%s/state", r->dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return cli_fail(r->cli, "%s: %s", tmp, strerror(errno));
    fprintf(f, "backend=%s\nfrom=%s\nbackup=%d\n", r->backend, r->from, r->backup_done);
    for (size_t i = 0; i < r->n_relays; i++)
        if (r->relays[i].known)
            fprintf(f, "relay=%" PRIu64 " %s\n", r->relays[i].seq, r->relays[i].url);
    for (size_t i = 0; i < r->n_dbs; i++) {
        fputs(r->restored[i] ? "restored=" : (int)i == r->restoring ? "restoring=" : "db=", f);
        enc_name(f, r->dbs[i]);
        fputc('\n', f);
    }
    int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0)
        return cli_fail(r->cli, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static void dbs_clear(struct rb *r)
{
    for (size_t i = 0; i < r->n_dbs; i++)
        free(r->dbs[i]);
    r->n_dbs = 0;
    r->restoring = -1;
    memset(r->restored, 0, sizeof(r->restored));
}

/* Read the state left by an earlier run of the same rebuild. 0 (have_state says whether there
 * was one), or 1 after a message (one for another backend or source). */
static int state_load(struct rb *r)
{
    char path[1100], line[4096];
    snprintf(path, sizeof(path), "%s/state", r->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *v = strchr(line, '=');
        if (v == NULL)
            continue;
        *v++ = '\0';
        if ((strcmp(line, "backend") == 0 && strcmp(v, r->backend) != 0) ||
            (strcmp(line, "from") == 0 && strcmp(v, r->from) != 0)) {
            rc = cli_fail(r->cli,
                          "%s is the state of another rebuild (%s=%s): use another "
                          "--state-dir or remove it",
                          path, line, v);
        } else if (strcmp(line, "backup") == 0) {
            r->backup_done = atoi(v);
        } else if (strcmp(line, "relay") == 0) {
            char *sp = strchr(v, ' ');
            if (sp == NULL)
                continue;
            *sp = '\0';
            for (size_t i = 0; i < r->n_relays; i++)
                if (strcmp(r->relays[i].url, sp + 1) == 0) {
                    r->relays[i].seq = strtoull(v, NULL, 10);
                    r->relays[i].known = 1;
                }
        } else if ((strcmp(line, "db") == 0 || strcmp(line, "restored") == 0 ||
                    strcmp(line, "restoring") == 0) &&
                   r->n_dbs < MAX_DBS) {
            r->restored[r->n_dbs] = strcmp(line, "restored") == 0;
            if (strcmp(line, "restoring") == 0)
                r->restoring = (int)r->n_dbs;
            r->dbs[r->n_dbs++] = dec_name(v);
        }
    }
    fclose(f);
    r->have_state = rc == 0;
    return rc;
}

static int mkdirs(const char *path)
{
    char p[1100];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0750) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* rm -rf of a directory we made (the backup, the state dir). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char p[1400];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static uint64_t tree_bytes(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    char p[1400];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0)
            n += S_ISDIR(st.st_mode) ? tree_bytes(p) : (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}

/* A step done: a logfmt line, or on a terminal the progress line, ended there (so a message
 * never lands on the end of it); while influxd works, run_tool redraws it in place. */
__attribute__((format(printf, 3, 4))) static void step(struct rb *r, uint64_t n, const char *fmt,
                                                       ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    progress_step(&r->pg, n, "%s", detail);
    if (r->pg.tty && r->pg.drawn) {
        /* Keep the step's figures on their own line, with what it was; the next step draws a
         * new one. */
        fprintf(stderr, "  %s\n", detail);
        r->pg.drawn = 0;
    }
}

/* ---- the relays' endpoints ------------------------------------------------------------------ */

static size_t on_relay_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (b->len < 65536)
        buf_append(b, p, size * n);
    return size * n;
}

/* POST (or GET) base+path to a relay; the answer's JSON into *doc (caller decrefs). 0 with
 * *status set, or 1 after a message (unreachable, not JSON). */
static int relay_call(struct rb *r, const char *base, int post, const char *path, long *status,
                      json_t **doc)
{
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL);
    struct buf url, body;
    buf_init(&url);
    buf_init(&body);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    buf_append(&url, base, blen);
    buf_append_str(&url, path);
    buf_append(&url, "", 1);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_relay_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    if (post) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    int rc = 0;
    *doc = NULL;
    if (cc != CURLE_OK) {
        rc = cli_fail(r->cli, "relay %.*s is unreachable: %s", (int)blen, base,
                      errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        json_error_t jerr;
        *doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
        if (*doc == NULL)
            rc = cli_fail(r->cli,
                          "relay %.*s answered %ld without JSON (is it an "
                          "influx-wal-relay?)",
                          (int)blen, base, *status);
    }
    buf_deinit(&url);
    buf_deinit(&body);
    return rc;
}

static void path_for(struct buf *p, const char *op, const char *backend, const char *from)
{
    char *eb = curl_easy_escape(NULL, backend, 0);
    buf_printf(p, "/api/rebuild%s?backend=%s", op, eb);
    curl_free(eb);
    if (from != NULL) {
        char *ef = curl_easy_escape(NULL, from, 0);
        buf_printf(p, "&from=%s", ef);
        curl_free(ef);
    }
    buf_append(p, "", 1);
}

/* One change on one relay. 0 with the answer's doc, 1 after a message (refused), or 3: the
 * relay refused because the start point was lost (409 with start_point_lost). */
static int relay_change(struct rb *r, size_t i, const char *op, json_t **doc)
{
    struct buf p;
    buf_init(&p);
    path_for(&p, op, r->backend, strcmp(op, "/start") == 0 ? r->from : NULL);
    long status = 0;
    int rc = relay_call(r, r->relays[i].url, 1, p.data, &status, doc);
    buf_deinit(&p);
    if (rc != 0)
        return rc;
    if (status == 200)
        return 0;
    if (status == 409 && json_is_true(json_object_get(*doc, "start_point_lost")))
        return 3;
    const char *err = influx_str_at(*doc, "error");
    rc = cli_fail(r->cli, "relay %s refused %s of %s: %ld %s", r->relays[i].url, op + 1, r->backend,
                  status, err != NULL ? err : "");
    json_decref(*doc);
    *doc = NULL;
    return rc;
}

/* Abort on the relays [0, n) after a failure part of the way through a start. */
static void relays_abort(struct rb *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *doc = NULL;
        relay_change(r, i, "/abort", &doc);
        json_decref(doc);
    }
}

/* The start point of every relay. 0; 1 after a message; 4 when some relay took a new start
 * point (the backup and what was restored no longer fit: start over). */
static int relays_start(struct rb *r)
{
    int changed = 0;
    for (size_t i = 0; i < r->n_relays; i++) {
        json_t *doc = NULL;
        int rc = relay_change(r, i, "/start", &doc);
        if (rc != 0) {
            relays_abort(r, i);
            return 1;
        }
        uint64_t p = (uint64_t)json_integer_value(json_object_get(doc, "from_seq"));
        int resumed = json_is_true(json_object_get(doc, "resumed"));
        if (!resumed || !r->relays[i].known || r->relays[i].seq != p)
            changed |= r->relays[i].known || r->backup_done;
        r->relays[i].seq = p;
        r->relays[i].known = 1;
        step(r, 0, "step=start relay=%s from_seq=%" PRIu64 " resumed=%d", r->relays[i].url, p,
             resumed);
        json_decref(doc);
    }
    return changed ? 4 : 0;
}

/* Whether any relay has let the start point go. 1 lost, 0 not, -1 after a message. */
static int relays_lost(struct rb *r)
{
    for (size_t i = 0; i < r->n_relays; i++) {
        struct buf p;
        buf_init(&p);
        path_for(&p, "", r->backend, NULL);
        long status = 0;
        json_t *doc = NULL;
        int rc = relay_call(r, r->relays[i].url, 0, p.data, &status, &doc);
        buf_deinit(&p);
        if (rc != 0)
            return -1;
        json_t *one = json_array_get(json_object_get(doc, "rebuilds"), 0);
        int lost = json_is_true(json_object_get(one, "start_point_lost")) ||
                   !json_is_true(json_object_get(one, "rebuilding"));
        json_decref(doc);
        if (lost)
            return 1;
    }
    return 0;
}

/* Whether the backend is up and caught up on every relay (GET /health/backend/NAME: 200). */
static int relays_caught_up(struct rb *r)
{
    for (size_t i = 0; i < r->n_relays; i++) {
        char path[200];
        snprintf(path, sizeof(path), "/health/backend/%s", r->backend);
        long status = 0;
        json_t *doc = NULL;
        int rc = relay_call(r, r->relays[i].url, 0, path, &status, &doc);
        json_decref(doc);
        if (rc != 0 || status != 200)
            return 0;
    }
    return 1;
}

/* ---- influxd's side -------------------------------------------------------------------------- */

/* A source that does not answer /ping is down. 0, or 1 after a message. */
static int ping(struct rb *r, const struct cli_backend *b, const char *role)
{
    CURL *e = curl_easy_init();
    IWR_ASSERT(e != NULL);
    struct buf url;
    buf_init(&url);
    buf_printf(&url, "%s/ping", b->url);
    buf_append(&url, "", 1);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url.data);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (b->ca_file != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, b->ca_file);
    if (b->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    buf_deinit(&url);
    if (cc != CURLE_OK)
        return cli_fail(r->cli, "%s %s is down: %s", role, b->name,
                        errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status < 200 || status > 299)
        return cli_fail(r->cli, "%s %s is down: /ping answered %ld", role, b->name, status);
    return 0;
}

/* The first column of every row of every series, across chunks. */
struct names {
    char **v;
    size_t n, cap;
    const char *err;
};

/* Append 's' (the list takes it). */
static void names_push(struct names *nm, char *s)
{
    if (nm->n == nm->cap) {
        nm->cap = nm->cap ? nm->cap * 2 : 16;
        nm->v = xrealloc(nm->v, nm->cap * sizeof(*nm->v));
    }
    nm->v[nm->n++] = s;
}

static int collect_names(void *arg, const json_t *result)
{
    struct names *nm = arg;
    const char *err = influx_str_at(result, "error");
    if (err != NULL) {
        nm->err = "refused";
        return 5;
    }
    json_t *series = json_object_get(result, "series");
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *values = json_object_get(json_array_get(series, i), "values");
        for (size_t j = 0; j < json_array_size(values); j++) {
            const char *s = json_string_value(json_array_get(json_array_get(values, j), 0));
            if (s == NULL)
                continue;
            names_push(nm, xstrdup(s));
        }
    }
    return 0;
}

static void names_free(struct names *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
    memset(nm, 0, sizeof(*nm));
}

static int names_has(const struct names *nm, const char *s)
{
    for (size_t i = 0; i < nm->n; i++)
        if (strcmp(nm->v[i], s) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Every row of every series as one text line ("series|col=val|..."), sorted: a digest of an
 * answer for comparison, with the columns named. */
static int collect_rows(void *arg, const json_t *result)
{
    struct names *nm = arg;
    if (influx_str_at(result, "error") != NULL) {
        nm->err = "refused";
        return 5;
    }
    json_t *series = json_object_get(result, "series");
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *s = json_array_get(series, i);
        json_t *cols = json_object_get(s, "columns");
        json_t *values = json_object_get(s, "values");
        const char *name = influx_str_at(s, "name");
        for (size_t j = 0; j < json_array_size(values); j++) {
            json_t *row = json_array_get(values, j);
            struct buf line;
            buf_init(&line);
            buf_append_str(&line, name != NULL ? name : "");
            for (size_t k = 0; k < json_array_size(row); k++) {
                const char *col = json_string_value(json_array_get(cols, k));
                if (col != NULL && strcmp(col, "time") == 0)
                    continue; /* count(*) answers with time 0 */
                char *v = json_dumps(json_array_get(row, k), JSON_ENCODE_ANY);
                buf_printf(&line, "|%s=%s", col != NULL ? col : "?", v != NULL ? v : "null");
                free(v);
            }
            buf_append(&line, "", 1);
            names_push(nm, buf_steal(&line));
        }
    }
    return 0;
}

/* Run 'q' (on 'db'), collect what 'collect' takes from each result into 'out', sorted. 0, or 1
 * after a message. */
static int query_sorted(struct rb *r, struct influx *c, const char *db, const char *q,
                        influx_result_fn *collect, struct names *out)
{
    memset(out, 0, sizeof(*out));
    int rc = influx_query(c, db, q, collect, out);
    if (rc == 5)
        rc = cli_fail(r->cli, "%s refused %s", influx_name(c), q);
    if (rc == 0 && out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    return rc;
}

/* "host:port" of a backend's RPC service: given, or the URL's host with port 8088. */
static int rpc_of(struct rb *r, const struct cli_backend *b, const char *given, char *out,
                  size_t cap)
{
    if (given != NULL) {
        snprintf(out, cap, "%s", given);
        return 0;
    }
    CURLU *u = curl_url();
    char *host = NULL;
    int ok = curl_url_set(u, CURLUPART_URL, b->url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK;
    if (ok)
        snprintf(out, cap, "%s:%s", host, RPC_DEFAULT_PORT);
    curl_free(host);
    curl_url_cleanup(u);
    return ok ? 0
              : cli_fail(r->cli, "cannot tell the RPC address of %s from %s: give it", b->name,
                         b->url);
}

/* Run influxd with 'argv' (argv[0] is replaced by the tool's path), its output appended to
 * the state dir's influxd.log, polling every 200 ms for progress of 'watch' (a directory
 * whose size grows; NULL: none). It dies with us (PR_SET_PDEATHSIG), so a killed rebuild
 * leaves no restore running into the target. 0, or 1 after a message with its last line (7 and
 * no message with 'quiet'). */
static int run_tool(struct rb *r, char **argv, const char *step, const char *watch, int quiet)
{
    char logp[1100];
    snprintf(logp, sizeof(logp), "%s/influxd.log", r->dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail(r->cli, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0640);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(r->influxd, argv);
        fprintf(stderr, "exec %s: %s\n", r->influxd, strerror(errno));
        _exit(127);
    }
    int status = 0;
    uint64_t last = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return cli_fail(r->cli, "waitpid: %s", strerror(errno));
        if (watch != NULL) {
            uint64_t n = tree_bytes(watch);
            if (n > last && r->pg.tty)
                progress_step(&r->pg, n - last, NULL);
            last = n > last ? n : last;
        }
        usleep(200000);
    }
    if (watch != NULL) {
        uint64_t n = tree_bytes(watch);
        if (n > last && r->pg.tty)
            progress_step(&r->pg, n - last, NULL);
    }
    progress_clear(&r->pg);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (quiet)
        return 7;
    /* Its last line says why. */
    char line[512] = "", cur[512];
    FILE *f = fopen(logp, "r");
    while (f != NULL && fgets(cur, sizeof(cur), f) != NULL)
        if (cur[0] != '\n')
            snprintf(line, sizeof(line), "%s", cur);
    if (f != NULL)
        fclose(f);
    line[strcspn(line, "\n")] = '\0';
    return cli_fail(r->cli, "influxd %s failed (%s %d): %s (see %s)", step,
                    WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line, logp);
}

/* The bytes of each database in the backup, from its manifest (JSON: files[] with database
 * and size). */
static uint64_t manifest_bytes(struct rb *r, const char *bdir, const char *db)
{
    DIR *d = opendir(bdir);
    if (d == NULL)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 9 || strcmp(e->d_name + len - 9, ".manifest") != 0)
            continue;
        char p[1400];
        snprintf(p, sizeof(p), "%s/%s", bdir, e->d_name);
        json_error_t jerr;
        json_t *m = json_load_file(p, 0, &jerr);
        json_t *files = json_object_get(m, "files");
        for (size_t i = 0; i < json_array_size(files); i++) {
            json_t *f = json_array_get(files, i);
            const char *fdb = influx_str_at(f, "database");
            if (db == NULL || (fdb != NULL && strcmp(fdb, db) == 0))
                n += (uint64_t)json_integer_value(json_object_get(f, "size"));
        }
        json_decref(m);
    }
    closedir(d);
    (void)r;
    return n;
}

/* ---- the steps ---------------------------------------------------------------------------------
 */

/* B holds no database but _internal, or (resuming) only what this rebuild restored. 0, or 1
 * after a message. */
static int check_target(struct rb *r)
{
    struct names dbs;
    int rc = query_sorted(r, r->qd, NULL, "SHOW DATABASES", collect_names, &dbs);
    if (rc != 0)
        return rc;
    struct buf extra;
    buf_init(&extra);
    for (size_t i = 0; i < dbs.n; i++) {
        if (strcmp(dbs.v[i], "_internal") == 0)
            continue;
        int ours = 0;
        for (size_t j = 0; j < r->n_dbs && r->have_state; j++)
            ours |= strcmp(r->dbs[j], dbs.v[i]) == 0 && (r->restored[j] || (int)j == r->restoring);
        if (!ours)
            buf_printf(&extra, "%s%s", extra.len ? ", " : "", dbs.v[i]);
    }
    if (extra.len > 0)
        rc = cli_fail(r->cli,
                      "target %s is not empty: it holds %.*s (a rebuild needs a backend "
                      "with no database but _internal: wipe it first)",
                      r->backend, (int)extra.len, extra.data);
    buf_deinit(&extra);
    names_free(&dbs);
    return rc;
}

static int drop_on_target(struct rb *r, const char *db)
{
    struct buf q;
    buf_init(&q);
    buf_append_str(&q, "DROP DATABASE ");
    influx_quote_ident(&q, db);
    buf_append(&q, "", 1);
    struct names nm;
    int rc = query_sorted(r, r->qd, NULL, q.data, collect_names, &nm);
    names_free(&nm);
    buf_deinit(&q);
    return rc;
}

/* Start over: forget the backup and drop on B what was restored from it. */
static int start_over(struct rb *r)
{
    for (size_t i = 0; i < r->n_dbs; i++)
        if ((r->restored[i] || (int)i == r->restoring) && drop_on_target(r, r->dbs[i]) != 0)
            return 1;
    dbs_clear(r);
    r->backup_done = 0;
    char bdir[1100];
    snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
    remove_tree(bdir);
    return state_save(r);
}

static int do_backup(struct rb *r)
{
    char bdir[1100];
    snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
    if (r->backup_done) {
        step(r, 0, "step=backup reused=1 bytes=%" PRIu64, tree_bytes(bdir));
        return 0;
    }
    /* The databases to restore, listed after every relay holds its P: one created later
     * comes through the log (CREATE DATABASE, or the sender's create-database). */
    struct names dbs;
    int rc = query_sorted(r, r->qs, NULL, "SHOW DATABASES", collect_names, &dbs);
    if (rc != 0)
        return rc;
    dbs_clear(r);
    for (size_t i = 0; i < dbs.n && r->n_dbs < MAX_DBS; i++)
        if (strcmp(dbs.v[i], "_internal") != 0)
            r->dbs[r->n_dbs++] = xstrdup(dbs.v[i]);
    names_free(&dbs);
    remove_tree(bdir);
    char *argv[] = {"influxd", "backup", "-portable", "-host", r->src_rpc, bdir, NULL};
    rc = run_tool(r, argv, "backup", bdir, 0);
    if (rc != 0)
        return rc;
    r->backup_done = 1;
    step(r, r->pg.tty ? 0 : tree_bytes(bdir), "step=backup databases=%zu bytes=%" PRIu64, r->n_dbs,
         tree_bytes(bdir));
    return state_save(r);
}

static int do_restore(struct rb *r)
{
    char bdir[1100];
    snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
    /* From here the total is known: what is done plus what is left to restore. */
    uint64_t left = 0;
    for (size_t i = 0; i < r->n_dbs; i++)
        if (!r->restored[i])
            left += manifest_bytes(r, bdir, r->dbs[i]);
    r->pg.total = r->pg.done + left;
    for (size_t i = 0; i < r->n_dbs; i++) {
        if (r->restored[i])
            continue;
        const char *db = r->dbs[i];
        /* Half restored by a run that was interrupted: drop it and restore it whole. */
        struct names have;
        int rc = query_sorted(r, r->qd, NULL, "SHOW DATABASES", collect_names, &have);
        if (rc != 0)
            return rc;
        int exists = names_has(&have, db);
        names_free(&have);
        if (exists && drop_on_target(r, db) != 0)
            return 1;
        r->restoring = (int)i;
        if (state_save(r) != 0)
            return 1;
        uint64_t bytes = manifest_bytes(r, bdir, db);
        char *argv[] = {"influxd", "restore",  "-portable", "-host", r->dst_rpc,
                        "-db",     (char *)db, bdir,        NULL};
        /* A database without shards has no files in the backup: influxd restore creates it
         * with its retention policies and still exits 1 ("DB metadata not changed"), as it does
         * for a database not in the backup at all (dropped before it was taken: the DROP is
         * in the log). Which one it was, the target says. */
        rc = run_tool(r, argv, "restore", NULL, bytes == 0);
        if (rc == 7) {
            rc = query_sorted(r, r->qd, NULL, "SHOW DATABASES", collect_names, &have);
            if (rc != 0)
                return rc;
            exists = names_has(&have, db);
            names_free(&have);
            if (!exists)
                step(r, 0, "step=restore db=%s skipped=not_in_backup", db);
        }
        if (rc != 0)
            return rc;
        r->restored[i] = 1;
        r->restoring = -1;
        if (state_save(r) != 0)
            return 1;
        step(r, bytes, "step=restore db=%s bytes=%" PRIu64, db, bytes);
    }
    return 0;
}

/* One comparison of A and B: 0 equal, 6 different (*what says where), 1 after a message. */
static int compare_once(struct rb *r, struct buf *what, uint64_t *points)
{
    struct names da, db_;
    int rc = query_sorted(r, r->qs, NULL, "SHOW DATABASES", collect_names, &da);
    if (rc != 0)
        return rc;
    rc = query_sorted(r, r->qd, NULL, "SHOW DATABASES", collect_names, &db_);
    if (rc != 0) {
        names_free(&da);
        return rc;
    }
    buf_clear(what);
    *points = 0;
    int differ = 0;
    if (da.n != db_.n)
        differ = 1;
    for (size_t i = 0; i < da.n && !differ; i++)
        differ = strcmp(da.v[i], db_.v[i]) != 0;
    if (differ)
        buf_append_str(what, "the lists of databases");
    for (size_t i = 0; i < da.n && !differ && rc == 0; i++) {
        const char *db = da.v[i];
        if (strcmp(db, "_internal") == 0)
            continue;
        static const char *const qs[] = {"SHOW RETENTION POLICIES", "SHOW MEASUREMENTS",
                                         "SHOW FIELD KEYS"};
        for (size_t k = 0; k < 3 && !differ && rc == 0; k++) {
            struct names x, y;
            rc = query_sorted(r, r->qs, db, qs[k], collect_rows, &x);
            if (rc == 0 && (rc = query_sorted(r, r->qd, db, qs[k], collect_rows, &y)) == 0) {
                differ = x.n != y.n;
                for (size_t j = 0; j < x.n && !differ; j++)
                    differ = strcmp(x.v[j], y.v[j]) != 0;
                names_free(&y);
            }
            if (rc == 0 && differ)
                buf_printf(what, "%s on %s", qs[k], db);
            /* Per retention policy, the count of every field of every measurement. */
            for (size_t j = 0; k == 0 && rc == 0 && !differ && j < x.n; j++) {
                /* A row is "|name=\"rp\"|duration=..": the name is its first column. */
                json_error_t jerr;
                const char *p = strstr(x.v[j], "|name=");
                const char *end = p != NULL ? strstr(p + 6, "|") : NULL;
                json_t *nj = p != NULL && end != NULL
                                 ? json_loadb(p + 6, (size_t)(end - p - 6), JSON_DECODE_ANY, &jerr)
                                 : NULL;
                const char *rp = json_string_value(nj);
                if (rp != NULL) {
                    struct buf q;
                    buf_init(&q);
                    buf_append_str(&q, "SELECT count(*) FROM ");
                    influx_quote_ident(&q, rp);
                    buf_printf(&q, "./.*/ WHERE time < %" PRIu64, r->verify_before_ns);
                    buf_append(&q, "", 1);
                    struct names ca, cb;
                    rc = query_sorted(r, r->qs, db, q.data, collect_rows, &ca);
                    if (rc == 0 &&
                        (rc = query_sorted(r, r->qd, db, q.data, collect_rows, &cb)) == 0) {
                        differ = ca.n != cb.n;
                        for (size_t m = 0; m < ca.n && !differ; m++)
                            differ = strcmp(ca.v[m], cb.v[m]) != 0;
                        for (size_t m = 0; m < cb.n; m++) {
                            /* The points of a measurement: its largest field count. */
                            uint64_t most = 0;
                            for (const char *c = strstr(cb.v[m], "="); c != NULL;
                                 c = strstr(c + 1, "=")) {
                                uint64_t v = strtoull(c + 1, NULL, 10);
                                most = v > most ? v : most;
                            }
                            *points += most;
                        }
                        if (differ)
                            buf_printf(what, "the field counts in %s.%s", db, rp);
                        names_free(&cb);
                    }
                    names_free(&ca);
                    buf_deinit(&q);
                }
                json_decref(nj);
            }
            names_free(&x);
        }
    }
    names_free(&da);
    names_free(&db_);
    if (rc != 0)
        return rc;
    return differ ? 6 : 0;
}

/* After finish: wait for B to catch up on every relay, then compare, again while writes in
 * flight make them differ, up to VERIFY_TIMEOUT_S. 0 equal, 1 after a message. */
static int verify(struct rb *r, uint64_t *points)
{
    uint64_t deadline = now_ns() + (uint64_t)VERIFY_TIMEOUT_S * 1000000000u;
    /* Counts of points older than a little before now: writes keep coming (with the present
     * time, mostly), and both sides caught up after this moment hold every older point that
     * was logged before it. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->verify_before_ns =
        (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - VERIFY_MARGIN_S * 1000000000u;
    struct buf what;
    buf_init(&what);
    int rc = 6, tries = 0;
    while (rc == 6 && now_ns() < deadline) {
        if (tries++ > 0)
            sleep(1);
        if (!relays_caught_up(r))
            continue;
        rc = compare_once(r, &what, points);
    }
    if (rc == 6)
        rc = cli_fail(r->cli,
                      "verify: %s and %s still differ in %.*s after %d s (writes in "
                      "flight, or a real difference: run influx-wal scrub)",
                      r->from, r->backend, (int)what.len, what.data, VERIFY_TIMEOUT_S);
    else if (rc == 0)
        step(r, 0, "step=verify equal=1 points=%" PRIu64, *points);
    buf_deinit(&what);
    return rc;
}

/* The relays to tell: --relay URL..., else the daemon's first listen address from its
 * config (https when that listener has TLS; its certificate must then verify with the
 * system's CAs, else give --relay), else the built-in default. */
static void relays_default(struct rb *r, const char *config_path, char *buf, size_t cap)
{
    const char *path = config_path;
    if (path == NULL && access(PACKAGED_CONFIG, R_OK) == 0)
        path = PACKAGED_CONFIG;
    snprintf(buf, cap, "http://127.0.0.1:9096");
    if (path != NULL) {
        struct config c;
        char err[512];
        config_defaults(&c);
        if (config_load_file(&c, path, err, sizeof(err)) == 0 && c.n_listen > 0) {
            const char *l = c.listen[0];
            const char *scheme =
                c.listen_tls != NULL && config_tls_on(&c.listen_tls[0]) ? "https" : "http";
            /* A wildcard address is reached on loopback. */
            if (strncmp(l, "0.0.0.0:", 8) == 0)
                snprintf(buf, cap, "%s://127.0.0.1:%s", scheme, l + 8);
            else if (strncmp(l, "[::]:", 5) == 0)
                snprintf(buf, cap, "%s://[::1]:%s", scheme, l + 5);
            else if (l[0] == ':')
                snprintf(buf, cap, "%s://127.0.0.1%s", scheme, l);
            else
                snprintf(buf, cap, "%s://%s", scheme, l);
        }
        config_deinit(&c);
    }
    r->relays[0].url = buf;
    r->n_relays = 1;
}

static int rebuild_run(struct rb *r)
{
    int rc = 0;
    for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
        rc = relays_start(r);
        if (rc == 4) {
            step(r, 0, "step=new_start_point reason=start_point_changed");
            if (start_over(r) != 0)
                return 1;
            rc = 0;
        }
        if (rc == 0)
            rc = state_save(r);
        if (rc == 0)
            rc = do_backup(r);
        if (rc == 0)
            rc = do_restore(r);
        if (rc != 0)
            return rc;
        int lost = relays_lost(r);
        if (lost < 0)
            return 1;
        if (lost) {
            step(r, 0, "step=new_start_point reason=start_point_lost");
            if (start_over(r) != 0)
                return 1;
            for (size_t i = 0; i < r->n_relays; i++)
                r->relays[i].known = 0;
            continue;
        }
        for (size_t i = 0; i < r->n_relays; i++) {
            json_t *doc = NULL;
            rc = relay_change(r, i, "/finish", &doc);
            json_decref(doc);
            if (rc == 3)
                break;
            if (rc != 0)
                return rc;
            step(r, 0, "step=finish relay=%s", r->relays[i].url);
        }
        if (rc == 3) {
            step(r, 0, "step=new_start_point reason=start_point_lost");
            if (start_over(r) != 0)
                return 1;
            for (size_t i = 0; i < r->n_relays; i++)
                r->relays[i].known = 0;
            continue;
        }
        return 0;
    }
    return cli_fail(r->cli,
                    "the start point was lost %d times (the log keeps filling faster "
                    "than the restore goes): give the log more room or the restore "
                    "more speed",
                    ATTEMPTS_MAX);
}

int cmd_rebuild(struct cli *cli)
{
    const char *urls[MAX_URLS], *relay_urls[MAX_RELAYS];
    size_t n_urls = 0, n_relay_urls = 0;
    int rc = cli_take_all(cli, "--url", urls, MAX_URLS, &n_urls);
    if (rc == 0)
        rc = cli_take_all(cli, "--relay", relay_urls, MAX_RELAYS, &n_relay_urls);
    const char *backend = NULL, *from = NULL, *config = NULL, *from_rpc = NULL, *rpc = NULL;
    const char *state_dir = NULL, *influxd = NULL;
    const struct cli_opt opts[] = {{"--backend", &backend, NULL}, {"--from", &from, NULL},
                                   {"--config", &config, NULL},   {"--from-rpc", &from_rpc, NULL},
                                   {"--rpc", &rpc, NULL},         {"--state-dir", &state_dir, NULL},
                                   {"--influxd", &influxd, NULL}, {NULL, NULL, NULL}};
    if (rc == 0)
        rc = cli_parse(cli, opts, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    if (backend == NULL || from == NULL)
        return cli_usage(cli, "--backend and --from are required");
    if (strcmp(backend, from) == 0)
        return cli_usage(cli, "--backend and --from name the same backend");
    struct rb *r = xcalloc(1, sizeof(*r));
    char relay_default[300];
    r->cli = cli;
    r->backend = backend;
    r->from = from;
    r->restoring = -1;
    r->influxd = influxd != NULL ? influxd : "/usr/bin/influxd";
    r->t0_ns = now_ns();
    for (size_t i = 0; i < n_relay_urls; i++)
        r->relays[i].url = relay_urls[i];
    r->n_relays = n_relay_urls;
    if (r->n_relays == 0)
        relays_default(r, config, relay_default, sizeof(relay_default));
    progress_init(&r->pg, "rebuild", "bytes", 0);
    rc = cli_backend_resolve(cli, config, urls, n_urls, from, &r->src);
    if (rc == 0)
        rc = cli_backend_resolve(cli, config, urls, n_urls, backend, &r->dst);
    if (rc == 0)
        rc = rpc_of(r, &r->src, from_rpc, r->src_rpc, sizeof(r->src_rpc));
    if (rc == 0)
        rc = rpc_of(r, &r->dst, rpc, r->dst_rpc, sizeof(r->dst_rpc));
    if (rc == 0) {
        if (state_dir != NULL)
            snprintf(r->dir, sizeof(r->dir), "%s", state_dir);
        else
            snprintf(r->dir, sizeof(r->dir), "%s/rebuild/%s", cli->data_dir, backend);
        int mrc = mkdirs(r->dir);
        if (mrc != 0)
            rc = cli_fail(cli, "cannot create %s: %s", r->dir, strerror(-mrc));
    }
    if (rc == 0)
        rc = state_load(r);
    if (rc == 0)
        rc = influx_open(cli, &r->src, &r->qs);
    if (rc == 0)
        rc = influx_open(cli, &r->dst, &r->qd);
    /* Nothing is paused before both checks pass. */
    if (rc == 0)
        rc = ping(r, &r->src, "source");
    if (rc == 0)
        rc = ping(r, &r->dst, "target");
    if (rc == 0)
        rc = check_target(r);
    if (rc == 0)
        step(r, 0, "step=check source=%s target=%s relays=%zu resume=%d", from, backend,
             r->n_relays, r->have_state);
    if (rc == 0)
        rc = rebuild_run(r);
    uint64_t points = 0;
    if (rc == 0) {
        char bdir[1100];
        snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
        r->bytes_total = tree_bytes(bdir);
        double restored_s = (double)(now_ns() - r->t0_ns) / 1e9;
        remove_tree(r->dir); /* done: a later run is a new rebuild */
        rc = verify(r, &points);
        progress_end(&r->pg);
        if (rc == 0)
            printf("rebuild done backend=%s from=%s databases=%zu bytes=%" PRIu64 " points=%" PRIu64
                   " seconds=%.3f points_per_second=%.0f\n",
                   backend, from, r->n_dbs, r->bytes_total, points, restored_s,
                   restored_s > 0 ? (double)points / restored_s : 0.0);
    } else {
        progress_clear(&r->pg);
        /* Refused before anything was kept: leave no empty directory behind. */
        if (r->dir[0] != '\0' && rmdir(r->dir) == 0 && state_dir == NULL) {
            char *slash = strrchr(r->dir, '/');
            if (slash != NULL) {
                *slash = '\0';
                rmdir(r->dir);
            }
        }
    }
    influx_close(r->qs);
    influx_close(r->qd);
    cli_backend_deinit(&r->src);
    cli_backend_deinit(&r->dst);
    dbs_clear(r);
    free(r);
    return rc == 0 ? 0 : rc == 2 ? 2 : 1;
}
