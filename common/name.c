/* The name rule; see name.h. Pure, any thread. */
#include "common/name.h"

#include <stddef.h>

int name_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    /* Stops at the first byte outside the set, so an overlong name costs at most 65 bytes. */
    for (; s[n] != '\0' && n <= NAME_LEN_MAX; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= NAME_LEN_MAX;
}
