/* A strict parser for the subset of TOML 1.0 that configuration files use: tables, dotted table
 * names, arrays of tables, bare and quoted (dotted) keys, basic strings with escapes, literal
 * strings, integers (decimal with '_' and sign, 0x, 0o, 0b), floats, booleans, arrays (multi-line,
 * trailing comma, comments) and inline tables. Dates, times and multi-line strings are rejected
 * with a message that says so. The result is a tree in which every node knows its line.
 *
 * Hostile input is bounded: the text is at most TOML_MAX_INPUT bytes, the tree at most
 * TOML_MAX_DEPTH levels deep (so recursion is bounded), a table holds at most TOML_MAX_KEYS keys
 * and the whole tree at most TOML_MAX_NODES nodes. Pure: no globals, no I/O, any thread. */
#ifndef IWR_TOML_H
#define IWR_TOML_H

#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_INPUT (1024 * 1024)
#define TOML_MAX_DEPTH 32
#define TOML_MAX_KEYS 1024
#define TOML_MAX_NODES 100000

enum toml_type { TOML_TABLE, TOML_ARRAY, TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL };

struct toml_node {
    enum toml_type type;
    int line;  /* 1-based line where the key, header, value or '{' / '[' was */
    char *key; /* key in the parent table; NULL for the root and array elements */
    char *str; /* TOML_STRING: NUL-terminated UTF-8; "\u0000" is rejected */
    size_t str_len;
    int64_t i;               /* TOML_INT */
    double f;                /* TOML_FLOAT */
    int b;                   /* TOML_BOOL: 0 or 1 */
    struct toml_node **kids; /* TOML_TABLE: entries in file order; TOML_ARRAY: elements */
    size_t n_kids;
    /* The parser's bookkeeping; readers need none of it. */
    size_t cap_kids;
    uint32_t key_hash;
    unsigned flags;
    int depth; /* 0 for the root */
};

/* Parse 'len' bytes of 'text' ('name' is used in messages). On success *out is the root table,
 * which the caller frees with toml_free. On failure returns IWR_EPARSE with "NAME:LINE: reason"
 * in err (one line, no newline, cut to err_cap) and *out is NULL. */
int toml_parse(const char *name, const char *text, size_t len, struct toml_node **out, char *err,
               size_t err_cap);
/* Free a tree from toml_parse; NULL is fine. */
void toml_free(struct toml_node *n);

/* The entry 'key' of 'table', or NULL when there is none or 'table' is not a table. Borrowed. */
const struct toml_node *toml_get(const struct toml_node *table, const char *key);
/* "a table", "an array", "a string", "an integer", "a float", "a boolean": for messages. */
const char *toml_type_name(enum toml_type t);

/* Write "NAME:LINE: reason" to err as one line: control characters (from the name or from keys
 * quoted in the reason) become '?'. Returns IWR_EPARSE, so callers can `return toml_error(...)`. */
int toml_error(char *err, size_t err_cap, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
