/* JSON Web Token verification: HS256 only (RFC 7519 / RFC 7515), the form
 * Supabase and most identity providers issue with a shared secret. */
#ifndef SH_JWT_H
#define SH_JWT_H
#include <stddef.h>
#include <stdint.h>

#define SH_JWT_MAX_LEN 8192     /* longer tokens are refused unread */

/* What a token is checked against. */
struct sh_jwt_opts {
    const void *secret;         /* HMAC key: the secret's bytes as configured */
    size_t secret_len;          /* > 0 */
    const char *audience;       /* required "aud" (string or array entry); NULL/"" = any */
    int64_t leeway_s;           /* clock skew allowed for exp, nbf and iat */
    int64_t now_s;              /* the current time, Unix seconds */
};

/* Verify 'token' (not NUL-terminated, 'len' bytes): three base64url parts,
 * a header whose "alg" is exactly "HS256" (never "none" or another
 * algorithm), an HMAC-SHA256 signature compared in constant time, a
 * numeric "exp" that has not passed, "nbf"/"iat" (optional) not in the
 * future, the audience when one is set, and a non-empty string "sub" of
 * fewer than 'cap' bytes without NUL, copied to 'sub'.
 * Returns 0, SH_EINVAL (malformed: encoding, JSON, missing or mistyped
 * claims), SH_EFORBID (wrong algorithm, signature or audience) or
 * SH_ETIMEDOUT (expired or not valid yet). '*why', when not NULL, gets a
 * short static reason for logs. No allocation outlives the call. */
int sh_jwt_verify(const char *token, size_t len, const struct sh_jwt_opts *o, char *sub,
                  size_t cap, const char **why);

/* Decode unpadded base64url 'in' ('n' chars) into 'out' (capacity 'cap').
 * Canonical input only: no padding, no other alphabet, unused bits zero.
 * Returns the decoded length or SH_EINVAL. */
int sh_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

#endif
