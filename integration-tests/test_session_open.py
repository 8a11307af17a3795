"""A new session's `session` frame goes out only once Kafka has taken its session_open, so a
client never holds the id of a session that does not exist (a gateway that dies in between
leaves it without one). What the client sends before that frame is read after it: the first
frame is always `session`, a ping is answered after it and a message is acked and answered once.
With Kafka out of reach the client is refused with `unavailable` and 1011 after
GATEWAY_OPEN_TIMEOUT_MS, having been answered nothing (not even a pong) and given no id."""
import asyncio
import time
import uuid

from websockets.exceptions import ConnectionClosed

from stack import free_port
from wsclient import WsClient, run

OPEN_TIMEOUT_MS = 1500


def test_frames_sent_before_the_session_frame_are_answered_after_it(stack):
    async def body():
        c = await WsClient.open(stack.ws_url("/ws/session/early_bird"), expect_session=False)
        try:
            msg_id = str(uuid.uuid4())
            # Straight after the handshake, before any frame could have arrived: a message,
            # a resend of it and a ping.
            await c.send_message("an early hello", msg_id)
            await c.send_message("an early hello", msg_id)
            await c.send_json({"type": "ping"})
            first = await c.recv(10)
            assert first["type"] == "session" and first["resumed"] is False, first
            t = await c.collect_turn(timeout=30)
            assert t.finish_reason == "stop" and t.text, t
            assert t.ack and t.ack["id"] == msg_id and t.ack["turn_id"] == t.turn_id, t.ack
            types = [f["type"] for f in c.all_frames]
            assert types.count("session") == 1 and types.count("pong") == 1, types
            assert types.count("done") == 1, types        # the resend started no second turn
            acks = [f for f in c.all_frames if f["type"] == "ack"]
            assert {f["turn_id"] for f in acks} == {t.turn_id}, acks
        finally:
            await c.close()
    run(body(), 60)


def test_no_session_frame_while_kafka_is_out_of_reach(stack):
    dead = f"127.0.0.1:{free_port()}"
    gw = stack.start_gateway(env={"KAFKA_BROKERS": dead,
                                  "GATEWAY_OPEN_TIMEOUT_MS": str(OPEN_TIMEOUT_MS)}, wait=False)
    deadline = time.monotonic() + 20
    while True:                                    # listening: /healthz, not /readyz (no Kafka)
        try:
            if stack.http("/healthz", gw, timeout=2).status_code == 200:
                break
        except Exception:
            pass
        assert time.monotonic() < deadline, gw.tail(20)
        time.sleep(0.1)

    async def body():
        t0 = time.monotonic()
        c = await WsClient.open(stack.ws_url("/ws/session/stranded", gw=gw), expect_session=False)
        try:
            await c.send_json({"type": "ping"})
            await c.send_message("anyone there?")
            f = await c.recv(OPEN_TIMEOUT_MS / 1000 + 10)
            waited = time.monotonic() - t0
            assert f["type"] == "error" and f["code"] == "unavailable", c.all_frames
            assert waited >= OPEN_TIMEOUT_MS / 1000 - 0.2, waited
            try:
                extra = await c.recv(10)
                raise AssertionError(f"a frame after the refusal: {extra}")
            except ConnectionClosed:
                pass
            assert c.close_code == 1011, c.close_code
            assert [x["type"] for x in c.all_frames] == ["error"], c.all_frames
        finally:
            await c.close()
    run(body(), 60)
    assert "session_open not taken in time" in gw.log_text()
    gw.terminate()
    stack.gateways.remove(gw)
