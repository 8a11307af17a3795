"""The gateway's history read API against real services: gateway (with DATABASE_URL) ->
llm-worker -> chat.events -> persister -> PostgreSQL -> GET /api/sessions and
GET /api/sessions/{id}/events. Lists only the caller's sessions, newest first, paged with an
opaque cursor; events in order; 401/400/403/404 as documented; 503 without a database."""
import uuid

import pytest
import requests

from pg_fixtures import *  # noqa: F401,F403
from wsclient import WsClient, run

# A private stack (own topics) with a fast mock, like test_summary_e2e.
STACK_ENV = {"mock": {"MOCK_LLM_TOKENS_PER_SEC": "400", "MOCK_LLM_TTFT_MS": "20"}}

HTTP = requests.Session()
HTTP.trust_env = False


@pytest.fixture(scope="module")
def api(stack, kafka, pg, kafka_tool, tmp_path_factory):
    """A persister on the stack's events topic and a second gateway with DATABASE_URL."""
    d = Durable(kafka, pg, kafka_tool, tmp_path_factory.mktemp("logs-api", numbered=True), "api",
                events_topic=stack.topics["EVENTS"], dlq_topic=stack.topics["DLQ"])
    d.start_persister()
    gw = stack.start_gateway(env={"DATABASE_URL": pg.url, "GATEWAY_DB_POOL": "2",
                                  "GATEWAY_API_PAGE_MAX": "10"})
    yield d, gw
    rcs = d.stop()
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}\n{d.tails()}"


def get(gw, path, user=None, timeout=10):
    headers = {"X-User-Id": user} if user is not None else {}
    return HTTP.get(f"http://127.0.0.1:{gw.port}{path}", headers=headers, timeout=timeout)


def check_json(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"
    return r.json()


def test_history_api(api, stack):
    d, gw = api
    u, other = f"api_{uuid.uuid4().hex[:8]}", f"api_other_{uuid.uuid4().hex[:8]}"

    async def chat(user, text):
        async with await WsClient.open(stack.ws_url(f"/ws/session/{user}", gw=gw)) as c:
            t = await c.turn(text, timeout=60)
            assert t.done and t.finish_reason == "stop"
            return c.session_id
    first = run(chat(u, "What's the weather like in Paris today?"))
    second = run(chat(u, "Just say hello"))
    foreign = run(chat(other, "Not yours"))
    for sid, n in ((first, 5), (second, 3), (foreign, 3)):
        d.wait(lambda: len(d.event_rows(sid)) >= n, 30, f"the rows of {sid}")

    # The list: own sessions only, newest first, first_message from the first user_message.
    body = check_json(get(gw, "/api/sessions", u), 200)
    ids = [s["session_id"] for s in body["sessions"]]
    assert ids == [second, first], body
    assert body["next_cursor"] is None
    s1 = body["sessions"][1]
    assert s1["first_message"] == "What's the weather like in Paris today?"
    assert s1["start_time"].endswith("Z") and "T" in s1["start_time"]
    assert set(s1) == {"session_id", "start_time", "end_time", "duration_seconds", "summary",
                       "summary_status", "first_message"}
    assert [s["session_id"] for s in check_json(get(gw, "/api/sessions", other), 200)
            ["sessions"]] == [foreign]
    assert check_json(get(gw, "/api/sessions", "nobody_here"), 200) == \
        {"sessions": [], "next_cursor": None}

    # Paging with limit=1 and the cursor.
    p1 = check_json(get(gw, "/api/sessions?limit=1", u), 200)
    assert [s["session_id"] for s in p1["sessions"]] == [second] and p1["next_cursor"]
    p2 = check_json(get(gw, f"/api/sessions?limit=1&cursor={p1['next_cursor']}", u), 200)
    assert [s["session_id"] for s in p2["sessions"]] == [first]
    if p2["next_cursor"]:               # the page was full: the next one is empty
        p3 = check_json(get(gw, f"/api/sessions?limit=1&cursor={p2['next_cursor']}", u), 200)
        assert p3 == {"sessions": [], "next_cursor": None}

    # The events, in order, as in event_log.
    ev = check_json(get(gw, f"/api/sessions/{first}/events", u), 200)
    assert ev["session_id"] == first and ev["user_id"] == u
    types = [e["event_type"] for e in ev["events"]]
    assert types[:5] == ["session_start", "user_message", "tool_call", "tool_result",
                         "ai_response"], types
    rows = d.event_rows(first)
    assert types == [r[0] for r in rows]
    assert [e["content"] for e in ev["events"]] == [r[1] for r in rows]
    assert ev["events"][1]["content"] == "What's the weather like in Paris today?"
    assert ev["events"][4]["meta"]["finish_reason"] == "stop"
    assert ev["events"][1]["turn_id"] == ev["events"][4]["turn_id"] is not None
    stamps = [e["timestamp"] for e in ev["events"]]
    assert stamps == sorted(stamps)
    # Upper-case ids name the same session.
    assert check_json(get(gw, f"/api/sessions/{first.upper()}/events", u), 200)["session_id"] \
        == first

    # Errors.
    assert check_json(get(gw, f"/api/sessions/{foreign}/events", u), 403) == {"error": "forbidden"}
    check_json(get(gw, f"/api/sessions/{uuid.uuid4()}/events", u), 404)
    check_json(get(gw, "/api/sessions/not-a-uuid/events", u), 400)
    check_json(get(gw, "/api/sessions?cursor=garbage", u), 400)
    check_json(get(gw, "/api/sessions?cursor=" + p1["next_cursor"][:-2] + "zz", u), 400)
    check_json(get(gw, "/api/sessions?limit=0", u), 400)
    check_json(get(gw, "/api/sessions?limit=11", u), 400)
    check_json(get(gw, "/api/sessions"), 401)
    check_json(get(gw, "/api/sessions", "bad user"), 401)
    check_json(get(gw, "/api/sessions", "x" * 129), 401)
    check_json(get(gw, f"/api/sessions/{first}/events"), 401)
    check_json(get(gw, "/api/nothing", u), 404)

    # Keep-alive: several answers on one connection, in order.
    with requests.Session() as s:
        s.trust_env = False
        for _ in range(3):
            r = s.get(f"http://127.0.0.1:{gw.port}/api/sessions?limit=1",
                      headers={"X-User-Id": u}, timeout=10)
            assert r.status_code == 200 and r.json()["sessions"][0]["session_id"] == second

    # A gateway without DATABASE_URL answers 503; the WebSocket side is untouched.
    r = get(stack.gateway, "/api/sessions", u)
    assert check_json(r, 503) == {"error": "history_unavailable"}
    assert get(gw, "/healthz").status_code == 200
