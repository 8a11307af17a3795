"""Abuse limits against real services (anonymous mode), with short limits so the file is fast:
the per-user message rate (a `rate_limited` error with `retry_after_ms`, the connection kept
and usable, the message accepted once the hint has passed), the per-user and per-IP
connection caps (HTTP 429 before the upgrade; room again once one closes), the per-IP cap behind
a trusted proxy (GATEWAY_TRUSTED_PROXIES: each X-Forwarded-For client has its own; without it
the header counts for nothing), and the worker's LLM_MAX_TURN_MS (a long answer ends with
`turn_too_long` and `done`)."""
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


async def status_of(url: str, **kw) -> int:
    try:
        c = await WsClient.open(url, **kw)
    except InvalidStatus as e:
        return e.response.status_code
    await c.close()
    return 101


async def open_when_room(url: str, timeout: float = 5, **kw) -> WsClient:
    """A closed connection leaves the count when the gateway has seen its close: retry briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await WsClient.open(url, **kw)
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


def xff(addr: str) -> dict:
    return {"additional_headers": {"X-Forwarded-For": addr}}


def test_connections_per_ip_behind_trusted_proxy(stack):
    """The test client (127.0.0.1) is the trusted proxy: the rightmost X-Forwarded-For address
    that is not a trusted proxy is the client, with a per-IP cap of its own."""
    gw = stack.start_gateway(env={"GATEWAY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    url = stack.ws_url("/ws/session", gw=gw)
    a, b = "203.0.113.7", "198.51.100.23"

    async def body():
        held = []
        try:
            for _ in range(PER_IP):
                held.append(await open_when_room(url, **xff(a)))
            assert await status_of(url, **xff(a)) == 429
            # Spoofed entries left of the address the proxy appended are not read, nor are
            # trusted proxies right of it (a port, as some balancers send, is dropped).
            assert await status_of(url, **xff(f"{b}, {a}")) == 429
            assert await status_of(url, **xff(f"{a}:51234, 10.1.2.3")) == 429
            # Another client behind the same proxy has its own cap, and so has the proxy.
            for _ in range(PER_IP):
                held.append(await open_when_room(url, **xff(f"{a}, {b}")))
            assert await status_of(url, **xff(b)) == 429
            for _ in range(PER_IP - 1):
                held.append(await open_when_room(url))
            # A malformed header counts as the proxy itself, which is now full too.
            held.append(await open_when_room(url, **xff("not-an-ip")))
            assert await status_of(url) == 429
            assert await status_of(url, **xff(f"{a}, ,{b}")) == 429      # "" on the way: the peer
            await held.pop(0).close()                                      # one of a's
            held.append(await open_when_room(url, **xff(a)))
        finally:
            for c in held:
                await c.close()
    run(body(), 90)
    refusals = [ln for ln in gw.log_text().splitlines()
                if "status=429" in ln and "too many connections per ip" in ln]
    for addr in (a, b, "127.0.0.1"):
        assert any(f"ip={addr}" in ln for ln in refusals), (addr, refusals)


def test_forwarded_for_is_read_from_the_right(stack):
    """Only the right-hand end of X-Forwarded-For counts, however the client pads the left: many
    header lines of its own before the proxy's (some proxies add a line rather than append),
    an empty first line, or an overlong first entry. None of them hides the proxy's entry or
    makes the gateway fall back to the proxy's own address."""
    gw = stack.start_gateway(env={"GATEWAY_TRUSTED_PROXIES": "127.0.0.1"})
    url = stack.ws_url("/ws/session", gw=gw)
    cases = {
        "198.51.100.1": [("X-Forwarded-For", f"6.6.6.{i}") for i in range(24)]
                        + [("X-Forwarded-For", "198.51.100.1")],
        "198.51.100.2": [("X-Forwarded-For", "x" * 1500 + ", 198.51.100.2")],
        "198.51.100.3": [("X-Forwarded-For", "6.6.6.6, " * 150 + "198.51.100.3")],
        "198.51.100.4": [("X-Forwarded-For", "")] * 3 + [("X-Forwarded-For", "198.51.100.4")],
    }

    async def body():
        for addr, headers in cases.items():
            c = await open_when_room(url, additional_headers=headers)
            await c.close()
    run(body(), 60)
    opened = [ln for ln in gw.log_text().splitlines() if "ws open" in ln]
    for addr in cases:
        assert any(f"ip={addr} " in ln for ln in opened), (addr, opened)
    assert not any("ip=6.6.6." in ln or "ip=127.0.0.1 " in ln for ln in opened), opened


def test_forwarded_for_ignored_without_trusted_proxies(stack):
    """The module's gateway trusts nobody: X-Forwarded-For cannot buy more connections."""
    url = stack.ws_url("/ws/session")

    async def body():
        held = []
        try:
            for i in range(PER_IP):
                held.append(await open_when_room(url, **xff(f"203.0.113.{i + 1}")))
            assert await status_of(url, **xff("198.51.100.99")) == 429
        finally:
            for c in held:
                await c.close()
    run(body(), 60)
    assert "ip=198.51.100.99" not in stack.gateway.log_text()


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
