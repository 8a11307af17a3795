"""Streaming: the session frame first, tokens in order, seq +1 per frame, done with usage."""
import json
import re
import uuid

import pytest
from websockets.asyncio.client import connect as ws_connect

import mockllm
from wsclient import WsClient, run

UUID_RX = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_session_frame_comes_first(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            s = c.session
            assert s["type"] == "session"
            assert UUID_RX.match(s["session_id"]), s
            assert s["user_id"] == "stream_user"
            assert s["resumed"] is False
            assert s["llm"] == "mock", s
            # Nothing else arrives before the client speaks.
            assert await c.quiet(0.3) == []
    run(body())


def test_anonymous_session_gets_anon_user(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session")) as c:
            assert re.match(r"^anon-[0-9a-f-]{36}$", c.user_id), c.session
            t = await c.turn("hello from nobody")
            assert t.finish_reason == "stop"
    run(body())


def test_tokens_in_order_and_done_with_usage(stack):
    msg = f"hello streaming {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            t = await c.turn(msg)
            assert t.ack and t.ack["turn_id"] == t.turn_id
            assert len(t.tokens) > 5, t.frames            # streamed, not one blob
            n = mockllm.context_count(t.text)
            # Concatenated in arrival order the tokens are exactly mock-llm's answer.
            assert t.text == mockllm.plain_reply(msg, n), t.text
            assert [f["type"] for f in t.frames[:-1]] == ["token"] * (len(t.frames) - 1)
            done = t.done
            assert t.frames[-1] is done
            assert done["finish_reason"] == "stop"
            u = done["usage"]
            for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
                assert isinstance(u[k], int) and u[k] > 0, u
            assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
            seqs = t.seqs
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert not t.errors and not t.others
    run(body())


def test_seq_continues_across_turns(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            t1 = await c.turn("first turn")
            t2 = await c.turn("second turn")
            t3 = await c.turn("third turn")
            assert len({t1.turn_id, t2.turn_id, t3.turn_id}) == 3
            assert t2.seqs[0] == t1.seqs[-1] + 1
            assert t3.seqs[0] == t2.seqs[-1] + 1
            assert [mockllm.context_count(t.text) for t in (t1, t2, t3)] == \
                [mockllm.context_count(t1.text) + 2 * i for i in range(3)]
    run(body())


def test_client_reading_only_type_and_content(stack):
    """An old client that looks at nothing but `type` and `content` still gets the answer."""
    msg = f"minimal client {mockllm.marker()}"

    async def body():
        async with ws_connect(stack.ws_url("/ws/session/minimal_user"), proxy=None,
                              open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "user_message", "content": msg}))
            text = ""
            while True:
                f = json.loads(await ws.recv())
                if f["type"] == "token":
                    text += f["content"]
                elif f["type"] == "done":
                    break
            assert text.startswith(mockllm.reply_prefix(msg)), text
    run(body(), timeout=60)


def test_ping_pong(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            await c.send_json({"type": "ping"})
            f = await c.expect_frame("pong", 5)
            assert isinstance(f["ts"], int) and f["ts"] > 1_600_000_000_000
    run(body())


def test_client_message_id_is_acked(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            mid = str(uuid.uuid4())
            t = await c.turn("ack me", msg_id=mid)
            assert t.ack is not None, "no ack frame"
            assert t.ack["id"] == mid and t.ack["turn_id"] == t.turn_id
    run(body())





def test_resend_with_same_id_is_answered_once(stack):
    """A user_message resent with the same id (a client unsure it arrived) is not a new turn."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            mid = str(uuid.uuid4())
            t1 = await c.turn(f"say this once {mockllm.marker()}", msg_id=mid)
            assert t1.finish_reason == "stop"
            await c.send_json({"type": "user_message", "content": "say this once", "id": mid})
            extra = await c.quiet(2.0)
            new_turn = [f for f in extra if "seq" in f]
            assert not new_turn, f"the resend started another turn: {new_turn}"
            acks = [f for f in extra if f["type"] == "ack"]
            # The next new message is answered normally and its context holds one copy.
            t2 = await c.turn("and now something new")
            assert mockllm.context_count(t2.text) == mockllm.context_count(t1.text) + 2
            # An ack promises an answer for its turn_id: for a resend that is the original turn
            # (an ack naming a fresh turn_id announces a turn that never comes).
            assert all(a["id"] == mid and a["turn_id"] == t1.turn_id for a in acks), \
                f"resend acked with another turn_id than the answered turn {t1.turn_id}: {acks}"
    run(body())



def test_resends_of_an_answered_message_do_not_make_the_connection_busy(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            mid = str(uuid.uuid4())
            await c.turn("answered once", msg_id=mid)
            for _ in range(16):
                await c.send_json({"type": "user_message", "content": "answered once", "id": mid})
            await c.quiet(1.5)
            await c.send_message("a new message")
            while True:
                f = await c.recv(30)
                assert f.get("code") != "busy", f"new message refused after 16 resends: {f}"
                if f["type"] == "done":
                    assert f["finish_reason"] == "stop"
                    break
    run(body())



def test_resend_while_first_is_running_is_answered_once(stack):
    """The resend arrives before the first answer is done (the usual case of a client that
    lost its ack): still one turn."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stream_user")) as c:
            mid = str(uuid.uuid4())
            text = f"only once please {mockllm.marker()}"
            await c.send_json({"type": "user_message", "content": text, "id": mid})
            await c.send_json({"type": "user_message", "content": text, "id": mid})
            t1 = await c.collect_turn()
            extra = await c.quiet(2.5)
            new_turn = [f for f in extra if "seq" in f]
            assert not new_turn, f"the resend was answered as a second turn: {new_turn[:3]}"
            t2 = await c.turn("and now something new")
            assert mockllm.context_count(t2.text) == mockllm.context_count(t1.text) + 2
    run(body())
