/* Checked allocation: these never return NULL. Callers bound sizes first, so a failure means a
 * sick host: log and abort, and a restart loses nothing acknowledged. */
#ifndef IWR_XALLOC_H
#define IWR_XALLOC_H

#include <stddef.h>
#include <stdlib.h> /* free() goes with these */

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
