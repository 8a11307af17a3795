"""A WebSocket chat client for the tests that checks the protocol's invariants on every frame.

Invariants (docs/PROTOCOL.md), checked as frames arrive:
  * the first server frame is {"type":"session",...};
  * every frame with a seq has a turn_id, and seq is exactly the previous seq + 1 within the
    session (across turns and, for a resumed connection, after the last_seq it asked for).
    The one exception is a `turn_reset`: a turn re-run after a lost worker starts after the seq
    block reserved for the lost run (docs/ARCHITECTURE.md), so its seq may jump forward (never
    back); such jumps are recorded in `seq_jumps`;
  * within one turn every frame carries the same turn_id and the turn ends with exactly one
    `done`: no frame of a finished turn arrives afterwards.
Every wait is bounded; a timeout raises AssertionError with the frames seen so far.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

DEFAULT_TIMEOUT = 30.0


class ProtocolViolation(AssertionError):
    pass


class RecvTimeout(AssertionError):
    pass


@dataclass
class Turn:
    """Frames of one turn, in arrival order, plus the non-turn frames seen meanwhile."""
    frames: list = field(default_factory=list)
    others: list = field(default_factory=list)   # pong, connection-level errors, ...
    turn_id: str | None = None
    ack: dict | None = None
    elapsed: float = 0.0

    @property
    def done(self) -> dict | None:
        return next((f for f in self.frames if f.get("type") == "done"), None)

    @property
    def finish_reason(self) -> str | None:
        return self.done.get("finish_reason") if self.done else None

    def of_type(self, t: str) -> list:
        return [f for f in self.frames if f.get("type") == t]

    @property
    def tokens(self) -> list:
        return [f["content"] for f in self.of_type("token")]

    @property
    def text(self) -> str:
        """Answer text; only tokens after the last turn_reset count (what a UI would show)."""
        resets = [i for i, f in enumerate(self.frames) if f.get("type") == "turn_reset"]
        start = resets[-1] + 1 if resets else 0
        return "".join(f["content"] for f in self.frames[start:] if f.get("type") == "token")

    @property
    def errors(self) -> list:
        return self.of_type("error")

    @property
    def seqs(self) -> list:
        return [f["seq"] for f in self.frames if "seq" in f]


class WsClient:
    def __init__(self, ws, url: str, last_seq: int | None = None):
        self.ws = ws
        self.url = url
        self.session: dict | None = None
        self.last_seq = last_seq          # highest seq seen on this session
        self.finished_turns: set[str] = set()
        self.all_frames: list = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.seq_jumps: list[tuple[int, int]] = []   # (previous seq, turn_reset seq)

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    async def open(cls, url: str, session_id: str | None = None, last_seq: int | None = None,
                   timeout: float = 10.0, expect_session: bool = True, **kw) -> "WsClient":
        """Connect; with expect_session the first frame must be the `session` frame."""
        q = {}
        if session_id is not None:
            q["session_id"] = session_id
        if last_seq is not None:
            q["last_seq"] = str(last_seq)
        full = url + ("?" + urlencode(q) if q else "")
        ws = await asyncio.wait_for(
            ws_connect(full, open_timeout=timeout, ping_interval=None, close_timeout=3,
                       compression=None, max_size=None, max_queue=1024, proxy=None, **kw),
            timeout + 2)
        c = cls(ws, full, last_seq=last_seq)
        if expect_session:
            f = await c.recv(timeout)
            if f.get("type") != "session":
                raise ProtocolViolation(f"first frame is not `session`: {f}")
            c.session = f
        return c

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    @property
    def session_id(self) -> str:
        return self.session["session_id"]

    @property
    def user_id(self) -> str:
        return self.session["user_id"]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:
            pass

    async def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a browser tab killed)."""
        try:
            self.ws.transport.abort()
        except Exception:
            pass

    # -- sending -----------------------------------------------------------------------------
    async def send_json(self, obj: dict) -> None:
        await self.ws.send(json.dumps(obj))

    async def send_text(self, text: str | bytes) -> None:
        """A text frame; bytes are sent unchecked (so they may be invalid UTF-8)."""
        await self.ws.send(text, text=True)

    async def send_binary(self, data: bytes) -> None:
        await self.ws.send(data, text=False)

    async def send_message(self, content: str, msg_id: str | None = None) -> str:
        msg_id = msg_id or str(uuid.uuid4())
        await self.send_json({"type": "user_message", "content": content, "id": msg_id})
        return msg_id

    async def stop(self) -> None:
        await self.send_json({"type": "stop"})

    # -- receiving ---------------------------------------------------------------------------
    def _check(self, f: dict) -> None:
        if not isinstance(f, dict) or not isinstance(f.get("type"), str):
            raise ProtocolViolation(f"frame is not an object with a string type: {f!r}")
        tid = f.get("turn_id")
        if tid is not None and tid in self.finished_turns and f["type"] != "ack":
            raise ProtocolViolation(f"frame after the turn's `done`: {f}")
        if "seq" in f:
            seq = f["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool):
                raise ProtocolViolation(f"seq is not an integer: {f}")
            if tid is None:
                raise ProtocolViolation(f"frame with seq but no turn_id: {f}")
            if (self.last_seq is not None and seq > self.last_seq + 1
                    and f["type"] == "turn_reset"):
                self.seq_jumps.append((self.last_seq, seq))
            elif self.last_seq is not None and seq != self.last_seq + 1:
                kind = "duplicate/backwards" if seq <= self.last_seq else "gap"
                raise ProtocolViolation(f"seq {kind}: expected {self.last_seq + 1}, got {seq}: {f}")
            self.last_seq = seq
        if f["type"] == "done":
            if tid is None:
                raise ProtocolViolation(f"`done` without turn_id: {f}")
            self.finished_turns.add(tid)

    async def recv(self, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Next frame (checked). Raises ConnectionClosed when the server closed."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise RecvTimeout(f"no frame within {timeout}s; last frames: {self.all_frames[-5:]}")
        except ConnectionClosed as e:
            self._note_close(e)
            raise
        if isinstance(raw, bytes):
            raise ProtocolViolation(f"server sent a binary frame: {raw[:80]!r}")
        try:
            f = json.loads(raw)
        except ValueError:
            raise ProtocolViolation(f"server frame is not JSON: {raw[:200]!r}")
        self.all_frames.append(f)
        self._check(f)
        return f

    def _note_close(self, e: ConnectionClosed) -> None:
        if e.rcvd is not None:
            self.close_code, self.close_reason = e.rcvd.code, e.rcvd.reason
        else:
            self.close_code = 1006

    async def collect_turn(self, timeout: float = DEFAULT_TIMEOUT, turn_id: str | None = None,
                           on_frame=None) -> Turn:
        """Frames until the turn's `done`. 'on_frame(frame, turn)' is awaited after each turn
        frame (to send `stop`, or to return True to stop collecting early)."""
        t = Turn(turn_id=turn_id)
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"turn not done within {timeout}s; turn frames: {t.frames}; "
                                     f"other frames: {t.others}")
            try:
                f = await self.recv(left)
            except RecvTimeout:
                raise AssertionError(f"turn not done within {timeout}s; turn frames: {t.frames}; "
                                     f"other frames: {t.others}")
            if f["type"] == "ack":
                t.ack = f
                if t.turn_id is None and f.get("turn_id"):
                    t.turn_id = f["turn_id"]
                continue
            if "seq" not in f:
                t.others.append(f)
                continue
            if t.turn_id is None:
                t.turn_id = f["turn_id"]
            if f["turn_id"] != t.turn_id:
                raise ProtocolViolation(f"frame of turn {f['turn_id']} inside turn {t.turn_id}: {f}; "
                                        f"turn so far: {t.frames}")
            t.frames.append(f)
            if f["type"] == "done":
                t.elapsed = time.monotonic() - t0
                return t
            if on_frame is not None and await on_frame(f, t):
                t.elapsed = time.monotonic() - t0
                return t

    async def turn(self, content: str, timeout: float = DEFAULT_TIMEOUT,
                   msg_id: str | None = None, on_frame=None) -> Turn:
        """Send one user message and collect its whole turn."""
        msg_id = await self.send_message(content, msg_id)
        t = await self.collect_turn(timeout, on_frame=on_frame)
        if t.ack is not None:
            assert t.ack.get("id") == msg_id, f"ack echoes another id: {t.ack} (sent {msg_id})"
        return t

    async def turn_part(self, content: str, n_tokens: int, timeout: float = 60) -> Turn:
        """Send one user message and return its Turn after the first n_tokens tokens, with the
        answer still streaming (fails when it finished first: the answer must be longer)."""
        async def enough(f, turn):
            return f["type"] == "token" and len(turn.tokens) >= n_tokens
        t = await self.turn(content, on_frame=enough, timeout=timeout)
        assert t.done is None, "the answer finished before the test could act: make it longer"
        return t

    async def expect_frame(self, ftype: str, timeout: float = 10.0) -> dict:
        """Skip frames until one of type 'ftype' arrives (the skipped ones are still checked)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"no `{ftype}` frame within {timeout}s; saw {seen}")
            f = await self.recv(left)
            if f["type"] == ftype:
                return f
            seen.append(f)

    async def expect_close(self, timeout: float = 10.0) -> tuple[int | None, list]:
        """Read until the server closes; returns (close code, frames received meanwhile)."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RecvTimeout(f"server did not close within {timeout}s; frames: {frames}")
            try:
                frames.append(await self.recv(left))
            except ConnectionClosed:
                return self.close_code, frames

    async def quiet(self, duration: float = 0.5) -> list:
        """Frames that arrive within 'duration' (checked like all others)."""
        frames = []
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return frames
            try:
                raw = await asyncio.wait_for(self.ws.recv(), left)
            except asyncio.TimeoutError:
                return frames
            f = json.loads(raw)
            self.all_frames.append(f)
            self._check(f)
            frames.append(f)


def run(coro, timeout: float = 120.0):
    """Run one test coroutine with a hard bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


__all__ = ["WsClient", "Turn", "ProtocolViolation", "RecvTimeout", "run", "ConnectionClosed", "websockets"]
