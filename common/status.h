/* What relay/ (health, /query routing, metrics) needs to know about each backend, filled in by
 * replay/. The two parts never include each other; they share this plain struct and the log. */
#ifndef IWR_STATUS_H
#define IWR_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define STATUS_CODES 8

struct backend_status {
    char name[65];
    char url[256];
    int up;                     /* last request or /ping reached it and got an answer it accepts */
    int caught_up;              /* cursor at the head of the log (for it) and nothing in flight */
    int given_up;               /* the give-up bound was hit; it no longer holds the log */
    uint64_t cursor;            /* last acknowledged sequence */
    uint64_t lag_records;
    uint64_t lag_bytes;
    double lag_seconds;
    uint64_t sent_points_total; /* points acknowledged by this backend */
    uint64_t sent_batches_total;
    uint64_t dead_letters_total; /* lines sent to the dead-letter table by this process */
    uint64_t retries_total;
    uint64_t down_since_ns;     /* 0 while up */
    uint64_t last_ok_ns;
    char last_error[256];       /* "" when the last attempt succeeded; never holds credentials */
    /* Requests by answer: code[i] counts status codes[i] (0 = transport failure). */
    long codes[STATUS_CODES];
    uint64_t code_counts[STATUS_CODES];
    /* Request-duration histogram (seconds), same bounds as status_duration_bounds. */
    uint64_t duration_buckets[12];
    double duration_sum;
    uint64_t duration_count;
    double drain_records_per_second; /* moving average of the cursor's speed */
};

extern const double status_duration_bounds[12];

#endif
