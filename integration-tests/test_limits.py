"""Abuse limits against real services (anonymous mode), with short limits so the file is fast:
the per-user message rate (a `rate_limited` error with `retry_after_ms`, the connection kept
and usable, the message accepted once the hint has passed), the per-user and per-IP
connection caps (HTTP 429 before the upgrade; room again once one closes), and the worker's
LLM_MAX_TURN_MS (a long answer ends with `turn_too_long` and `done`)."""
import asyncio
import time
import uuid

from websockets.exceptions import InvalidStatus

from wsclient import WsClient, run

RATE_PER_MIN, BURST = 12, 2           # one message every 5 s after a burst of 2
PER_USER, PER_IP = 2, 6
MAX_TURN_MS = 1500
STACK_ENV = {
    "gateway": {"GATEWAY_RATE_PER_MIN": str(RATE_PER_MIN), "GATEWAY_RATE_BURST": str(BURST),
                "GATEWAY_MAX_CONNS_PER_USER": str(PER_USER),
                "GATEWAY_MAX_CONNS_PER_IP": str(PER_IP)},
    "worker": {"LLM_MAX_TURN_MS": str(MAX_TURN_MS)},
    # ~40 tokens for a plain answer (0.4 s), ~300 for one with "long" (3 s: over the limit).
    "mock": {"MOCK_LLM_TOKENS_PER_SEC": "100", "MOCK_LLM_TTFT_MS": "20"},
}


async def status_of(url: str) -> int:
    try:
        c = await WsClient.open(url)
    except InvalidStatus as e:
        return e.response.status_code
    await c.close()
    return 101


async def open_when_room(url: str, timeout: float = 5) -> WsClient:
    """A closed connection leaves the count when the gateway has seen its close: retry briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await WsClient.open(url)
        except InvalidStatus as e:
            if e.response.status_code != 429 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def test_message_rate_per_user(stack):
    url = stack.ws_url(f"/ws/session/rate_{uuid.uuid4().hex[:8]}")

    async def body():
        async with await WsClient.open(url) as c:
            ids = [await c.send_message(f"rate test {i}") for i in range(BURST + 1)]
            err = await c.expect_frame("error", 20)
            assert err["code"] == "rate_limited" and err["id"] == ids[-1], err
            assert 0 < err["retry_after_ms"] <= 60000 // RATE_PER_MIN + 1, err
            t0 = time.monotonic()
            # The connection stays usable: the accepted messages are answered, pings work.
            while sum(f["type"] == "done" for f in c.all_frames) < BURST:
                await c.recv(30)
            assert [f for f in c.all_frames if f["type"] == "error"] == [err], c.all_frames
            await c.send_json({"type": "ping"})
            assert (await c.expect_frame("pong"))["ts"] > 0
            # After the hint the next message is taken.
            await asyncio.sleep(max(0.0, err["retry_after_ms"] / 1000 - (time.monotonic() - t0)))
            t = await c.turn("after the wait", timeout=30)
            assert t.ack is not None and t.finish_reason == "stop" and not t.errors, t.frames
    run(body(), 60)
    assert 'chat_gateway_errors_total{code="rate_limited"} 1' in stack.http("/metrics").text


def test_connections_per_user(stack):
    url = stack.ws_url(f"/ws/session/cap_{uuid.uuid4().hex[:8]}")

    async def body():
        held = [await WsClient.open(url) for _ in range(PER_USER)]
        try:
            assert await status_of(url) == 429
            # Another user is not affected.
            assert await status_of(stack.ws_url("/ws/session/cap_other")) == 101
            await held.pop().close()
            held.append(await open_when_room(url))
            t = await held[-1].turn("still works", timeout=30)
            assert t.finish_reason == "stop"
        finally:
            for c in held:
                await c.close()
    run(body(), 60)
    assert "too many connections per user" in stack.gateway.log_text()


def test_connections_per_ip(stack):
    url = stack.ws_url("/ws/session")          # anonymous: a new user each time

    async def body():
        held = []
        try:
            for _ in range(PER_IP):
                held.append(await open_when_room(url))
            assert await status_of(url) == 429
            await held.pop().close()
            held.append(await open_when_room(url))
        finally:
            for c in held:
                await c.close()
    run(body(), 60)
    assert "too many connections per ip" in stack.gateway.log_text()


def test_turn_too_long(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/long_turn")) as c:
            t = await c.turn("please give a long answer", timeout=30)
            assert t.finish_reason == "error", t.frames
            assert [e["code"] for e in t.errors] == ["turn_too_long"], t.frames
            assert t.tokens, "the answer streamed until the limit"
            assert t.elapsed < MAX_TURN_MS / 1000 + 2.5, t.elapsed
            # The next turn of the session runs normally.
            t2 = await c.turn("short one", timeout=30)
            assert t2.finish_reason == "stop", t2.frames
    run(body(), 60)
