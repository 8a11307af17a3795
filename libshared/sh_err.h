/* Error codes shared by every module: 0 is success, negatives are errors. */
#ifndef SH_ERR_H
#define SH_ERR_H

enum {
    SH_OK        = 0,
    SH_ENOMEM    = -1,  /* allocation failed */
    SH_EINVAL    = -2,  /* bad argument or malformed input */
    SH_EPROTO    = -3,  /* peer spoke the protocol wrong */
    SH_EIO       = -4,  /* I/O or transport failure */
    SH_ETIMEDOUT = -5,  /* deadline passed */
    SH_ENOTFOUND = -6,  /* no such thing */
    SH_EFULL     = -7,  /* bounded queue or buffer is full */
    SH_ETOOBIG   = -8,  /* input exceeds a configured limit */
    SH_EKAFKA    = -9,  /* librdkafka reported an error */
    SH_EFORBID   = -10, /* caller may not do this */
};

/* Short, static, human-readable name of an SH_E* code ("ok" for 0). */
const char *sh_strerror(int rc);

#endif
