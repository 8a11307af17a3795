/* test_stats.c: percentiles, summaries, rates and comparisons of bench/stats.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stats.h"

static void test_empty(void **state)
{
    struct bench_samples s;
    struct bench_summary sum;
    bench_samples_init(&s);
    assert_true(bench_samples_pct(&s, 50) == 0);
    bench_samples_summarize(&s, &sum);
    assert_int_equal(sum.n, 0);
    assert_true(sum.max == 0);
    bench_samples_free(&s);
    bench_samples_free(NULL);
}

static void test_nearest_rank(void **state)
{
    struct bench_samples s;
    bench_samples_init(&s);
    /* 1..100 added in reverse: the nearest-rank p-th percentile is p itself. */
    for (int i = 100; i >= 1; i--)
        assert_int_equal(bench_samples_add(&s, i), 0);
    assert_true(bench_samples_pct(&s, 50) == 50);
    assert_true(bench_samples_pct(&s, 90) == 90);
    assert_true(bench_samples_pct(&s, 99) == 99);
    assert_true(bench_samples_pct(&s, 100) == 100);
    assert_true(bench_samples_pct(&s, 0) == 1);
    assert_true(bench_samples_pct(&s, 0.5) == 1);
    assert_true(bench_samples_pct(&s, 99.5) == 100);
    bench_samples_free(&s);
}

static void test_small_sets(void **state)
{
    struct bench_samples s;
    bench_samples_init(&s);
    bench_samples_add(&s, 7.5);
    assert_true(bench_samples_pct(&s, 1) == 7.5);
    assert_true(bench_samples_pct(&s, 99) == 7.5);
    /* Ten samples: p90 is the 9th, not the 10th (floating point must not round the rank up). */
    bench_samples_free(&s);
    for (int i = 1; i <= 10; i++)
        bench_samples_add(&s, i * 10);
    assert_true(bench_samples_pct(&s, 90) == 90);
    assert_true(bench_samples_pct(&s, 50) == 50);
    assert_true(bench_samples_pct(&s, 99) == 100);
    /* Adding after a sort re-sorts. */
    bench_samples_add(&s, 1);
    assert_true(bench_samples_pct(&s, 0) == 1);
    assert_int_equal(s.n, 11);
    bench_samples_free(&s);
}

static void test_summary_and_merge(void **state)
{
    struct bench_samples a, b;
    struct bench_summary sum;
    bench_samples_init(&a);
    bench_samples_init(&b);
    for (int i = 0; i < 1000; i++)
        bench_samples_add(i % 2 ? &a : &b, i);
    assert_int_equal(bench_samples_merge(&a, &b), 0);
    bench_samples_summarize(&a, &sum);
    assert_int_equal(sum.n, 1000);
    assert_true(sum.min == 0);
    assert_true(sum.max == 999);
    assert_true(sum.p50 == 499);
    assert_true(sum.p90 == 899);
    assert_true(sum.p99 == 989);
    assert_true(sum.mean > 499.49 && sum.mean < 499.51);
    bench_samples_free(&a);
    bench_samples_free(&b);
}

static void test_rates(void **state)
{
    assert_true(bench_rate(500, 2.0) == 250);
    assert_true(bench_rate(500, 0) == 0);
    assert_true(bench_rate(0, 3) == 0);
    assert_true(bench_diff(5, 3) == 2);
    assert_true(bench_diff(3, 5) == -2);
    assert_true(bench_ratio(6, 3) == 2);
    assert_true(bench_ratio(6, 0) == 0);
    int64_t t0 = bench_now_us(), t1 = bench_now_us();
    assert_true(t1 >= t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nearest_rank),
        cmocka_unit_test(test_small_sets),
        cmocka_unit_test(test_summary_and_merge),
        cmocka_unit_test(test_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
