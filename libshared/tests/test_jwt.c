/* Unit tests for HS256 JWT verification and base64url decoding. Tokens
 * are signed here with OpenSSL's HMAC, as an identity provider would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "sh_err.h"
#include "sh_jwt.h"

#define SECRET "super-secret-jwt-token-with-at-least-32-characters-long"
#define NOW    1764044000

static void b64url(const void *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = in;
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* "<b64(header)>.<b64(payload)>.<HS256 signature with 'secret'>" */
static void make(char *out, const char *header, const char *payload, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t n;

    b64url(header, strlen(header), out);
    n = strlen(out);
    out[n++] = '.';
    b64url(payload, strlen(payload), out + n);
    n = strlen(out);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, n, mac, &mac_len);
    out[n++] = '.';
    b64url(mac, mac_len, out + n);
}

static int verify(const char *tok, const char *aud, char *sub, const char **why)
{
    struct sh_jwt_opts o = {SECRET, sizeof(SECRET) - 1, aud, 30, NOW};

    return sh_jwt_verify(tok, strlen(tok), &o, sub, 129, why);
}

static const char HS[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void test_valid_supabase_style(void **state)
{
    char tok[2048], sub[129];
    const char *why = NULL;

    (void)state;
    make(tok, HS, "{\"aud\":\"authenticated\",\"exp\":1764047600,\"iat\":1764044000,"
         "\"sub\":\"6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b\",\"email\":\"a@example.com\","
         "\"role\":\"authenticated\"}", SECRET);
    assert_int_equal(verify(tok, "authenticated", sub, &why), SH_OK);
    assert_string_equal(sub, "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b");
    assert_int_equal(verify(tok, NULL, sub, &why), SH_OK);         /* audience not checked */
    /* aud as an array; exp as a real number; nbf within the leeway */
    make(tok, HS, "{\"aud\":[\"x\",\"authenticated\"],\"exp\":1764044100.5,"
         "\"nbf\":1764044020,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, "authenticated", sub, &why), SH_OK);
    assert_string_equal(sub, "u1");
}

static void test_expired_and_not_yet(void **state)
{
    char tok[2048], sub[129];
    const char *why = NULL;

    (void)state;
    make(tok, HS, "{\"exp\":1764043900,\"sub\":\"u1\"}", SECRET);       /* 100 s ago */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_ETIMEDOUT);
    assert_string_equal(why, "expired");
    assert_string_equal(sub, "");
    make(tok, HS, "{\"exp\":1764043980,\"sub\":\"u1\"}", SECRET);       /* within leeway */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_OK);
    make(tok, HS, "{\"exp\":1764047600,\"nbf\":1764044100,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_ETIMEDOUT);
    make(tok, HS, "{\"exp\":1764047600,\"iat\":1764044100,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_ETIMEDOUT);
    make(tok, HS, "{\"sub\":\"u1\"}", SECRET);                          /* exp required */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":\"1764047600\",\"sub\":\"u1\"}", SECRET);   /* exp not a number */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
}

static void test_bad_signature(void **state)
{
    char tok[2048], sub[129];
    const char *why = NULL;
    size_t n;

    (void)state;
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", "another-secret");
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    assert_string_equal(why, "bad signature");
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    n = strlen(tok);
    tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';                      /* one signature bit */
    assert_int_not_equal(verify(tok, NULL, sub, &why), SH_OK);
    /* The payload changed after signing: sub swapped for another user. */
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    {
        char other[2048], *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        char forged[4096];
        make(other, HS, "{\"exp\":1764047600,\"sub\":\"admin\"}", "x");
        snprintf(forged, sizeof(forged), "%.*s%s", (int)(d1 - tok), tok, strchr(other, '.'));
        /* forged = tok's header + other's payload + other's signature */
        assert_int_equal(verify(forged, NULL, sub, &why), SH_EFORBID);
        snprintf(forged, sizeof(forged), "%.*s%s", (int)(strrchr(other, '.') - other), other, d2);
        assert_int_equal(verify(forged, NULL, sub, &why), SH_EFORBID);
    }
    assert_string_equal(sub, "");
    /* Truncated signature */
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    tok[strlen(tok) - 4] = '\0';
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
}

static void test_alg_none_and_others(void **state)
{
    char tok[2048], sub[129], none[2048];
    const char *why = NULL;

    (void)state;
    make(tok, "{\"alg\":\"none\"}", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    assert_string_equal(why, "alg is not HS256");
    /* "none" with an empty signature, as an attacker sends it */
    memcpy(none, tok, (size_t)(strrchr(tok, '.') - tok) + 1);
    none[strrchr(tok, '.') - tok + 1] = '\0';
    assert_int_not_equal(verify(none, NULL, sub, &why), SH_OK);
    make(tok, "{\"alg\":\"HS512\"}", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    make(tok, "{\"alg\":\"hs256\"}", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    make(tok, "{\"alg\":\"RS256\"}", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    make(tok, "{\"typ\":\"JWT\"}", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    make(tok, "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", "{\"exp\":1764047600,\"sub\":\"u1\"}",
         SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EFORBID);
    assert_string_equal(sub, "");
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "", "abc", "a.b", "a.b.c.d", "..", "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.!!!", "e30=.e30.AAAA", "%%%.e30.AAAA",
    };
    char tok[2048], sub[129];
    const char *why = NULL;
    struct sh_jwt_opts o = {SECRET, sizeof(SECRET) - 1, NULL, 30, NOW};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(verify(bad[i], NULL, sub, &why), SH_OK);
    make(tok, "not json", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, "[\"alg\",\"HS256\"]", "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"", SECRET);       /* cut JSON, signed */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":1,\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);  /* duplicate */
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    /* Embedded NUL in the length given: not part of the token alphabet. */
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(sh_jwt_verify(tok, strlen(tok) + 1, &o, sub, sizeof(sub), &why), SH_EINVAL);
    /* Too long */
    {
        static char big[SH_JWT_MAX_LEN + 2];
        memset(big, 'A', sizeof(big) - 1);
        assert_int_equal(sh_jwt_verify(big, sizeof(big) - 1, &o, sub, sizeof(sub), &why),
                         SH_EINVAL);
    }
    /* No secret configured */
    o.secret_len = 0;
    assert_int_equal(sh_jwt_verify(tok, strlen(tok), &o, sub, sizeof(sub), &why), SH_EINVAL);
}

static void test_sub_and_audience(void **state)
{
    char tok[2048], sub[129];
    const char *why = NULL;
    struct sh_jwt_opts o = {SECRET, sizeof(SECRET) - 1, NULL, 30, NOW};

    (void)state;
    make(tok, HS, "{\"exp\":1764047600}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    assert_string_equal(why, "no usable sub claim");
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":1764047600,\"sub\":42}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"a\\u0000b\"}", SECRET);
    assert_int_equal(verify(tok, NULL, sub, &why), SH_EINVAL);
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"0123456789\"}", SECRET);
    assert_int_equal(sh_jwt_verify(tok, strlen(tok), &o, sub, 10, &why), SH_EINVAL);
    assert_int_equal(sh_jwt_verify(tok, strlen(tok), &o, sub, 11, &why), SH_OK);

    make(tok, HS, "{\"aud\":\"anon\",\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, "authenticated", sub, &why), SH_EFORBID);
    assert_string_equal(why, "wrong audience");
    make(tok, HS, "{\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);      /* no aud at all */
    assert_int_equal(verify(tok, "authenticated", sub, &why), SH_EFORBID);
    make(tok, HS, "{\"aud\":[\"a\",1],\"exp\":1764047600,\"sub\":\"u1\"}", SECRET);
    assert_int_equal(verify(tok, "authenticated", sub, &why), SH_EFORBID);
}

static void test_b64url(void **state)
{
    unsigned char out[16];

    (void)state;
    assert_int_equal(sh_b64url_decode("", 0, out, sizeof(out)), 0);
    assert_int_equal(sh_b64url_decode("TWFu", 4, out, sizeof(out)), 3);
    assert_memory_equal(out, "Man", 3);
    assert_int_equal(sh_b64url_decode("TWE", 3, out, sizeof(out)), 2);
    assert_int_equal(sh_b64url_decode("TQ", 2, out, sizeof(out)), 1);
    assert_int_equal(sh_b64url_decode("TR", 2, out, sizeof(out)), SH_EINVAL);   /* bits left */
    assert_int_equal(sh_b64url_decode("T", 1, out, sizeof(out)), SH_EINVAL);
    assert_int_equal(sh_b64url_decode("TQ==", 4, out, sizeof(out)), SH_EINVAL); /* padding */
    assert_int_equal(sh_b64url_decode("T+8/", 4, out, sizeof(out)), SH_EINVAL); /* base64 */
    assert_int_equal(sh_b64url_decode("_-8_", 4, out, sizeof(out)), 3);
    assert_int_equal(sh_b64url_decode("TWFuTWFu", 8, out, 5), SH_EINVAL);      /* capacity */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_supabase_style),
        cmocka_unit_test(test_expired_and_not_yet),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sub_and_audience),
        cmocka_unit_test(test_b64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
