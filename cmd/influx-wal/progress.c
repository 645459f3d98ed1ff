/* Progress lines for long CLI commands (progress.h). */
#include "cmd/influx-wal/progress.h"

#include "common/clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REDRAW_NS 200000000ull

void progress_init(struct progress *p, const char *event, const char *unit, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->event = event;
    p->unit = unit;
    p->total = total;
    p->start_ns = clock_monotonic_ns();
    p->tty = isatty(STDERR_FILENO);
}

static void draw(struct progress *p, uint64_t now)
{
    double secs = (double)(now - p->start_ns) / 1e9;
    double rate = secs > 0 ? (double)p->done / secs : 0;
    fprintf(stderr, "\r\033[K");
    if (p->total > 0)
        fprintf(stderr, "%5.1f%% ", 100.0 * (double)p->done / (double)p->total);
    fprintf(stderr, "%" PRIu64, p->done);
    if (p->total > 0)
        fprintf(stderr, "/%" PRIu64, p->total);
    fprintf(stderr, " %s, %.1f/s", p->unit, rate);
    if (p->total > 0 && rate > 0 && p->done < p->total) {
        uint64_t eta = (uint64_t)((double)(p->total - p->done) / rate);
        fprintf(stderr, ", ETA %" PRIu64 ":%02" PRIu64 ":%02" PRIu64, eta / 3600, eta / 60 % 60,
                eta % 60);
    }
    fflush(stderr);
    p->drawn = 1;
    p->drawn_ns = now;
}

void progress_step(struct progress *p, uint64_t n, const char *fmt, ...)
{
    p->done += n;
    if (p->quiet)
        return;
    if (p->tty) {
        uint64_t now = clock_monotonic_ns();
        if (!p->drawn || now - p->drawn_ns >= REDRAW_NS || p->done == p->total)
            draw(p, now);
        return;
    }
    fprintf(stderr, "event=%s done=%" PRIu64 " total=%" PRIu64, p->event, p->done, p->total);
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        fputc(' ', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

void progress_clear(struct progress *p)
{
    if (p->tty && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        p->drawn = 0;
    }
}

void progress_end(struct progress *p)
{
    if (p->quiet)
        return;
    uint64_t now = clock_monotonic_ns();
    double secs = (double)(now - p->start_ns) / 1e9;
    if (p->tty) {
        draw(p, now);
        fprintf(stderr, " in %.1fs\n", secs);
        p->drawn = 0;
        return;
    }
    fprintf(stderr, "event=%s_done done=%" PRIu64 " total=%" PRIu64 " elapsed_s=%.3f\n", p->event,
            p->done, p->total, secs);
}
