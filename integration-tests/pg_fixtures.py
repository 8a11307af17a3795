"""PostgreSQL and the durable services (persister, summarizer) for the integration tests.

Import into a test module with `from pg_fixtures import *`; the Kafka broker comes from conftest.

Environment:
  ITEST_DATABASE_URL   use this (migrated) database instead of starting one; tests that stop
                       PostgreSQL are skipped then
  ITEST_PG_BIN         PostgreSQL server binaries (scripts/pg.sh's PG_BIN)

Fixtures:
  pg          session: a throw-away PostgreSQL (scripts/pg.sh with its own STATE_DIR and a free
              PG_PORT), migrated with schema/migrate.sh; .url, .query(), .stop(), .start()
  kafka_tool  session: integration-tests/tools/produce.c built with cc + pkg-config rdkafka
  durable     function: a Durable: own chat.events / chat.dlq topics and consumer groups on the
              shared broker and database, starts persister / summarizer / mock-llm, produces
              envelopes, reads the DLQ, waits on the database
Helpers: Conv (builds a session's envelopes), wait_until().
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest

import kafka_proto
from stack import BIN_DIR, REPO, Service, free_port, service_base_env

__all__ = ["pg", "kafka_tool", "durable", "Conv", "Durable", "PG", "wait_until", "line_of"]

TOOL_SRC = Path(__file__).resolve().parent / "tools" / "produce.c"


# -- waiting ---------------------------------------------------------------------------------
def wait_until(pred, timeout: float, what: str, interval: float = 0.2, details=None):
    """Poll 'pred' until it returns something truthy; fail with 'what' (and details()) after
    'timeout' seconds. Returns the truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
        except (psycopg.OperationalError, psycopg.InterfaceError) as ex:
            last = ex
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {last!r}){extra}")
        time.sleep(interval)


# -- PostgreSQL ------------------------------------------------------------------------------
class PG:
    """A throw-away cluster run by scripts/pg.sh (or an external database)."""

    def __init__(self, url: str, env: dict | None):
        self.url = url
        self.env = env            # None: external database, not ours to stop

    def _pg_sh(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        r = subprocess.run([str(REPO / "scripts" / "pg.sh"), *args], env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"pg.sh {' '.join(args)} failed ({r.returncode}):\n"
                               f"{r.stdout}{r.stderr}")
        return r

    @property
    def controllable(self) -> bool:
        return self.env is not None

    def stop(self) -> None:
        self._pg_sh("stop")

    def start(self) -> None:
        self._pg_sh("start")

    def migrate(self, url: str | None = None) -> str:
        r = subprocess.run(["bash", str(REPO / "schema" / "migrate.sh")],
                           env={**os.environ, "DATABASE_URL": url or self.url},
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"schema/migrate.sh failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r.stdout

    def connect(self, url: str | None = None) -> psycopg.Connection:
        return psycopg.connect(url or self.url, autocommit=True, connect_timeout=5)

    def query(self, sql: str, params=None, url: str | None = None) -> list[tuple]:
        with self.connect(url) as c:
            cur = c.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


@pytest.fixture(scope="session")
def pg():
    external = os.environ.get("ITEST_DATABASE_URL")
    if external:
        p = PG(external, None)
        p.migrate()
        yield p
        return
    # Not under pytest's tmp folder: that one is closed to the postgres system user.
    state = Path(tempfile.mkdtemp(prefix="itest-pg-", dir="/tmp"))
    state.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(STATE_DIR=str(state), PG_PORT=str(free_port()))
    if os.environ.get("ITEST_PG_BIN"):
        env["PG_BIN"] = os.environ["ITEST_PG_BIN"]
    p = PG("", env)
    try:
        r = p._pg_sh("start")
    except RuntimeError as ex:
        shutil.rmtree(state, ignore_errors=True)
        pytest.exit(f"cannot start PostgreSQL: {ex}", returncode=3)
    p.url = next(l.split("=", 1)[1] for l in r.stdout.splitlines()
                 if l.startswith("DATABASE_URL="))
    try:
        p.migrate()
        yield p
    finally:
        try:
            p._pg_sh("destroy")
        finally:
            shutil.rmtree(state, ignore_errors=True)


# -- the Kafka tool --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kafka_tool(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tools") / "produce"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True,
                           text=True, check=True).stdout.split()
    r = subprocess.run(["cc", "-O1", "-Wall", "-o", str(out), str(TOOL_SRC), *flags],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"building {TOOL_SRC} failed:\n{r.stderr}")
    return out


# -- envelopes -------------------------------------------------------------------------------
def line_of(env: dict) -> str:
    """The tool's input line for an envelope: key = session_id."""
    return f"{env.get('session_id', '')}\t{json.dumps(env, separators=(',', ':'))}"


class Conv:
    """The chat.events envelopes of one session, as the llm-worker would emit them.

    Timestamps advance 7 ms per event from 't0' (ms), so order by timestamp is well defined."""

    def __init__(self, user: str | None = None, t0: int | None = None):
        self.sid = str(uuid.uuid4())
        self.user = user or f"user-{uuid.uuid4().hex[:8]}"
        self.t0 = t0 if t0 is not None else int(time.time() * 1000)
        self.clock = self.t0
        self.events: list[dict] = []

    def env(self, etype: str, payload: dict, turn: str | None = None, ts: int | None = None,
            eid: str | None = None) -> dict:
        if ts is None:
            self.clock += 7
            ts = self.clock
        e = {"v": 1, "id": eid or str(uuid.uuid4()), "type": etype, "ts": ts,
             "session_id": self.sid, "user_id": self.user, "payload": payload}
        if turn:
            e["turn_id"] = turn
        self.events.append(e)
        return e

    def start(self) -> list[dict]:
        return [self.env("session_start", {"start_ts": self.t0}, ts=self.t0)]

    def turn(self, text: str, answer: str | None = None, tool: bool = False,
             interrupted: bool = False) -> list[dict]:
        t = str(uuid.uuid4())
        out = [self.env("user_message", {"content": text, "client_id": ""}, t)]
        if tool:
            out.append(self.env("tool_call", {"call_id": "call_1", "name": "get_weather",
                                              "arguments": {"location": "Paris"}}, t))
            out.append(self.env("tool_result", {"call_id": "call_1", "name": "get_weather",
                                                "content": {"location": "Paris",
                                                            "temperature_c": 21,
                                                            "condition": "sunny"}}, t))
        out.append(self.env("ai_response", {
            "content": answer if answer is not None else f"Answer to: {text}",
            "finish_reason": "stopped" if interrupted else "stop",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "interrupted": interrupted}, t))
        return out

    def end(self, start_ts: int | None = None, end_ts: int | None = None,
            emitted: int | None = None) -> list[dict]:
        end_ts = end_ts if end_ts is not None else self.clock + 1000
        return [self.env("session_end", {"start_ts": self.t0 if start_ts is None else start_ts,
                                         "end_ts": end_ts},
                         ts=emitted if emitted is not None else end_ts + 1500)]


# -- the durable services on their own topics ------------------------------------------------
class Durable:
    """persister / summarizer / mock-llm on private topics and groups, sharing broker and DB."""

    def __init__(self, kafka, pg_: PG, tool: Path, log_dir: Path, name: str,
                 events_topic: str | None = None, dlq_topic: str | None = None):
        self.kafka = kafka
        self.pg = pg_
        self.tool = tool
        self.log_dir = log_dir
        self.ns = f"it-{name}-{uuid.uuid4().hex[:6]}"
        self.events_topic = events_topic or f"{self.ns}.chat.events"
        self.dlq_topic = dlq_topic or f"{self.ns}.chat.dlq"
        self.services: list[Service] = []
        self.mock: Service | None = None
        self.persisters: list[Service] = []
        self.summarizers: list[Service] = []

    def create_topics(self) -> None:
        kafka_proto.create_topics(self.kafka.brokers, [
            (self.events_topic, self.kafka.partitions, {}),
            (self.dlq_topic, self.kafka.partitions, {})])

    # -- services ----------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        e = service_base_env()
        e.update(KAFKA_BROKERS=self.kafka.brokers, KAFKA_TOPIC_EVENTS=self.events_topic,
                 KAFKA_TOPIC_DLQ=self.dlq_topic, DATABASE_URL=self.pg.url)
        return e

    def _start(self, name: str, binary: str, env: dict) -> Service:
        exe = BIN_DIR / binary
        if not exe.exists():
            pytest.skip(f"{exe} not built (run make)")
        svc = Service(name, [str(exe)], env, self.log_dir / f"{name}.log")
        svc.start()
        self.services.append(svc)
        return svc

    def start_persister(self, env: dict | None = None, group: str | None = None) -> Service:
        e = self.base_env()
        e.update(PERSISTER_GROUP=group or f"{self.ns}-persister", PERSISTER_BACKOFF_MAX_MS="2000")
        e.update(env or {})
        svc = self._start(f"persister-{len(self.persisters) + 1}", "persister", e)
        self.persisters.append(svc)
        return svc

    def start_mock(self, env: dict | None = None) -> Service:
        e = service_base_env()
        e.update(MOCK_LLM_PORT="0", MOCK_LLM_HOST="127.0.0.1")
        e.update(env or {})
        svc = self._start("mock-llm", "mock-llm", e)
        m = svc.wait_log(r"listening\b.*\bport=(\d+)", 15)
        svc.port = int(m.group(1))
        self.mock = svc
        return svc

    def llm_env(self) -> dict[str, str]:
        if not self.mock:
            self.start_mock()
        return {"OPENAI_BASE_URL": f"http://127.0.0.1:{self.mock.port}/v1",
                "OPENAI_API_KEY": "mock", "OPENAI_MODEL": "mock-llm"}

    def start_summarizer(self, env: dict | None = None, group: str | None = None,
                         llm: bool = True) -> Service:
        e = self.base_env()
        if llm:
            e.update(self.llm_env())
        e.update(SUMMARIZER_GROUP=group or f"{self.ns}-summarizer",
                 SUMMARIZER_BACKOFF_MS="200", SUMMARIZER_BACKOFF_MAX_MS="2000")
        e.update(env or {})
        svc = self._start(f"summarizer-{len(self.summarizers) + 1}", "summarizer", e)
        self.summarizers.append(svc)
        return svc

    def stop(self) -> dict[str, int | None]:
        return {s.name: s.terminate() for s in reversed(self.services) if s.proc}

    def tails(self, n: int = 40) -> str:
        return "\n".join(f"----- {s.name} ({'running' if s.alive() else f'rc={s.returncode}'}, "
                         f"{s.log_path}) -----\n{s.tail(n)}" for s in self.services)

    # -- Kafka -------------------------------------------------------------------------------
    def produce(self, envs: list, topic: str | None = None) -> None:
        """Produce envelopes (dicts) or raw "key<TAB>value" lines; waits for every ack."""
        lines = [x if isinstance(x, str) else line_of(x) for x in envs]
        r = subprocess.run([str(self.tool), "produce", self.kafka.brokers,
                            topic or self.events_topic], input="\n".join(lines) + "\n",
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and f"delivered={len(lines)} " in r.stdout, \
            f"produce failed: {r.stdout}{r.stderr}"

    def stream(self, topic: str | None = None) -> subprocess.Popen:
        """A producer fed line by line: write line_of(env) + "\\n" to .stdin, then
        finish_stream()."""
        return subprocess.Popen([str(self.tool), "produce", self.kafka.brokers,
                                 topic or self.events_topic], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def finish_stream(p: subprocess.Popen, expected: int) -> None:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and f"delivered={expected} " in out, \
            f"producer: rc={p.returncode} {out}{err}"

    def read_topic(self, topic: str, idle_ms: int = 3000) -> list[tuple[int, int, str, str]]:
        r = subprocess.run([str(self.tool), "consume", self.kafka.brokers, topic, str(idle_ms)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"consume failed: {r.stderr}"
        out = []
        for ln in r.stdout.splitlines():
            p, o, k, v = ln.split("\t", 3)
            out.append((int(p), int(o), k, v))
        return out

    def dlq(self, idle_ms: int = 3000) -> list[dict]:
        return [json.loads(v) for _, _, _, v in self.read_topic(self.dlq_topic, idle_ms)]

    # -- database ----------------------------------------------------------------------------
    def event_rows(self, sid: str) -> list[tuple]:
        """(event_type, content, timestamp ms, event_key, turn_id, meta) in reading order."""
        return self.pg.query(
            "SELECT event_type, content, (extract(epoch FROM timestamp) * 1000)::bigint, "
            "event_key::text, turn_id::text, meta FROM event_log WHERE session_id = %s "
            "ORDER BY timestamp, event_id", (sid,))

    def session(self, sid: str) -> dict | None:
        with self.pg.connect() as c:
            cur = c.execute("SELECT *, (extract(epoch FROM start_time) * 1000)::bigint AS start_ms,"
                            " (extract(epoch FROM end_time) * 1000)::bigint AS end_ms "
                            "FROM session_metadata WHERE session_id = %s", (sid,))
            row = cur.fetchone()
            return dict(zip([d.name for d in cur.description], row)) if row else None

    def count_for_user(self, user: str) -> int:
        return self.pg.scalar("SELECT count(*) FROM event_log e JOIN session_metadata m "
                              "USING (session_id) WHERE m.user_id = %s", (user,))

    def wait(self, pred, timeout: float, what: str, interval: float = 0.2):
        return wait_until(pred, timeout, what, interval, details=self.tails)


@pytest.fixture
def durable(request, kafka, pg, kafka_tool, tmp_path_factory):
    name = request.node.name.removeprefix("test_")[:24].replace("_", "-")
    d = Durable(kafka, pg, kafka_tool, tmp_path_factory.mktemp(f"logs-{name}", numbered=True),
                name)
    d.create_topics()
    yield d
    rcs = d.stop()
    # None: it ignored SIGTERM and needed SIGKILL.
    bad = {k: v for k, v in rcs.items() if v != 0 and not k.startswith("mock")}
    if bad and not getattr(d, "allow_bad_exit", False):
        pytest.fail(f"services exited badly on SIGTERM: {bad}\n{d.tails()}", pytrace=False)
