#!/usr/bin/env python3
"""A fake gateway for developing and screenshotting the web UI without the real stack.

One port, like the real gateway: the static export (frontend/out) at "/", the WebSocket protocol
of docs/PROTOCOL.md at /ws/session/<user>, and (with --api) the history API at /api/sessions.
Answers are canned, keyed on words in the message:

  weather / Paris / Oslo...   tool_call + tool_result (get_weather) per city, then an answer
  markdown                    a Markdown answer (list, table, code)
  fail                        a turn error (llm_unavailable) followed by done/error
  reset                       half an answer, turn_reset, then the whole answer
  long                        a long answer (~300 tokens)
Test hook: GET /__drop cuts every WebSocket (no close frame), like a network failure.
  anything else               an echo

Usage: python3 fake_gateway.py --port 0 --root ../../frontend/out [--api] [--token-ms 30]
Prints "listening on <port>" once ready. Needs the `websockets` package (>= 13).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import os
import re
import sys
import time
import uuid
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

MIME = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}

CITIES = ["Paris", "London", "Oslo", "Rome", "Tokyo", "Berlin", "New York", "Madrid"]
CONDITIONS = ["sunny", "partly cloudy", "cloudy", "rainy", "thunderstorms", "foggy", "windy", "snowy"]

MARKDOWN = """Here is a quick tour of what **Markdown** answers look like.

## Streaming pipeline

1. The browser sends a `user_message` frame.
2. The gateway publishes it to Kafka and answers with an `ack`.
3. The worker streams tokens back, each with a `seq`.

| frame | carries | replayed |
| --- | --- | --- |
| `token` | a piece of text | yes |
| `tool_call` | name + arguments | yes |
| `done` | finish reason, usage | yes |

```python
async def stream(ws):
    async for frame in ws:
        if frame["type"] == "token":
            print(frame["content"], end="", flush=True)
```

- [x] tokens in order
- [x] nothing shown twice
- [ ] ~~dropped frames~~

> Tip: scroll up while this streams; the view stops following until you jump back.
"""


def weather(city: str, unit: str = "celsius") -> dict:
    h = 2166136261
    for ch in city.lower():
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    t = h % 46 - 10
    if unit == "fahrenheit":
        t = round(t * 9 / 5 + 32)
    return {"location": city, "temperature": t, "unit": unit, "condition": CONDITIONS[(h >> 8) % 8],
            "humidity": 20 + (h >> 16) % 76, "wind_kph": (h >> 24) % 46, "source": "simulated"}


def chunks(text: str):
    """Split like a model streams: words with their leading space, long words in pieces."""
    for m in re.finditer(r"\s*\S+|\s+", text):
        w = m.group(0)
        while len(w) > 6:
            yield w[:5]
            w = w[5:]
        yield w


class Session:
    def __init__(self, sid: str, user: str):
        self.id = sid
        self.user = user
        self.next_seq = 1
        self.turn_frames: list[dict] = []  # frames of the current or last turn (for replay)
        self.conns: set[ServerConnection] = set()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.running: asyncio.Task | None = None
        self.events: list[dict] = []
        self.start = time.time()
        self.end: float | None = None
        self.seen_ids: dict[str, str] = {}


SESSIONS: dict[str, Session] = {}
ARGS: argparse.Namespace


async def emit(s: Session, frame: dict, turn_id: str | None = None):
    if turn_id is not None:
        frame = {**frame, "turn_id": turn_id, "seq": s.next_seq}
        s.next_seq += 1
        s.turn_frames.append(frame)
    data = json.dumps(frame)
    for c in list(s.conns):
        try:
            await c.send(data)
        except ConnectionClosed:
            pass


def event(s: Session, etype: str, content, turn_id: str):
    s.events.append({"event_type": etype, "content": content if isinstance(content, str) else json.dumps(content),
                     "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "turn_id": turn_id})


async def run_turn(s: Session, turn_id: str, text: str):
    s.turn_frames = []
    delay = ARGS.token_ms / 1000
    answer = ""
    low = text.lower()
    try:
        event(s, "user_message", text, turn_id)
        await asyncio.sleep(0.35)
        if "fail" in low:
            for w in chunks("Let me think about"):
                await emit(s, {"type": "token", "content": w}, turn_id)
                await asyncio.sleep(delay)
            await emit(s, {"type": "error", "code": "llm_unavailable",
                           "message": "The language model did not answer after 3 tries."}, turn_id)
            event(s, "error", {"code": "llm_unavailable", "message": "The language model did not answer."}, turn_id)
            await emit(s, {"type": "done", "finish_reason": "error"}, turn_id)
            return
        cities = [c for c in CITIES if c.lower() in low]
        if "weather" in low and not cities:
            cities = ["Paris"]
        if cities:
            results = []
            for i, city in enumerate(cities):
                cid = f"call_{i + 1}"
                args = {"location": city, "unit": "fahrenheit" if "fahrenheit" in low else "celsius"}
                await emit(s, {"type": "tool_call", "call_id": cid, "name": "get_weather", "arguments": args}, turn_id)
                event(s, "tool_call", {"call_id": cid, "name": "get_weather", "arguments": args}, turn_id)
                await asyncio.sleep(0.6)
                res = weather(city, args["unit"])
                results.append(res)
                await emit(s, {"type": "tool_result", "call_id": cid, "name": "get_weather", "content": res}, turn_id)
                event(s, "tool_result", {"call_id": cid, "name": "get_weather", "content": res}, turn_id)
            sym = "°F" if results[0]["unit"] == "fahrenheit" else "°C"
            parts = [f"In **{r['location']}** it is currently **{r['temperature']}{sym}** and {r['condition']}, "
                     f"with humidity at {r['humidity']}% and wind at {r['wind_kph']} km/h." for r in results]
            answer = " ".join(parts) + "\n\nThis data is simulated by the `get_weather` tool."
        elif "markdown" in low:
            answer = MARKDOWN
        elif "long" in low:
            answer = " ".join(f"Part {i} of this long answer keeps the stream going so that scrolling, stopping "
                              f"and reconnecting can be tried while tokens arrive." + ("\n\n" if i % 3 == 0 else "")
                              for i in range(1, 16))
        else:
            answer = f'You said: "{text[:80]}". This answer comes from a fake gateway used to develop the web UI.'
        if "reset" in low:
            half = list(chunks(answer))[:8]
            for w in half:
                await emit(s, {"type": "token", "content": w}, turn_id)
                await asyncio.sleep(delay)
            await asyncio.sleep(0.5)
            await emit(s, {"type": "turn_reset"}, turn_id)
        n = 0
        for w in chunks(answer):
            await emit(s, {"type": "token", "content": w}, turn_id)
            n += 1
            await asyncio.sleep(delay)
        event(s, "ai_response", answer, turn_id)
        await emit(s, {"type": "done", "finish_reason": "stop",
                       "usage": {"prompt_tokens": 9 + len(text) // 4, "completion_tokens": n,
                                 "total_tokens": 9 + len(text) // 4 + n}}, turn_id)
    except asyncio.CancelledError:
        event(s, "ai_response", answer, turn_id)
        await emit(s, {"type": "done", "finish_reason": "cancelled"}, turn_id)


async def turns(s: Session):
    while True:
        turn_id, text = await s.queue.get()
        s.running = asyncio.create_task(run_turn(s, turn_id, text))
        try:
            await s.running
        except asyncio.CancelledError:
            pass
        s.running = None


async def handler(ws: ServerConnection):
    url = urlsplit(ws.request.path)
    m = re.fullmatch(r"/ws/session(?:/([A-Za-z0-9_.@-]{1,128}))?", url.path)
    if not m:
        await ws.close(1008, "bad path")
        return
    user = m.group(1) or f"anon-{uuid.uuid4()}"
    q = parse_qs(url.query)
    sid = q.get("session_id", [None])[0]
    last_seq = int(q.get("last_seq", ["-1"])[0])
    if sid:
        s = SESSIONS.get(sid)
        if s is None:
            await ws.send(json.dumps({"type": "error", "code": "session_not_found", "message": "unknown session"}))
            await ws.close(4404, "session not found")
            return
        if s.user != user:
            await ws.send(json.dumps({"type": "error", "code": "forbidden", "message": "not your session"}))
            await ws.close(4403, "forbidden")
            return
        resumed = True
    else:
        sid = str(uuid.uuid4())
        s = SESSIONS[sid] = Session(sid, user)
        resumed = False
    if s.task is None:
        s.task = asyncio.create_task(turns(s))
    await ws.send(json.dumps({"type": "session", "session_id": sid, "user_id": user, "resumed": resumed,
                              "llm": ARGS.llm}))
    for f in s.turn_frames:
        if f["seq"] > last_seq:
            await ws.send(json.dumps(f))
    s.conns.add(ws)
    try:
        async for raw in ws:
            try:
                msg = json.loads(raw)
            except ValueError:
                msg = {"type": "user_message", "content": raw}
            if not isinstance(msg, dict):
                msg = {"type": "user_message", "content": raw}
            t = msg.get("type")
            if t == "ping":
                await ws.send(json.dumps({"type": "pong", "ts": int(time.time() * 1000)}))
            elif t == "stop":
                if s.running:
                    s.running.cancel()
            elif t == "user_message":
                content = msg.get("content")
                if not isinstance(content, str) or not content.strip():
                    await ws.send(json.dumps({"type": "error", "code": "empty_message", "message": "content is empty"}))
                    continue
                cid = msg.get("id") or ""
                if cid and cid in s.seen_ids:  # a resend: answered (or being answered) already
                    await ws.send(json.dumps({"type": "duplicate", "id": cid, "turn_id": s.seen_ids[cid]}))
                    continue
                turn_id = str(uuid.uuid4())
                if cid:
                    s.seen_ids[cid] = turn_id
                await ws.send(json.dumps({"type": "ack", "id": cid, "turn_id": turn_id}))
                await s.queue.put((turn_id, content))
            else:
                await ws.send(json.dumps({"type": "error", "code": "unknown_type", "message": f"unknown type {t!r}"}))
    except ConnectionClosed:
        pass
    finally:
        s.conns.discard(ws)
        s.end = time.time()


def respond(status: int, body: bytes, ctype: str) -> Response:
    h = Headers()
    h["Content-Type"] = ctype
    h["Content-Length"] = str(len(body))
    h["Cache-Control"] = "no-cache"
    return Response(status, HTTPStatus(status).phrase, h, body)


def api(path: str, query: str, headers: Headers) -> Response:
    if not ARGS.api:
        return respond(404, b'{"error":"not_found"}', "application/json")
    user = headers.get("X-User-Id", "")
    if path == "/api/sessions":
        items = []
        for s in sorted(SESSIONS.values(), key=lambda x: -x.start):
            if s.user != user or not s.events:
                continue
            first = next((e["content"] for e in s.events if e["event_type"] == "user_message"), None)
            iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else None
            items.append({"session_id": s.id, "start_time": iso(s.start), "end_time": iso(s.end),
                          "duration_seconds": round(s.end - s.start) if s.end else None,
                          "summary": None, "first_message": first})
        now = time.time()
        canned = [("Plan a weekend in Lisbon", 3600 * 26, 840), ("Explain Kafka consumer groups", 3600 * 50, 1260),
                  ("Summarize the WebSocket protocol", 86400 * 4, 300), ("Regex for ISO dates", 86400 * 12, 95)]
        for i, (title, ago, dur) in enumerate(canned):
            items.append({"session_id": f"canned-{i}", "start_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago)),
                          "end_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - ago + dur)),
                          "duration_seconds": dur, "summary": title, "first_message": title.lower()})
        body = json.dumps({"sessions": items, "next_cursor": None}).encode()
        return respond(200, body, "application/json")
    m = re.fullmatch(r"/api/sessions/([^/]+)/events", path)
    if m:
        s = SESSIONS.get(unquote(m.group(1)))
        if not s or s.user != user:
            return respond(404, b'{"error":"not_found"}', "application/json")
        return respond(200, json.dumps({"session_id": s.id, "events": s.events}).encode(), "application/json")
    return respond(404, b'{"error":"not_found"}', "application/json")


def drop_all() -> int:
    """Cut every WebSocket without a close frame, as a network failure would."""
    n = 0
    for s in SESSIONS.values():
        for c in list(s.conns):
            c.transport.abort()
            n += 1
    return n


def process_request(conn: ServerConnection, request: Request):
    url = urlsplit(request.path)
    if url.path.startswith("/ws/"):
        return None  # WebSocket handshake
    if url.path == "/__drop":  # test hook: simulate a lost connection
        return respond(200, str(drop_all()).encode(), "text/plain")
    if url.path.startswith("/api/"):
        return api(url.path, url.query, request.headers)
    rel = unquote(url.path).lstrip("/") or "index.html"
    full = os.path.realpath(os.path.join(ARGS.root, rel))
    if not full.startswith(os.path.realpath(ARGS.root)):
        return respond(403, b"forbidden", "text/plain")
    if os.path.isdir(full):
        full = os.path.join(full, "index.html")
    if not os.path.isfile(full) and os.path.isfile(full + ".html"):
        full += ".html"
    if not os.path.isfile(full):
        nf = os.path.join(ARGS.root, "404.html")
        body = open(nf, "rb").read() if os.path.isfile(nf) else b"not found"
        return respond(404, body, "text/html; charset=utf-8")
    ext = os.path.splitext(full)[1]
    ctype = MIME.get(ext) or mimetypes.guess_type(full)[0] or "application/octet-stream"
    with open(full, "rb") as f:
        return respond(200, f.read(), ctype)


async def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "..", "frontend", "out"))
    p.add_argument("--api", action="store_true", help="serve /api/sessions (else 404: history unavailable)")
    p.add_argument("--token-ms", type=int, default=30)
    p.add_argument("--llm", default="mock")
    ARGS = p.parse_args()
    async with serve(handler, ARGS.host, ARGS.port, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
