/* Unit tests for sessions.c: first/last-connection signals, join order,
 * lookups by connection id, and removal of unregistered links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sessions.h"
#include "sh_err.h"

#define S1 "0193a5c1-0000-7000-8000-000000000001"
#define S2 "0193a5c1-0000-7000-8000-000000000002"

static void count_link(void *ctx, struct gw_sess_link *l)
{
    (void)l;
    (*(int *)ctx)++;
}

static void test_first_and_last(void **state)
{
    struct gw_sessions *r = gw_sessions_create();
    struct gw_sess_link a, b, c;
    int n = 0;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    assert_non_null(r);
    assert_int_equal(gw_sessions_add(r, S1, 1, &a), 1);       /* first */
    assert_int_equal(gw_sessions_add(r, S1, 2, &b), 0);
    assert_int_equal(gw_sessions_add(r, S2, 3, &c), 1);
    assert_int_equal(gw_sessions_add(r, S1, 4, &a), SH_EINVAL);   /* already in */
    assert_int_equal(gw_sessions_count(r), 2);
    assert_int_equal(gw_sessions_conn_count(r), 3);
    assert_string_equal(gw_sessions_id(&b), S1);

    /* join order */
    assert_ptr_equal(gw_sessions_first(r, S1), &a);
    assert_ptr_equal(a.next, &b);
    assert_null(b.next);
    assert_null(gw_sessions_first(r, "nope"));

    /* lookups by connection id */
    assert_ptr_equal(gw_sessions_find(r, 2), &b);
    assert_ptr_equal(gw_sessions_find(r, 3), &c);
    assert_null(gw_sessions_find(r, 99));

    gw_sessions_each(r, count_link, &n);
    assert_int_equal(n, 3);

    assert_int_equal(gw_sessions_remove(r, &a), 0);           /* b remains */
    assert_ptr_equal(gw_sessions_first(r, S1), &b);
    assert_null(gw_sessions_find(r, 1));
    assert_null(gw_sessions_id(&a));
    assert_int_equal(gw_sessions_remove(r, &a), 0);           /* not registered: no-op */
    assert_int_equal(gw_sessions_remove(r, &b), 1);           /* last one */
    assert_null(gw_sessions_first(r, S1));
    assert_int_equal(gw_sessions_count(r), 1);

    /* a session can come back after it emptied */
    assert_int_equal(gw_sessions_add(r, S1, 5, &a), 1);
    gw_sessions_destroy(r);                   /* frees records, leaves links */
    assert_null(a.session);
    gw_sessions_destroy(NULL);
}

static void test_remove_middle(void **state)
{
    struct gw_sessions *r = gw_sessions_create();
    struct gw_sess_link l[3];

    (void)state;
    memset(l, 0, sizeof(l));
    for (int i = 0; i < 3; i++)
        assert_int_equal(gw_sessions_add(r, S1, (uint64_t)i + 10, &l[i]), i == 0);
    assert_int_equal(gw_sessions_remove(r, &l[1]), 0);
    assert_ptr_equal(gw_sessions_first(r, S1), &l[0]);
    assert_ptr_equal(l[0].next, &l[2]);
    assert_ptr_equal(l[2].prev, &l[0]);
    assert_int_equal(gw_sessions_remove(r, &l[2]), 0);
    assert_null(l[0].next);
    assert_int_equal(gw_sessions_remove(r, &l[0]), 1);
    assert_int_equal(gw_sessions_conn_count(r), 0);
    gw_sessions_destroy(r);
}

static void test_many(void **state)
{
    static struct gw_sess_link links[5000];
    struct gw_sessions *r = gw_sessions_create();
    char sid[40];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        snprintf(sid, sizeof(sid), "0193a5c1-0000-7000-8000-%012d", i / 2);
        assert_int_equal(gw_sessions_add(r, sid, (uint64_t)i + 1, &links[i]), i % 2 == 0);
    }
    assert_int_equal(gw_sessions_count(r), 2500);
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(gw_sessions_find(r, (uint64_t)i + 1), &links[i]);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(gw_sessions_remove(r, &links[i]), i % 2 == 1);
    assert_int_equal(gw_sessions_count(r), 0);
    gw_sessions_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_and_last),
        cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
