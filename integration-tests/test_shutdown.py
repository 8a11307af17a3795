"""Stopping and losing services: graceful SIGTERM (1001 close, exit 0, drained turns), a
gateway crash mid-answer, and the LLM being unreachable. The durable services too: a persister
stopped with a batch in flight writes and commits it, a summarizer stopped mid-summary finishes
it, mock-llm finishes its answers and refuses new connections; PostgreSQL shows nothing lost."""
import asyncio
import re
import signal
import time
import uuid

import pytest
import requests

import mockllm
from pg_fixtures import *  # noqa: F401,F403
from pg_fixtures import Durable
from wsclient import WsClient, run

# Stops and kills every service: its own stack. A short grace period: the summarizer test
# waits for a session to end; mock-llm may drain for long enough to finish a long answer.
PRIVATE_STACK = True
GRACE_MS = 2000
STACK_ENV = {"worker": {"SESSION_END_GRACE_MS": str(GRACE_MS)},
             "mock": {"MOCK_LLM_DRAIN_MS": "20000"}}

LONG_PROMPT = "write a long text about graceful shutdown"


@pytest.fixture(scope="module")
def reference(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/ref_user")) as c:
            t = await c.turn(LONG_PROMPT, timeout=60)
            assert t.finish_reason == "stop"
            return t.text
    return run(body())


async def read_tokens(c: WsClient, prompt: str, n: int):
    async def enough(f, turn):
        return f["type"] == "token" and len(turn.tokens) >= n
    t = await c.turn(prompt, on_frame=enough, timeout=30)
    assert t.done is None
    return t


def test_gateway_sigterm_closes_1001_and_exits_0(stack):
    first = f"before the restart {mockllm.marker()}"

    async def body():
        gw = stack.gateway
        c1 = await WsClient.open(stack.ws_url("/ws/session/shut_user"))
        c2 = await WsClient.open(stack.ws_url("/ws/session/shut_user2"))
        await c1.turn(first)
        sid, last = c1.session_id, c1.last_seq
        t0 = time.monotonic()
        gw.signal(signal.SIGTERM)
        codes = await asyncio.gather(c1.expect_close(10), c2.expect_close(10))
        assert [code for code, _ in codes] == [1001, 1001], codes
        rc = await asyncio.to_thread(gw.wait, 15)
        assert rc == 0, f"gateway exit code {rc} after SIGTERM:\n{gw.tail(20)}"
        assert time.monotonic() - t0 < 10
        await c1.close()
        await c2.close()
        await asyncio.to_thread(stack.restart, gw)
        async with await WsClient.open(stack.ws_url("/ws/session/shut_user"), session_id=sid,
                                       last_seq=last) as c:
            assert c.session["resumed"] is True
            t = await c.turn("after the restart")
            assert f'Earlier you said: "{first}"' in t.text, t.text
    run(body())


def test_gateway_sigkill_mid_answer_then_resume(stack, reference):
    async def body():
        c1 = await WsClient.open(stack.ws_url("/ws/session/shut_user"))
        part = await read_tokens(c1, LONG_PROMPT, 10)
        sid, last = c1.session_id, c1.last_seq
        await asyncio.to_thread(stack.restart, stack.gateway, signal.SIGKILL)
        await c1.abort()
        c2 = await WsClient.open(stack.ws_url("/ws/session/shut_user"), session_id=sid,
                                 last_seq=last)
        try:
            rest = await c2.collect_turn(timeout=60)
        finally:
            await c2.close()
        assert rest.finish_reason == "stop"
        assert rest.seqs[0] == last + 1
        assert part.text + rest.text == reference
    run(body())


def test_worker_sigterm_mid_answer_finishes_the_turn(stack, reference):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/shut_user")) as c:
            part = await read_tokens(c, LONG_PROMPT, 5)
            w = stack.worker
            w.signal(signal.SIGTERM)
            rest = await c.collect_turn(timeout=60, turn_id=part.turn_id)
            rc = await asyncio.to_thread(w.wait, 30)
            frames = part.frames + rest.frames
            resets = [i for i, f in enumerate(frames) if f["type"] == "turn_reset"]
            shown = frames[resets[-1] + 1:] if resets else frames
            assert rest.finish_reason == "stop", rest.done
            assert "".join(f["content"] for f in shown if f["type"] == "token") == reference
            assert rc == 0, f"llm-worker exit code {rc} after SIGTERM:\n{w.tail(20)}"
            w.start()
            t = await c.turn("after the worker restart", timeout=60)
            assert t.finish_reason == "stop"
    run(body(), timeout=140)


def test_llm_unreachable_then_back(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/shut_user")) as c:
            stack.mock.terminate()
            try:
                t = await c.turn(f"anyone there? {mockllm.marker()}", timeout=90)
                errs = t.errors
                assert len(errs) == 1 and errs[0]["code"] == "llm_unavailable", t.frames
                assert t.finish_reason == "error"
            finally:
                await asyncio.to_thread(stack.restart_mock)
            m = mockllm.marker()
            t2 = await c.turn(f"back again {m}", timeout=30)
            assert t2.finish_reason == "stop" and m in t2.text
    run(body(), timeout=140)


@pytest.fixture(scope="module")
def durable_stack(stack, kafka, pg, tmp_path_factory):
    """persister + summarizer on the stack's topics, using the stack's mock-llm."""
    d = Durable(kafka, pg, None, tmp_path_factory.mktemp("logs-shutdown-durable"), "shutdown",
                events_topic=stack.topics["EVENTS"], dlq_topic=stack.topics["DLQ"])
    d.mock = stack.mock                      # borrowed: the stack stops it
    for svc in (d.start_persister(), d.start_summarizer()):
        svc.wait_log(r"partitions assigned", 30)      # signal handlers are in place
    yield d
    rcs = d.stop()
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}\n{d.tails()}"


def chat_once(stack, user: str, prompt: str) -> tuple[str, str]:
    """One session with one turn, closed: (session id, answer)."""
    async def body():
        async with await WsClient.open(stack.ws_url(f"/ws/session/{user}")) as c:
            t = await c.turn(prompt, timeout=60)
            assert t.finish_reason == "stop", t.frames
            return c.session_id, t.text
    return run(body())


def event_types(pg, sid: str) -> list[str]:
    return [r[0] for r in pg.query("SELECT event_type FROM event_log WHERE session_id = %s "
                                   "ORDER BY timestamp, event_id", (sid,))]


def last_progress(svc) -> str:
    lines = [ln for ln in svc.log_text().splitlines() if 'msg="progress"' in ln]
    assert lines, f"{svc.name} printed no progress line:\n{svc.tail(20)}"
    return lines[-1]


def test_persister_sigterm_writes_and_commits_the_batch_in_flight(stack, durable_stack, pg):
    d = durable_stack
    d.persisters[-1].terminate()
    # A batch stays open for 5 s after its first event: SIGTERM lands while it is collected.
    p = d.start_persister({"PERSISTER_BATCH_WAIT_MS": "5000"})
    p.wait_log(r"partitions assigned", 30)
    sid, _ = chat_once(stack, f"shut_pst_{uuid.uuid4().hex[:6]}", "a short question")
    time.sleep(0.5)                          # the turn's events reach the persister
    assert event_types(pg, sid) == [], "the batch was written before SIGTERM: no test"
    t0 = time.monotonic()
    p.signal(signal.SIGTERM)
    assert p.wait(15) == 0, p.tail(20)
    assert time.monotonic() - t0 < 5, "the batch in flight waited for its batch deadline"
    # (Its session_end may be in that batch too: the session ends 2 s after the close.)
    assert event_types(pg, sid)[:3] == ["session_start", "user_message", "ai_response"]
    # Committed: the next persister in the group replays nothing (no duplicates at all).
    p2 = d.start_persister()
    p2.wait_log(r"partitions assigned", 30)
    time.sleep(2)
    p2.signal(signal.SIGTERM)
    assert p2.wait(15) == 0, p2.tail(20)
    assert " duplicates=0 " in last_progress(p2), last_progress(p2)
    # The session ends after the grace period: its end is written by the new persister.
    d.persisters.remove(p2)
    p3 = d.start_persister()
    d.wait(lambda: event_types(pg, sid)[-1:] == ["session_end"], GRACE_MS / 1000 + 30,
           "the session_end row")
    assert p3.alive()


def test_summarizer_sigterm_finishes_the_summary_in_flight(stack, durable_stack, pg):
    d = durable_stack
    d.summarizers[-1].terminate()
    # A summarizer whose LLM takes 3 s to answer: the summary is in flight at SIGTERM.
    d.start_mock({"MOCK_LLM_TTFT_MS": "3000"})
    s = d.start_summarizer()
    s.wait_log(r"partitions assigned", 30)
    sid, _ = chat_once(stack, f"shut_sum_{uuid.uuid4().hex[:6]}", "something to summarize")
    d.wait(lambda: "session_end" in event_types(pg, sid), GRACE_MS / 1000 + 30, "session_end")
    time.sleep(1.0)                          # the summarizer has asked the LLM by now
    assert d.session(sid)["summary_status"] is None, "summarized before SIGTERM: no test"
    s.signal(signal.SIGTERM)
    assert s.wait(20) == 0, s.tail(20)
    assert re.search(r'msg="draining" jobs=[1-9]', s.log_text()), s.tail(20)
    row = d.session(sid)
    assert row["summary_status"] == "ok" and row["session_summary"], row
    # Committed: a new summarizer does not summarize that session again.
    s2 = d.start_summarizer()
    s2.wait_log(r"partitions assigned", 30)
    time.sleep(2)
    s2.signal(signal.SIGTERM)
    assert s2.wait(20) == 0, s2.tail(20)
    assert " skipped=0 " in last_progress(s2), last_progress(s2)
    d.summarizers.remove(s2)
    d.start_summarizer()


def test_mock_llm_sigterm_finishes_answers_and_refuses_new_ones(stack, reference):
    mock = stack.mock

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/shut_user")) as c:
            part = await read_tokens(c, LONG_PROMPT, 5)
            mock.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            http = requests.Session()
            http.trust_env = False           # never through a proxy from the environment
            with pytest.raises(requests.ConnectionError):
                http.get(f"http://127.0.0.1:{mock.port}/v1/models", timeout=2)
            rest = await c.collect_turn(timeout=60, turn_id=part.turn_id)
            assert rest.finish_reason == "stop", rest.frames
            assert part.text + rest.text == reference
    try:
        run(body(), timeout=90)
        assert mock.wait(20) == 0, mock.tail(20)
        assert re.search(r'msg="draining" in_flight=[1-9]', mock.log_text()), mock.tail(20)
    finally:
        stack.restart_mock()


def test_every_service_exits_0_on_sigterm(stack, durable_stack):
    """Run last in this module: stops the stack's services one by one."""
    rcs = {}
    for s in [*stack.gateways, *stack.workers, stack.mock]:
        rcs[s.name] = s.terminate(timeout=20)
    for s in [*durable_stack.persisters, *durable_stack.summarizers]:
        if s.alive():
            rcs[s.name] = s.terminate(timeout=20)
    durable_stack.persisters[-1].start()
    durable_stack.summarizers[-1].start()
    assert all(rc == 0 for rc in rcs.values()), rcs
    # Leave the stack running for the guard and the module teardown.
    for s in [stack.mock, *stack.workers]:
        if s is stack.mock:
            stack.restart_mock()
        else:
            s.start()
    for g in stack.gateways:
        g.start()
        stack.wait_gateway_ready(g)
