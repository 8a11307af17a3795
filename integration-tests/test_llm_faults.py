"""LLM failures (mock-llm's [[fault:...]] markers): retried when it helps, reported when not."""
import time

import mockllm
from wsclient import WsClient, run

LLM_ERROR_CODES = {"llm_rate_limited", "llm_quota", "llm_unavailable", "llm_error"}


def assert_error_turn(t, codes=LLM_ERROR_CODES):
    """A failed turn: one error frame inside the turn, then done with finish_reason error."""
    errs = t.errors
    assert len(errs) == 1, t.frames
    e = errs[0]
    assert e["code"] in codes, e
    assert isinstance(e.get("message"), str) and e["message"], e
    assert e["turn_id"] == t.turn_id and "seq" in e
    assert t.frames[-1]["type"] == "done" and t.frames[-2] is e, t.frames
    assert t.finish_reason == "error", t.done
    return e


def test_429_once_is_retried(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            m = mockllm.marker()
            t = await c.turn(f"rate limited once [[fault:429once]] {m}", timeout=60)
            assert t.finish_reason == "stop", t.frames
            assert not t.errors, t.errors
            assert len(t.tokens) > 1 and m in t.text, t.text
            assert "[[fault" not in t.text
    run(body())


def test_500_once_is_retried(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            m = mockllm.marker()
            t = await c.turn(f"server error once [[fault:500once]] {m}", timeout=60)
            assert t.finish_reason == "stop", t.frames
            assert not t.errors and m in t.text
    run(body())


def test_persistent_500_ends_with_error(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            t = await c.turn(f"always broken [[fault:500]] {mockllm.marker()}", timeout=90)
            e = assert_error_turn(t, {"llm_unavailable", "llm_error"})
            assert not t.tokens
            # The session is still usable afterwards.
            t2 = await c.turn("and now a normal question")
            assert t2.finish_reason == "stop" and not t2.errors
            assert t2.seqs[0] == t.seqs[-1] + 1, (e, t2.seqs)
    run(body(), timeout=120)


def test_quota_fails_fast_with_llm_quota(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            t = await c.turn(f"no money left [[fault:quota]] {mockllm.marker()}", timeout=60)
            assert_error_turn(t, {"llm_quota"})
            # insufficient_quota is not retryable: no backoff rounds (the default schedule,
            # 250 ms doubling for 4 retries, would take almost 4 s).
            assert t.elapsed < 3.0, f"quota error took {t.elapsed:.2f}s: retried?"
    run(body())


def test_stream_cut_mid_answer(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            t = await c.turn(f"cut me off [[fault:cut]] {mockllm.marker()}", timeout=90)
            assert_error_turn(t, {"llm_unavailable", "llm_error"})
            # Tokens came before the cut; they are not replayed after an error.
            types = [f["type"] for f in t.frames]
            assert types[-2:] == ["error", "done"], types
            if "turn_reset" not in types:
                assert t.tokens, "no tokens before the cut"
            t2 = await c.turn("hello again")
            assert t2.finish_reason == "stop"
    run(body(), timeout=120)


def test_slow_first_token_still_answers(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            m = mockllm.marker()
            t0 = time.monotonic()
            t = await c.turn(f"take your time [[fault:slow]] {m}", timeout=60)
            assert t.finish_reason == "stop", t.frames
            assert m in t.text
            assert time.monotonic() - t0 >= 2.5, "the slow fault did not delay the answer"
    run(body())


def test_rate_limit_that_never_clears(stack):
    """Persistent 429 (retry-after: 1 s): retried a bounded number of times, then an error."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/fault_user")) as c:
            t = await c.turn(f"always limited [[fault:429]] {mockllm.marker()}", timeout=100)
            assert_error_turn(t, {"llm_rate_limited", "llm_unavailable", "llm_error"})
    run(body(), timeout=120)
