/* Progress of a long CLI command (scrub, rebuild) on stderr: on a terminal one line redrawn in
 * place (percent, count, rate, ETA) at most 5 times a second; otherwise one logfmt line per
 * step, for logs. One thread; the caller owns the struct. */
#ifndef IWR_PROGRESS_H
#define IWR_PROGRESS_H

#include <stdint.h>

struct progress {
    const char *event; /* logfmt "event=" of each step line, e.g. "scrub_measurement" */
    const char *unit;  /* what is counted: "measurements", "points" */
    uint64_t total;    /* 0: unknown (no percent or ETA) */
    uint64_t done;
    uint64_t start_ns, drawn_ns;
    int tty;   /* stderr is a terminal (and quiet is off) */
    int quiet; /* nothing at all */
    int drawn; /* a line is on the terminal and needs clearing */
};

/* Start counting; 'event' and 'unit' are borrowed for the struct's life. */
void progress_init(struct progress *p, const char *event, const char *unit, uint64_t total);
/* 'n' more done. Not on a terminal: one line "event=<event> done=D total=T <detail>" where
 * detail is fmt's output (logfmt pairs, may be NULL). On a terminal: the line is redrawn. */
void progress_step(struct progress *p, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clear the terminal line (before printing results on stdout or stderr). */
void progress_clear(struct progress *p);
/* Done: on a terminal a last line with the totals, elapsed time and rate. */
void progress_end(struct progress *p);

#endif
