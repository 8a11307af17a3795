"""Older clients send raw text instead of JSON: it is one user message."""
import pytest

import mockllm
from wsclient import WsClient, run


def test_raw_text_gets_tokens_and_user_from_path(stack):
    msg = f"hello from a raw client {mockllm.marker()}"

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/user_123")) as c:
            assert c.session["user_id"] == "user_123"
            assert c.session["resumed"] is False
            await c.send_text(msg)
            t = await c.collect_turn()
            assert t.finish_reason == "stop"
            assert len(t.tokens) > 1
            assert t.text.startswith(mockllm.reply_prefix(msg)), t.text
    run(body())


@pytest.mark.parametrize("raw", ["[1, 2, 3]", "42", '"a JSON string"', "  spaced text  "],
                         ids=["json-array", "json-number", "json-string", "spaces"])
def test_text_that_is_not_a_json_object_is_a_message(stack, raw):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/user_123")) as c:
            await c.send_text(raw)
            t = await c.collect_turn()
            assert t.finish_reason == "stop", t.frames
            assert not t.errors
            assert t.text.startswith('Mock reply to: "'), t.text
            assert raw.strip() in t.text, t.text
    run(body())


def test_raw_then_json_in_one_session(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/user_123")) as c:
            await c.send_text("raw first")
            t1 = await c.collect_turn()
            t2 = await c.turn("json second")
            assert t1.finish_reason == t2.finish_reason == "stop"
            assert 'Earlier you said: "raw first"' in t2.text, t2.text
    run(body())
