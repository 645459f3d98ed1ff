/* influx-wal rebuild's state directory: the state file (relays and their start points, the
 * databases and which are restored) that makes a run resumable, written whole and renamed, and
 * the directory helpers (create, remove, measure) the other steps use. One thread. */
#include "cmd/influx-wal/rebuild.h"

#include "common/buf.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int rb_state_save(struct rb *r)
{
    char tmp[1100], path[1100];
    snprintf(tmp, sizeof(tmp), "%s/state.tmp", r->dir);
    snprintf(path, sizeof(path), "%s/state", r->dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return cli_fail(r->cli, "%s: %s", tmp, strerror(errno));
    fprintf(f, "backend=%s\nfrom=%s\nbackup=%d\n", r->backend, r->from, r->backup_done);
    /* A relay by its URL as shown: the file never holds the relay's password. */
    for (size_t i = 0; i < r->n_relays; i++)
        if (r->relays[i].known)
            fprintf(f, "relay=%" PRIu64 " %s\n", r->relays[i].seq, r->relays[i].shown);
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

void rb_dbs_clear(struct rb *r)
{
    for (size_t i = 0; i < r->n_dbs; i++)
        free(r->dbs[i]);
    r->n_dbs = 0;
    r->restoring = -1;
    memset(r->restored, 0, sizeof(r->restored));
}

/* Read the state left by an earlier run of the same rebuild. 0 (have_state says whether there
 * was one), or 1 after a message (one for another backend or source). */
int rb_state_load(struct rb *r)
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
            /* The URL as shown; a state file written before this rule holds it as given. */
            for (size_t i = 0; i < r->n_relays; i++)
                if (strcmp(r->relays[i].shown, sp + 1) == 0 ||
                    strcmp(r->relays[i].url, sp + 1) == 0) {
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

int rb_mkdirs(const char *path)
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
void rb_remove_tree(const char *path)
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
            rb_remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

uint64_t rb_tree_bytes(const char *path)
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
            n += S_ISDIR(st.st_mode) ? rb_tree_bytes(p) : (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}
