"""Stopping and losing services: graceful SIGTERM (1001 close, exit 0, drained turns), a
gateway crash mid-answer, and the LLM being unreachable."""
import asyncio
import signal
import time

import pytest

import mockllm
from wsclient import WsClient, run

# Stops and kills every service: its own stack.
PRIVATE_STACK = True

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


def test_every_service_exits_0_on_sigterm(stack):
    """Run last in this module: stops the stack's services one by one."""
    rcs = {}
    for s in [*stack.gateways, *stack.workers, stack.mock]:
        rcs[s.name] = s.terminate(timeout=20)
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
