/* The one rule for names the relay keys things by (backends, the log's cursors and dead
 * letters): 1 to NAME_LEN_MAX bytes from A-Z a-z 0-9 _ . - so that a name is safe unquoted in a
 * log line, a URL path, a file name and a Prometheus label. Pure, any thread. */
#ifndef IWR_NAME_H
#define IWR_NAME_H

#define NAME_LEN_MAX 64

/* 1 if the NUL-terminated 's' follows the rule, else 0 (NULL included). */
int name_valid(const char *s);

#endif
