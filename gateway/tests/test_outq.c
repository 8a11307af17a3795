/* Unit tests for outq.c: FIFO order, headroom, byte accounting, the bound
 * and what happens at and past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "outq.h"
#include "sh_err.h"

#define PRE 16

static void test_empty(void **state)
{
    struct gw_outq q;
    size_t len = 99;

    (void)state;
    gw_outq_init(&q, 1024, PRE);
    assert_true(gw_outq_empty(&q));
    assert_null(gw_outq_peek(&q, &len));
    assert_int_equal(q.bytes, 0);
    gw_outq_pop(&q);                    /* no-op */
    gw_outq_free(&q);
    gw_outq_free(NULL);                 /* NULL-safe */
}

static void test_fifo_and_headroom(void **state)
{
    struct gw_outq q;
    unsigned char *p;
    size_t len;

    (void)state;
    gw_outq_init(&q, 1 << 20, PRE);
    assert_int_equal(gw_outq_push(&q, "one", 3), SH_OK);
    assert_int_equal(gw_outq_push(&q, "two!", 4), SH_OK);
    assert_int_equal(gw_outq_push(&q, "", 0), SH_OK);
    assert_int_equal(q.count, 3);
    p = gw_outq_peek(&q, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "one", 3);
    memset(p - PRE, 0xab, PRE);         /* the headroom is ours (ASan checks) */
    gw_outq_pop(&q);
    p = gw_outq_peek(&q, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "two!", 4);
    gw_outq_pop(&q);
    p = gw_outq_peek(&q, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    gw_outq_pop(&q);
    assert_true(gw_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.count, 0);
    /* usable again after draining */
    assert_int_equal(gw_outq_push(&q, "again", 5), SH_OK);
    assert_non_null(gw_outq_peek(&q, &len));
    gw_outq_free(&q);
    assert_true(gw_outq_empty(&q));
}

static void test_bound(void **state)
{
    struct gw_outq q;
    char frame[100];
    size_t n = 0, before, len;

    (void)state;
    memset(frame, 'f', sizeof(frame));
    gw_outq_init(&q, 4096, PRE);
    while (gw_outq_push(&q, frame, sizeof(frame)) == SH_OK)
        n++;
    assert_true(n > 10);
    assert_true(q.bytes <= 4096);
    /* a refused push changes nothing */
    before = q.bytes;
    assert_int_equal(gw_outq_push(&q, frame, sizeof(frame)), SH_EFULL);
    assert_int_equal(q.bytes, before);
    assert_int_equal(q.count, n);
    /* accounting charges more than the payload: headroom and node */
    assert_true(q.bytes >= n * (sizeof(frame) + PRE));
    /* a small frame may still fit where a big one does not */
    assert_int_equal(gw_outq_push(&q, frame, 4096), SH_EFULL);
    /* popping one makes room for one */
    gw_outq_pop(&q);
    assert_int_equal(gw_outq_push(&q, frame, sizeof(frame)), SH_OK);
    assert_int_equal(gw_outq_push(&q, frame, sizeof(frame)), SH_EFULL);
    /* everything comes out in order and intact */
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = gw_outq_peek(&q, &len);
        assert_non_null(p);
        assert_int_equal(len, sizeof(frame));
        assert_memory_equal(p, frame, sizeof(frame));
        gw_outq_pop(&q);
    }
    assert_true(gw_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    gw_outq_free(&q);
}

static void test_big_frame_into_empty_queue(void **state)
{
    static char big[10000];
    struct gw_outq q;
    size_t len;

    (void)state;
    gw_outq_init(&q, 4096, PRE);
    /* larger than the whole bound, but the queue is empty: accepted */
    assert_int_equal(gw_outq_push(&q, big, sizeof(big)), SH_OK);
    assert_true(q.bytes > 4096);
    /* ... and nothing else until it is gone */
    assert_int_equal(gw_outq_push(&q, "x", 1), SH_EFULL);
    assert_non_null(gw_outq_peek(&q, &len));
    assert_int_equal(len, sizeof(big));
    gw_outq_pop(&q);
    assert_int_equal(gw_outq_push(&q, "x", 1), SH_OK);
    gw_outq_free(&q);
}

static void test_free_releases_all(void **state)
{
    struct gw_outq q;

    (void)state;
    gw_outq_init(&q, 1 << 20, PRE);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gw_outq_push(&q, "abcdef", 6), SH_OK);
    gw_outq_free(&q);                   /* LeakSanitizer checks the nodes */
    assert_true(gw_outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.max_bytes, 1 << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo_and_headroom),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_big_frame_into_empty_queue),
        cmocka_unit_test(test_free_releases_all),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
