"""End to end through the WebSocket: gateway -> llm-worker -> chat.events -> persister and
summarizer -> PostgreSQL. A weather conversation leaves one session row and its events in order;
a disconnect ends the session after the grace period and brings a summary, end_time and
duration; a resume within the grace period does not end it; concurrent sessions leave exactly
one row per event."""
import asyncio
import json
import time
import uuid

import pytest

from pg_fixtures import *  # noqa: F401,F403
from wsclient import WsClient, run

GRACE_MS = 2000
# A private stack: a short grace period, and a fast mock so that the load test stays short.
# The load test sends 100 messages as one user in seconds: far over the per-user message rate,
# which test_limits.py covers; here it is off.
STACK_ENV = {"worker": {"SESSION_END_GRACE_MS": str(GRACE_MS)},
             "gateway": {"GATEWAY_RATE_PER_MIN": "0"},
             "mock": {"MOCK_LLM_TOKENS_PER_SEC": "400", "MOCK_LLM_TTFT_MS": "20"}}


@pytest.fixture
def e2e(stack, kafka, pg, kafka_tool, tmp_path_factory):
    """persister + summarizer on the stack's own topics, using the stack's mock-llm."""
    d = Durable(kafka, pg, kafka_tool, tmp_path_factory.mktemp("logs-e2e", numbered=True), "e2e",
                events_topic=stack.topics["EVENTS"], dlq_topic=stack.topics["DLQ"])
    d.mock = stack.mock                      # borrowed: stopped with the stack, not here
    d.start_persister()
    d.start_summarizer()
    yield d
    rcs = d.stop()
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}\n{d.tails()}"


def user() -> str:
    return f"e2e_{uuid.uuid4().hex[:8]}"


def types(d, sid):
    return [r[0] for r in d.event_rows(sid)]


def test_weather_conversation_then_disconnect(e2e, stack):
    u = user()

    async def body():
        async with await WsClient.open(stack.ws_url(f"/ws/session/{u}")) as c:
            t1 = await c.turn("What's the weather like in Paris today?", timeout=60)
            t2 = await c.turn("Thanks, and a packing tip?", timeout=60)
            assert t1.finish_reason == t2.finish_reason == "stop"
            assert len(t1.of_type("tool_call")) == 1
            return c.session_id, t1.text, t2.text
    sid, text1, text2 = run(body())
    closed_at = time.time() * 1000

    expected = ["session_start", "user_message", "tool_call", "tool_result", "ai_response",
                "user_message", "ai_response"]
    e2e.wait(lambda: types(e2e, sid)[:7] == expected, 30, "the conversation's rows")
    rows = e2e.event_rows(sid)
    assert rows[1][1] == "What's the weather like in Paris today?"
    assert json.loads(rows[2][1])["name"] == "get_weather"
    assert "Paris" in json.loads(rows[3][1])["content"]["location"]
    assert rows[4][1] == text1, "one ai_response row with the whole answer"
    assert rows[6][1] == text2
    assert rows[4][5]["interrupted"] is False and rows[4][5]["finish_reason"] == "stop"
    assert rows[1][4] == rows[2][4] == rows[3][4] == rows[4][4], "one turn_id per turn"
    assert e2e.pg.scalar("SELECT count(*) FROM session_metadata WHERE session_id = %s",
                         (sid,)) == 1

    # The disconnect ends the session after the grace period; the summary follows.
    s = e2e.wait(lambda: (lambda r: r if r and r["summary_status"] else None)(e2e.session(sid)),
                 GRACE_MS / 1000 + 30, "the summary")
    took = time.time() - closed_at / 1000
    assert types(e2e, sid) == expected + ["session_end"]
    end = json.loads(e2e.event_rows(sid)[-1][1])
    assert s["summary_status"] == "ok" and s["session_summary"].startswith("Mock summary")
    assert s["end_ms"] == end["end_ts"]
    assert abs(s["end_ms"] - closed_at) < 2000, "end_time is when the last socket closed"
    assert s["duration_seconds"] == round((end["end_ts"] - s["start_ms"]) / 1000)
    print(f"\n[e2e] summary {took:.1f}s after the disconnect (grace {GRACE_MS} ms)")


def test_resume_within_grace_does_not_end_the_session(e2e, stack):
    u = user()

    async def body():
        c = await WsClient.open(stack.ws_url(f"/ws/session/{u}"))
        await c.turn("first visit", timeout=60)
        sid, last = c.session_id, c.last_seq
        await c.close()
        await asyncio.sleep(GRACE_MS / 4000)
        c2 = await WsClient.open(stack.ws_url(f"/ws/session/{u}"), session_id=sid, last_seq=last)
        assert c2.session["resumed"] is True
        await c2.turn("back within the grace period", timeout=60)
        await asyncio.sleep(2 * GRACE_MS / 1000 + 1)     # well past the grace period, open
        ended_while_open = "session_end" in types(e2e, sid)
        await c2.close()
        return sid, ended_while_open
    sid, ended_while_open = run(body())
    assert not ended_while_open, "a resumed session must not end"
    s = e2e.wait(lambda: (lambda r: r if r and r["summary_status"] else None)(e2e.session(sid)),
                 GRACE_MS / 1000 + 30, "the summary after the final close")
    assert types(e2e, sid).count("session_end") == 1
    assert types(e2e, sid).count("user_message") == 2
    assert s["summary_status"] == "ok"


@pytest.mark.timeout(300)
def test_concurrent_sessions_one_row_per_event(e2e, stack):
    n_sessions, n_turns = 20, 5
    u = user()

    async def one(i):
        async with await WsClient.open(stack.ws_url(f"/ws/session/{u}")) as c:
            for t in range(n_turns):
                tr = await c.turn(f"session {i} turn {t}" + (": weather in Rome?" if t == 2
                                                             else ""), timeout=90)
                assert tr.done, tr.frames
            return c.session_id

    async def body():
        return await asyncio.gather(*(one(i) for i in range(n_sessions)))
    sids = set(run(body(), timeout=240))
    assert len(sids) == n_sessions

    def kafka_ids():
        ids = set()
        for _, _, key, val in e2e.read_topic(stack.topics["EVENTS"], 2000):
            if key in sids:
                ids.add(json.loads(val)["id"])
        return ids

    # Wait for every session to end and be summarized, then compare topic and table.
    e2e.wait(lambda: e2e.pg.scalar("SELECT count(*) FROM session_metadata WHERE user_id = %s "
                                   "AND summary_status IS NOT NULL", (u,)) == n_sessions,
             GRACE_MS / 1000 + 90, "every summary", interval=0.5)
    ids = kafka_ids()
    rows = e2e.pg.query("SELECT e.event_key::text FROM event_log e JOIN session_metadata m "
                        "USING (session_id) WHERE m.user_id = %s", (u,))
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate rows"
    assert set(keys) == ids, f"{len(keys)} rows for {len(ids)} events"
    per_session = 1 + n_turns * 2 + 2 + 1     # start, turns, one tool call+result, end
    assert len(ids) == n_sessions * per_session
    print(f"\n[e2e] {n_sessions} sessions x {n_turns} turns: {len(ids)} events, {len(keys)} rows")
