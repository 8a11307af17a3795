/* Unit tests for gateway liveness: silence, restarts, and no verdicts while Kafka is away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gateways.h"

#define DEAD 3000
#define GW   "chat.replies.gw-a"

static void beat(struct llm_gateways *g, const char *key, long long epoch, int64_t now)
{
    char v[128];
    int n = snprintf(v, sizeof(v), "{\"v\":1,\"kind\":\"gateway\",\"reply_to\":\"%s\","
                     "\"epoch\":%lld,\"ts\":1}", key, epoch);
    llm_gateways_take(g, key, strlen(key), v, (size_t)n, now);
}

static void beacon(struct llm_gateways *g, int64_t now)
{
    const char *k = llm_gateways_beacon_key(g), *v = "{\"v\":1,\"kind\":\"worker\",\"ts\":1}";
    llm_gateways_take(g, k, strlen(k), v, strlen(v), now);
}

/* The worker's own beacon every 500 ms from 'from' to 'to' (inclusive). */
static void beacons(struct llm_gateways *g, int64_t from, int64_t to)
{
    for (int64_t t = from; t <= to; t += 500)
        beacon(g, t);
}

static void test_silent_gateway_is_dead_after_dead_ms(void **state)
{
    struct llm_gateways *g = llm_gateways_create_detached(DEAD);

    (void)state;
    beacons(g, 0, 0);
    beat(g, GW, 100, 0);
    beacons(g, 500, 3000);
    assert_false(llm_gateways_route_dead(g, GW, 500, 3000));   /* exactly DEAD: not yet */
    beacons(g, 3500, 3500);
    assert_true(llm_gateways_route_dead(g, GW, 500, 3500));
    /* A heartbeat brings it back. */
    beat(g, GW, 100, 4000);
    beacons(g, 4000, 5000);
    assert_false(llm_gateways_route_dead(g, GW, 500, 5000));
    /* Never heard of: never judged. */
    beacons(g, 5500, 10000);
    assert_false(llm_gateways_route_dead(g, "chat.replies.unknown", 500, 10000));
    llm_gateways_destroy(g);
}

static void test_restart_drops_older_routes_only(void **state)
{
    struct llm_gateways *g = llm_gateways_create_detached(DEAD);

    (void)state;
    beacons(g, 0, 2000);
    beat(g, GW, 100, 0);
    beat(g, GW, 5000, 2000);                            /* restarted at its 5000 */
    assert_true(llm_gateways_route_dead(g, GW, 4999, 2000));   /* attached before it */
    assert_false(llm_gateways_route_dead(g, GW, 5000, 2000));  /* by the new process */
    assert_false(llm_gateways_route_dead(g, GW, 0, 2000));     /* unknown stamp */
    /* An older epoch arriving late does not move it back. */
    beat(g, GW, 100, 2000);
    assert_true(llm_gateways_route_dead(g, GW, 4999, 2000));
    llm_gateways_destroy(g);
}

static void test_no_verdict_while_own_beacon_is_missing(void **state)
{
    struct llm_gateways *g = llm_gateways_create_detached(DEAD);

    (void)state;
    beat(g, GW, 100, 0);
    /* Our beacon never came back: Kafka may be away, nobody is judged. */
    assert_false(llm_gateways_route_dead(g, GW, 500, 60000));
    beacons(g, 0, 2500);
    beat(g, GW, 100, 2000);
    /* Kafka goes away at 2600: the gateway's last beat (2000) lags our last beacon (2500);
     * however long we wait, no beacon proves it silent. */
    assert_false(llm_gateways_route_dead(g, GW, 500, 5100));
    assert_false(llm_gateways_route_dead(g, GW, 500, 5600));
    assert_false(llm_gateways_route_dead(g, GW, 500, 30000));
    /* Back at 20000: the gateway gets a fresh DEAD period to show up. */
    beacons(g, 20000, 23000);
    assert_false(llm_gateways_route_dead(g, GW, 500, 23000));
    beacons(g, 23500, 23500);
    assert_true(llm_gateways_route_dead(g, GW, 500, 23500));
    beat(g, GW, 100, 23600);
    beacons(g, 24000, 25000);
    assert_false(llm_gateways_route_dead(g, GW, 500, 25000));
    llm_gateways_destroy(g);
}

static void test_off_and_garbage(void **state)
{
    struct llm_gateways *off = llm_gateways_create_detached(0);
    struct llm_gateways *g = llm_gateways_create_detached(DEAD);
    const char *other = "llm-worker/someone-else";

    (void)state;
    beacons(off, 0, 10000);
    beat(off, GW, 100, 0);
    assert_false(llm_gateways_route_dead(off, GW, 1, 10000));     /* 0 = never */
    beacons(g, 0, 10000);
    llm_gateways_take(g, GW, strlen(GW), "not json", 8, 0);
    llm_gateways_take(g, GW, strlen(GW), "{\"epoch\":\"x\"}", 13, 0);
    llm_gateways_take(g, GW, strlen(GW), NULL, 0, 0);              /* tombstone */
    llm_gateways_take(g, other, strlen(other), "{\"epoch\":5}", 11, 0);
    llm_gateways_take(g, NULL, 0, "{}", 2, 0);
    assert_false(llm_gateways_route_dead(g, GW, 1, 10000));
    assert_false(llm_gateways_route_dead(g, other, 1, 10000));
    assert_false(llm_gateways_route_dead(NULL, GW, 1, 10000));
    llm_gateways_destroy(off);
    llm_gateways_destroy(g);
    llm_gateways_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silent_gateway_is_dead_after_dead_ms),
        cmocka_unit_test(test_restart_drops_older_routes_only),
        cmocka_unit_test(test_no_verdict_while_own_beacon_is_missing),
        cmocka_unit_test(test_off_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
