"""Many sessions at once: each gets only its own answer, and all of them finish."""
import asyncio
import re

import mockllm
from wsclient import WsClient, run

N_SESSIONS = 50
MARK_RX = re.compile(r"conc[0-9a-f]{10}")


async def one_session(stack, i: int, marks: list, turns: int = 1):
    m = marks[i]
    async with await WsClient.open(stack.ws_url(f"/ws/session/conc_user_{i}"), timeout=20) as c:
        out = []
        for k in range(turns):
            t = await c.turn(f"session {i} turn {k} says {m}", timeout=90)
            out.append(t)
        return c.session_id, out


def check_own_answer(i: int, marks: list, t) -> None:
    assert t.finish_reason == "stop", (i, t.frames)
    assert not t.errors, (i, t.errors)
    found = set(MARK_RX.findall(t.text))
    assert found == {marks[i]}, f"session {i} got markers {found}, expected only {marks[i]}"


def test_fifty_concurrent_sessions(stack):
    marks = [mockllm.marker("conc") for _ in range(N_SESSIONS)]

    async def body():
        res = await asyncio.gather(*(one_session(stack, i, marks) for i in range(N_SESSIONS)),
                                   return_exceptions=True)
        failures = [(i, r) for i, r in enumerate(res) if isinstance(r, BaseException)]
        assert not failures, f"{len(failures)} sessions failed; first: {failures[:3]}"
        sids = [sid for sid, _ in res]
        assert len(set(sids)) == N_SESSIONS
        for i, (_, turns) in enumerate(res):
            t = turns[0]
            check_own_answer(i, marks, t)
            assert t.text.startswith(mockllm.reply_prefix(f"session {i} turn 0 says {marks[i]}"))
    run(body(), timeout=140)


def test_concurrent_multi_turn_sessions_keep_their_own_context(stack):
    n = 10
    marks = [mockllm.marker("conc") for _ in range(n)]

    async def body():
        res = await asyncio.gather(*(one_session(stack, i, marks, turns=3) for i in range(n)),
                                   return_exceptions=True)
        failures = [(i, r) for i, r in enumerate(res) if isinstance(r, BaseException)]
        assert not failures, f"{len(failures)} sessions failed; first: {failures[:3]}"
        for i, (_, turns) in enumerate(res):
            for k, t in enumerate(turns):
                check_own_answer(i, marks, t)
                if k:
                    assert f'Earlier you said: "session {i} turn {k - 1} says {marks[i]}"' in t.text
    run(body(), timeout=140)


def test_two_connections_to_one_session_both_get_frames(stack):
    """A second tab on the same session sees the same frames with the same seqs."""
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/tabs_user")) as a:
            await a.turn("open a second tab")
            async with await WsClient.open(stack.ws_url("/ws/session/tabs_user"),
                                           session_id=a.session_id, last_seq=a.last_seq) as b:
                m = mockllm.marker()
                ta = await a.turn(f"shown in both tabs {m}")
                tb = await b.collect_turn(timeout=30)
                assert tb.turn_id == ta.turn_id
                assert tb.seqs == ta.seqs
                assert tb.text == ta.text and m in ta.text
    run(body())
