/* HS256 JSON Web Token verification with OpenSSL's HMAC and a strict
 * base64url decoder. */
#include "sh_jwt.h"
#include "sh_err.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN 32              /* SHA-256 */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int sh_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    size_t o = 0;
    int bits = 0;

    if (n % 4 == 1)
        return SH_EINVAL;       /* 6 bits cannot end a byte */
    if ((n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return SH_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return SH_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return SH_EINVAL;       /* non-canonical: leftover bits set */
    return (int)o;
}

/* Decode one base64url part into a JSON object. NULL when it is not one. */
static json_t *part_json(const char *in, size_t n)
{
    unsigned char *buf = malloc(n + 1);
    json_t *o = NULL;
    int len;

    if (!buf)
        return NULL;
    len = sh_b64url_decode(in, n, buf, n);
    if (len > 0)
        o = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static int fail(const char **why, const char *reason, int rc)
{
    if (why)
        *why = reason;
    return rc;
}

/* A NumericDate claim: absent (returns 0, '*present' false), a number
 * (returns 0) or anything else (SH_EINVAL). */
static int numeric_claim(json_t *claims, const char *name, bool *present, double *v)
{
    json_t *j = json_object_get(claims, name);

    *present = j != NULL;
    if (!j)
        return SH_OK;
    if (!json_is_number(j))
        return SH_EINVAL;
    *v = json_number_value(j);
    return SH_OK;
}

static bool audience_ok(json_t *claims, const char *want)
{
    json_t *aud = json_object_get(claims, "aud"), *v;
    size_t i;

    if (!want || !*want)
        return true;
    if (json_is_string(aud))
        return !strcmp(json_string_value(aud), want);
    if (json_is_array(aud))
        json_array_foreach(aud, i, v)
            if (json_is_string(v) && !strcmp(json_string_value(v), want))
                return true;
    return false;
}

/* The time claims: exp required and not passed, nbf and iat not ahead. */
static int check_times(json_t *claims, const struct sh_jwt_opts *o, const char **why)
{
    double exp = 0, nbf = 0, iat = 0, now = (double)o->now_s, leeway = (double)o->leeway_s;
    bool has_exp, has_nbf, has_iat;

    if (numeric_claim(claims, "exp", &has_exp, &exp) || numeric_claim(claims, "nbf", &has_nbf,
        &nbf) || numeric_claim(claims, "iat", &has_iat, &iat))
        return fail(why, "a time claim is not a number", SH_EINVAL);
    if (!has_exp)
        return fail(why, "no exp claim", SH_EINVAL);
    if (exp + leeway <= now)
        return fail(why, "expired", SH_ETIMEDOUT);
    if (has_nbf && nbf - leeway > now)
        return fail(why, "not valid yet (nbf)", SH_ETIMEDOUT);
    if (has_iat && iat - leeway > now)
        return fail(why, "issued in the future (iat)", SH_ETIMEDOUT);
    return SH_OK;
}

int sh_jwt_verify(const char *token, size_t len, const struct sh_jwt_opts *o, char *sub,
                  size_t cap, const char **why)
{
    unsigned char mac[EVP_MAX_MD_SIZE], sig[SIG_LEN + 3];
    const char *dot1, *dot2, *s;
    json_t *header = NULL, *claims = NULL, *alg, *jsub;
    unsigned int mac_len = 0;
    int rc, sig_len;

    if (cap)
        sub[0] = '\0';
    if (!token || len == 0 || len > SH_JWT_MAX_LEN || !o || !o->secret || !o->secret_len)
        return fail(why, "no token", SH_EINVAL);
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return fail(why, "not three parts", SH_EINVAL);
    header = part_json(token, (size_t)(dot1 - token));
    if (!header) {
        rc = fail(why, "header is not base64url JSON", SH_EINVAL);
        goto out;
    }
    /* The algorithm is ours to choose, not the token's: only HS256. */
    alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_object_get(header, "crit")) {
        rc = fail(why, "alg is not HS256", SH_EFORBID);
        goto out;
    }
    sig_len = sh_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig));
    if (sig_len != SIG_LEN) {
        rc = fail(why, "malformed signature", SH_EINVAL);
        goto out;
    }
    if (!HMAC(EVP_sha256(), o->secret, (int)o->secret_len, (const unsigned char *)token,
              (size_t)(dot2 - token), mac, &mac_len) || mac_len != SIG_LEN ||
        CRYPTO_memcmp(mac, sig, SIG_LEN) != 0) {
        rc = fail(why, "bad signature", SH_EFORBID);
        goto out;
    }
    /* Signed by us: now the claims may be read. */
    claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims) {
        rc = fail(why, "payload is not base64url JSON", SH_EINVAL);
        goto out;
    }
    rc = check_times(claims, o, why);
    if (rc)
        goto out;
    if (!audience_ok(claims, o->audience)) {
        rc = fail(why, "wrong audience", SH_EFORBID);
        goto out;
    }
    jsub = json_object_get(claims, "sub");
    s = json_string_value(jsub);
    if (!s || !*s || json_string_length(jsub) >= cap || strlen(s) != json_string_length(jsub)) {
        rc = fail(why, "no usable sub claim", SH_EINVAL);
        goto out;
    }
    memcpy(sub, s, json_string_length(jsub) + 1);
    rc = fail(why, "ok", SH_OK);
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    json_decref(header);
    json_decref(claims);
    return rc;
}
