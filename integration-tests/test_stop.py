"""`stop` cancels the running answer: done with finish_reason "cancelled", quickly."""
import time

import mockllm
from wsclient import RecvTimeout, WsClient, run

# mock-llm streams 50 tokens/s by default; a "long" answer is about 300 tokens (6 s) and
# well over 1500 characters.
FULL_LONG_CHARS = 1500


def test_stop_after_first_tokens(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stop_user")) as c:
            stopped_at = {}

            async def on_frame(f, turn):
                if f["type"] == "token" and len(turn.tokens) == 3 and not stopped_at:
                    stopped_at["t"] = time.monotonic()
                    await c.stop()
            t = await c.turn(f"give me a long answer please {mockllm.marker()}",
                             on_frame=on_frame, timeout=60)
            assert stopped_at, "the answer ended before 3 tokens arrived"
            latency = time.monotonic() - stopped_at["t"]
            assert t.finish_reason == "cancelled", t.done
            assert latency < 3.0, f"done came {latency:.2f}s after stop"
            assert len(t.text) < FULL_LONG_CHARS / 2, f"{len(t.text)} chars: not cancelled early"
            assert not t.errors, t.errors
            # The session goes on normally.
            t2 = await c.turn("are you still there?")
            assert t2.finish_reason == "stop"
            assert t2.seqs[0] == t.seqs[-1] + 1
    run(body())


def test_stop_before_first_token(stack):
    """[[fault:slow]] holds the first token back 3 s; stop in that window cancels at once."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stop_user")) as c:
            await c.send_message(f"slow one [[fault:slow]] {mockllm.marker()}")
            # Stop once the gateway has taken the message (ack), or after a short moment.
            try:
                await c.expect_frame("ack", 3)
            except RecvTimeout:
                pass
            await c.stop()
            t0 = time.monotonic()
            t = await c.collect_turn(timeout=30)
            assert t.finish_reason == "cancelled", t.frames
            assert time.monotonic() - t0 < 2.5
            assert len(t.tokens) == 0, t.tokens
    run(body())


def test_stop_with_nothing_running_is_harmless(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stop_user")) as c:
            await c.stop()
            extra = await c.quiet(0.5)
            assert not [f for f in extra if "seq" in f], extra
            t = await c.turn("hello after a stray stop")
            assert t.finish_reason == "stop"
    run(body())


def test_stop_only_affects_own_session(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/stop_user")) as a, \
                await WsClient.open(stack.ws_url("/ws/session/stop_user")) as b:
            await b.send_message(f"a long answer for b {mockllm.marker()}")

            async def on_frame(f, turn):
                if f["type"] == "token" and len(turn.tokens) == 2:
                    await a.stop()
            ta = await a.turn(f"a long answer for a {mockllm.marker()}", on_frame=on_frame,
                              timeout=60)
            tb = await b.collect_turn(timeout=60)
            assert ta.finish_reason == "cancelled"
            assert tb.finish_reason == "stop", tb.done
            assert len(tb.text) >= FULL_LONG_CHARS and "Part 5 of this long answer" in tb.text
    run(body())
