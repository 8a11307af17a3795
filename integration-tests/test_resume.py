"""Reconnecting mid-answer with session_id + last_seq: the rest of the answer, no gap, no
duplicate; a worker lost mid-answer: turn_reset, then the whole answer again."""
import asyncio
import signal

import pytest

import mockllm
from wsclient import WsClient, run

# Adds a gateway and kills workers: its own stack.
PRIVATE_STACK = True

LONG_PROMPT = "tell me a long story about reconnecting websockets"
SHORT_PROMPT = "a short answer about reconnecting"


@pytest.fixture(scope="module")
def reference(stack):
    """The uninterrupted answers to the prompts, each in a fresh session."""
    async def body():
        out = {}
        for p in (LONG_PROMPT, SHORT_PROMPT):
            async with await WsClient.open(stack.ws_url("/ws/session/ref_user")) as c:
                t = await c.turn(p, timeout=60)
                assert t.finish_reason == "stop"
                out[p] = t.text
        return out
    ref = run(body())
    assert len(ref[LONG_PROMPT]) > 1500
    return ref


async def resume_and_finish(url: str, sid: str, last_seq: int, timeout: float = 60):
    c2 = await WsClient.open(url, session_id=sid, last_seq=last_seq)
    try:
        assert c2.session["resumed"] is True and c2.session["session_id"] == sid
        t2 = await c2.collect_turn(timeout=timeout)
        return c2, t2
    finally:
        await c2.close()


@pytest.mark.parametrize("how", ["close", "abort"])
def test_reconnect_mid_answer_gets_the_rest(stack, reference, how):
    async def body():
        c1 = await WsClient.open(stack.ws_url("/ws/session/resume_user"))
        part = await c1.turn_part(LONG_PROMPT, 20)
        sid, last = c1.session_id, c1.last_seq
        await (c1.close() if how == "close" else c1.abort())
        _, rest = await resume_and_finish(stack.ws_url("/ws/session/resume_user"), sid, last)
        assert rest.turn_id == part.turn_id
        assert rest.seqs[0] == last + 1                # no gap, no duplicate
        assert rest.finish_reason == "stop"
        assert not rest.of_type("turn_reset")
        assert part.text + rest.text == reference[LONG_PROMPT]
    run(body())


def test_reconnect_after_answer_finished_replays_the_rest(stack, reference):
    async def body():
        c1 = await WsClient.open(stack.ws_url("/ws/session/resume_user"))
        part = await c1.turn_part(SHORT_PROMPT, 5)
        sid, last = c1.session_id, c1.last_seq
        await c1.close()
        await asyncio.sleep(3)                         # the answer completes meanwhile
        _, rest = await resume_and_finish(stack.ws_url("/ws/session/resume_user"), sid, last)
        assert rest.finish_reason == "stop"
        assert part.text + rest.text == reference[SHORT_PROMPT]
    run(body())


def test_reconnect_on_another_gateway_mid_answer(stack, reference):
    async def body():
        if len(stack.gateways) < 2:
            stack.start_gateway()
        gw2 = stack.gateways[1]
        c1 = await WsClient.open(stack.ws_url("/ws/session/resume_user"))
        part = await c1.turn_part(LONG_PROMPT, 15)
        sid, last = c1.session_id, c1.last_seq
        await c1.abort()
        _, rest = await resume_and_finish(stack.ws_url("/ws/session/resume_user", gw2), sid, last)
        assert rest.finish_reason == "stop"
        assert part.text + rest.text == reference[LONG_PROMPT]
    run(body())


def test_reconnect_having_seen_nothing_of_the_turn(stack, reference):
    """last_seq from before the turn: the whole turn is replayed."""
    async def body():
        c1 = await WsClient.open(stack.ws_url("/ws/session/resume_user"))
        await c1.turn("first, a turn the client saw completely")
        sid, before = c1.session_id, c1.last_seq
        await c1.turn_part(SHORT_PROMPT, 1)
        await c1.abort()
        _, rest = await resume_and_finish(stack.ws_url("/ws/session/resume_user"), sid, before)
        assert rest.seqs[0] == before + 1
        assert rest.finish_reason == "stop"
        # The second message of the session: the echo mentions the first one.
        ref = reference[SHORT_PROMPT]
        assert rest.text.startswith(mockllm.reply_prefix(SHORT_PROMPT,
                                                         "first, a turn the client saw completely"))
        assert rest.text.endswith(ref[ref.index(" This is a deterministic"):])
    run(body())


def test_resume_without_last_seq_attaches_live(stack):
    """No last_seq: no replay guarantee, but the live rest of the turn and done arrive."""
    async def body():
        c1 = await WsClient.open(stack.ws_url("/ws/session/resume_user"))
        await c1.turn_part(LONG_PROMPT, 5)
        sid = c1.session_id
        await c1.abort()
        c2 = await WsClient.open(stack.ws_url("/ws/session/resume_user"), session_id=sid)
        try:
            t = await c2.collect_turn(timeout=60)
            assert t.finish_reason == "stop"
        finally:
            await c2.close()
    run(body())


def test_worker_killed_mid_answer_resets_and_completes(stack, reference):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/crash_user")) as c:
            part = await c.turn_part(LONG_PROMPT, 10)
            stack.restart(stack.worker, signal.SIGKILL)
            rest = await c.collect_turn(timeout=100, turn_id=part.turn_id)
            frames = part.frames + rest.frames
            types = [f["type"] for f in frames]
            assert "turn_reset" in types, "no turn_reset after the worker was lost mid-answer"
            # The re-run's seqs start after the lost run's reserved block: forward, never back.
            assert all(new > old for old, new in c.seq_jumps), c.seq_jumps
            assert rest.finish_reason == "stop", rest.done
            # What a client shows: the tokens after the last reset, a complete answer.
            after = frames[max(i for i, x in enumerate(types) if x == "turn_reset") + 1:]
            text = "".join(f["content"] for f in after if f["type"] == "token")
            assert text == reference[LONG_PROMPT]
    run(body(), timeout=140)
