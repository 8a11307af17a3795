/* Unit tests for session state: snapshots, seq reservation, routes, dedupe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "session.h"
#include "sh_err.h"

#define SID "0193a5c1-0000-7000-8000-000000000001"

static void test_snapshot_roundtrip(void **state)
{
    struct llm_session *s = llm_session_create(SID, "alice", 3), *r;
    json_t *snap;

    (void)state;
    assert_non_null(s);
    s->next_seq = 42;
    llm_session_history_add(s, "user", "hi", 40);
    llm_session_history_add(s, "assistant", "hello", 40);
    llm_session_mark_done(s, "turn-1", "client-1");
    llm_session_route_add(s, "chat.replies.gw-a");
    snap = llm_session_snapshot(s);
    assert_non_null(snap);
    r = llm_session_restore(SID, 3, snap);
    assert_non_null(r);
    assert_string_equal(r->user_id, "alice");
    assert_int_equal(r->next_seq, 42);
    assert_int_equal(json_array_size(r->history), 2);
    assert_true(llm_session_seen(r, "turn-1", NULL));
    assert_true(llm_session_seen(r, "other", "client-1"));
    assert_false(llm_session_seen(r, "turn-2", "client-2"));
    assert_int_equal(r->n_routes, 1);
    assert_string_equal(r->routes[0], "chat.replies.gw-a");
    json_decref(snap);
    llm_session_destroy(s);
    llm_session_destroy(r);
}

static void test_midturn_snapshot_moves_seq(void **state)
{
    struct llm_session *s = llm_session_create(SID, "bob", 0), *r;
    json_t *snap;

    (void)state;
    s->next_seq = 10;
    strcpy(s->running_turn, "t-running");
    s->seq_reserved = 10 + 20000;
    snap = llm_session_snapshot(s);
    r = llm_session_restore(SID, 0, snap);
    assert_non_null(r);
    /* The dead owner may have used any seq below the reservation. */
    assert_int_equal(r->next_seq, 20010);
    assert_string_equal(r->running_turn, "t-running");
    json_decref(snap);
    llm_session_destroy(s);
    llm_session_destroy(r);
}

static void test_restore_rejects_garbage(void **state)
{
    json_t *bad1 = json_pack("{s:i}", "next_seq", 1);
    json_t *bad2 = json_pack("{s:s, s:i, s:s}", "user_id", "x", "next_seq", 1, "history", "no");
    json_t *bad3 = json_pack("{s:s, s:i, s:[]}", "user_id", "x", "next_seq", -5, "history");

    (void)state;
    assert_null(llm_session_restore(SID, 0, bad1));
    assert_null(llm_session_restore(SID, 0, bad2));
    assert_null(llm_session_restore(SID, 0, bad3));
    json_decref(bad1);
    json_decref(bad2);
    json_decref(bad3);
}

static void test_history_bounded_and_routes(void **state)
{
    struct llm_session *s = llm_session_create(SID, "carol", 0);
    char topic[32];

    (void)state;
    for (int i = 0; i < 100; i++)
        assert_int_equal(llm_session_history_add(s, "user", "x", 10), 0);
    assert_int_equal(json_array_size(s->history), 10);
    for (int i = 0; i < LLM_MAX_ROUTES; i++) {
        snprintf(topic, sizeof(topic), "gw-%d", i);
        assert_int_equal(llm_session_route_add(s, topic), 0);
    }
    assert_int_equal(llm_session_route_add(s, "gw-0"), 0);  /* duplicate: no-op */
    assert_int_equal(llm_session_route_add(s, "gw-new"), SH_EFULL);
    assert_int_equal(s->n_routes, LLM_MAX_ROUTES);
    assert_string_equal(s->routes[LLM_MAX_ROUTES - 1], "gw-new");
    llm_session_route_del(s, "gw-3");
    assert_int_equal(s->n_routes, LLM_MAX_ROUTES - 1);
    for (int i = 0; i < s->n_routes; i++)
        assert_string_not_equal(s->routes[i], "gw-3");
    llm_session_destroy(s);
}

/* Route stamps move with their routes and survive a snapshot; a close request's own time is
 * the session's close time (a replay closes it at the same instant); applied_offset persists. */
static void test_route_stamps_close_time_and_applied_offset(void **state)
{
    struct llm_session *s = llm_session_create(SID, "erin", 0), *r;
    json_t *snap;

    (void)state;
    assert_int_equal(s->applied_offset, -1);
    llm_session_route_add(s, "gw-a");
    llm_session_route_add(s, "gw-b");
    llm_session_route_touch(s, "gw-b", 2000);
    llm_session_route_touch(s, "gw-b", 1500);          /* older: kept the newest */
    llm_session_route_touch(s, "gw-x", 9999);          /* not a route: no-op */
    llm_session_route_del(s, "gw-a");                  /* gw-b's stamp moves down with it */
    assert_int_equal(s->n_routes, 1);
    assert_string_equal(s->routes[0], "gw-b");
    assert_int_equal(s->route_ts[0], 2000);
    s->applied_offset = 77;
    snap = llm_session_snapshot(s);
    r = llm_session_restore(SID, 0, snap);
    assert_non_null(r);
    assert_int_equal(r->route_ts[0], 2000);
    assert_int_equal(r->applied_offset, 77);
    llm_session_route_close(r, "gw-b", 123456);
    assert_int_equal(r->n_routes, 0);
    assert_int_equal(r->closed_ms, 123456);
    /* A new route starts unstamped, and re-adding one reopens the session. */
    llm_session_route_add(r, "gw-c");
    assert_int_equal(r->route_ts[0], 0);
    assert_int_equal(r->closed_ms, 0);
    json_decref(snap);
    llm_session_destroy(s);
    llm_session_destroy(r);
}

static void test_frames(void **state)
{
    struct llm_session *s = llm_session_create(SID, "dave", 0);

    (void)state;
    for (int i = 0; i < 100; i++)
        assert_int_equal(llm_session_frames_add(s, i, "abc", 3), 0);
    assert_int_equal(s->n_frames, 100);
    llm_session_frames_clear(s);
    assert_int_equal(s->n_frames, 0);
    llm_session_destroy(s);
    llm_session_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_midturn_snapshot_moves_seq),
        cmocka_unit_test(test_restore_rejects_garbage),
        cmocka_unit_test(test_history_bounded_and_routes),
        cmocka_unit_test(test_route_stamps_close_time_and_applied_offset),
        cmocka_unit_test(test_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
