/* Unit tests for the incremental SSE parser: framing, fields, limits and arbitrary chunk splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_sse.h"

#define MAX_EVENTS 32

/* Events rendered as "type|id|data" so whole runs compare with one strcmp each. */
struct events {
    char *ev[MAX_EVENTS];
    int n;
    int stop_after;          /* return 7 from the callback after this many events, 0 = never */
};

static int collect(void *user, const struct sh_sse_event *e)
{
    struct events *out = user;
    size_t need = strlen(e->type) + strlen(e->id) + e->data_len + 3;
    char *s;

    assert_true(out->n < MAX_EVENTS);
    assert_int_equal(strlen(e->data), e->data_len);
    s = malloc(need);
    assert_non_null(s);
    snprintf(s, need, "%s|%s|%s", e->type, e->id, e->data);
    out->ev[out->n++] = s;
    return out->stop_after && out->n >= out->stop_after ? 7 : 0;
}

static void events_clear(struct events *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->ev[i]);
    memset(e, 0, sizeof(*e));
}

/* A recorded OpenAI-style stream with every framing feature mixed in: CRLF, CR and LF endings,
 * comments, named events, ids, retry, multi-line data, "data:" without a space, and multi-byte
 * UTF-8 (which a split may cut in half). */
static const char recorded[] =
    "\xEF\xBB\xBF: keep-alive comment\r\n"
    "retry: 1500\r\n"
    "\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\r\n"
    "\r\n"
    "data:{\"choices\":[{\"delta\":{\"content\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C\"}}]}\n"
    "\n"
    "id: 42\r"
    "event: note\r"
    "data: line one\r"
    "data: line two\r"
    "data\r"
    "\r"
    ":another comment\n"
    "data: party \xF0\x9F\x8E\x89 time\r\n"
    "unknown: field is ignored\r\n"
    "\r\n"
    "event: ping\n"
    "\n"
    "data: \n"
    "\n"
    "data:  two spaces\n"
    "\n"
    "data: [DONE]\n"
    "\n";

static const char *const expected[] = {
    "message||{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}",
    "message||{\"choices\":[{\"delta\":{\"content\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C\"}}]}",
    "note|42|line one\nline two\n",
    "message|42|party \xF0\x9F\x8E\x89 time",
    "message|42|",
    "message|42| two spaces",
    "message|42|[DONE]",
};

#define N_EXPECTED ((int)(sizeof(expected) / sizeof(expected[0])))

static void assert_expected(const struct events *got)
{
    assert_int_equal(got->n, N_EXPECTED);
    for (int i = 0; i < N_EXPECTED; i++)
        assert_string_equal(got->ev[i], expected[i]);
}

/* Feed 'len' bytes of 'buf' cut at the given offsets. */
static void run_split(const size_t *cuts, int ncuts, struct events *got)
{
    struct sh_sse_parser p;
    size_t len = sizeof(recorded) - 1, pos = 0;

    sh_sse_init(&p, 0, collect, got);
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;

        assert_int_equal(sh_sse_feed(&p, recorded + pos, end - pos), 0);
        pos = end;
    }
    assert_int_equal(sh_sse_finish(&p), 0);
    assert_int_equal(sh_sse_retry_ms(&p), 1500);
    sh_sse_free(&p);
}

static void test_whole_stream(void **state)
{
    struct events got = { 0 };

    (void)state;
    run_split(NULL, 0, &got);
    assert_expected(&got);
    events_clear(&got);
}

static void test_every_split_position(void **state)
{
    size_t len = sizeof(recorded) - 1;

    (void)state;
    for (size_t i = 0; i <= len; i++) {
        struct events got = { 0 };

        run_split(&i, 1, &got);
        assert_expected(&got);
        events_clear(&got);
    }
}

static void test_byte_by_byte(void **state)
{
    size_t len = sizeof(recorded) - 1;
    size_t *cuts = malloc(len * sizeof(*cuts));
    struct events got = { 0 };

    (void)state;
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    run_split(cuts, (int)len, &got);
    assert_expected(&got);
    events_clear(&got);
    free(cuts);
}

static void test_random_three_way_splits(void **state)
{
    size_t len = sizeof(recorded) - 1;
    uint32_t x = 12345;

    (void)state;
    for (int k = 0; k < 300; k++) {
        size_t cuts[2];
        struct events got = { 0 };

        x = x * 1103515245u + 12345u;
        cuts[0] = (x >> 8) % (len + 1);
        x = x * 1103515245u + 12345u;
        cuts[1] = cuts[0] + (x >> 8) % (len + 1 - cuts[0]);
        run_split(cuts, 2, &got);
        assert_expected(&got);
        events_clear(&got);
    }
}

static void test_crlf_split_across_feeds(void **state)
{
    struct sh_sse_parser p;
    struct events got = { 0 };

    (void)state;
    sh_sse_init(&p, 0, collect, &got);
    /* "\r" ends the line at once; the "\n" in the next feed must not be read as a blank line. */
    assert_int_equal(sh_sse_feed(&p, "data: a\r", 8), 0);
    assert_int_equal(sh_sse_feed(&p, "\ndata: b\r", 9), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(sh_sse_feed(&p, "\n\r", 2), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ev[0], "message||a\nb");
    assert_int_equal(sh_sse_feed(&p, "\ndata: c\r\r", 10), 0);   /* CR CR: blank line */
    assert_int_equal(got.n, 2);
    assert_string_equal(got.ev[1], "message||c");
    sh_sse_free(&p);
    events_clear(&got);
}

static void test_no_data_no_event(void **state)
{
    struct sh_sse_parser p;
    struct events got = { 0 };
    const char *s = ": only a comment\n\nevent: x\nid: 9\n\nretry: abc\n\n";

    (void)state;
    sh_sse_init(&p, 0, collect, &got);
    assert_int_equal(sh_sse_feed(&p, s, strlen(s)), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(sh_sse_retry_ms(&p), -1);
    /* The id persists; the event type of the empty event does not. */
    assert_int_equal(sh_sse_feed(&p, "data: y\n\n", 9), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ev[0], "message|9|y");
    sh_sse_free(&p);
    events_clear(&got);
}

static void test_too_big(void **state)
{
    struct sh_sse_parser p;
    struct events got = { 0 };
    char big[200];

    (void)state;
    memset(big, 'x', sizeof(big));
    sh_sse_init(&p, 64, collect, &got);
    assert_int_equal(sh_sse_feed(&p, "data: ok\n\n", 10), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(sh_sse_feed(&p, "data: ", 6), 0);
    assert_int_equal(sh_sse_feed(&p, big, sizeof(big)), SH_ETOOBIG);
    assert_int_equal(sh_sse_feed(&p, "\n\n", 2), SH_ETOOBIG);       /* sticky */
    assert_int_equal(sh_sse_finish(&p), SH_ETOOBIG);
    /* Many short data lines add up as well. */
    sh_sse_reset(&p);
    for (int i = 0; i < 20; i++) {
        int rc = sh_sse_feed(&p, "data: 12345\n", 12);

        if (rc) {
            assert_int_equal(rc, SH_ETOOBIG);
            assert_true(i >= 5);
            break;
        }
        assert_true(i < 19);
    }
    sh_sse_reset(&p);
    assert_int_equal(sh_sse_feed(&p, "data: again\n\n", 13), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.ev[1], "message||again");
    sh_sse_free(&p);
    events_clear(&got);
}

static void test_callback_stop(void **state)
{
    struct sh_sse_parser p;
    struct events got = { .stop_after = 1 };
    const char *s = "data: 1\n\ndata: 2\n\n";

    (void)state;
    sh_sse_init(&p, 0, collect, &got);
    assert_int_equal(sh_sse_feed(&p, s, strlen(s)), 7);
    assert_int_equal(got.n, 1);
    sh_sse_free(&p);
    events_clear(&got);
}

static void test_finish(void **state)
{
    struct sh_sse_parser p;
    struct events got = { 0 };

    (void)state;
    sh_sse_init(&p, 0, collect, &got);
    /* Complete lines without the closing blank line: dispatched leniently. */
    assert_int_equal(sh_sse_feed(&p, "data: [DONE]\n", 13), 0);
    assert_int_equal(sh_sse_finish(&p), 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ev[0], "message||[DONE]");
    /* An unterminated line is a cut: dropped, reported as 1. */
    sh_sse_reset(&p);
    assert_int_equal(sh_sse_feed(&p, "data: {\"choi", 12), 0);
    assert_int_equal(sh_sse_finish(&p), 1);
    assert_int_equal(got.n, 1);
    sh_sse_free(&p);
    sh_sse_free(NULL);
    events_clear(&got);
}

static void test_field_without_colon_and_bom_once(void **state)
{
    struct sh_sse_parser p;
    struct events got = { 0 };
    const char *s = "data\n\n\xEF\xBB\xBF" "data: x\n\n";

    (void)state;
    sh_sse_init(&p, 0, collect, &got);
    assert_int_equal(sh_sse_feed(&p, s, strlen(s)), 0);
    /* A BOM is only skipped at the very start; later it makes an unknown field name. */
    assert_int_equal(got.n, 1);
    assert_string_equal(got.ev[0], "message||");
    sh_sse_free(&p);
    events_clear(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream),
        cmocka_unit_test(test_every_split_position),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_random_three_way_splits),
        cmocka_unit_test(test_crlf_split_across_feeds),
        cmocka_unit_test(test_no_data_no_event),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_field_without_colon_and_bom_once),
    };

    return cmocka_run_group_tests_name("sh_sse", tests, NULL, NULL);
}
