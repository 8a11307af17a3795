"""Conversation context: multi-turn memory, surviving a worker crash, resuming a session,
and who may resume it."""
import asyncio
import signal
import time
import uuid

import mockllm
from wsclient import WsClient, run

# This module kills the worker: it gets its own stack, topics and consumer group.
PRIVATE_STACK = True


def test_second_answer_mentions_first_message(stack):
    first = f"my favourite colour is teal {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/ctx_user")) as c:
            t1 = await c.turn(first)
            t2 = await c.turn("what did I just tell you?")
            assert f'Earlier you said: "{first}"' in t2.text, t2.text
            assert mockllm.context_count(t2.text) == mockllm.context_count(t1.text) + 2
    run(body())


def test_context_survives_worker_sigkill(stack):
    first = f"remember the number {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/ctx_user")) as c:
            t1 = await c.turn(first)
            n1 = mockllm.context_count(t1.text)
            stack.restart(stack.worker, signal.SIGKILL)
            # The new worker must restore the session from chat.context (after the group
            # notices the dead member: up to the 6 s session timeout, plus a rebalance).
            t2 = await c.turn("which number was it?", timeout=90)
            assert t2.finish_reason == "stop", t2.frames
            assert f'Earlier you said: "{first}"' in t2.text, t2.text
            assert mockllm.context_count(t2.text) == n1 + 2, t2.text
            assert t2.seqs[0] > t1.seqs[-1]
    run(body(), timeout=130)


def test_context_survives_worker_sigterm(stack):
    first = f"graceful restart {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/ctx_user")) as c:
            await c.turn(first)
            rc = stack.worker.terminate(timeout=20)
            assert rc == 0, f"llm-worker exit code after SIGTERM: {rc}"
            stack.worker.start()
            t2 = await c.turn("and now?", timeout=60)
            assert f'Earlier you said: "{first}"' in t2.text, t2.text
    run(body(), timeout=110)


def test_resume_keeps_context_and_user(stack):
    first = f"resume me later {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/alice_ctx")) as c1:
            await c1.turn(first)
            sid, last = c1.session_id, c1.last_seq
        async with await WsClient.open(stack.ws_url("/ws/session/alice_ctx"), session_id=sid,
                                       last_seq=last) as c2:
            assert c2.session["session_id"] == sid
            assert c2.session["user_id"] == "alice_ctx"
            assert c2.session["resumed"] is True
            assert await c2.quiet(0.5) == []       # nothing after last_seq to replay
            t = await c2.turn("do you still remember?")
            assert f'Earlier you said: "{first}"' in t.text, t.text
            assert t.seqs[0] == last + 1            # seq goes on across reconnects
    run(body())


def test_resume_on_another_gateway(stack):
    first = f"moving gateways {mockllm.marker()}"

    async def body():
        gw2 = stack.start_gateway()
        async with await WsClient.open(stack.ws_url("/ws/session/bob_ctx")) as c1:
            await c1.turn(first)
            sid, last = c1.session_id, c1.last_seq
        async with await WsClient.open(stack.ws_url("/ws/session/bob_ctx", gw2), session_id=sid,
                                       last_seq=last) as c2:
            assert c2.session["resumed"] is True and c2.session["session_id"] == sid
            t = await c2.turn("still there?")
            assert f'Earlier you said: "{first}"' in t.text, t.text
    run(body())


async def _expect_rejected(url: str, sid: str, code: str, close_code: int):
    c = await WsClient.open(url, session_id=sid, expect_session=False)
    try:
        got, frames = await c.expect_close(10)
    finally:
        await c.close()
    errors = [f for f in frames if f.get("type") == "error"]
    assert [e.get("code") for e in errors] == [code], frames
    assert got == close_code, f"close code {got}, frames {frames}"
    assert not [f for f in frames if f.get("type") in ("token", "done")], frames


def test_other_user_cannot_resume(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/owner_ctx")) as c1:
            await c1.turn(f"private {mockllm.marker()}")
            sid = c1.session_id
        await _expect_rejected(stack.ws_url("/ws/session/mallory"), sid, "forbidden", 4403)
        # The owner still can.
        async with await WsClient.open(stack.ws_url("/ws/session/owner_ctx"), session_id=sid) as c2:
            assert c2.session["resumed"] is True
    run(body())


def test_other_user_cannot_resume_while_owner_connected(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/owner2_ctx")) as c1:
            await c1.turn("hello")
            await _expect_rejected(stack.ws_url("/ws/session/mallory"), c1.session_id,
                                   "forbidden", 4403)
            # The owner's connection is unaffected.
            t = await c1.turn("still mine")
            assert t.finish_reason == "stop"
    run(body())


def test_unknown_session_is_not_found(stack):
    async def body():
        t0 = time.monotonic()
        await _expect_rejected(stack.ws_url("/ws/session/ctx_user"), str(uuid.uuid4()),
                               "session_not_found", 4404)
        assert time.monotonic() - t0 < 10
    run(body())


def test_context_moves_with_partitions_to_a_second_worker(stack):
    """Scale out to two workers (rebalance), then stop the first: every session keeps its
    history wherever its partition goes."""
    n = 6
    firsts = [f"scale out {i} {mockllm.marker()}" for i in range(n)]

    async def body():
        clients = [await WsClient.open(stack.ws_url(f"/ws/session/scale_{i}")) for i in range(n)]
        try:
            await asyncio.gather(*(c.turn(firsts[i]) for i, c in enumerate(clients)))
            w2 = stack.start_worker()
            await asyncio.to_thread(w2.wait_log, r"partitions assigned", 30)
            ts = await asyncio.gather(*(c.turn(f"second {i}", timeout=60)
                                        for i, c in enumerate(clients)))
            for i, t in enumerate(ts):
                assert f'Earlier you said: "{firsts[i]}"' in t.text, (i, t.text)
            rc = await asyncio.to_thread(stack.workers[0].terminate, 20)
            assert rc == 0
            ts = await asyncio.gather(*(c.turn(f"third {i}", timeout=60)
                                        for i, c in enumerate(clients)))
            for i, t in enumerate(ts):
                assert f'Earlier you said: "second {i}"' in t.text, (i, t.text)
                assert mockllm.context_count(t.text) == mockllm.context_count(ts[0].text)
        finally:
            for c in clients:
                await c.close()
            # Back to one worker for the rest of the module.
            stack.workers[0].start()
            await asyncio.to_thread(stack.workers[1].terminate, 20)
            stack.workers.pop()
    run(body(), timeout=140)
