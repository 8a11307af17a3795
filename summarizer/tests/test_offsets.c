/* Unit tests for the summarizer's commit points (offsets finishing out of order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offsets.h"
#include "sh_err.h"

static void test_offsets_commit_points(void **state)
{
    struct sum_offsets *o = sum_offsets_create();
    int32_t parts[8];
    int64_t next[8];

    (void)state;
    assert_non_null(o);
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, false), 0);
    /* Partition 0: 10 done at once, 11 held, 12 done, 13 held. */
    assert_int_equal(sum_offsets_seen(o, 0, 10, false), 0);
    assert_int_equal(sum_offsets_seen(o, 0, 11, true), 0);
    assert_int_equal(sum_offsets_seen(o, 0, 12, false), 0);
    assert_int_equal(sum_offsets_seen(o, 0, 13, true), 0);
    assert_int_equal(sum_offsets_seen(o, 1, 5, false), 0);
    assert_int_equal(sum_offsets_held(o), 2);
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, false), 2);
    assert_int_equal(parts[0], 0);
    assert_int_equal(next[0], 11);        /* the lowest held one */
    assert_int_equal(parts[1], 1);
    assert_int_equal(next[1], 6);
    /* Nothing moved: nothing to commit. */
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, false), 0);
    /* 13 finishes first: still 11. */
    assert_int_equal(sum_offsets_done(o, 0, 13), 0);
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, false), 0);
    assert_int_equal(sum_offsets_done(o, 0, 11), 0);
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, false), 1);
    assert_int_equal(next[0], 14);
    assert_int_equal(sum_offsets_done(o, 0, 11), SH_ENOTFOUND);
    /* 'all' lists everything; a forgotten partition is gone. */
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, true), 2);
    sum_offsets_forget(o, 0);
    assert_int_equal(sum_offsets_done(o, 0, 13), SH_ENOTFOUND);
    assert_int_equal(sum_offsets_collect(o, parts, next, 8, true), 1);
    assert_int_equal(parts[0], 1);
    assert_int_equal(sum_offsets_held(o), 0);
    sum_offsets_destroy(o);
    sum_offsets_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_commit_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
