/* Names for SH_E* error codes. */
#include "sh_err.h"

const char *sh_strerror(int rc)
{
    switch (rc) {
    case SH_OK:        return "ok";
    case SH_ENOMEM:    return "out of memory";
    case SH_EINVAL:    return "invalid argument";
    case SH_EPROTO:    return "protocol error";
    case SH_EIO:       return "i/o error";
    case SH_ETIMEDOUT: return "timed out";
    case SH_ENOTFOUND: return "not found";
    case SH_EFULL:     return "queue full";
    case SH_ETOOBIG:   return "too big";
    case SH_EKAFKA:    return "kafka error";
    case SH_EFORBID:   return "forbidden";
    default:           return "unknown error";
    }
}
