"""Faults under steady load (issue 7): every service SIGKILLed and restarted in turn, the Kafka
broker restarted, PostgreSQL stopped for 30 s, and mock-llm's 429s, 500s and cut streams, each
while several clients chat in a loop (some asking for the weather tool).

For every scenario: each turn ends with `done` (an answer, or a clear error frame: never
silence), a client whose gateway died resumes with session_id + last_seq, and once the sessions
have ended PostgreSQL holds EXACTLY the events the clients saw (per session and type; no
event_key twice), a session_end and a summary per session. Each scenario prints one figure
line: turns sent, completed, failed clearly, rows expected, rows found.

The module runs its own Kafka broker (the broker restart must not disturb other modules; a
restart keeps its port and data dir) and the test PostgreSQL, with a full stack on them:
mock-llm, two gateways, two llm-workers, persister and summarizer. The stale-route case (a
crashed gateway that never comes back) is here too: its sessions end without any client.
"""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake

import mockllm
from conftest import PARTITIONS, _kafka_sh, _pick_kafka_port
from pg_fixtures import *  # noqa: F401,F403
from pg_fixtures import Durable, wait_until
from stack import Stack
from wsclient import ProtocolViolation, RecvTimeout, WsClient

GRACE_MS = 4000          # a resumed client is back well within this
DEAD_MS = 3000           # a gateway silent this long has crashed
TURN_TIMEOUT = 60        # a worker crash costs its session timeout (6 s) plus the re-run
WORKER_ENV = {"SESSION_END_GRACE_MS": str(GRACE_MS), "GATEWAY_DEAD_MS": str(DEAD_MS)}
MOCK_ENV = {"MOCK_LLM_TOKENS_PER_SEC": "300", "MOCK_LLM_TTFT_MS": "20"}

LLM_ERRORS = {"llm_rate_limited", "llm_quota", "llm_unavailable", "llm_error"}


# -- the broker, the stack and the durable services --------------------------------------------
class Broker:
    """A private single-node broker (scripts/kafka.sh) that can be restarted in place."""

    def __init__(self, state: Path):
        self.state = state
        self.port = _pick_kafka_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("KAFKA_") and k != "STATE_DIR"}
        self.env.update(STATE_DIR=str(state), KAFKA_PORT=str(self.port),
                        KAFKA_PARTITIONS=str(PARTITIONS),
                        KAFKA_HEAP=os.environ.get("ITEST_KAFKA_HEAP", "-Xmx512m -Xms128m"),
                        KAFKA_EXTRA_CONFIG="group.min.session.timeout.ms=2000")
        self.brokers = f"127.0.0.1:{self.port}"
        self.partitions = PARTITIONS

    def _sh(self, cmd: str, timeout: float = 240) -> None:
        r = _kafka_sh([cmd], self.env, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"kafka.sh {cmd} failed ({r.returncode}):\n{r.stdout}{r.stderr}")

    def start(self) -> None:
        self._sh("start")

    def stop(self) -> None:
        self._sh("stop", timeout=90)


@dataclass
class Env:
    broker: Broker
    stack: Stack
    durable: Durable
    pg: object

    @property
    def persister(self):
        return self.durable.persisters[0]

    @property
    def summarizer(self):
        return self.durable.summarizers[0]

    def services(self):
        return [*self.stack.all_services(), self.persister, self.summarizer]

    def tails(self, n: int = 30) -> str:
        return self.stack.tails(n) + "\n" + self.durable.tails(n)


@pytest.fixture(scope="module")
def env(pg, tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("faults-kafka"))
    try:
        broker.start()
    except RuntimeError as ex:
        pytest.skip(f"no private broker: {ex}")
    log_dir = tmp_path_factory.mktemp("logs-faults")
    s = Stack(broker.brokers, broker.partitions, "faults", log_dir, worker_env=WORKER_ENV,
              mock_env=MOCK_ENV)
    d = Durable(broker, pg, None, log_dir, "faults", events_topic=s.topics["EVENTS"],
                dlq_topic=s.topics["DLQ"])
    try:
        s.start()
        s.start_worker()
        d.mock = s.mock                    # borrowed: the stack stops it
        # Short session timeouts: a SIGKILLed persister/summarizer leaves its group quickly.
        fast = {"KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}
        d.start_persister(fast)
        d.start_summarizer(fast)
        yield Env(broker, s, d, pg)
    finally:
        rcs = {**d.stop(), **s.stop()}
        broker.stop()
        shutil.rmtree(broker.state / "kafka" / "data", ignore_errors=True)
    bad = {k: v for k, v in rcs.items() if v != 0}
    assert not bad, f"bad exit on SIGTERM after the fault suite: {bad}"


# -- the load harness --------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients saw, and so what the database must hold."""
    sent: int = 0
    completed: int = 0
    failed: int = 0                                      # ended with an error frame + done
    error_codes: Counter = field(default_factory=Counter)
    expected: dict = field(default_factory=dict)         # session id -> Counter(event type)
    resumes: int = 0
    resets: int = 0
    problems: list = field(default_factory=list)         # lost turns, protocol violations

    def session(self, sid: str) -> None:
        self.expected[sid] = Counter(session_start=1, session_end=1)

    def rows_expected(self) -> int:
        return sum(sum(c.values()) for c in self.expected.values())


def outcome(tally: Tally, sid: str, frames: list) -> None:
    """Count one finished turn from its frames (those after the last turn_reset count)."""
    resets = [i for i, f in enumerate(frames) if f["type"] == "turn_reset"]
    shown = frames[resets[-1] + 1:] if resets else frames
    tally.resets += len(resets)
    kinds = Counter(f["type"] for f in shown)
    done = shown[-1]
    exp = tally.expected[sid]
    exp["user_message"] += 1
    exp["ai_response"] += 1
    exp["tool_call"] += kinds["tool_call"]
    exp["tool_result"] += kinds["tool_result"]
    exp["error"] += kinds["error"]
    if done["finish_reason"] == "error":
        errs = [f for f in shown if f["type"] == "error"]
        if len(errs) != 1 or not errs[0].get("message"):
            tally.problems.append(f"turn {done['turn_id']} ended with error but no clear error "
                                  f"frame: {shown}")
        tally.failed += 1
        tally.error_codes[errs[0]["code"] if errs else "?"] += 1
    elif done["finish_reason"] in ("stop", "length"):
        tally.completed += 1
    else:
        tally.problems.append(f"unexpected finish_reason: {done}")


class Chat:
    """One session of one client: turns that survive a dying gateway by resuming."""

    def __init__(self, env: Env, tally: Tally, user: str, gw=None):
        self.env = env
        self.tally = tally
        self.user = user
        self.gw = gw or env.stack.gateway
        self.c: WsClient | None = None
        self.sid: str | None = None

    async def connect(self, resume: bool, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                url = self.env.stack.ws_url(f"/ws/session/{self.user}", self.gw)
                if resume:
                    c = await WsClient.open(url, session_id=self.sid,
                                            last_seq=self.c.last_seq, timeout=5)
                else:
                    c = await WsClient.open(url, timeout=5)
                break
            except (OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError,
                    RecvTimeout, ProtocolViolation) as ex:
                # Refused while the gateway restarts; `unavailable` while Kafka is away.
                last = ex
                if time.monotonic() > deadline:
                    raise AssertionError(f"cannot (re)connect within {timeout}s: {last!r}")
                await asyncio.sleep(0.3)
        if resume:
            assert c.session["resumed"] is True and c.session_id == self.sid, c.session
            c.finished_turns = self.c.finished_turns
            self.tally.resumes += 1
        else:
            self.sid = c.session_id
            self.tally.session(self.sid)
        self.c = c

    async def turn(self, content: str) -> None:
        """Send one message and follow its turn to `done`, resuming as often as needed. A
        message sent without an ack before the connection died is sent again with the same
        id after the resume (answered once: `duplicate` names the resend's turn)."""
        msg_id = str(uuid.uuid4())
        expect: str | None = None          # the turn that answers this message
        by_resend = False                  # 'expect' came from the ack of a resend
        dups: set[str] = set()
        frames: list = []
        deadline = time.monotonic() + TURN_TIMEOUT
        self.tally.sent += 1
        resend = True
        while True:
            try:
                if resend:
                    resend = False
                    await self.c.send_message(content, msg_id)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RecvTimeout("turn deadline")
                f = await self.c.recv(left)
            except ConnectionClosed:
                await self.connect(resume=True)
                resend = expect is None
                by_resend = resend
                continue
            except RecvTimeout:
                self.tally.problems.append(f"session {self.sid}: no done within {TURN_TIMEOUT}s "
                                           f"(message {content!r}); frames: {frames[-5:]}")
                raise
            t = f["type"]
            if t == "ack" and f.get("id") == msg_id:
                if expect is None:
                    expect = f["turn_id"]
                continue
            if t == "duplicate" and f.get("id") == msg_id:
                dups.add(f["turn_id"])
                if expect == f["turn_id"]:
                    expect = None          # the original turn's frames will come
                continue
            if t == "error" and "seq" not in f:
                if f.get("code") == "unavailable" and f.get("id") == msg_id:
                    await asyncio.sleep(0.5)   # not taken (or not known to be): send again
                    resend = by_resend = True
                    continue
                self.tally.problems.append(f"unexpected connection error: {f}")
                if f.get("id") == msg_id:      # refused: nothing more comes for it
                    raise ProtocolViolation(f"message refused: {f}")
                continue
            if "seq" not in f:
                continue
            if expect is None or (by_resend and not frames and f["turn_id"] != expect):
                expect = f["turn_id"]
            if f["turn_id"] != expect:
                if f["turn_id"] in dups:
                    continue
                raise ProtocolViolation(f"frame of turn {f['turn_id']} while waiting for "
                                        f"{expect}: {f}")
            frames.append(f)
            if t == "done":
                outcome(self.tally, self.sid, frames)
                return

    async def close(self) -> None:
        if self.c:
            await self.c.close()


PROMPTS = ("tell me something {m}", "write a long text about fault tolerance {m}",
           "What's the weather like in Paris today? {m}")


async def client_loop(env: Env, tally: Tally, prompts, stop: asyncio.Event, idx: int,
                      turns_per_session: int = 3) -> None:
    """Sessions of a few turns each, one after another, until 'stop' (the running turn ends
    first). Every session is closed cleanly: it ends after the grace period."""
    rnd = random.Random(idx)
    while not stop.is_set():
        # A user per session, as many people chatting (one user at this pace would hit the
        # gateway's per-user rate limit).
        chat = Chat(env, tally, f"faults_{idx}_{uuid.uuid4().hex[:8]}")
        await chat.connect(resume=False)
        for _ in range(turns_per_session):
            if stop.is_set():
                break
            await chat.turn(rnd.choice(prompts).format(m=mockllm.marker()))
        await chat.close()


# -- checking the database -----------------------------------------------------------------------
def db_counts(pg, sids: list[str]) -> dict:
    rows = pg.query("SELECT session_id::text, event_type, count(*) FROM event_log "
                    "WHERE session_id = ANY(%s::uuid[]) GROUP BY 1, 2", (sids,))
    out: dict = {sid: Counter() for sid in sids}
    for sid, etype, n in rows:
        out[sid][etype] = n
    return out


def settle(env: Env, tally: Tally, timeout: float) -> tuple[dict, dict]:
    """Wait until every session has its session_end row and a summary; returns (found counts,
    summary status by session)."""
    sids = list(tally.expected)

    def summaries():
        rows = env.pg.query("SELECT session_id::text, summary_status FROM session_metadata "
                            "WHERE session_id = ANY(%s::uuid[]) AND summary_status IS NOT NULL",
                            (sids,))
        return dict(rows) if len(rows) == len(sids) else None
    status = wait_until(summaries, timeout, "a summary of every session", interval=0.5,
                        details=lambda: f"{len(sids)} sessions\n{env.tails(25)}")
    # The summarizer acts on the stored session_end; give late duplicates a moment to show.
    time.sleep(1.0)
    return db_counts(env.pg, sids), status


def verify(env: Env, name: str, tally: Tally, t0: float) -> None:
    found, status = settle(env, tally, GRACE_MS / 1000 + 60)
    sids = list(tally.expected)
    keys = env.pg.query("SELECT count(*), count(DISTINCT event_key) FROM event_log "
                        "WHERE session_id = ANY(%s::uuid[])", (sids,))[0]
    rows_found = sum(sum(c.values()) for c in found.values())
    print(f"\n[faults] {name}: turns sent={tally.sent} completed={tally.completed} "
          f"failed_clearly={tally.failed} {dict(tally.error_codes)} resumes={tally.resumes} "
          f"turn_resets={tally.resets} sessions={len(sids)} "
          f"summaries_ok={sum(1 for v in status.values() if v == 'ok')}/{len(sids)} "
          f"rows expected={tally.rows_expected()} found={rows_found} "
          f"wall={time.monotonic() - t0:.1f}s", flush=True)
    assert not tally.problems, "\n".join(tally.problems)
    assert tally.sent == tally.completed + tally.failed
    assert keys[0] == keys[1], f"duplicate event_key rows: {keys}"
    diff = {sid: (dict(tally.expected[sid]), dict(found[sid])) for sid in sids
            if +tally.expected[sid] != +found[sid]}
    assert not diff, f"{len(diff)} sessions differ (expected, found): {diff}\n{env.tails(20)}"


# -- scenarios -----------------------------------------------------------------------------------
def kill_restart(pick: Callable[[Env], object], down_s: float = 1.0):
    def inject(env: Env) -> None:
        svc = pick(env)
        svc.kill()
        time.sleep(down_s)
        if svc is env.stack.mock:
            env.stack.restart_mock()           # same port: the workers keep their URL
        elif svc in env.stack.gateways:
            env.stack.restart(svc, signal.SIGKILL)
        else:
            svc.start()
    return inject


def restart_broker(env: Env) -> None:
    env.broker.stop()
    time.sleep(1.0)
    env.broker.start()


def stop_postgres(env: Env) -> None:
    if not env.pg.controllable:
        pytest.skip("ITEST_DATABASE_URL: not ours to stop")
    env.pg.stop()
    time.sleep(30)
    env.pg.start()


FAULT_PROMPTS = ("rate limited for good [[fault:429]] {m}", "broken server [[fault:500]] {m}",
                 "cut me off [[fault:cut]] {m}", "once is enough [[fault:429once]] {m}",
                 "retry me [[fault:500once]] {m}", "tell me something {m}",
                 "What's the weather like in Rome? {m}")


@dataclass
class Scenario:
    name: str
    inject: Callable[[Env], None] | None
    prompts: tuple = PROMPTS
    clients: int = 4
    before_s: float = 3.0          # steady load before the fault
    after_s: float = 4.0           # and after it is repaired
    idle: int = 0                  # sessions that hold a socket and never reconnect
    must_fail: int = 0             # turns that must end with an LLM error frame, at least
    timeout: int = 150

    @property
    def id(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.name)


SCENARIOS = [
    Scenario("gateway SIGKILL", kill_restart(lambda e: e.stack.gateway), idle=2),
    Scenario("llm-worker SIGKILL", kill_restart(lambda e: e.stack.workers[0])),
    Scenario("persister SIGKILL", kill_restart(lambda e: e.persister)),
    Scenario("summarizer SIGKILL", kill_restart(lambda e: e.summarizer, down_s=3.0)),
    Scenario("mock-llm SIGKILL", kill_restart(lambda e: e.stack.mock)),
    Scenario("kafka broker restart", restart_broker, timeout=200),
    Scenario("postgresql down 30 s", stop_postgres, timeout=200),
    Scenario("llm 429/500/cut", None, prompts=FAULT_PROMPTS, before_s=12.0, must_fail=3),
]


def run_scenario(env: Env, sc: Scenario) -> None:
    tally = Tally()
    t0 = time.monotonic()

    async def body():
        stop = asyncio.Event()
        idle = []
        for i in range(sc.idle):
            chat = Chat(env, tally, f"faults_idle_{i}_{uuid.uuid4().hex[:6]}")
            await chat.connect(resume=False)
            await chat.turn(f"one question, then I stay quiet {mockllm.marker()}")
            idle.append(chat)
        tasks = [asyncio.create_task(client_loop(env, tally, sc.prompts, stop, i))
                 for i in range(sc.clients)]
        try:
            await asyncio.sleep(sc.before_s)
            if sc.inject:
                await asyncio.to_thread(sc.inject, env)
            await asyncio.sleep(sc.after_s)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for chat in idle:                  # closed by the crash, or closed here
            await chat.close()
        errs = [r for r in results if isinstance(r, BaseException)]
        if errs:
            raise errs[0]

    asyncio.run(asyncio.wait_for(body(), sc.timeout - 30))
    dead = [s.name for s in env.services() if not s.alive()]
    assert not dead, f"services died: {dead}\n{env.tails()}"
    verify(env, sc.name, tally, t0)
    assert tally.failed >= sc.must_fail, f"{sc.name}: too few clear failures: {tally.error_codes}"
    assert set(tally.error_codes) <= LLM_ERRORS, tally.error_codes
    assert tally.completed > 0


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_fault_under_load(env, sc, request):
    request.node.add_marker(pytest.mark.timeout(sc.timeout))
    run_scenario(env, sc)


def test_crashed_gateway_sessions_end_without_clients(env):
    """A gateway SIGKILLed for good never sends session_close: its heartbeat stops, the workers
    drop its routes after GATEWAY_DEAD_MS and its sessions end and get summarized. A session
    held on a live gateway meanwhile does not end."""
    s = env.stack
    tally = Tally()
    t0 = time.monotonic()
    gw2 = s.start_gateway()

    async def body():
        doomed = [Chat(env, tally, f"faults_doomed_{i}", gw=gw2) for i in range(2)]
        alive = Chat(env, tally, "faults_alive")
        for chat in [*doomed, alive]:
            await chat.connect(resume=False)
            await chat.turn(f"remember me {mockllm.marker()}")
        killed = time.monotonic()
        await asyncio.to_thread(gw2.kill)
        for chat in doomed:
            await chat.c.abort()
        # The doomed sessions end (dead + grace); the live one must not meanwhile.
        deadline = time.monotonic() + DEAD_MS / 1000 + GRACE_MS / 1000 + 30
        sids = [c.sid for c in doomed]
        while True:
            n = env.pg.scalar("SELECT count(*) FROM event_log WHERE event_type = 'session_end' "
                              "AND session_id = ANY(%s::uuid[])", (sids,))
            if n == len(sids):
                break
            assert time.monotonic() < deadline, f"crashed gateway's sessions did not end:\n" \
                                                f"{env.tails(20)}"
            await asyncio.sleep(0.5)
        took = time.monotonic() - killed
        assert env.pg.scalar("SELECT count(*) FROM event_log WHERE event_type = 'session_end' "
                             "AND session_id = %s", (alive.sid,)) == 0, "a live session ended"
        await alive.turn("still here?")
        await alive.close()
        return took
    try:
        took = asyncio.run(asyncio.wait_for(body(), 120))
    finally:
        s.gateways.remove(gw2)
    assert any("route to a dead gateway dropped" in w.log_text(whole=True)
               for w in s.workers), "no worker dropped the dead gateway's routes"
    print(f"\n[faults] crashed gateway: sessions ended {took:.1f}s after the kill "
          f"(GATEWAY_DEAD_MS={DEAD_MS}, grace {GRACE_MS} ms)")
    verify(env, "crashed gateway, no reconnect", tally, t0)
