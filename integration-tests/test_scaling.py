"""Horizontal scaling: 2 gateways + 3 llm-workers + 2 persisters (one consumer group each) on
topics with 6 partitions. 100 concurrent sessions over both gateways get exactly their own
answers; clients that move to the other gateway mid-answer get the whole answer once; a worker
SIGKILLed while 40 answers stream loses no turn and disturbs no other session, and PostgreSQL
ends with exactly the rows the conversations imply. Figures are printed (run with -s)."""
from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter

import pytest
import requests

import mockllm
from pg_fixtures import pg, wait_until  # noqa: F401  (pg is a fixture)
from stack import BIN_DIR, Stack
from wsclient import WsClient, run

PARTITIONS = 6
N_WORKERS, N_GATEWAYS, N_PERSISTERS = 3, 2, 2
GRACE_MS = 1500                   # session_end this long after the last socket closed
MARK_RX = re.compile(r"scal[0-9a-f]{10}")

_HTTP = requests.Session()
_HTTP.trust_env = False


# -- the stack -------------------------------------------------------------------------------
def net_partitions(svc) -> int:
    """Partitions 'svc' holds now, from its own log (cooperative rebalances log increments)."""
    text = svc.log_text()
    got = sum(int(n) for n in re.findall(r"partitions assigned\b.*?\bcount=(\d+)", text))
    lost = sum(int(n) for n in re.findall(r"partitions revoked\b.*?\bcount=(\d+)", text))
    return got - lost


def wait_balanced(services, partitions: int, timeout: float = 60) -> list[int]:
    """Until every member of the group holds its share of the partitions."""
    def balanced():
        held = [net_partitions(s) for s in services]
        ok = sum(held) == partitions and min(held) >= partitions // len(services)
        return held if ok else None
    return wait_until(balanced, timeout, "a balanced assignment",
                      details=lambda: f"held: {[net_partitions(s) for s in services]}")


def admin_port(svc) -> int:
    """The ephemeral admin port of the service's current run (ADMIN_PORT=0), from its log."""
    return int(svc.wait_log(r'admin listening"?.*\bport=(\d+)', 15).group(1))


def metric(svc, name: str) -> float:
    """Sum of the samples of one metric family on a service's admin /metrics."""
    text = _HTTP.get(f"http://127.0.0.1:{admin_port(svc)}/metrics", timeout=5).text
    rx = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", re.M)
    return sum(float(v) for v in rx.findall(text))


@pytest.fixture(scope="module")
def stack(kafka, pg, tmp_path_factory):    # noqa: F811  (replaces conftest's stack here)
    missing = [b for b in ("gateway", "llm-worker", "mock-llm", "persister")
               if not (BIN_DIR / b).exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(missing)} in {BIN_DIR} (run make)")
    parts = max(PARTITIONS, kafka.partitions)
    s = Stack(kafka.brokers, parts, "scaling", tmp_path_factory.mktemp("logs-scaling"),
              isolate_topics=True, worker_env={"SESSION_END_GRACE_MS": str(GRACE_MS)})
    try:
        s.start(warmup=False)                 # topics, mock-llm, worker 1, gateway 1
        while len(s.workers) < N_WORKERS:
            s.start_worker()
        while len(s.gateways) < N_GATEWAYS:
            s.start_gateway()
        while len(s.persisters) < N_PERSISTERS:
            s.start_persister(pg.url)
        wait_balanced(s.workers, parts)
        wait_balanced(s.persisters, parts)
        s.warm_up()
    except Exception:
        s.stop()
        raise
    yield s
    rcs = s.stop()
    bad = {k: v for k, v in rcs.items() if v != 0}
    assert not bad, f"services exited badly on SIGTERM: {bad}\n{s.tails()}"


# -- PostgreSQL ------------------------------------------------------------------------------
def check_rows(pg, expected: dict[str, Counter], turns: dict[str, list[str]],
               users: dict[str, str], timeout: float = 60) -> tuple[int, int]:
    """Wait for every session's session_end row, then demand exactly the expected rows:
    per session and event type, one user_message and one ai_response per turn (and only the
    turns the clients saw), no duplicate event_key, one session_metadata row per session.
    Returns (rows expected, rows found)."""
    sids = list(expected)
    wait_until(lambda: pg.scalar("SELECT count(*) FROM event_log WHERE session_id = ANY(%s::uuid[])"
                                 " AND event_type = 'session_end'", (sids,)) >= len(sids),
               timeout, f"session_end rows of {len(sids)} sessions", interval=0.3)
    time.sleep(1.5)                        # anything extra (a duplicate) would arrive by now
    rows = pg.query("SELECT session_id::text, event_type, turn_id::text, event_key::text "
                    "FROM event_log WHERE session_id = ANY(%s::uuid[])", (sids,))
    found: dict[str, Counter] = {sid: Counter() for sid in sids}
    per_turn: dict[tuple, int] = Counter()
    for sid, etype, turn, _ in rows:
        found[sid][etype] += 1
        if etype in ("user_message", "ai_response"):
            per_turn[(sid, turn, etype)] += 1
    wrong = {sid: (dict(expected[sid]), dict(found[sid])) for sid in sids
             if found[sid] != expected[sid]}
    assert not wrong, f"{len(wrong)} sessions with other rows than expected (expected, found); " \
                      f"first: {list(wrong.items())[:3]}"
    keys = [r[3] for r in rows]
    assert None not in keys and len(set(keys)) == len(keys), "duplicate or missing event_key"
    want = Counter({(sid, t, e): 1 for sid, ts in turns.items() for t in ts
                    for e in ("user_message", "ai_response")})
    extra, lacking = list((per_turn - want).items()), list((want - per_turn).items())
    assert per_turn == want, "not exactly one user_message and one ai_response per turn: " \
                             f"extra {extra[:3]}, missing {lacking[:3]}"
    meta = pg.query("SELECT session_id::text, user_id FROM session_metadata "
                    "WHERE session_id = ANY(%s::uuid[])", (sids,))
    assert len(meta) == len(sids), f"{len(meta)} session_metadata rows for {len(sids)} sessions"
    assert dict(meta) == users
    return sum(sum(c.values()) for c in expected.values()), len(rows)


def session_rows(n_turns: int, n_errors: int = 0) -> Counter:
    c = Counter(session_start=1, user_message=n_turns, ai_response=n_turns, session_end=1)
    if n_errors:
        c["error"] = n_errors
    return c


# -- helpers ---------------------------------------------------------------------------------
def failures(results) -> list:
    return [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException)]


# -- a) many sessions over both gateways -----------------------------------------------------
def test_hundred_sessions_over_two_gateways_get_only_their_own_answers(stack, pg):
    n, n_turns = 100, 2
    marks = [mockllm.marker("scal") for _ in range(n)]
    started = [metric(w, "chat_llm_turns_started_total") for w in stack.workers]
    written = [metric(p, "chat_persister_events_written_total") for p in stack.persisters]

    def msg(i, k):
        return f"session {i} turn {k} on gateway {i % N_GATEWAYS + 1} says {marks[i]}"

    async def one(i):
        gw = stack.gateways[i % N_GATEWAYS]
        async with await WsClient.open(stack.ws_url(f"/ws/session/scale_a{i}", gw),
                                       timeout=30) as c:
            turns = [await c.turn(msg(i, k), timeout=90) for k in range(n_turns)]
            return c, turns

    async def body():
        return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    t0 = time.monotonic()
    res = run(body(), timeout=150)
    took = time.monotonic() - t0
    bad = failures(res)
    assert not bad, f"{len(bad)} sessions failed; first: {bad[:3]}"

    expected, turn_ids, users = {}, {}, {}
    for i, (c, turns) in enumerate(res):
        # WsClient already checked: seq +1 per frame, one turn_id per turn, nothing after done.
        assert c.seq_jumps == [], (i, c.seq_jumps)
        assert [f["type"] for f in c.all_frames].count("done") == n_turns, i
        n1 = None
        for k, t in enumerate(turns):
            assert t.finish_reason == "stop" and not t.errors, (i, k, t.frames)
            assert len(t.of_type("done")) == 1
            assert set(MARK_RX.findall(t.text)) == {marks[i]}, (i, k, t.text)
            if k == 0:
                n1 = mockllm.context_count(t.text)
                assert t.text == mockllm.plain_reply(msg(i, 0), n1), (i, t.text)
            else:
                assert t.text == mockllm.plain_reply(msg(i, 1), n1 + 2, prev=msg(i, 0)), \
                    (i, t.text)
        expected[c.session_id] = session_rows(n_turns)
        turn_ids[c.session_id] = [t.turn_id for t in turns]
        users[c.session_id] = f"scale_a{i}"
    assert len(expected) == n, "session ids are not unique"

    # Every worker ran a share of the turns: the group spread the partitions.
    per_worker = [metric(w, "chat_llm_turns_started_total") - b
                  for w, b in zip(stack.workers, started)]
    assert sum(per_worker) == n * n_turns, per_worker
    assert all(x > 0 for x in per_worker), f"a worker ran no turn: {per_worker}"

    want, got = check_rows(pg, expected, turn_ids, users)
    # ... and both persisters wrote a share of the rows.
    per_persister = [metric(p, "chat_persister_events_written_total") - b
                     for p, b in zip(stack.persisters, written)]
    assert sum(per_persister) >= got and all(x > 0 for x in per_persister), per_persister
    print(f"\n[scaling] {n} sessions x {n_turns} turns over {N_GATEWAYS} gateways in "
          f"{took:.1f}s; turns per worker {[int(x) for x in per_worker]}; rows per persister "
          f"{[int(x) for x in per_persister]}; rows expected {want}, found {got}")


# -- b) moving to the other gateway mid-answer -----------------------------------------------
def test_clients_move_to_the_other_gateway_mid_answer(stack, pg):
    n = 10
    marks = [mockllm.marker("scal") for _ in range(n)]

    def prompt(i):
        return f"tell me a long story, mover {i} {marks[i]}"

    async def reference(i):
        """The same first message in a fresh session, never interrupted."""
        gw = stack.gateways[(i + 1) % N_GATEWAYS]
        async with await WsClient.open(stack.ws_url(f"/ws/session/scale_ref{i}", gw)) as c:
            t = await c.turn(prompt(i), timeout=90)
            assert t.finish_reason == "stop", t.frames
            return c.session_id, t

    async def mover(i):
        src, dst = stack.gateways[i % N_GATEWAYS], stack.gateways[(i + 1) % N_GATEWAYS]
        c1 = await WsClient.open(stack.ws_url(f"/ws/session/scale_mv{i}", src))
        part = await c1.turn_part(prompt(i), 10 + i)
        sid, last = c1.session_id, c1.last_seq
        await c1.close()
        async with await WsClient.open(stack.ws_url(f"/ws/session/scale_mv{i}", dst),
                                       session_id=sid, last_seq=last) as c2:
            assert c2.session["resumed"] is True and c2.session["session_id"] == sid
            rest = await c2.collect_turn(timeout=90)
            follow = await c2.turn(f"after the move, mover {i}", timeout=90)
            return sid, part, rest, follow, last

    async def body():
        return await asyncio.gather(*(reference(i) for i in range(n)),
                                    *(mover(i) for i in range(n)), return_exceptions=True)
    res = run(body(), timeout=150)
    bad = failures(res)
    assert not bad, f"{len(bad)} clients failed; first: {bad[:3]}"
    refs, moves = res[:n], res[n:]

    expected, turn_ids, users = {}, {}, {}
    for i, ((ref_sid, ref), (sid, part, rest, follow, last)) in enumerate(zip(refs, moves)):
        assert len(ref.text) > 1000 and set(MARK_RX.findall(ref.text)) == {marks[i]}
        assert rest.turn_id == part.turn_id
        assert rest.seqs[0] == last + 1, (i, last, rest.seqs[:3])      # no gap, no repeat
        assert not rest.of_type("turn_reset") and len(rest.of_type("done")) == 1
        assert rest.finish_reason == "stop", rest.done
        assert part.text + rest.text == ref.text, f"mover {i}: parts differ from the answer"
        assert follow.text.startswith(mockllm.reply_prefix(f"after the move, mover {i}",
                                                           prompt(i))), follow.text
        expected[ref_sid], turn_ids[ref_sid], users[ref_sid] = \
            session_rows(1), [ref.turn_id], f"scale_ref{i}"
        expected[sid], turn_ids[sid], users[sid] = \
            session_rows(2), [part.turn_id, follow.turn_id], f"scale_mv{i}"
    want, got = check_rows(pg, expected, turn_ids, users)
    print(f"\n[scaling] {n} clients moved gateways mid-answer, each got its answer once; "
          f"rows expected {want}, found {got}")


# -- c) a worker SIGKILLed while answers stream ----------------------------------------------
@pytest.mark.timeout(180)
def test_worker_sigkill_while_streaming_every_turn_ends_rows_exact(stack, pg):
    n = 40
    marks = [mockllm.marker("scal") for _ in range(n)]

    def first(i):
        return f"a long answer please, session {i} {marks[i]}"

    def second(i):
        return f"and a short one, session {i}"

    async def finish(i, c, part):
        rest = await c.collect_turn(timeout=120, turn_id=part.turn_id)
        follow = await c.turn(second(i), timeout=60)
        return c.session_id, part, rest, follow

    dups = [metric(p, "chat_persister_duplicates_total") for p in stack.persisters]

    async def body():
        clients = [await WsClient.open(stack.ws_url(f"/ws/session/scale_k{i}",
                                                    stack.gateways[i % N_GATEWAYS]), timeout=30)
                   for i in range(n)]
        try:
            sent = time.monotonic()
            parts = await asyncio.gather(*(c.turn_part(first(i), 5)
                                           for i, c in enumerate(clients)))
            # Every turn is streaming now: kill the worker that runs the most of them.
            running = [int(metric(w, "chat_llm_running_turns")) for w in stack.workers]
            assert sum(running) == n, f"running turns per worker {running}, expected {n} in all"
            victim = stack.workers[running.index(max(running))]
            victim.kill()
            kill_after = time.monotonic() - sent
            out = await asyncio.gather(*(finish(i, c, p) for i, (c, p)
                                         in enumerate(zip(clients, parts))),
                                       return_exceptions=True)
            return out, running, victim, kill_after
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    t0 = time.monotonic()
    out, running, victim, kill_after = run(body(), timeout=170)
    took = time.monotonic() - t0
    bad = failures(out)
    assert not bad, f"{len(bad)} sessions did not finish; first: {bad[:3]}"

    bodies = set()
    expected, turn_ids, users = {}, {}, {}
    reruns = errors = 0
    for i, (sid, part, rest, follow) in enumerate(out):
        frames = part.frames + rest.frames
        types = [f["type"] for f in frames]
        assert types.count("done") == 1, (i, types)
        reset = "turn_reset" in types
        reruns += reset
        if rest.errors:
            # The other accepted outcome for a turn that lost its worker: an error, then done.
            assert reset, f"session {i}: an error without losing its worker: {rest.errors}"
            assert rest.finish_reason == "error" and rest.errors[0].get("code"), rest.frames
            errors += 1
        else:
            assert rest.finish_reason == "stop", (i, rest.done)
            after = frames[max((k for k, t in enumerate(types) if t == "turn_reset"),
                               default=-1) + 1:]
            text = "".join(f["content"] for f in after if f["type"] == "token")
            prefix = mockllm.reply_prefix(first(i))
            assert text.startswith(prefix) and len(text) > 1000, (i, text[:200])
            bodies.add(text[len(prefix):])     # the same for every session: nothing foreign
            if reset:                          # the lost run had sent the start of that answer
                lost = "".join(f["content"] for f in frames[:types.index("turn_reset")]
                               if f["type"] == "token")
                assert text.startswith(lost), i
        assert follow.finish_reason == "stop", (i, follow.frames)
        assert follow.text.startswith(mockllm.reply_prefix(second(i), first(i))), follow.text
        expected[sid] = session_rows(2, n_errors=int(bool(rest.errors)))
        turn_ids[sid] = [part.turn_id, follow.turn_id]
        users[sid] = f"scale_k{i}"
    assert len(bodies) == 1, f"{len(bodies)} different answer bodies"
    # Exactly the turns of the killed worker were re-run; the others never noticed.
    assert reruns == max(running), \
        f"{reruns} turns re-run, but the killed worker was running {max(running)} ({running})"

    want, got = check_rows(pg, expected, turn_ids, users)
    # Re-run turns emit their events again, with the same ids: the persisters absorb them.
    absorbed = sum(metric(p, "chat_persister_duplicates_total") for p in stack.persisters) \
        - sum(dups)
    dead = sum(metric(p, "chat_persister_dead_letters_total") for p in stack.persisters)
    assert dead == 0, f"{dead} events went to the dead-letter topic"
    print(f"\n[scaling] SIGKILL of {victim.name} {kill_after:.1f}s into the answers, with "
          f"{max(running)} of {n} turns running (per worker {running}): sessions {n}, "
          f"turns {2 * n}, re-run turns {reruns} ({errors} ended with an error), all done "
          f"{took:.1f}s after the start; "
          f"rows expected {want}, found {got} ({int(absorbed)} duplicate events absorbed)")
    # The worker comes back (the module's guard wants every service alive after a test).
    victim.start()


# -- d) scaling down right after scaling up --------------------------------------------------
@pytest.mark.parametrize("kind", ["llm-worker", "persister"])
def test_member_stopped_while_joining_its_group_exits_cleanly(stack, pg, kind):
    """`--scale` down right after `--scale` up: a worker or persister that gets SIGTERM while it
    is still joining its group leaves it and exits 0 within seconds, and the group goes on.
    (With librdkafka 2.0's cooperative-sticky assignor a plain close aborted before the first
    assignment or hung for ever during one: see sh_consumer_close_rk.)"""
    outcomes = []
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0):
        if kind == "llm-worker":
            svc = stack.start_worker()
            stack.workers.remove(svc)        # not part of the stack after this test
        else:
            svc = stack.start_persister(pg.url)
            stack.persisters.remove(svc)
        try:
            svc.wait_log(rf"{kind} started", 15)
            time.sleep(delay)
            t0 = time.monotonic()
            svc.signal(signal.SIGTERM)
            rc = svc.wait(20)
            outcomes.append((delay, rc, round(time.monotonic() - t0, 1)))
        finally:
            svc.kill()
    print(f"\n[scaling] {kind} SIGTERMed (s after start) -> exit code, seconds: {outcomes}")
    bad = [o for o in outcomes if o[1] != 0 or o[2] > 12]
    assert not bad, f"(delay, exit code, seconds) not a clean exit: {bad}; all: {outcomes}\n" \
                    f"{svc.tail(30)}"
    stack.warm_up()                          # the group still serves
