"""Bad client input: an error frame (connection kept) or a close code, never a broken gateway."""
import asyncio
import json

import pytest

import mockllm
from wsclient import ConnectionClosed, WsClient, run


async def assert_gateway_fine(stack, pid_before: int):
    gw = stack.gateway
    assert gw.alive() and gw.pid == pid_before, f"gateway died or restarted: {gw.tail(30)}"
    assert stack.http("/healthz").status_code == 200
    async with await WsClient.open(stack.ws_url("/ws/session/bystander")) as other:
        m = mockllm.marker()
        t = await other.turn(f"am I fine? {m}")
        assert t.finish_reason == "stop" and m in t.text


KEEP_OPEN = [
    ("invalid-json", '{"type": "user_message", "content": ', "invalid_json"),
    ("invalid-json-2", "{not json at all}", "invalid_json"),
    ("no-type", '{"content": "hi"}', "invalid_message"),
    ("type-not-string", '{"type": 5, "content": "hi"}', "invalid_message"),
    ("content-not-string", '{"type": "user_message", "content": 42}', "invalid_message"),
    ("unknown-type", '{"type": "dance", "content": "hi"}', "unknown_type"),
    ("empty-message", '{"type": "user_message", "content": ""}', "empty_message"),
    ("blank-message", '{"type": "user_message", "content": "  \\n\\t "}', "empty_message"),
]


@pytest.mark.parametrize("text,code", [(t, c) for _, t, c in KEEP_OPEN],
                         ids=[i for i, _, _ in KEEP_OPEN])
def test_bad_frame_gets_error_and_connection_stays(stack, text, code):
    async def body():
        pid = stack.gateway.pid
        async with await WsClient.open(stack.ws_url("/ws/session/bad_user")) as c:
            await c.send_text(text)
            f = await c.expect_frame("error", 5)
            assert f["code"] == code, f
            assert isinstance(f.get("message"), str)
            assert "seq" not in f, f"a connection error must not take a seq: {f}"
            # Same connection, same session: a good message still works.
            m = mockllm.marker()
            t = await c.turn(f"after a bad frame {m}")
            assert t.finish_reason == "stop" and m in t.text
        await assert_gateway_fine(stack, pid)
    run(body())


def test_binary_frame_is_refused_but_connection_stays(stack):
    async def body():
        pid = stack.gateway.pid
        async with await WsClient.open(stack.ws_url("/ws/session/bad_user")) as c:
            await c.send_binary(json.dumps({"type": "user_message", "content": "hi"}).encode())
            f = await c.expect_frame("error", 5)
            assert f["code"] == "binary_not_supported", f
            t = await c.turn("text works")
            assert t.finish_reason == "stop"
        await assert_gateway_fine(stack, pid)
    run(body())


@pytest.mark.parametrize("payload", [
    b'{"type":"user_message","content":"bad \xff\xfe bytes"}',
    b"raw text with \xc3\x28 a broken sequence",
    b'{"type":"user_message","content":"truncated \xe2\x82"}',
], ids=["invalid-byte", "bad-continuation", "truncated-sequence"])
def test_invalid_utf8_closes_1007(stack, payload):
    async def body():
        pid = stack.gateway.pid
        c = await WsClient.open(stack.ws_url("/ws/session/bad_user"))
        try:
            await c.send_text(payload)
            code, frames = await c.expect_close(10)
            assert code == 1007, (code, frames)
            assert not [f for f in frames if f.get("type") in ("token", "done")], frames
        finally:
            await c.close()
        await assert_gateway_fine(stack, pid)
    run(body())


def test_frame_over_64k_closes_1009(stack):
    async def body():
        pid = stack.gateway.pid
        c = await WsClient.open(stack.ws_url("/ws/session/bad_user"))
        try:
            big = json.dumps({"type": "user_message", "content": "x" * (64 * 1024 + 100)})
            await c.send_text(big)
            code, frames = await c.expect_close(10)
            assert code == 1009, (code, frames)
        finally:
            await c.close()
        await assert_gateway_fine(stack, pid)
    run(body())


def test_fragmented_message_over_64k_closes_1009(stack):
    """The limit is on the message: many small fragments must not get around it."""
    async def body():
        pid = stack.gateway.pid
        c = await WsClient.open(stack.ws_url("/ws/session/bad_user"))
        crossed = asyncio.Event()

        async def fragments():
            # 16 x 4 KiB after the head: the 16th fragment crosses 64 KiB. Then the message
            # stays open (no final fragment): every byte sent is read by the gateway, so its
            # close cannot race with bytes still arriving (a client that keeps
            # sending after the limit is test_close_code_survives_a_client_that_keeps_sending).
            yield '{"type":"user_message","content":"'
            for _ in range(16):
                yield "y" * 4096
            crossed.set()
            await asyncio.sleep(60)
            yield '"}'
        sender = asyncio.create_task(c.ws.send(fragments()))
        try:
            await asyncio.wait_for(crossed.wait(), 10)
            code, frames = await c.expect_close(10)
            assert code == 1009, (code, frames)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            await c.close()
        await assert_gateway_fine(stack, pid)
    run(body())


def test_close_code_survives_a_client_that_keeps_sending(stack):
    """A client that keeps streaming fragments past the limit must still get the 1009 close
    frame: the gateway should finish the closing handshake (or at least drain what the client
    sent) instead of closing the socket on unread bytes, which resets the connection and
    destroys the close frame in flight."""
    async def body():
        pid = stack.gateway.pid
        lost = []
        for _ in range(5):
            c = await WsClient.open(stack.ws_url("/ws/session/bad_user"))
            try:
                parts = ['{"type":"user_message","content":"'] + ["y" * 4096] * 40 + ['"}']
                try:
                    await c.ws.send(parts)
                except (ConnectionClosed, OSError):
                    pass
                try:
                    code, frames = await c.expect_close(10)
                except ConnectionClosed:
                    code = c.close_code
                if code != 1009:
                    lost.append(code)
            finally:
                await c.close()
        assert not lost, (f"{len(lost)} of 5 connections lost the 1009 close frame "
                          f"(close codes seen: {lost}; 1006 = connection reset)")
        await assert_gateway_fine(stack, pid)
    run(body())


def test_message_just_under_the_limit_is_accepted(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/bad_user")) as c:
            m = mockllm.marker()
            content = m + " " + "z" * (60 * 1024)
            t = await c.turn(content, timeout=60)
            assert t.finish_reason == "stop", t.frames
            assert t.text.startswith(mockllm.reply_prefix(content)), t.text[:200]
    run(body())


@pytest.mark.parametrize("path", ["/ws/session/bad$user", "/ws/session/" + "u" * 129,
                                  "/ws/session/a/b"],
                         ids=["bad-char", "too-long", "extra-segment"])
def test_invalid_user_id_is_rejected(stack, path):
    """A user id outside 1-128 of [A-Za-z0-9_.@-] never gets a session."""
    async def body():
        pid = stack.gateway.pid
        try:
            c = await WsClient.open(stack.ws_url(path), expect_session=False, timeout=5)
        except Exception:
            pass                     # refused at the HTTP upgrade: fine
        else:
            try:
                f = await c.recv(5)
                assert f.get("type") != "session", f"got a session for {path}: {f}"
            except Exception as ex:  # closed without a session: fine
                if isinstance(ex, AssertionError):
                    raise
            finally:
                await c.close()
        await assert_gateway_fine(stack, pid)
    run(body())


def test_user_id_edge_characters_are_accepted(stack):
    user = "A-z_0.9@x-" + "u" * 118      # 128 characters from every allowed class
    assert len(user) == 128

    async def body():
        async with await WsClient.open(stack.ws_url(f"/ws/session/{user}")) as c:
            assert c.user_id == user
    run(body())


def test_busy_after_16_unanswered_messages(stack):
    """The 17th unanswered message on one connection gets `busy`; the others are answered."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/busy_user")) as c:
            for i in range(20):
                await c.send_message(f"flood {i}")
            busy, dones = 0, 0
            while dones + busy < 20:
                f = await c.recv(90)
                if f["type"] == "error" and f.get("code") == "busy":
                    busy += 1
                elif f["type"] == "done":
                    dones += 1
            assert busy >= 1, "no busy error after 20 unanswered messages"
            assert dones == 20 - busy
            assert dones >= 16
    run(body(), timeout=140)


def test_healthz_and_readyz(stack):
    assert stack.http("/healthz").status_code == 200
    assert stack.http("/readyz").status_code == 200
    assert stack.http("/no/such/path").status_code == 404


@pytest.mark.parametrize("query", [
    "session_id=not-a-uuid",
    "session_id=",
    "session_id=" + "a" * 5000,
    "session_id=00000000-0000-0000-0000-000000000000&last_seq=abc",
    "last_seq=-5",
    "session_id=%00%01%02",
], ids=["not-uuid", "empty", "huge", "bad-last-seq", "last-seq-alone", "control-bytes"])
def test_odd_query_strings_do_not_hurt(stack, query):
    """Malformed resume parameters: refused (HTTP error, or error frame + close) or ignored;
    never a resumed session, never a broken gateway."""
    async def body():
        pid = stack.gateway.pid
        url = stack.ws_url("/ws/session/query_user") + "?" + query
        try:
            c = await WsClient.open(url, expect_session=False, timeout=5)
        except Exception:
            c = None                 # refused at the HTTP upgrade
        if c is not None:
            try:
                f = await c.recv(5)
                if f.get("type") == "session":
                    assert f["resumed"] is False, f
                else:
                    assert f.get("type") == "error", f
            except ConnectionClosed:
                pass
            finally:
                await c.close()
        await assert_gateway_fine(stack, pid)
    run(body())
