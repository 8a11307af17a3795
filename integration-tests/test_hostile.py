"""Hostile input through the real gateway: a data-driven corpus (integration-tests/hostile/*.json)
of malformed WebSocket frames and HTTP requests, each with the exact answer docs/PROTOCOL.md
promises - an error frame code (connection kept), a close code, or an HTTP status (and the JSON
error code of the read API) - followed by proof the gateway is unharmed: same process, /healthz
200, a normal turn answered. SQL-looking text must come out of PostgreSQL (written by the real
persister) byte for byte as it was typed.

Everything goes over raw sockets so the bytes are exactly what the corpus says: invalid UTF-8,
unmasked or oversized WebSocket frames, reserved opcodes, garbage instead of HTTP. Plain frame
errors that test_bad_input.py already covers are not repeated here.

Corpus files: ws.json cases send "send" (one text frame), "fragments" (one message in
several frames) or "raw" (frames as given: op, fin, rsv, mask, length) after connecting to
"path"/"query"; http.json cases send raw request bytes. A payload is a list of pieces: a
string (UTF-8), {"hex": "c0 af"} or {"repeat": "[", "times": 100000}.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from pathlib import Path

import pytest

import mockllm
from pg_fixtures import *  # noqa: F401,F403
from wsclient import WsClient, run

# A private stack: its own topics, so its persister stores only what this module sends.
STACK_ENV = {"mock": {"MOCK_LLM_TOKENS_PER_SEC": "2000", "MOCK_LLM_TTFT_MS": "5"}}
CORPUS = Path(__file__).resolve().parent / "hostile"
SECRET = "HOSTILE-SECRET-5f1c"          # in a file next to (outside) the static root
CASE_TIMEOUT = 5.0


def payload(pieces) -> bytes:
    out = bytearray()
    for p in pieces:
        if isinstance(p, str):
            out += p.encode()
        elif "hex" in p:
            out += bytes.fromhex(p["hex"])
        else:
            out += p["repeat"].encode() * p["times"]
    return bytes(out)


# -- a raw WebSocket client ------------------------------------------------------------------
def ws_frame(op: int, data: bytes, fin: bool = True, rsv: int = 0, mask: bool = True,
             length: int | None = None) -> bytes:
    n = len(data) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | op])
    m = 0x80 if mask else 0
    if n < 126:
        head.append(m | n)
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if mask:
        key = os.urandom(4)
        head += key
        k = int.from_bytes((key * (len(data) // 4 + 1))[:len(data)], "big")
        data = (int.from_bytes(data, "big") ^ k).to_bytes(len(data), "big") if data else b""
    return bytes(head) + data


class RawWs:
    """One WebSocket connection, frames written and read by hand."""

    def __init__(self, reader, writer, status: int, head: bytes):
        self.r, self.w, self.status, self.head = reader, writer, status, head
        self.frames: list[dict] = []
        self.close_code: int | None = None

    @classmethod
    async def open(cls, port: int, target: str) -> "RawWs":
        r, w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        try:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), CASE_TIMEOUT)
        except asyncio.IncompleteReadError as ex:
            w.close()
            return cls(r, w, None, ex.partial)       # closed without an answer
        return cls(r, w, int(head.split(b" ", 2)[1]), head)

    async def send(self, raw: bytes) -> None:
        self.w.write(raw)
        try:
            await self.w.drain()
        except (ConnectionError, OSError):
            pass                        # the server may close while we still write

    async def next(self, timeout: float = CASE_TIMEOUT) -> dict | None:
        """The next text frame as JSON; None once the server closed (close_code set)."""
        try:
            while True:
                h = await asyncio.wait_for(self.r.readexactly(2), timeout)
                n = h[1] & 0x7F
                if n == 126:
                    n = int.from_bytes(await self.r.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await self.r.readexactly(8), "big")
                data = await self.r.readexactly(n)
                op = h[0] & 0x0F
                if op == 8:
                    self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                    return None
                if op == 1:
                    f = json.loads(data)
                    self.frames.append(f)
                    return f
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self.close_code = self.close_code or 1006
            return None

    async def until(self, pred, timeout: float = CASE_TIMEOUT) -> dict | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            f = await self.next(left)
            if f is None or pred(f):
                return f
        raise TimeoutError(f"no matching frame within {timeout}s; frames {self.frames[-4:]}")

    def close(self) -> None:
        self.w.close()


# -- running one case ------------------------------------------------------------------------
async def ws_case(port: int, i: int, case: dict) -> tuple[str, dict]:
    """Run one WebSocket case; returns (outcome: "error", "close", "dropped" or "accepted",
    details). Raises AssertionError when the answer is not the expected one."""
    exp = case["expect"]
    path = case.get("path", f"/ws/session/hostile_{i}")
    target = path + ("?" + case["query"] if "query" in case else "")
    c = await RawWs.open(port, target)
    try:
        if exp.get("dropped"):
            assert c.status is None and not c.head, f"answered: {c.head[:200]!r}"
            return "dropped", {}
        assert c.status == 101, f"upgrade answered {c.status}: {c.head[:200]!r}"
        first = await c.next()
        if exp.get("session"):
            assert first and first["type"] == "session", first
            return "accepted", {}
        if "query" in case or "path" in case:          # refused while setting up
            assert first and first["type"] == "error" and first["code"] == exp["error"], first
            assert await c.next() is None and c.close_code == exp["close"], \
                f"close {c.close_code}, want {exp['close']}; frames {c.frames}"
            return "close", {}
        assert first and first["type"] == "session", first
        if "send" in case:
            await c.send(ws_frame(1, payload(case["send"])))
        elif "fragments" in case:
            parts = case["fragments"]
            frames = [ws_frame(1 if k == 0 else 0, payload(p), fin=k == len(parts) - 1)
                      for k, p in enumerate(parts)]
            await c.send(b"".join(frames))
        else:
            await c.send(b"".join(
                ws_frame(f["op"], payload(f.get("payload", [])), fin=f.get("fin", True),
                         rsv=f.get("rsv", 0), mask=f.get("mask", True), length=f.get("length"))
                for f in case["raw"]))

        if "close" in exp:
            f = await c.until(lambda f: False)
            assert f is None and c.close_code == exp["close"], \
                f"close {c.close_code}, want {exp['close']}; frames {c.frames}"
            return "close", {}
        if "error" in exp:
            f = await c.until(lambda f: f["type"] in ("error", "ack"))
            assert f and f["type"] == "error" and f["code"] == exp["error"], \
                f"want error {exp['error']}, got {f} (close {c.close_code})"
            assert isinstance(f.get("message"), str) and "seq" not in f, f
            # The connection stays open and usable.
            await c.send(ws_frame(1, b'{"type":"ping"}'))
            assert (await c.until(lambda f: f["type"] == "pong")) is not None, \
                f"no pong after the error (close {c.close_code})"
            return "error", {}
        if "pong" in exp:
            f = await c.until(lambda f: f["type"] in ("pong", "error"))
            assert f and f["type"] == "pong", f"want pong, got {f} (close {c.close_code})"
            return "accepted", {}
        # Accepted as a message: acked, and answered to the end.
        f = await c.until(lambda f: f["type"] in ("ack", "error"))
        assert f and f["type"] == "ack", f"want ack, got {f} (close {c.close_code})"
        done = await c.until(lambda f: f["type"] == "done", 20)
        assert done and done.get("finish_reason") == "stop", done
        return "accepted", {"session_id": c.frames[0]["session_id"], "turn_id": f["turn_id"]}
    finally:
        c.close()


def http_case(port: int, case: dict) -> tuple[int | None, bytes]:
    """Send the raw request; returns (status or None when closed unanswered, whole answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=CASE_TIMEOUT) as s:
        try:
            s.sendall(payload(case["send"]))
        except OSError:
            pass
        chunks = []
        deadline = time.monotonic() + CASE_TIMEOUT
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
            whole = b"".join(chunks)
            # Keep-alive answers: stop once the announced body is in.
            if b"\r\n\r\n" in whole:
                head, body = whole.split(b"\r\n\r\n", 1)
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and \
                            len(body) >= int(line.split(b":")[1]):
                        deadline = 0
    whole = b"".join(chunks)
    if not whole.startswith(b"HTTP/"):
        return None, whole
    return int(whole.split(b" ", 2)[1]), whole


def check_http(case: dict, status: int | None, answer: bytes) -> str | None:
    exp = case["expect"]
    if exp.get("dropped"):
        return None if status is None and not answer else f"answered: {answer[:160]!r}"
    if status != exp["status"]:
        return f"status {status}, want {exp['status']}: {answer[:160]!r}"
    body = answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""
    if exp.get("secret_absent") and SECRET.encode() in answer:
        return "served a file from outside the static root"
    if "body_contains" in exp and exp["body_contains"].encode() not in body:
        return f"body lacks {exp['body_contains']!r}: {body[:120]!r}"
    if "json_error" in exp:
        try:
            got = json.loads(body)
        except ValueError:
            return f"body is not JSON: {body[:120]!r}"
        if got != {"error": exp["json_error"]}:
            return f"body {got}, want {{'error': {exp['json_error']!r}}}"
    if "json_keys" in exp:
        try:
            got = json.loads(body)
        except ValueError:
            return f"body is not JSON: {body[:120]!r}"
        if sorted(got) != exp["json_keys"]:
            return f"body {got}, want the keys {exp['json_keys']}"
    return None


# -- fixture and test ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_gw(stack, pg, tmp_path_factory):
    """A gateway with the read API and a static root, and a persister, on the private stack."""
    base = tmp_path_factory.mktemp("hostile-static")
    (base / "secret.txt").write_text(SECRET)
    root = base / "static"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<html>HOSTILE-INDEX</html>")
    (root / "sub" / "a.txt").write_text("a")
    (root / "escape").symlink_to(base, target_is_directory=True)
    stack.start_persister(pg.url)
    gw = stack.start_gateway(env={"DATABASE_URL": pg.url, "GATEWAY_STATIC_DIR": str(root),
                                  "GATEWAY_DB_POOL": "2"})
    return gw


def stored_content(pg, session_id: str) -> str | None:
    rows = pg.query("SELECT content FROM event_log WHERE session_id = %s::uuid AND "
                    "event_type = 'user_message'", (session_id,))
    return rows[0][0] if rows else None


def test_hostile_corpus(stack, pg, hostile_gw):
    gw = hostile_gw
    pid = gw.pid
    ws_cases = json.loads((CORPUS / "ws.json").read_text())
    http_cases = json.loads((CORPUS / "http.json").read_text())
    failures, stored = [], []
    outcomes = {"error": 0, "close": 0, "accepted": 0, "http": 0, "dropped": 0}
    t0 = time.monotonic()

    async def all_ws():
        for i, case in enumerate(ws_cases):
            try:
                kind, info = await ws_case(gw.port, i, case)
            except Exception as ex:     # noqa: BLE001 - every case is reported, then fail
                failures.append(f"ws {case['name']}: {ex!r}")
                continue
            outcomes[kind] += 1
            if "stored" in case["expect"]:
                stored.append((case, info))
    run(all_ws(), timeout=60)

    for case in http_cases:
        try:
            status, answer = http_case(gw.port, case)
        except OSError as ex:
            failures.append(f"http {case['name']}: {ex}")
            continue
        problem = check_http(case, status, answer)
        if problem:
            failures.append(f"http {case['name']}: {problem}")
        else:
            exp = case["expect"]
            outcomes["dropped" if exp.get("dropped") else
                     "accepted" if exp.get("accepted") else "http"] += 1

    # SQL-looking text went through Kafka and the persister into PostgreSQL as plain text.
    for case, info in stored:
        want = case["expect"]["stored"]
        try:
            got = wait_until(lambda: stored_content(pg, info["session_id"]), 20,
                             f"the row of {case['name']}")
        except AssertionError as ex:
            failures.append(f"ws {case['name']}: {ex}")
            continue
        if got != want:
            failures.append(f"ws {case['name']}: stored {got!r}, want {want!r}")
    assert any("stored" in c["expect"] for c in ws_cases), "the corpus lost its SQL-text case"
    assert pg.scalar("SELECT count(*) FROM event_log") > 0   # the table is still there

    # The gateway is unharmed: same process, healthy, and a normal turn works.
    alive = gw.alive() and gw.pid == pid
    health = stack.http("/healthz", gw).status_code if gw.alive() else None

    async def normal_turn():
        async with await WsClient.open(stack.ws_url("/ws/session/hostile_after", gw=gw)) as c:
            m = mockllm.marker()
            t = await c.turn(f"still there? {m}", timeout=20)
            return t.finish_reason == "stop" and m in t.text
    turn_ok = run(normal_turn()) if alive else False

    sent = len(ws_cases) + len(http_cases)
    clear = outcomes["error"] + outcomes["close"] + outcomes["http"]
    print(f"\nhostile: {sent} cases sent ({len(ws_cases)} WebSocket, {len(http_cases)} HTTP) in "
          f"{time.monotonic() - t0:.1f}s: {clear} clear errors as expected "
          f"({outcomes['error']} error frames, {outcomes['close']} close codes, "
          f"{outcomes['http']} HTTP 4xx), {outcomes['dropped']} dropped unanswered by lws, "
          f"{outcomes['accepted']} harmless and served, {len(failures)} wrong; "
          f"gateway alive={alive} (same pid), /healthz={health}, normal turn ok={turn_ok}")
    assert not failures, f"{len(failures)} case(s) not answered as documented:\n" + \
        "\n".join(failures)
    assert alive and health == 200 and turn_ok, gw.tail(40)
