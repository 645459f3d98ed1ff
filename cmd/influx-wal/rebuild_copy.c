/* influx-wal rebuild's steps on the data: the check that the target is empty, influxd backup
 * -portable from the source, influxd restore -portable into the target database by database
 * (run as children that die with us, their progress measured on disk or from the backup's
 * manifests), and starting over when the start point changed. One thread. */
#include "cmd/influx-wal/rebuild.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

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
            uint64_t n = rb_tree_bytes(watch);
            if (n > last && r->pg.tty)
                progress_step(&r->pg, n - last, NULL);
            last = n > last ? n : last;
        }
        usleep(200000);
    }
    if (watch != NULL) {
        uint64_t n = rb_tree_bytes(watch);
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

/* B holds no database but _internal, or (resuming) only what this rebuild restored. 0, or 1
 * after a message. */
int rb_check_target(struct rb *r)
{
    struct names dbs;
    int rc = rb_query_sorted(r, r->qd, NULL, "SHOW DATABASES", rb_collect_names, &dbs);
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
    rb_names_free(&dbs);
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
    int rc = rb_query_sorted(r, r->qd, NULL, q.data, rb_collect_names, &nm);
    rb_names_free(&nm);
    buf_deinit(&q);
    return rc;
}

/* Start over: forget the backup and drop on B what was restored from it. */
int rb_start_over(struct rb *r)
{
    for (size_t i = 0; i < r->n_dbs; i++)
        if ((r->restored[i] || (int)i == r->restoring) && drop_on_target(r, r->dbs[i]) != 0)
            return 1;
    rb_dbs_clear(r);
    r->backup_done = 0;
    char bdir[1100];
    snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
    rb_remove_tree(bdir);
    return rb_state_save(r);
}

int rb_backup(struct rb *r)
{
    char bdir[1100];
    snprintf(bdir, sizeof(bdir), "%s/backup", r->dir);
    if (r->backup_done) {
        rb_step(r, 0, "step=backup reused=1 bytes=%" PRIu64, rb_tree_bytes(bdir));
        return 0;
    }
    /* The databases to restore, listed after every relay holds its P: one created later
     * comes through the log (CREATE DATABASE, or the sender's create-database). */
    struct names dbs;
    int rc = rb_query_sorted(r, r->qs, NULL, "SHOW DATABASES", rb_collect_names, &dbs);
    if (rc != 0)
        return rc;
    rb_dbs_clear(r);
    for (size_t i = 0; i < dbs.n && r->n_dbs < MAX_DBS; i++)
        if (strcmp(dbs.v[i], "_internal") != 0)
            r->dbs[r->n_dbs++] = xstrdup(dbs.v[i]);
    rb_names_free(&dbs);
    rb_remove_tree(bdir);
    char *argv[] = {"influxd", "backup", "-portable", "-host", r->src_rpc, bdir, NULL};
    rc = run_tool(r, argv, "backup", bdir, 0);
    if (rc != 0)
        return rc;
    r->backup_done = 1;
    rb_step(r, r->pg.tty ? 0 : rb_tree_bytes(bdir), "step=backup databases=%zu bytes=%" PRIu64,
            r->n_dbs, rb_tree_bytes(bdir));
    return rb_state_save(r);
}

int rb_restore(struct rb *r)
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
        int rc = rb_query_sorted(r, r->qd, NULL, "SHOW DATABASES", rb_collect_names, &have);
        if (rc != 0)
            return rc;
        int exists = rb_names_has(&have, db);
        rb_names_free(&have);
        if (exists && drop_on_target(r, db) != 0)
            return 1;
        r->restoring = (int)i;
        if (rb_state_save(r) != 0)
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
            rc = rb_query_sorted(r, r->qd, NULL, "SHOW DATABASES", rb_collect_names, &have);
            if (rc != 0)
                return rc;
            exists = rb_names_has(&have, db);
            rb_names_free(&have);
            if (!exists)
                rb_step(r, 0, "step=restore db=%s skipped=not_in_backup", db);
        }
        if (rc != 0)
            return rc;
        r->restored[i] = 1;
        r->restoring = -1;
        if (rb_state_save(r) != 0)
            return 1;
        rb_step(r, bytes, "step=restore db=%s bytes=%" PRIu64, db, bytes);
    }
    return 0;
}
