/* iwr_strerror: one table of texts for the project's own codes, strerror() for -errno. */
#include "common/err.h"

#include <string.h>

const char *iwr_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case IWR_EFULL:
        return "log is full (max-size reached)";
    case IWR_EPARSE:
        return "input rejected";
    case IWR_ECORRUPT:
        return "record is corrupt";
    case IWR_EVERSION:
        return "data directory has a newer format than this build";
    case IWR_ENOTFOUND:
        return "not found";
    case IWR_ESTOPPED:
        return "shutting down";
    case IWR_ELMDB:
        return "LMDB failure";
    case IWR_ECONFLICT:
        return "moved by someone else";
    case IWR_EINVAL:
        return "invalid argument";
    case IWR_EFATAL:
        return "the log is unusable until the process restarts";
    case IWR_ERESERVE:
        return "log is full (filesystem reserve min-free reached)";
    case IWR_ENOSPACE:
        return "log is full (filesystem full)";
    case IWR_ELOCKED:
        return "the log is in use by another daemon";
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown error";
    }
}
