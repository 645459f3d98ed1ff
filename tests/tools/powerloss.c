/* powerloss.so: an LD_PRELOAD shim that simulates a power cut for the files of one directory.
 * Used by tests/unit/wal/test_powerloss.c; not installed.
 *
 * It interposes the calls LMDB makes on its data file (open/open64/openat/creat, close,
 * write/pwrite/pwrite64/writev/pwritev/pwritev2, ftruncate, fsync/fdatasync/syncfs/sync, and
 * msync/sync_file_range to count them) and keeps a model of what the disk holds:
 *
 *   - the first write to a 4 KiB page since the file's last fsync/fdatasync saves the page as
 *     it was (its pre-image) and every write is logged with the bytes it wrote;
 *   - an ftruncate saves the pages a shrink cuts off, and a cut undoes it like a write;
 *   - fsync or fdatasync on any descriptor of the file makes everything written to it so far
 *     durable (the page cache is per file), including its size: the log of that file is dropped;
 *   - a write through a descriptor opened with O_DSYNC or O_SYNC (LMDB's meta page) is durable
 *     when it returns, and so is the file size it needs.
 *
 * Every write, ftruncate or sync call on a tracked file is an event, counted from 1. Before running
 * event IWR_PL_CRASH_AT the shim cuts the power: it writes every saved pre-image back, replays the
 * writes that survive (the durable ones; with IWR_PL_KEEP_SEED also a seeded random half of
 * the unsynced ones, page by page, as a disk reordering its cache would keep them), truncates
 * the file to the size that survives, appends a one-line report to IWR_PL_REPORT and leaves with
 * exit_group(77). Nothing else of the process runs after the cut: every tracked call takes one
 * mutex, so no other thread is inside one, and the real I/O is done by raw system calls, so the
 * shim never calls itself (nor ASan's interceptors) back.
 *
 * Environment: IWR_PL_DIR (absolute; files directly in it are tracked, except lock.mdb, which
 * LMDB rebuilds whenever it opens an environment no process holds), IWR_PL_CRASH_AT (0: never),
 * IWR_PL_CUT_AT_EXIT (1: a process that exits before that event loses the power at exit),
 * IWR_PL_KEEP_SEED (0: drop every unsynced write), IWR_PL_REPORT (a file the report is appended
 * to). Without IWR_PL_DIR the shim only passes calls through.
 *
 * Not modelled, and counted in the report as "unmodelled" so a test can insist on zero:
 * msync (LMDB only calls it with MDB_WRITEMAP), sync_file_range on a tracked file (it starts
 * write-back and promises nothing). An unsynced ftruncate never survives a cut, also in the
 * reordering mode: the size goes back to the durable one. Writes through a writable shared mapping
 * are invisible to a shim; LMDB without MDB_WRITEMAP maps its data file read-only. Torn writes
 * inside a 4 KiB page are not simulated: a page piece survives whole or not at all. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PL_PAGE 4096
#define PL_FILES 8
#define PL_FDS 4096
#define PL_SLOTS (1u << 16)   /* page pre-images per epoch, a power of two */
#define PL_ARENA (1ull << 30) /* reserved, not committed: MAP_NORESERVE */
#define PL_EXIT 77

struct pl_file {
    char path[512];
    int rfd;        /* our own read-only descriptor, for pre-images */
    uint64_t epoch; /* bumped by each sync: older log entries and pre-images are void */
    uint64_t size;  /* as the page cache has it */
    uint64_t durable_size;
    uint64_t live; /* log entries in the current epoch */
};

/* One write to one page (a write spanning pages is logged as one entry per page). */
struct pl_entry {
    struct pl_entry *next;
    uint32_t file;
    uint32_t len;
    uint64_t epoch;
    uint64_t off;
    int durable;
    unsigned char data[];
};

struct pl_slot {
    uint64_t gen; /* occupied in this generation of the table */
    uint64_t epoch;
    uint64_t page;
    uint32_t file;
    uint32_t valid; /* bytes of the page inside the file when it was saved */
    unsigned char *data;
};

static pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;
static int pl_on;
static char pl_dir[512];
static size_t pl_dir_len;
static uint64_t pl_crash_at;
static uint64_t pl_keep_seed;
static int pl_cut_at_exit;
static char pl_report[512];
static struct pl_file pl_files[PL_FILES];
static int pl_nfiles;
static signed char pl_fd_file[PL_FDS]; /* file index + 1, 0: untracked */
static unsigned char pl_fd_dsync[PL_FDS];
static struct pl_slot *pl_slots;
static uint64_t pl_gen = 1;
static size_t pl_nslots;
static unsigned char *pl_arena;
static size_t pl_arena_used;
static struct pl_entry *pl_head, **pl_tail = &pl_head;
/* Counters for the report. */
static uint64_t pl_events, pl_writes, pl_dsync_writes, pl_syncs, pl_unmodelled, pl_other_syncs;

static long pl_sys(long nr, long a, long b, long c, long d, long e, long f)
{
    return syscall(nr, a, b, c, d, e, f);
}

static long pl_ret(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

static void *pl_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (pl_arena == NULL || pl_arena_used + n > PL_ARENA)
        return NULL;
    void *p = pl_arena + pl_arena_used;
    pl_arena_used += n;
    return p;
}

static uint64_t pl_env_u64(const char *name)
{
    const char *v = getenv(name);
    return v ? strtoull(v, NULL, 10) : 0;
}

__attribute__((constructor)) static void pl_init(void)
{
    const char *d = getenv("IWR_PL_DIR");
    if (d == NULL || *d != '/' || strlen(d) >= sizeof(pl_dir))
        return;
    strcpy(pl_dir, d);
    pl_dir_len = strlen(pl_dir);
    while (pl_dir_len > 1 && pl_dir[pl_dir_len - 1] == '/')
        pl_dir[--pl_dir_len] = '\0';
    pl_crash_at = pl_env_u64("IWR_PL_CRASH_AT");
    pl_keep_seed = pl_env_u64("IWR_PL_KEEP_SEED");
    pl_cut_at_exit = pl_env_u64("IWR_PL_CUT_AT_EXIT") != 0;
    const char *r = getenv("IWR_PL_REPORT");
    if (r != NULL && strlen(r) < sizeof(pl_report))
        strcpy(pl_report, r);
    void *a = mmap(NULL, PL_ARENA, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *s = mmap(NULL, PL_SLOTS * sizeof(struct pl_slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || s == MAP_FAILED)
        return;
    pl_arena = a;
    pl_slots = s;
    pl_on = 1;
}

/* splitmix64: the keep/drop choice of each page piece, from the seed and the piece's number. */
static uint64_t pl_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void pl_report_line(const char *fmt, ...)
{
    if (pl_report[0] == '\0')
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    long fd =
        pl_sys(SYS_openat, AT_FDCWD, (long)pl_report, O_WRONLY | O_CREAT | O_APPEND, 0644, 0, 0);
    if (fd < 0)
        return;
    pl_sys(SYS_write, fd, (long)line, n, 0, 0, 0);
    pl_sys(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* Restore pre-images, replay what survives, cut the size, report, leave. Under pl_mu. */
__attribute__((noreturn)) static void pl_cut(const char *during)
{
    uint64_t restored = 0, dropped = 0, kept = 0, unsynced_bytes = 0;
    uint64_t final_size[PL_FILES];
    for (int f = 0; f < pl_nfiles; f++)
        final_size[f] = pl_files[f].durable_size;
    /* Which pieces survive decides how long each file stays. */
    uint64_t piece = 0;
    for (struct pl_entry *e = pl_head; e != NULL; e = e->next) {
        struct pl_file *pf = &pl_files[e->file];
        if (e->epoch != pf->epoch)
            continue;
        int keep = e->durable;
        if (!keep) {
            unsynced_bytes += e->len;
            keep = pl_keep_seed != 0 && (pl_mix(pl_keep_seed ^ pl_mix(piece)) & 1);
            piece++;
            e->durable = keep ? 2 : 0; /* 2: an unsynced write the disk kept */
            if (keep)
                kept++;
            else
                dropped++;
        }
        if (keep && e->off + e->len > final_size[e->file])
            final_size[e->file] = e->off + e->len;
    }
    long wfd[PL_FILES];
    for (int f = 0; f < pl_nfiles; f++)
        wfd[f] = pl_sys(SYS_openat, AT_FDCWD, (long)pl_files[f].path, O_WRONLY, 0, 0, 0);
    for (size_t i = 0; i < PL_SLOTS; i++) {
        struct pl_slot *s = &pl_slots[i];
        if (s->gen != pl_gen || s->epoch != pl_files[s->file].epoch || s->data == NULL)
            continue;
        uint64_t at = s->page * PL_PAGE;
        uint64_t end = final_size[s->file];
        if (at >= end)
            continue;
        uint64_t n = end - at < PL_PAGE ? end - at : PL_PAGE;
        pl_sys(SYS_pwrite64, wfd[s->file], (long)s->data, (long)n, (long)at, 0, 0);
        restored++;
    }
    /* Then what the disk holds of the writes since, in the order they were made. */
    for (struct pl_entry *e = pl_head; e != NULL; e = e->next)
        if (e->epoch == pl_files[e->file].epoch && e->durable != 0)
            pl_sys(SYS_pwrite64, wfd[e->file], (long)e->data, e->len, (long)e->off, 0, 0);
    for (int f = 0; f < pl_nfiles; f++)
        if (wfd[f] >= 0)
            pl_sys(SYS_close, wfd[f], 0, 0, 0, 0, 0);
    uint64_t cut = 0;
    for (int f = 0; f < pl_nfiles; f++) {
        if (final_size[f] < pl_files[f].size) {
            pl_sys(SYS_truncate, (long)pl_files[f].path, (long)final_size[f], 0, 0, 0, 0);
            cut += pl_files[f].size - final_size[f];
        }
    }
    pl_report_line("crash event=%llu during=%s writes=%llu dsync_writes=%llu syncs=%llu "
                   "unsynced_bytes=%llu pages_restored=%llu pieces_dropped=%llu "
                   "pieces_kept=%llu bytes_cut=%llu unmodelled=%llu\n",
                   (unsigned long long)pl_events, during, (unsigned long long)pl_writes,
                   (unsigned long long)pl_dsync_writes, (unsigned long long)pl_syncs,
                   (unsigned long long)unsynced_bytes, (unsigned long long)restored,
                   (unsigned long long)dropped, (unsigned long long)kept, (unsigned long long)cut,
                   (unsigned long long)pl_unmodelled);
    pl_sys(SYS_exit_group, PL_EXIT, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

/* An event on a tracked file: cut the power first if it is the chosen one. Under pl_mu. */
static void pl_event(const char *what)
{
    pl_events++;
    if (pl_crash_at != 0 && pl_events == pl_crash_at)
        pl_cut(what);
}

static int pl_tracked_path(const char *path)
{
    if (path == NULL || strncmp(path, pl_dir, pl_dir_len) != 0 || path[pl_dir_len] != '/')
        return 0;
    const char *base = path + pl_dir_len + 1;
    return *base != '\0' && strchr(base, '/') == NULL && strcmp(base, "lock.mdb") != 0;
}

/* After a successful open of 'path' as 'fd'. */
static void pl_opened(const char *path, long fd, int flags)
{
    if (!pl_on || fd < 0 || fd >= PL_FDS || !pl_tracked_path(path))
        return;
    pthread_mutex_lock(&pl_mu);
    int f;
    for (f = 0; f < pl_nfiles; f++)
        if (strcmp(pl_files[f].path, path) == 0)
            break;
    if (f == pl_nfiles && pl_nfiles < PL_FILES) {
        struct pl_file *pf = &pl_files[pl_nfiles++];
        memset(pf, 0, sizeof(*pf));
        strcpy(pf->path, path);
        pf->rfd = (int)pl_sys(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
        struct stat sb;
        /* What is in the file when the process first opens it counts as on the disk. */
        if (pl_sys(SYS_fstat, fd, (long)&sb, 0, 0, 0, 0) == 0)
            pf->size = pf->durable_size = (uint64_t)sb.st_size;
    }
    if (f < pl_nfiles) {
        pl_fd_file[fd] = (signed char)(f + 1);
        pl_fd_dsync[fd] = (flags & (O_DSYNC | O_SYNC)) != 0;
    }
    pthread_mutex_unlock(&pl_mu);
}

static struct pl_slot *pl_slot_find(uint32_t file, uint64_t page, int create)
{
    uint64_t h = pl_mix(((uint64_t)file << 56) ^ page) & (PL_SLOTS - 1);
    for (size_t i = 0; i < PL_SLOTS; i++) {
        struct pl_slot *s = &pl_slots[(h + i) & (PL_SLOTS - 1)];
        if (s->gen != pl_gen) {
            if (!create)
                return NULL;
            if (pl_nslots > PL_SLOTS / 2)
                return NULL;
            pl_nslots++;
            s->gen = pl_gen;
            s->file = file;
            s->page = page;
            s->epoch = pl_files[file].epoch;
            s->data = NULL;
            return s;
        }
        if (s->file == file && s->page == page && s->epoch == pl_files[file].epoch)
            return s;
    }
    return NULL;
}

/* Before a write of [off, off+len) to file f: save the pre-image of each page not yet saved in
 * this epoch. Under pl_mu. Cuts the power early if the shim ran out of room. */
static void pl_save_pages(uint32_t file, uint64_t off, size_t len)
{
    struct pl_file *pf = &pl_files[file];
    for (uint64_t p = off / PL_PAGE; len > 0 && p <= (off + len - 1) / PL_PAGE; p++) {
        struct pl_slot *s = pl_slot_find(file, p, 1);
        if (s == NULL)
            pl_cut("out-of-room");
        if (s->data != NULL)
            continue;
        s->data = pl_alloc(PL_PAGE);
        if (s->data == NULL)
            pl_cut("out-of-room");
        memset(s->data, 0, PL_PAGE);
        uint64_t at = p * PL_PAGE;
        s->valid = 0;
        if (at < pf->size) {
            uint64_t n = pf->size - at < PL_PAGE ? pf->size - at : PL_PAGE;
            long r = pl_sys(SYS_pread64, pf->rfd, (long)s->data, (long)n, (long)at, 0, 0);
            s->valid = r > 0 ? (uint32_t)r : 0;
        }
    }
}

/* After 'n' bytes of 'iov' went to file f at 'off': log them page by page. Under pl_mu. */
static void pl_log_write(uint32_t file, uint64_t off, const struct iovec *iov, int iovcnt, size_t n,
                         int durable)
{
    struct pl_file *pf = &pl_files[file];
    int v = 0;
    size_t in_v = 0;
    while (n > 0 && v < iovcnt) {
        size_t room = PL_PAGE - (size_t)(off % PL_PAGE);
        size_t take = n < room ? n : room;
        struct pl_entry *e = pl_alloc(sizeof(*e) + take);
        if (e == NULL)
            pl_cut("out-of-room");
        e->next = NULL;
        e->file = file;
        e->len = (uint32_t)take;
        e->epoch = pf->epoch;
        e->off = off;
        e->durable = durable;
        size_t done = 0;
        while (done < take && v < iovcnt) {
            size_t c = iov[v].iov_len - in_v;
            if (c > take - done)
                c = take - done;
            memcpy(e->data + done, (const char *)iov[v].iov_base + in_v, c);
            done += c;
            in_v += c;
            if (in_v == iov[v].iov_len) {
                v++;
                in_v = 0;
            }
        }
        *pl_tail = e;
        pl_tail = &e->next;
        pf->live++;
        off += take;
        n -= take;
    }
}

/* The sync of file f completed: all of it is on the disk. Under pl_mu. */
static void pl_synced(uint32_t file)
{
    struct pl_file *pf = &pl_files[file];
    pf->epoch++;
    pf->durable_size = pf->size;
    pf->live = 0;
    for (int f = 0; f < pl_nfiles; f++)
        if (pl_files[f].live != 0)
            return;
    /* Nothing unsynced anywhere: start the arena and the table afresh. */
    pl_arena_used = 0;
    pl_head = NULL;
    pl_tail = &pl_head;
    pl_gen++;
    pl_nslots = 0;
}

static int pl_fd(int fd)
{
    return pl_on && fd >= 0 && fd < PL_FDS && pl_fd_file[fd] != 0 ? pl_fd_file[fd] - 1 : -1;
}

/* Every tracked write: offset < 0 means the descriptor's position (write, writev). */
static ssize_t pl_write(int fd, const struct iovec *iov, int iovcnt, off_t offset, long nr,
                        int flags)
{
    int file = pl_fd(fd);
    if (file < 0) {
        if (nr == SYS_write)
            return pl_ret(pl_sys(nr, fd, (long)iov[0].iov_base, (long)iov[0].iov_len, 0, 0, 0));
        if (nr == SYS_pwrite64)
            return pl_ret(
                pl_sys(nr, fd, (long)iov[0].iov_base, (long)iov[0].iov_len, offset, 0, 0));
        if (nr == SYS_writev)
            return pl_ret(pl_sys(nr, fd, (long)iov, iovcnt, 0, 0, 0));
        return pl_ret(pl_sys(nr, fd, (long)iov, iovcnt, offset, 0, flags));
    }
    pthread_mutex_lock(&pl_mu);
    int durable = pl_fd_dsync[fd] || (nr == SYS_pwritev2 && (flags & (RWF_DSYNC | RWF_SYNC)));
    pl_event(durable ? "dsync-write" : "write");
    pl_writes++;
    pl_dsync_writes += durable != 0;
    uint64_t at = (uint64_t)offset;
    if (offset < 0) {
        long pos = pl_sys(SYS_lseek, fd, 0, SEEK_CUR, 0, 0, 0);
        at = pos < 0 ? 0 : (uint64_t)pos;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    pl_save_pages((uint32_t)file, at, total);
    long r;
    if (nr == SYS_write)
        r = pl_sys(nr, fd, (long)iov[0].iov_base, (long)iov[0].iov_len, 0, 0, 0);
    else if (nr == SYS_pwrite64)
        r = pl_sys(nr, fd, (long)iov[0].iov_base, (long)iov[0].iov_len, offset, 0, 0);
    else if (nr == SYS_writev)
        r = pl_sys(nr, fd, (long)iov, iovcnt, 0, 0, 0);
    else
        r = pl_sys(nr, fd, (long)iov, iovcnt, offset, 0, flags);
    if (r > 0) {
        struct pl_file *pf = &pl_files[file];
        pl_log_write((uint32_t)file, at, iov, iovcnt, (size_t)r, durable);
        if (at + (uint64_t)r > pf->size)
            pf->size = at + (uint64_t)r;
        if (durable && at + (uint64_t)r > pf->durable_size)
            pf->durable_size = at + (uint64_t)r;
    }
    pthread_mutex_unlock(&pl_mu);
    return pl_ret(r);
}

static int pl_sync(int fd, long nr)
{
    int file = pl_fd(fd);
    if (file < 0)
        return (int)pl_ret(pl_sys(nr, fd, 0, 0, 0, 0, 0));
    pthread_mutex_lock(&pl_mu);
    pl_event(nr == SYS_fsync ? "fsync" : "fdatasync");
    pl_syncs++;
    long r = pl_sys(nr, fd, 0, 0, 0, 0, 0);
    if (r == 0)
        pl_synced((uint32_t)file);
    pthread_mutex_unlock(&pl_mu);
    return (int)pl_ret(r);
}

/* The interposed functions. */

static int pl_open_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...);
int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = pl_open_mode(flags, ap);
    va_end(ap);
    long fd = pl_sys(SYS_openat, AT_FDCWD, (long)path, flags, mode, 0, 0);
    pl_opened(path, fd, flags);
    return (int)pl_ret(fd);
}

int open64(const char *path, int flags, ...);
int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = pl_open_mode(flags, ap);
    va_end(ap);
    long fd = pl_sys(SYS_openat, AT_FDCWD, (long)path, flags, mode, 0, 0);
    pl_opened(path, fd, flags);
    return (int)pl_ret(fd);
}

int openat(int dirfd, const char *path, int flags, ...);
int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = pl_open_mode(flags, ap);
    va_end(ap);
    long fd = pl_sys(SYS_openat, dirfd, (long)path, flags, mode, 0, 0);
    /* Only absolute paths are matched: relative ones with a dirfd would need its path. */
    if (dirfd == AT_FDCWD || path[0] == '/')
        pl_opened(path, fd, flags);
    return (int)pl_ret(fd);
}

int openat64(int dirfd, const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int mode = pl_open_mode(flags, ap);
    va_end(ap);
    long fd = pl_sys(SYS_openat, dirfd, (long)path, flags, mode, 0, 0);
    if (dirfd == AT_FDCWD || path[0] == '/')
        pl_opened(path, fd, flags);
    return (int)pl_ret(fd);
}

int creat(const char *path, mode_t mode);
int creat(const char *path, mode_t mode)
{
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode);
int creat64(const char *path, mode_t mode)
{
    return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd);
int close(int fd)
{
    if (pl_fd(fd) >= 0) {
        pthread_mutex_lock(&pl_mu);
        pl_fd_file[fd] = 0;
        pl_fd_dsync[fd] = 0;
        pthread_mutex_unlock(&pl_mu);
    }
    return (int)pl_ret(pl_sys(SYS_close, fd, 0, 0, 0, 0, 0));
}

ssize_t write(int fd, const void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n)
{
    struct iovec v = {(void *)buf, n};
    return pl_write(fd, &v, 1, -1, SYS_write, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct iovec v = {(void *)buf, n};
    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    return pl_write(fd, &v, 1, off, SYS_pwrite64, 0);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    return pl_write(fd, iov, iovcnt, -1, SYS_writev, 0);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    return pl_write(fd, iov, iovcnt, off, SYS_pwritev2, 0);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    return pwritev(fd, iov, iovcnt, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags);
ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
    /* offset -1 means the descriptor's position here, like writev. */
    return pl_write(fd, iov, iovcnt, off < 0 ? -1 : off, SYS_pwritev2, flags);
}

int fsync(int fd);
int fsync(int fd)
{
    return pl_sync(fd, SYS_fsync);
}

int fdatasync(int fd);
int fdatasync(int fd)
{
    return pl_sync(fd, SYS_fdatasync);
}

int syncfs(int fd);
int syncfs(int fd)
{
    long r = pl_sys(SYS_syncfs, fd, 0, 0, 0, 0, 0);
    if (pl_on && r == 0) {
        pthread_mutex_lock(&pl_mu);
        pl_other_syncs++;
        for (int f = 0; f < pl_nfiles; f++)
            pl_synced((uint32_t)f);
        pthread_mutex_unlock(&pl_mu);
    }
    return (int)pl_ret(r);
}

void sync(void);
void sync(void)
{
    pl_sys(SYS_sync, 0, 0, 0, 0, 0, 0);
    if (pl_on) {
        pthread_mutex_lock(&pl_mu);
        pl_other_syncs++;
        for (int f = 0; f < pl_nfiles; f++)
            pl_synced((uint32_t)f);
        pthread_mutex_unlock(&pl_mu);
    }
}

static void pl_unmodelled_call(void)
{
    if (!pl_on)
        return;
    pthread_mutex_lock(&pl_mu);
    pl_unmodelled++;
    pthread_mutex_unlock(&pl_mu);
}

/* A size change is durable at the file's next sync, like its writes: until then a cut brings
 * the durable size back, and with it the pages a shrink cut off (saved first). */
int ftruncate(int fd, off_t len);
int ftruncate(int fd, off_t len)
{
    int file = pl_fd(fd);
    if (file < 0 || len < 0)
        return (int)pl_ret(pl_sys(SYS_ftruncate, fd, len, 0, 0, 0, 0));
    pthread_mutex_lock(&pl_mu);
    pl_event("ftruncate");
    struct pl_file *pf = &pl_files[file];
    if ((uint64_t)len < pf->size)
        pl_save_pages((uint32_t)file, (uint64_t)len, (size_t)(pf->size - (uint64_t)len));
    long r = pl_sys(SYS_ftruncate, fd, len, 0, 0, 0, 0);
    if (r == 0) {
        pf->size = (uint64_t)len;
        pf->live++; /* the file has something unsynced now, even without a write */
    }
    pthread_mutex_unlock(&pl_mu);
    return (int)pl_ret(r);
}

int ftruncate64(int fd, off_t len);
int ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

int msync(void *addr, size_t len, int flags);
int msync(void *addr, size_t len, int flags)
{
    pl_unmodelled_call();
    return (int)pl_ret(pl_sys(SYS_msync, (long)addr, (long)len, flags, 0, 0, 0));
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags);
int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
    /* Starts write-back; promises nothing about the disk's cache: not a sync here. */
    if (pl_fd(fd) >= 0)
        pl_unmodelled_call();
    return (int)pl_ret(pl_sys(SYS_sync_file_range, fd, off, n, flags, 0, 0));
}

/* A process that ends without reaching its cut: with IWR_PL_CUT_AT_EXIT the power goes at
 * exit, else the counters are reported (the test's calibration run). */
__attribute__((destructor)) static void pl_fini(void)
{
    if (!pl_on)
        return;
    if (pl_cut_at_exit) {
        pthread_mutex_lock(&pl_mu);
        pl_cut("exit");
    }
    pl_report_line("exit events=%llu writes=%llu dsync_writes=%llu syncs=%llu other_syncs=%llu "
                   "unmodelled=%llu\n",
                   (unsigned long long)pl_events, (unsigned long long)pl_writes,
                   (unsigned long long)pl_dsync_writes, (unsigned long long)pl_syncs,
                   (unsigned long long)pl_other_syncs, (unsigned long long)pl_unmodelled);
}
