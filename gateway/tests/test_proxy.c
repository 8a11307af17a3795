/* Unit tests for the trusted proxies: the GATEWAY_TRUSTED_PROXIES parser,
 * the CIDR matcher, the client address picked from X-Forwarded-For (with
 * hostile headers), the configuration check, and the token deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "proxy.h"
#include "sh_err.h"

static struct gw_proxy_list *list_of(const char *spec)
{
    static struct gw_proxy_list l;
    char err[128];

    assert_int_equal(gw_proxy_list_parse(&l, spec, err, sizeof(err)), SH_OK);
    return &l;
}

static void test_list_parse(void **state)
{
    struct gw_proxy_list l;
    char err[128];
    const char *bad[] = {
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/0008",
        "10.0.0", "10.0.0.256", "01.2.3.4", "example.com", "1.2.3.4 5.6.7.8", "/8",
        "fe80::1%eth0", "[::1]", "::1/64/64", "1.2.3.4:80", "10.0.0.0/8, nope",
    };
    char many[GW_PROXY_MAX * 12 + 32] = "";

    (void)state;
    assert_int_equal(gw_proxy_list_parse(&l, NULL, err, sizeof(err)), SH_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(gw_proxy_list_parse(&l, "", err, sizeof(err)), SH_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(gw_proxy_list_parse(&l, " , ,", err, sizeof(err)), SH_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(gw_proxy_list_parse(&l, " 10.0.0.0/8 ,192.168.1.7,\t::1, fd00::/8,",
                                         err, sizeof(err)), SH_OK);
    assert_int_equal(l.n, 4);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(gw_proxy_list_parse(&l, bad[i], err, sizeof(err)), SH_EINVAL);
        assert_int_equal(l.n, 0);
        assert_non_null(strstr(err, "not an IP address"));
    }
    for (int i = 0; i <= GW_PROXY_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.%d.1,", i);
    assert_int_equal(gw_proxy_list_parse(&l, many, err, sizeof(err)), SH_EINVAL);
    assert_non_null(strstr(err, "more than"));
}

static void test_cidr_match(void **state)
{
    const struct gw_proxy_list *l;

    (void)state;
    l = list_of("10.0.0.0/8, 192.168.1.7, 172.16.0.0/12, fd00::/8, 2001:db8::/33");
    assert_true(gw_proxy_trusted(l, "10.0.0.0"));
    assert_true(gw_proxy_trusted(l, "10.255.255.255"));
    assert_false(gw_proxy_trusted(l, "11.0.0.0"));
    assert_false(gw_proxy_trusted(l, "9.255.255.255"));
    assert_true(gw_proxy_trusted(l, "192.168.1.7"));
    assert_false(gw_proxy_trusted(l, "192.168.1.6"));
    assert_false(gw_proxy_trusted(l, "192.168.1.70"));
    assert_true(gw_proxy_trusted(l, "172.31.255.1"));
    assert_false(gw_proxy_trusted(l, "172.32.0.1"));
    assert_true(gw_proxy_trusted(l, "::ffff:10.1.2.3"));       /* the mapped form of IPv4 */
    assert_true(gw_proxy_trusted(l, "fd12:3456::1"));
    assert_false(gw_proxy_trusted(l, "fe00::1"));
    assert_true(gw_proxy_trusted(l, "2001:db8:7fff::1"));      /* prefix ends mid-byte */
    assert_false(gw_proxy_trusted(l, "2001:db8:8000::1"));
    assert_false(gw_proxy_trusted(l, "::a00:1"));              /* IPv4-compatible is not IPv4 */
    assert_false(gw_proxy_trusted(l, ""));
    assert_false(gw_proxy_trusted(l, NULL));
    assert_false(gw_proxy_trusted(l, "10.0.0.1 "));
    assert_false(gw_proxy_trusted(l, "localhost"));
    /* Host bits under the prefix are ignored; /0 takes everything of its family. */
    l = list_of("10.1.2.3/8");
    assert_true(gw_proxy_trusted(l, "10.200.0.1"));
    l = list_of("0.0.0.0/0");
    assert_true(gw_proxy_trusted(l, "203.0.113.9"));
    assert_false(gw_proxy_trusted(l, "2001:db8::1"));
    l = list_of("::/0");
    assert_true(gw_proxy_trusted(l, "2001:db8::1"));
    assert_true(gw_proxy_trusted(l, "203.0.113.9"));           /* ::/0 holds mapped IPv4 too */
    l = list_of("");
    assert_false(gw_proxy_trusted(l, "127.0.0.1"));
}

/* The client address for 'peer' and 'xff' under 'spec'; '*from_xff' says which. */
static const char *client(const char *spec, const char *peer, const char *xff, bool *from_xff)
{
    static char out[GW_IP_STRLEN];

    memset(out, 'x', sizeof(out));
    *from_xff = gw_proxy_client_ip(list_of(spec), peer, xff, out, sizeof(out));
    return out;
}

static void test_client_ip(void **state)
{
    const char *lo = "127.0.0.1, 10.0.0.0/8";
    bool x;

    (void)state;
    /* Nobody trusted: the header is ignored whatever it says. */
    assert_string_equal(client("", "198.51.100.1", "203.0.113.7", &x), "198.51.100.1");
    assert_false(x);
    /* A peer that is not trusted cannot name another address. */
    assert_string_equal(client(lo, "198.51.100.1", "203.0.113.7", &x), "198.51.100.1");
    assert_false(x);
    /* Trusted peer: the rightmost address that is not a trusted proxy. */
    assert_string_equal(client(lo, "127.0.0.1", "203.0.113.7", &x), "203.0.113.7");
    assert_true(x);
    assert_string_equal(client(lo, "127.0.0.1", "6.6.6.6, 203.0.113.7", &x), "203.0.113.7");
    assert_string_equal(client(lo, "127.0.0.1", "6.6.6.6, 203.0.113.7, 10.1.1.1, 10.2.2.2",
                               &x), "203.0.113.7");
    assert_true(x);
    /* Every entry a trusted proxy: the farthest one. */
    assert_string_equal(client(lo, "127.0.0.1", "10.9.9.9,10.1.1.1", &x), "10.9.9.9");
    assert_true(x);
    /* Forms: ports, brackets, IPv6, canonical output. */
    assert_string_equal(client(lo, "127.0.0.1", "203.0.113.7:4711", &x), "203.0.113.7");
    assert_string_equal(client(lo, "127.0.0.1", "[2001:DB8:0::1]:443", &x), "2001:db8::1");
    assert_string_equal(client(lo, "127.0.0.1", "[2001:db8::1]", &x), "2001:db8::1");
    assert_string_equal(client(lo, "127.0.0.1", "2001:db8:0:0::1", &x), "2001:db8::1");
    assert_string_equal(client(lo, "127.0.0.1", "::ffff:203.0.113.7", &x), "203.0.113.7");
    assert_string_equal(client(lo, "127.0.0.1", "\t203.0.113.7 ,  10.0.0.1 ", &x),
                        "203.0.113.7");
    assert_true(x);
    /* The peer in IPv4-mapped form is trusted and reported as IPv4. */
    assert_string_equal(client(lo, "::ffff:127.0.0.1", "203.0.113.7", &x), "203.0.113.7");
    assert_string_equal(client("", "::ffff:127.0.0.1", NULL, &x), "127.0.0.1");
    assert_false(x);
    assert_string_equal(client("::1", "::1", "2001:db8::5", &x), "2001:db8::5");
    assert_true(x);
    /* No header, or an empty one: the peer. */
    assert_string_equal(client(lo, "127.0.0.1", NULL, &x), "127.0.0.1");
    assert_false(x);
    assert_string_equal(client(lo, "127.0.0.1", "", &x), "127.0.0.1");
    assert_false(x);
    /* A peer lws could not name stays as it is. */
    assert_string_equal(client(lo, "", "203.0.113.7", &x), "");
    assert_false(x);
    assert_string_equal(client(lo, NULL, "203.0.113.7", &x), "");
    assert_false(x);
}

static void test_client_ip_hostile(void **state)
{
    const char *lo = "127.0.0.1";
    const char *bad[] = {
        "garbage", ",", " , ", "203.0.113.7,", "203.0.113.7,,",
        "203.0.113.7, unknown", "1.2.3.4.5", "203.0.113.07", "256.0.0.1", "203.0.113.7:",
        "203.0.113.7:123456", "203.0.113.7:80x", "[2001:db8::1", "[2001:db8::1]x",
        "[2001:db8::1]:", "[203.0.113.7]", "[]", "2001:db8::1:80:80:80:80:80:80",
        "fe80::1%eth0", "203.0.113.7\r\nX-Evil: 1", "\"203.0.113.7\"", "for=203.0.113.7",
        "203.0.113.7 198.51.100.1", "::ffff:999.0.0.1",
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    char *huge;
    bool x;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_string_equal(client(lo, "127.0.0.1", bad[i], &x), "127.0.0.1");
        assert_false(x);
    }
    /* A malformed entry left of the client's address is never read. */
    assert_string_equal(client(lo, "127.0.0.1", "garbage, 203.0.113.7", &x), "203.0.113.7");
    assert_true(x);
    assert_string_equal(client(lo, "127.0.0.1", ",203.0.113.7", &x), "203.0.113.7");
    /* ... but one between the client and us ends the trust. */
    assert_string_equal(client(lo, "127.0.0.1", "203.0.113.7, junk, 127.0.0.1", &x),
                        "127.0.0.1");
    assert_false(x);
    /* Longer than GW_PROXY_XFF_MAX: ignored, however well formed. */
    huge = malloc(GW_PROXY_XFF_MAX + 64);
    assert_non_null(huge);
    huge[0] = '\0';
    while (strlen(huge) < GW_PROXY_XFF_MAX + 16)
        strcat(huge, "127.0.0.1,");
    strcat(huge, "203.0.113.7");
    assert_string_equal(client(lo, "127.0.0.1", huge, &x), "127.0.0.1");
    assert_false(x);
    /* Just within: many hops of trusted proxies are walked (and the last one wins). */
    huge[0] = '\0';
    strcat(huge, "203.0.113.7");
    while (strlen(huge) + 10 <= GW_PROXY_XFF_MAX)
        strcat(huge, ",127.0.0.1");
    assert_string_equal(client(lo, "127.0.0.1", huge, &x), "203.0.113.7");
    assert_true(x);
    free(huge);
    /* A too small output buffer is never overrun. */
    {
        char small[8];
        memset(small, 'x', sizeof(small));
        gw_proxy_client_ip(list_of(lo), "127.0.0.1", "2001:db8::1", small, sizeof(small));
        assert_non_null(memchr(small, '\0', sizeof(small)));
        assert_false(gw_proxy_client_ip(list_of(lo), "127.0.0.1", "203.0.113.7", small, 0));
    }
}

static void test_config(void **state)
{
    struct gw_config c;
    char *argv[] = {"gateway", NULL};

    (void)state;
    setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8", 1);
    assert_int_equal(gw_config_load(&c, 1, argv), SH_OK);
    assert_int_equal(c.proxies.n, 2);
    assert_true(gw_proxy_trusted(&c.proxies, "10.3.3.3"));
    gw_config_free(&c);
    setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1, nginx", 1);
    assert_int_equal(gw_config_load(&c, 1, argv), SH_EINVAL);   /* fail fast */
    gw_config_free(&c);
    unsetenv("GATEWAY_TRUSTED_PROXIES");
    assert_int_equal(gw_config_load(&c, 1, argv), SH_OK);
    assert_int_equal(c.proxies.n, 0);                           /* default: trust nobody */
    gw_config_free(&c);
}

static void test_token_deadline(void **state)
{
    (void)state;
    /* sh_jwt_verify() refuses once exp + leeway <= now (whole seconds). */
    assert_int_equal(gw_auth_deadline_ms(1700000000.0, 30), 1700000030000LL);
    assert_int_equal(gw_auth_deadline_ms(1700000000.0, 0), 1700000000000LL);
    assert_int_equal(gw_auth_deadline_ms(1700000000.2, 0), 1700000001000LL);
    assert_int_equal(gw_auth_deadline_ms(1e300, 30), INT64_MAX);
    assert_int_equal(gw_auth_deadline_ms(253402300799.0, 600), INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parse),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_client_ip),
        cmocka_unit_test(test_client_ip_hostile),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_token_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
