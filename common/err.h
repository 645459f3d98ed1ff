/* Error codes shared by every part: 0 is success, a failure is -errno or one of the IWR_E*
 * codes below. Library codes (MDB_*, CURLcode, llhttp's) are translated inside the module that
 * owns the library, so nothing above it ever sees them. */
#ifndef IWR_ERR_H
#define IWR_ERR_H

#include <stdio.h>
#include <stdlib.h>

enum {
    IWR_EFULL = -20001,    /* the log is at its size limit (max-size) */
    IWR_EPARSE = -20002,   /* input rejected; details in the caller's struct */
    IWR_ECORRUPT = -20003, /* a stored record failed its checksum or framing */
    IWR_EVERSION = -20004, /* the data directory has a newer format than this build reads */
    IWR_ENOTFOUND = -20005, /* no such record, cursor or dead letter */
    IWR_ESTOPPED = -20006, /* the component is shutting down */
    IWR_ELMDB = -20007,    /* an LMDB failure with no errno equivalent (logged where it happens) */
    IWR_ECONFLICT = -20008, /* a compare-and-set lost: someone else moved the value first */
    IWR_EINVAL = -20009,   /* a caller passed something out of range (bad name, bad sequence) */
    IWR_EFATAL = -20010,   /* the log's environment is unusable (panic, remap, I/O error):
                            * the process must restart; nothing committed is lost */
    IWR_ERESERVE = -20011, /* the log's filesystem is down to its free-space reserve (min-free) */
    IWR_ENOSPACE = -20012, /* the log's filesystem is full (ENOSPC) */
    IWR_ELOCKED = -20013,  /* the log is held by another daemon (its lock file) */
};

/* The three ways the log refuses an append for want of room (503 + Retry-After, not errors). */
static inline int iwr_is_full(int err)
{
    return err == IWR_EFULL || err == IWR_ERESERVE || err == IWR_ENOSPACE;
}

/* A static, human-readable text for any code this project returns (-errno included). */
const char *iwr_strerror(int err);

/* Our bugs, never compiled out: a failed assertion logs where and aborts. */
#define IWR_ASSERT(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "level=fatal event=assert_failed file=%s line=%d cond=\"%s\"\n",    \
                    __FILE__, __LINE__, #cond);                                                 \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

#endif
