/* Unit tests for the per-partition commit tracker (sh_offsets): held and unheld offsets,
 * "moved since last time" versus a final commit, and a randomised check against a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_offsets.h"

static void test_empty(void **state)
{
    struct sh_offsets o;

    (void)state;
    sh_offsets_init(&o);
    assert_int_equal(sh_offsets_position(&o), -1);
    assert_int_equal(sh_offsets_commit_point(&o, false), -1);
    assert_int_equal(sh_offsets_commit_point(&o, true), -1);   /* nothing seen, nothing to say */
    assert_int_equal(sh_offsets_pending(&o), 0);
    assert_int_equal(sh_offsets_done(&o, 0), SH_ENOTFOUND);
    sh_offsets_free(&o);
    sh_offsets_init(NULL);
    sh_offsets_free(NULL);
}

static void test_held_and_unheld(void **state)
{
    struct sh_offsets o;

    (void)state;
    sh_offsets_init(&o);
    /* 10 finished at once, 11 held, 12 finished at once, 13 held. */
    assert_int_equal(sh_offsets_add(&o, 10, false), SH_OK);
    assert_int_equal(sh_offsets_position(&o), 11);
    assert_int_equal(sh_offsets_add(&o, 11, true), SH_OK);
    assert_int_equal(sh_offsets_add(&o, 12, false), SH_OK);
    assert_int_equal(sh_offsets_add(&o, 13, true), SH_OK);
    assert_int_equal(sh_offsets_pending(&o), 2);
    assert_int_equal(sh_offsets_position(&o), 11);
    assert_int_equal(sh_offsets_commit_point(&o, false), 11);
    assert_int_equal(sh_offsets_commit_point(&o, false), -1);   /* has not moved */
    assert_int_equal(sh_offsets_commit_point(&o, true), 11);    /* a final commit says it again */
    /* An unheld offset cannot be finished; the held ones finish once each. */
    assert_int_equal(sh_offsets_done(&o, 12), SH_ENOTFOUND);
    assert_int_equal(sh_offsets_done(&o, 13), SH_OK);
    assert_int_equal(sh_offsets_done(&o, 13), SH_ENOTFOUND);
    assert_int_equal(sh_offsets_pending(&o), 1);
    assert_int_equal(sh_offsets_commit_point(&o, false), -1);   /* 11 still holds it back */
    assert_int_equal(sh_offsets_done(&o, 11), SH_OK);
    assert_int_equal(sh_offsets_pending(&o), 0);
    assert_int_equal(sh_offsets_commit_point(&o, false), 14);
    /* Going back is refused and changes nothing, held or not. */
    assert_int_equal(sh_offsets_add(&o, 13, true), SH_EINVAL);
    assert_int_equal(sh_offsets_add(&o, 2, false), SH_EINVAL);
    assert_int_equal(sh_offsets_position(&o), 14);
    assert_int_equal(sh_offsets_pending(&o), 0);
    /* Gaps are fine (compaction, transaction markers). */
    assert_int_equal(sh_offsets_add(&o, 100, false), SH_OK);
    assert_int_equal(sh_offsets_commit_point(&o, false), 101);
    sh_offsets_free(&o);
    assert_int_equal(sh_offsets_position(&o), -1);              /* free leaves it empty */
}

/* Random arrivals (some unheld, with gaps) and completions in random order, far beyond the
 * ring's first capacity; after every step the point must be what a plain list says. */
static void test_matches_model(void **state)
{
    enum { STEPS = 20000, MAXH = 5000 };
    struct sh_offsets o;
    int64_t *model = calloc(MAXH, sizeof(*model));  /* held offsets, increasing */
    size_t n = 0;
    int64_t next = 0, last_point = -1;
    unsigned seed = 12345;

    (void)state;
    assert_non_null(model);
    sh_offsets_init(&o);
    for (int step = 0; step < STEPS; step++) {
        int r = rand_r(&seed) % 100;
        int64_t want, got;

        if ((r < 55 && n < MAXH) || n == 0) {
            bool held = r % 5 != 0;
            next += 1 + rand_r(&seed) % 3;
            assert_int_equal(sh_offsets_add(&o, next, held), SH_OK);
            if (held)
                model[n++] = next;
        } else {
            size_t i = (size_t)rand_r(&seed) % n;
            assert_int_equal(sh_offsets_done(&o, model[i]), SH_OK);
            memmove(&model[i], &model[i + 1], (n - i - 1) * sizeof(*model));
            n--;
        }
        want = n ? model[0] : next + 1;
        assert_int_equal(sh_offsets_position(&o), want);
        assert_int_equal(sh_offsets_pending(&o), n);
        got = sh_offsets_commit_point(&o, false);
        assert_true(want >= last_point);                  /* the point never goes back */
        assert_int_equal(got, want > last_point ? want : -1);
        last_point = want;
    }
    sh_offsets_free(&o);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_held_and_unheld),
        cmocka_unit_test(test_matches_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
