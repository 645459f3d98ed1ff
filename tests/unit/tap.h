/* A tiny test harness: one "ok N - name" / "not ok N - name" line per check, and a closing
 * "N passed, N failed" line; tap_done() is the exit status. A "not ok" line ends with the
 * check's file:line. Header-only so each test stays one small program. */
#ifndef IWR_TAP_H
#define IWR_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_pass, tap_fail;

/* Prints one line for 'cond'; a failure names 'file':'line' (the CHECK's call site). */
__attribute__((format(printf, 4, 5))) static inline int tap_check(int cond, const char *file,
                                                                  int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", cond ? "ok" : "not ok", tap_pass + tap_fail + 1);
    vprintf(fmt, ap);
    if (!cond)
        printf(" (%s:%d)", file, line);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (cond)
        tap_pass++;
    else
        tap_fail++;
    return cond;
}

#define CHECK(cond, ...) tap_check((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_EQ_INT(a, b, name)                                                                   \
    do {                                                                                           \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                                \
        if (!tap_check(tap_a_ == tap_b_, __FILE__, __LINE__, "%s", name))                          \
            printf("#   got %lld, want %lld\n", tap_a_, tap_b_);                                   \
    } while (0)
#define CHECK_EQ_STR(a, b, name)                                                                   \
    do {                                                                                           \
        const char *tap_a_ = (a), *tap_b_ = (b);                                                   \
        int tap_ok_ = tap_a_ != NULL && tap_b_ != NULL && strcmp(tap_a_, tap_b_) == 0;             \
        if (!tap_check(tap_ok_, __FILE__, __LINE__, "%s", name))                                   \
            printf("#   got \"%s\", want \"%s\"\n", tap_a_ ? tap_a_ : "(null)",                    \
                   tap_b_ ? tap_b_ : "(null)");                                                    \
    } while (0)

static inline int tap_done(void)
{
    printf("%d passed, %d failed\n", tap_pass, tap_fail);
    return tap_fail == 0 ? 0 : 1;
}

#endif
