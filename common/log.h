/* Logging: one logfmt line per event to stderr, prefixed with ts= and level=. The format string
 * carries the rest ("event=... key=value"); values with spaces must be quoted by the caller
 * (log_quote helps). Thread-safe: each line is one write(2). */
#ifndef IWR_LOG_H
#define IWR_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

/* Set the lowest level written; default LOG_INFO. Not thread-safe: call at startup or reload. */
void log_set_level(enum log_level level);
/* Parse "debug", "info", "warn", "error", "off"; 0 or IWR_EPARSE. */
int log_parse_level(const char *s, enum log_level *out);
int log_enabled(enum log_level level);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy 's' (at most 'len' bytes) into 'out' as a logfmt value: quoted and escaped when needed,
 * cut at 'cap' - 1 bytes. Returns 'out'. */
const char *log_quote(char *out, size_t cap, const char *s, size_t len);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
