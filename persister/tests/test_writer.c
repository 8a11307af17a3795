/* Unit tests for the persister's writer thread: one job at a time, in order, collected by
 * the caller; waits with and without a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "sh_err.h"
#include "writer.h"

struct job {
    pthread_t th;               /* the thread that ran it */
    int runs;
    int value;
    int delay_ms;
    volatile int *gate;         /* when set: spin until *gate != 0 */
};

static void work(void *arg)
{
    struct job *j = arg;

    if (j->gate)
        while (!__atomic_load_n(j->gate, __ATOMIC_ACQUIRE))
            usleep(1000);
    if (j->delay_ms)
        usleep((useconds_t)j->delay_ms * 1000);
    j->th = pthread_self();
    j->runs++;
    j->value = j->value * 10 + 7;
}

static void test_runs_on_its_thread_and_is_collected(void **state)
{
    struct pst_writer *w = pst_writer_create();
    struct job j = {.value = 1};

    (void)state;
    assert_non_null(w);
    assert_false(pst_writer_busy(w));
    assert_false(pst_writer_done(w));
    assert_int_equal(pst_writer_wait(w, 0), SH_EINVAL);     /* nothing in flight */
    assert_int_equal(pst_writer_submit(w, work, &j), SH_OK);
    assert_true(pst_writer_busy(w));
    assert_int_equal(pst_writer_wait(w, -1), SH_OK);
    assert_false(pst_writer_busy(w));
    assert_int_equal(j.runs, 1);
    assert_int_equal(j.value, 17);
    assert_false(pthread_equal(j.th, pthread_self()));
    pst_writer_destroy(w);
}

static void test_one_job_at_a_time(void **state)
{
    struct pst_writer *w = pst_writer_create();
    volatile int gate = 0;
    struct job a = {.gate = &gate}, b = {0};

    (void)state;
    assert_int_equal(pst_writer_submit(w, work, &a), SH_OK);
    assert_int_equal(pst_writer_submit(w, work, &b), SH_EINVAL);
    assert_int_equal(pst_writer_wait(w, 20), SH_ETIMEDOUT);
    assert_true(pst_writer_busy(w));
    assert_false(pst_writer_done(w));
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    while (!pst_writer_done(w))
        usleep(1000);
    assert_true(pst_writer_busy(w));            /* done, but not collected yet */
    assert_int_equal(pst_writer_submit(w, work, &b), SH_EINVAL);
    assert_int_equal(pst_writer_wait(w, 0), SH_OK);
    assert_false(pst_writer_done(w));
    assert_int_equal(a.runs, 1);
    assert_int_equal(b.runs, 0);
    assert_int_equal(pst_writer_submit(w, work, &b), SH_OK);
    assert_int_equal(pst_writer_wait(w, 5000), SH_OK);
    assert_int_equal(b.runs, 1);
    pst_writer_destroy(w);
}

static void test_many_jobs_in_order(void **state)
{
    struct pst_writer *w = pst_writer_create();
    struct job j = {0};

    (void)state;
    for (int i = 0; i < 200; i++) {
        j.value = i;
        assert_int_equal(pst_writer_submit(w, work, &j), SH_OK);
        assert_int_equal(pst_writer_wait(w, -1), SH_OK);
        assert_int_equal(j.value, i * 10 + 7);
    }
    assert_int_equal(j.runs, 200);
    pst_writer_destroy(w);
}

static void test_destroy_finishes_the_job_in_flight(void **state)
{
    struct pst_writer *w = pst_writer_create();
    struct job j = {.delay_ms = 30};

    (void)state;
    assert_int_equal(pst_writer_submit(w, work, &j), SH_OK);
    pst_writer_destroy(w);
    assert_int_equal(j.runs, 1);
    pst_writer_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_on_its_thread_and_is_collected),
        cmocka_unit_test(test_one_job_at_a_time),
        cmocka_unit_test(test_many_jobs_in_order),
        cmocka_unit_test(test_destroy_finishes_the_job_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
