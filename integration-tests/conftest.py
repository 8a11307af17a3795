"""Fixtures for the integration tests: one real Kafka per run, real service stacks on it.

Environment:
  KAFKA_BROKERS           use this running broker instead of starting one (topics are created)
  ITEST_KAFKA_PARTITIONS  partitions per topic of the private broker/stacks (default 3)
  ITEST_BIN_DIR           where gateway, llm-worker and mock-llm are (default build/bin)
  ITEST_SHARED_TOPICS=1   use the default topic names instead of per-stack ones
  ITEST_TIMEOUT           default per-test timeout in seconds (default 150)

Fixtures:
  kafka         session: {brokers, partitions}
  stack         a running Stack (mock-llm + llm-worker + gateway). Modules share one stack unless
                they set PRIVATE_STACK = True (or STACK_ENV = {"worker": {...}, "gateway": {...},
                "mock": {...}}), which gives them their own stack, topics and consumer group.
  new_stack     factory for extra stacks inside a test: new_stack(name, **Stack kwargs)

Every test gets a time limit (pytest-timeout when installed, else SIGALRM); a service that dies
during a test fails it, and the tails of the stack's service logs are attached to any failure.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kafka_proto  # noqa: E402
from stack import REPO, BIN_DIR, Stack, port_is_free  # noqa: E402

DEFAULT_TIMEOUT = int(os.environ.get("ITEST_TIMEOUT", "150"))
PARTITIONS = int(os.environ.get("ITEST_KAFKA_PARTITIONS", "3"))
ISOLATE_TOPICS = os.environ.get("ITEST_SHARED_TOPICS", "") not in ("1", "true", "yes")

HAVE_TIMEOUT_PLUGIN = False


# -- per-test timeouts -----------------------------------------------------------------------
def pytest_configure(config):
    global HAVE_TIMEOUT_PLUGIN
    HAVE_TIMEOUT_PLUGIN = config.pluginmanager.hasplugin("timeout")
    if not HAVE_TIMEOUT_PLUGIN:
        config.addinivalue_line("markers", "timeout(seconds): per-test time limit")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


@pytest.fixture(autouse=True)
def _alarm_timeout(request):
    """Fallback when pytest-timeout is not installed: SIGALRM fails the test."""
    if HAVE_TIMEOUT_PLUGIN:
        yield
        return
    mark = request.node.get_closest_marker("timeout")
    secs = int(mark.args[0]) if mark and mark.args else DEFAULT_TIMEOUT

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {secs}s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(secs)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- figures ---------------------------------------------------------------------------------
# Tests print one line per measured scenario ("[faults] ...", "hostile: ...", ...). pytest -q
# captures the output of passing tests, so those lines are collected here and shown together at
# the end of the run, where CI's log keeps them.
FIGURE_PREFIXES = ("[", "hostile:", "sql-params:")
_FIGURES: list[str] = []


def pytest_runtest_logreport(report):
    if report.when != "call" or not report.capstdout:
        return
    for line in report.capstdout.splitlines():
        if line.startswith(FIGURE_PREFIXES):
            _FIGURES.append(line)


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


# -- service logs on failure -----------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    stacks = []
    for v in getattr(item, "funcargs", {}).values():
        if isinstance(v, Stack):
            stacks.append(v)
    stacks += getattr(item, "_itest_extra_stacks", [])
    for s in dict.fromkeys(stacks):
        rep.sections.append((f"service logs of stack {s.name} ({rep.when})", s.tails(40)))


# -- Kafka -----------------------------------------------------------------------------------
@dataclass
class KafkaInfo:
    brokers: str
    partitions: int
    state_dir: Path | None = None


def _kafka_sh(args: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts" / "kafka.sh"), *args], env=env, cwd=str(REPO),
                          capture_output=True, text=True, timeout=timeout)


def _pick_kafka_port() -> int:
    for _ in range(100):
        p = random.randint(20000, 59000)
        if port_is_free(p) and port_is_free(p + 1):
            return p
    raise RuntimeError("no free port pair for Kafka")


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    brokers = os.environ.get("KAFKA_BROKERS")
    if brokers:
        kafka_proto.wait_broker(brokers, timeout=30)
        yield KafkaInfo(brokers, PARTITIONS)
        return
    state = tmp_path_factory.mktemp("kafka-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_") and k != "STATE_DIR"}
    port = _pick_kafka_port()
    env.update(STATE_DIR=str(state), KAFKA_PORT=str(port), KAFKA_PARTITIONS=str(PARTITIONS),
               KAFKA_HEAP=os.environ.get("ITEST_KAFKA_HEAP", "-Xmx512m -Xms128m"),
               # A SIGKILLed worker must leave its group quickly (tests set 6 s sessions).
               KAFKA_EXTRA_CONFIG="group.min.session.timeout.ms=2000")
    r = _kafka_sh(["start"], env, timeout=240)
    if r.returncode != 0:
        pytest.exit(f"scripts/kafka.sh start failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}",
                    returncode=3)
    info = KafkaInfo(f"127.0.0.1:{port}", PARTITIONS, state)
    try:
        kafka_proto.wait_broker(info.brokers, timeout=60)
        # The project's default topics too (modules that run with ITEST_SHARED_TOPICS use them).
        kafka_proto.create_topics(info.brokers, [
            ("chat.requests", PARTITIONS, {}), ("chat.events", PARTITIONS, {}),
            ("chat.context", PARTITIONS, {"cleanup.policy": "compact"}),
            ("chat.dlq", PARTITIONS, {})])
        yield info
    finally:
        r = _kafka_sh(["stop"], env, timeout=60)
        if r.returncode != 0:
            print(f"kafka.sh stop failed: {r.stdout}{r.stderr}", file=sys.stderr)
        # Keep the broker logs for post-mortems, drop the data.
        shutil.rmtree(state / "kafka" / "data", ignore_errors=True)


# -- stacks ----------------------------------------------------------------------------------
def _require_binaries():
    missing = [b for b in ("gateway", "llm-worker", "mock-llm") if not (BIN_DIR / b).exists()]
    if missing:
        pytest.skip(f"not built: {', '.join(missing)} in {BIN_DIR} (run make)")


def _make_stack(kafka: KafkaInfo, tmp_path_factory, name: str, **kw) -> Stack:
    _require_binaries()
    log_dir = tmp_path_factory.mktemp(f"logs-{name}", numbered=True)
    return Stack(kafka.brokers, kafka.partitions, name, log_dir,
                 isolate_topics=kw.pop("isolate_topics", ISOLATE_TOPICS), **kw)


def _start_or_fail(s: Stack) -> Stack:
    try:
        s.start()
    except Exception:
        s.stop()
        raise
    return s


@pytest.fixture(scope="session")
def shared_stack(request, tmp_path_factory):
    _require_binaries()
    s = _make_stack(request.getfixturevalue("kafka"), tmp_path_factory, "shared")
    _start_or_fail(s)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    _require_binaries()              # before starting a broker for nothing
    mod = request.module
    env = getattr(mod, "STACK_ENV", None)
    if not getattr(mod, "PRIVATE_STACK", False) and not env:
        yield request.getfixturevalue("shared_stack")
        return
    env = env or {}
    name = mod.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    s = _make_stack(request.getfixturevalue("kafka"), tmp_path_factory, name,
                    worker_env=env.get("worker"),
                    gateway_env=env.get("gateway"), mock_env=env.get("mock"))
    _start_or_fail(s)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _stack_guard(request):
    """Before a test: restart services an earlier test left dead. After it: a service that
    died during the test (and was not restarted by it) fails the test."""
    if "stack" not in request.fixturenames:
        yield
        return
    s: Stack = request.getfixturevalue("stack")
    dead = s.ensure_running()
    if dead:
        print(f"itest: restarted services left dead by an earlier test: {dead}")
    yield
    died = s.check_alive()
    if died:
        tails = s.tails(60)
        s.ensure_running()
        pytest.fail(f"service(s) died during the test: {died}\n{tails}", pytrace=False)


@pytest.fixture
def new_stack(request, kafka, tmp_path_factory):
    """Factory for extra stacks within one test; they are stopped after it."""
    made: list[Stack] = []
    request.node._itest_extra_stacks = made

    def factory(name: str, start: bool = True, **kw) -> Stack:
        s = _make_stack(kafka, tmp_path_factory, name, **kw)
        made.append(s)
        if start:
            _start_or_fail(s)
        return s
    yield factory
    for s in made:
        s.stop()
