/* Unit tests for config tables, UUIDs and the hash map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_config.h"
#include "sh_err.h"
#include "sh_map.h"
#include "sh_uuid.h"

static char *s_name;
static int64_t i_port;
static bool b_flag;

static const struct sh_cfg_item items[] = {
    {"name", "T_NAME", SH_CFG_STR, "dflt", 0, -1, false, "a name", &s_name},
    {"port", "T_PORT", SH_CFG_INT, "8000", 1, 65535, false, "a port", &i_port},
    {"flag", "T_FLAG", SH_CFG_BOOL, "false", 0, 0, false, "a flag", &b_flag},
};
#define N (sizeof(items) / sizeof(items[0]))

static void test_config_layers(void **state)
{
    char err[200];
    char *argv[] = {"prog", "--port=9000", NULL};

    (void)state;
    unsetenv("T_NAME");
    setenv("T_PORT", "1234", 1);
    setenv("T_FLAG", "yes", 1);
    assert_int_equal(sh_config_load(items, N, 1, argv, err, sizeof(err)), 0);
    assert_string_equal(s_name, "dflt");
    assert_int_equal(i_port, 1234);
    assert_true(b_flag);
    assert_int_equal(sh_config_load(items, N, 2, argv, err, sizeof(err)), 0);
    assert_int_equal(i_port, 9000);            /* flag beats environment */
    sh_config_free(items, N);
    assert_null(s_name);
}

static void test_config_errors(void **state)
{
    char err[200];
    char *argv_bad[] = {"prog", "--nope=1", NULL};
    char *argv_pos[] = {"prog", "positional", NULL};

    (void)state;
    setenv("T_PORT", "70000", 1);
    assert_int_equal(sh_config_load(items, N, 1, argv_bad, err, sizeof(err)), SH_EINVAL);
    assert_non_null(strstr(err, "T_PORT"));
    setenv("T_PORT", "12abc", 1);
    assert_int_equal(sh_config_load(items, N, 1, argv_bad, err, sizeof(err)), SH_EINVAL);
    setenv("T_PORT", "80", 1);
    setenv("T_FLAG", "maybe", 1);
    assert_int_equal(sh_config_load(items, N, 1, argv_bad, err, sizeof(err)), SH_EINVAL);
    setenv("T_FLAG", "0", 1);
    assert_int_equal(sh_config_load(items, N, 2, argv_bad, err, sizeof(err)), SH_EINVAL);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(sh_config_load(items, N, 2, argv_pos, err, sizeof(err)), SH_EINVAL);
    sh_config_free(items, N);
}

static void test_uuid(void **state)
{
    char a[SH_UUID_LEN + 1], b[SH_UUID_LEN + 1], c[SH_UUID_LEN + 1];

    (void)state;
    sh_uuid_v7(a);
    sh_uuid_v7(b);
    assert_true(sh_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '7');
    assert_true(strcmp(a, b) <= 0 || memcmp(a, b, 8) == 0);  /* time-ordered prefix */
    sh_uuid_derive("turn", "user_message", a);
    sh_uuid_derive("turn", "user_message", b);
    sh_uuid_derive("turn", "ai_response", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(sh_uuid_valid(a));
    /* Derived ids are stored (event_key): they must never change between releases. */
    assert_string_equal(a, "c0ad8cdf-d287-85d9-b03c-58d24b7bb5a7");
    sh_uuid_derive("0193a5c1-0000-7000-8000-00000000abcd", "ai_response", c);
    assert_string_equal(c, "23d76df3-b3d6-8e87-92cc-dfbaec90697f");
    assert_false(sh_uuid_valid("0193a5c1-0000-7000-8000-00000000000"));
    assert_false(sh_uuid_valid("0193a5c1-0000-7000-8000-00000000000g"));
    assert_false(sh_uuid_valid("0193a5c1+0000-7000-8000-000000000000"));
    assert_false(sh_uuid_valid(NULL));
}

static void count_fn(void *ctx, const char *key, void *val)
{
    (void)key;
    (void)val;
    (*(int *)ctx)++;
}

static void test_map(void **state)
{
    struct sh_map *m = sh_map_create();
    char key[32];
    int n = 0;

    (void)state;
    for (long i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%ld", i);
        assert_int_equal(sh_map_set(m, key, (void *)(i + 1)), 0);
    }
    assert_int_equal(sh_map_len(m), 5000);
    assert_ptr_equal(sh_map_get(m, "k4999"), (void *)5000);
    assert_null(sh_map_get(m, "nope"));
    assert_int_equal(sh_map_set(m, "k1", (void *)99), 0);   /* replace */
    assert_int_equal(sh_map_len(m), 5000);
    assert_ptr_equal(sh_map_del(m, "k1"), (void *)99);
    assert_null(sh_map_del(m, "k1"));
    sh_map_each(m, count_fn, &n);
    assert_int_equal(n, 4999);
    sh_map_destroy(m);
    sh_map_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_layers),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
