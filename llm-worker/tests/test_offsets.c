/* Unit tests for the out-of-order commit tracker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offsets.h"
#include "sh_err.h"

static void test_in_order(void **state)
{
    struct llm_offsets o;

    (void)state;
    llm_offsets_init(&o);
    assert_int_equal(llm_offsets_commit_point(&o), -1);
    assert_int_equal(llm_offsets_add(&o, 10), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 10);   /* 10 still running */
    assert_int_equal(llm_offsets_commit_point(&o), -1);   /* nothing new */
    assert_int_equal(llm_offsets_done(&o, 10), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 11);
    llm_offsets_free(&o);
}

static void test_out_of_order(void **state)
{
    struct llm_offsets o;

    (void)state;
    llm_offsets_init(&o);
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal(llm_offsets_add(&o, i), 0);
    assert_int_equal(llm_offsets_done(&o, 3), 0);
    assert_int_equal(llm_offsets_done(&o, 1), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 0);
    assert_int_equal(llm_offsets_done(&o, 0), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 2);    /* 2 is the first unfinished */
    assert_int_equal(llm_offsets_done(&o, 2), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 4);
    assert_int_equal(llm_offsets_done(&o, 4), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 5);
    assert_int_equal(llm_offsets_pending(&o), 0);
    assert_int_equal(llm_offsets_done(&o, 99), SH_ENOTFOUND);
    llm_offsets_free(&o);
}

static void test_gaps_and_growth(void **state)
{
    struct llm_offsets o;

    (void)state;
    llm_offsets_init(&o);
    /* Offsets with gaps (compaction, control records) and > initial capacity. */
    for (int64_t i = 0; i < 1000; i++)
        assert_int_equal(llm_offsets_add(&o, 100 + i * 3), 0);
    assert_int_equal(llm_offsets_add(&o, 5), SH_EINVAL);  /* must increase */
    for (int64_t i = 999; i >= 1; i--)
        assert_int_equal(llm_offsets_done(&o, 100 + i * 3), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 100);
    assert_int_equal(llm_offsets_done(&o, 100), 0);
    assert_int_equal(llm_offsets_commit_point(&o), 100 + 999 * 3 + 1);
    llm_offsets_free(&o);
}

static void test_ring_wraps(void **state)
{
    struct llm_offsets o;
    int64_t next = 0;

    (void)state;
    llm_offsets_init(&o);
    /* Keep a window of 40 in flight while the ring wraps many times. */
    for (int round = 0; round < 500; round++) {
        assert_int_equal(llm_offsets_add(&o, next++), 0);
        if (llm_offsets_pending(&o) > 40)
            assert_int_equal(llm_offsets_done(&o, next - 41), 0);
    }
    assert_int_equal(llm_offsets_commit_point(&o), next - 40);
    llm_offsets_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_gaps_and_growth),
        cmocka_unit_test(test_ring_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
