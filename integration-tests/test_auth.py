"""Authentication and authorization against real services: a gateway with JWT_SECRET (HS256
tokens made here with hmac, as Supabase makes them) and DATABASE_URL, a worker, mock-llm and a
persister. A valid token works through each of its three carriers; missing, expired, forged,
alg=none and wrong-audience tokens get HTTP 401 before the upgrade; a path user id that is not
the token's gets 4403, as does resuming another user's session; a token that expires while its
socket is open closes it with `unauthorized` and 4401 (the session resumes with a fresh one);
the read API serves only the token's user (X-User-Id counts for nothing); a foreign browser
Origin gets 403."""
import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests
from websockets.exceptions import InvalidStatus

from pg_fixtures import *  # noqa: F401,F403
from stack import Stack
from wsclient import WsClient, run

SECRET = "test-jwt-secret-with-at-least-32-characters!"
AUD = "authenticated"

HTTP = requests.Session()
HTTP.trust_env = False


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(sub: str | None, ttl: int = 300, secret: str = SECRET, header: dict | None = None,
          **claims) -> str:
    """An HS256 JWT like Supabase's: sub, aud, role, iat, exp (+ claims)."""
    now = int(time.time())
    body = {"aud": AUD, "role": "authenticated", "iat": now, "exp": now + ttl}
    if sub is not None:
        body["sub"] = sub
    body.update(claims)
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64(json.dumps(body, separators=(",", ":")).encode())
    sig = b64(hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{sig}"


def compact_token(sub: str) -> str:
    """The smallest valid token (no aud): lws 4.1 refuses Sec-WebSocket-Protocol values of 128
    bytes or more before the gateway sees them, so only a short token fits that carrier."""
    h = b64(b'{"alg":"HS256"}')
    p = b64(json.dumps({"sub": sub, "exp": int(time.time()) + 300},
                       separators=(",", ":")).encode())
    sig = b64(hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
    return f"{h}.{p}.{sig}"


@pytest.fixture(scope="module")
def env(kafka, pg, kafka_tool, tmp_path_factory):
    """A stack whose gateway needs tokens and serves the read API, plus a persister."""
    log_dir = tmp_path_factory.mktemp("logs-auth", numbered=True)
    s = Stack(kafka.brokers, kafka.partitions, "auth", log_dir,
              mock_env={"MOCK_LLM_TOKENS_PER_SEC": "400", "MOCK_LLM_TTFT_MS": "20"},
              gateway_env={"JWT_SECRET": SECRET, "JWT_AUDIENCE": AUD, "DATABASE_URL": pg.url})
    d = Durable(kafka, pg, kafka_tool, log_dir, "auth", events_topic=s.topics["EVENTS"],
                dlq_topic=s.topics["DLQ"])
    try:
        s.start(warmup=False)
        d.start_persister()
        # The stack's own warm-up has no token; this one proves the whole path with one.
        run(one_turn(s.ws_url("/ws/session") + "?access_token=" + token("itest_warmup"),
                     "warm-up"), 90)
    except Exception:
        s.stop()
        d.stop()
        raise
    yield s, d
    rcs = {**s.stop(), **d.stop()}
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}"


async def one_turn(url: str, text: str, **kw):
    async with await WsClient.open(url, **kw) as c:
        t = await c.turn(text, timeout=60)
        assert t.done and t.finish_reason == "stop", t.frames
        return c.session, c.ws.subprotocol


async def refused(url: str, **kw) -> int:
    """The HTTP status of a refused upgrade."""
    try:
        c = await WsClient.open(url, **kw)
    except InvalidStatus as e:
        return e.response.status_code
    await c.close()
    raise AssertionError(f"upgrade to {url[:80]} was accepted")


def test_token_carriers(env):
    s, _ = env
    base = s.ws_url("/ws/session")
    u = f"auth_{uuid.uuid4().hex[:8]}"
    gw2 = s.start_gateway(env={"JWT_AUDIENCE": ""})

    async def body():
        sess, proto = await one_turn(f"{base}?access_token={token(u)}", "via the query")
        assert sess["user_id"] == u and proto is None
        sess, _ = await one_turn(base, "via the header",
                                 additional_headers={"Authorization": f"Bearer {token(u)}"})
        assert sess["user_id"] == u
        # The subprotocol carrier, on a gateway that checks no audience (a shorter token).
        tok = compact_token("s1")
        assert len("bearer, " + tok) < 128
        sess, proto = await one_turn(s.ws_url("/ws/session", gw=gw2), "via the subprotocol",
                                     subprotocols=["bearer", tok])
        assert sess["user_id"] == "s1" and proto == "bearer"
        assert await refused(s.ws_url("/ws/session", gw=gw2),
                             subprotocols=["bearer", compact_token("s1")[:-2] + "xx"]) == 401
        # The path may name the token's user, and the token wins over nothing else.
        sess, _ = await one_turn(f"{s.ws_url('/ws/session/' + u)}?access_token={token(u)}",
                                 "path and token agree")
        assert sess["user_id"] == u
    run(body(), 90)


def test_bad_tokens_get_401_before_upgrade(env):
    s, _ = env
    base = s.ws_url("/ws/session")
    u = "auth_bad"
    none_hdr = b64(b'{"alg":"none","typ":"JWT"}')
    none_tok = none_hdr + "." + token(u).split(".")[1] + "."
    cases = {
        "no token": base,
        "expired": f"{base}?access_token={token(u, ttl=-120)}",
        "bad signature": f"{base}?access_token={token(u, secret='another-secret')}",
        "alg none": f"{base}?access_token={none_tok}",
        "alg HS512 label": f"{base}?access_token={token(u, header={'alg': 'HS512'})}",
        "wrong audience": f"{base}?access_token={token(u, aud='anon')}",
        "no sub": f"{base}?access_token={token(None)}",
        "sub not a user id": f"{base}?access_token={token('bad user')}",
        "garbage": f"{base}?access_token=not.a.jwt",
    }

    async def body():
        for name, url in cases.items():
            assert await refused(url) == 401, name
        assert await refused(base, additional_headers={
            "Authorization": f"Bearer {token(u, secret='x')}"}) == 401
        # A bad header decides even when the query holds a good token.
        assert await refused(f"{base}?access_token={token(u)}", additional_headers={
            "Authorization": "Bearer nope"}) == 401
    run(body(), 60)
    assert "status=401" in s.gateway.log_text()


def test_path_user_must_be_the_tokens(env):
    s, _ = env

    async def body():
        url = f"{s.ws_url('/ws/session/someone_else')}?access_token={token('auth_me')}"
        c = await WsClient.open(url, expect_session=False)
        code, frames = await c.expect_close()
        assert code == 4403, (code, frames)
        assert frames and frames[0]["type"] == "error" and frames[0]["code"] == "forbidden"
    run(body(), 30)


def test_resume_of_another_users_session_is_4403(env):
    s, _ = env
    base = s.ws_url("/ws/session")

    async def body():
        async with await WsClient.open(f"{base}?access_token={token('auth_owner')}") as c0:
            assert (await c0.turn("mine", timeout=60)).finish_reason == "stop"
            sess, last_seq = c0.session, c0.last_seq
        q = f"?session_id={sess['session_id']}&access_token={token('auth_thief')}"
        c = await WsClient.open(base + q)          # the session frame comes first
        code, frames = await c.expect_close(20)
        assert code == 4403, (code, frames)
        assert any(f.get("code") == "forbidden" for f in frames), frames
        # The owner still resumes it.
        async with await WsClient.open(base, session_id=sess["session_id"], last_seq=last_seq,
                                       additional_headers={
                                           "Authorization": f"Bearer {token('auth_owner')}"}) as c2:
            assert c2.session["resumed"] is True
            t = await c2.turn("still mine", timeout=60)
            assert t.finish_reason == "stop"
    run(body(), 90)


def test_token_expiry_closes_the_socket(env):
    """The socket lives until its token's exp + JWT_LEEWAY_S, not a moment longer: then an
    `unauthorized` error frame and close 4401. A turn in flight at that moment goes on in the
    worker, and the session resumes (with what it missed) under a fresh token."""
    s, _ = env
    leeway = 1
    gw = s.start_gateway(env={"JWT_LEEWAY_S": str(leeway)})
    base = s.ws_url("/ws/session", gw=gw)
    u = f"auth_exp_{uuid.uuid4().hex[:6]}"

    async def body():
        exp = int(time.time()) + 4
        deadline = exp + leeway
        c = await WsClient.open(f"{base}?access_token={token(u, exp=exp)}")
        t = await c.turn("before the expiry", timeout=30)
        assert t.finish_reason == "stop", t.frames
        # Shortly before the deadline the socket is open and answers.
        await asyncio.sleep(max(0.0, deadline - 0.9 - time.time()))
        await c.send_json({"type": "ping"})
        assert (await c.expect_frame("pong", 2))["ts"] > 0
        # A turn whose first token comes 3 s later (mock-llm's slow fault): in flight at the
        # deadline.
        await asyncio.sleep(max(0.0, deadline - 0.5 - time.time()))
        msg_id = await c.send_message(f"expiring mid-turn [[fault:slow]] {uuid.uuid4().hex[:8]}")
        code, frames = await c.expect_close(10)
        closed_at = time.time()
        assert code == 4401, (code, frames)
        assert closed_at >= deadline - 0.05, f"closed {deadline - closed_at:.2f}s before exp"
        assert closed_at < deadline + 3, f"closed {closed_at - deadline:.2f}s after exp"
        errors = [f for f in frames if f["type"] == "error"]
        assert [e["code"] for e in errors] == ["unauthorized"], frames
        assert "expired" in errors[0]["message"], errors
        assert not any(f["type"] == "done" for f in frames), "the turn was not in flight"
        acks = [f for f in frames if f["type"] == "ack"]
        assert acks and acks[0]["id"] == msg_id, frames
        # A fresh token resumes the session; the turn's answer arrives in full.
        async with await WsClient.open(base, session_id=c.session_id, last_seq=c.last_seq,
                                       additional_headers={
                                           "Authorization": f"Bearer {token(u)}"}) as c2:
            assert c2.session["resumed"] is True and c2.user_id == u
            t2 = await c2.collect_turn(30)
            assert t2.turn_id == acks[0]["turn_id"], (t2.frames, acks)
            assert t2.finish_reason == "stop" and t2.tokens, t2.frames
            t3 = await c2.turn("after the resume", timeout=30)
            assert t3.finish_reason == "stop", t3.frames
    run(body(), 90)
    log = gw.log_text()
    assert "ws token expired" in log and f"user={u}" in log


def test_origin_policy(env):
    s, _ = env
    url = f"{s.ws_url('/ws/session')}?access_token={token('auth_origin')}"

    async def body():
        assert await refused(url, origin="http://evil.example") == 403
        assert await refused(url, origin="null") == 403
        # Same host as the gateway, and localhost (a dev server on another port): allowed.
        for origin in (f"http://127.0.0.1:{s.gateway.port}", "http://localhost:3000"):
            async with await WsClient.open(url, origin=origin) as c:
                assert c.user_id == "auth_origin"
    run(body(), 30)
    assert 'reason="origin not allowed"' in s.gateway.log_text()


def test_api_serves_only_the_tokens_user(env):
    s, d = env
    a, b = f"auth_a_{uuid.uuid4().hex[:6]}", f"auth_b_{uuid.uuid4().hex[:6]}"
    base = s.ws_url("/ws/session")
    sa, _ = run(one_turn(f"{base}?access_token={token(a)}", "a's chat"), 60)
    sb, _ = run(one_turn(f"{base}?access_token={token(b)}", "b's chat"), 60)
    for sess in (sa, sb):
        d.wait(lambda: len(d.event_rows(sess["session_id"])) >= 3, 30, "persisted rows")

    def get(path, headers):
        return HTTP.get(f"http://127.0.0.1:{s.gateway.port}{path}", headers=headers, timeout=10)

    bearer_a = {"Authorization": f"Bearer {token(a)}"}
    r = get("/api/sessions", bearer_a)
    assert r.status_code == 200, r.text
    assert [x["session_id"] for x in r.json()["sessions"]] == [sa["session_id"]]
    r = get(f"/api/sessions/{sa['session_id']}/events", bearer_a)
    assert r.status_code == 200 and r.json()["user_id"] == a
    r = get(f"/api/sessions/{sb['session_id']}/events", bearer_a)
    assert (r.status_code, r.json()) == (403, {"error": "forbidden"})
    # X-User-Id names nobody once tokens are required, with or without a token beside it.
    for headers in ({"X-User-Id": b}, {}, {"Authorization": f"Bearer {token(b, ttl=-100)}"},
                    {"Authorization": f"Bearer {token(b, secret='x')}"},
                    {"Authorization": token(b)}):
        r = get("/api/sessions", headers)
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), headers
    r = get("/api/sessions", {**bearer_a, "X-User-Id": b})
    assert [x["session_id"] for x in r.json()["sessions"]] == [sa["session_id"]]
    # The query carrier is for WebSockets only: tokens in API URLs end up in logs.
    r = get(f"/api/sessions?access_token={token(a)}", {})
    assert r.status_code == 401
