"""Real processes for the integration tests: one service process, and a stack of them.

A Stack is mock-llm + llm-worker(s) + gateway(s) (+ persisters, when a test starts them)
sharing one Kafka "namespace": its own topic names (KAFKA_TOPIC_* overrides) and its own worker
and persister consumer groups, so stacks never see each other's requests or steal each other's
partitions.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

import kafka_proto

REPO = Path(__file__).resolve().parent.parent
BIN_DIR = Path(os.environ.get("ITEST_BIN_DIR", REPO / "build" / "bin"))

# Kafka settings that only the test harness (kafka.sh) reads; never pass them to a service,
# whose libshared turns every KAFKA_* variable into a librdkafka property.
HARNESS_ONLY = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_PARTITIONS", "KAFKA_HEAP",
                "KAFKA_TOPICS", "KAFKA_EXTRA_CONFIG", "KAFKA_LIBS", "KAFKA_START_TIMEOUT",
                "KAFKA_STOP_TIMEOUT", "KAFKA_CDS_OPTS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def service_base_env() -> dict[str, str]:
    """The caller's environment minus every KAFKA_* variable (they become librdkafka settings),
    with ADMIN_PORT=0: each service's admin server on an ephemeral port (logged as
    `admin listening ... port=N`), so several workers never fight over 9101."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env["ADMIN_PORT"] = "0"
    return env


# Never go through an HTTP proxy from the environment to reach 127.0.0.1.
_HTTP = requests.Session()
_HTTP.trust_env = False


class ServiceError(RuntimeError):
    pass


class Service:
    """One service process; stdout and stderr go to one log file that survives restarts."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_offset = 0          # where the current run's output starts in the log
        self.port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Service":
        if self.alive():
            raise ServiceError(f"{self.name} already running")
        exe = Path(self.argv[0])
        if not exe.exists():
            raise ServiceError(f"{exe} not built (run make)")
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(f"\n===== itest: start #{self.starts} of {self.name} at {time.strftime('%H:%M:%S')}"
                    f" =====\n".encode())
            self.log_offset = f.tell()
            # A new session: the test's Ctrl-C must not reach the services before the fixtures
            # stop them in order.
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT,
                                         start_new_session=True, cwd=str(REPO))
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        """Wait for exit; returns the exit code or None when still running."""
        if not self.proc:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.alive():
            self.proc.kill()
        if self.proc:
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to 'timeout' s, then SIGKILL. Returns the exit code of the SIGTERM
        run (None when SIGKILL was needed)."""
        if not self.proc:
            return None
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            with open(self.log_path, "ab") as f:
                f.write(f"\n===== itest: {self.name} ignored SIGTERM for {timeout}s: SIGKILL =====\n"
                        .encode())
        return rc

    # -- logs --------------------------------------------------------------------------------
    def log_text(self, whole: bool = False) -> str:
        try:
            with open(self.log_path, "rb") as f:
                if not whole:
                    f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n: int = 40) -> str:
        lines = self.log_text(whole=True).splitlines()
        return "\n".join(lines[-n:])

    def wait_log(self, pattern: str, timeout: float) -> re.Match:
        """Wait until the current run's output matches 'pattern' (regex)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if not self.alive():
                raise ServiceError(f"{self.name} exited (rc={self.returncode}) before "
                                   f"printing /{pattern}/:\n{self.tail(30)}")
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name} did not print /{pattern}/ within {timeout}s:\n"
                                   f"{self.tail(30)}")
            time.sleep(0.05)


class Stack:
    """mock-llm, llm-worker(s) and gateway(s) on one Kafka namespace."""

    def __init__(self, brokers: str, partitions: int, name: str, log_dir: Path,
                 isolate_topics: bool = True, worker_env: dict | None = None,
                 gateway_env: dict | None = None, mock_env: dict | None = None):
        self.brokers = brokers
        self.partitions = partitions
        self.name = name
        self.ns = f"it-{name}-{uuid.uuid4().hex[:6]}"
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.isolate_topics = isolate_topics
        self.extra_worker_env = worker_env or {}
        self.extra_gateway_env = gateway_env or {}
        self.extra_mock_env = mock_env or {}
        self.mock: Service | None = None
        self.workers: list[Service] = []
        self.gateways: list[Service] = []
        self.persisters: list[Service] = []
        self.group = f"{self.ns}-llm-worker"

    # -- names and env -----------------------------------------------------------------------
    @property
    def topics(self) -> dict[str, str]:
        if not self.isolate_topics:
            return {"REQUESTS": "chat.requests", "EVENTS": "chat.events",
                    "CONTEXT": "chat.context", "DLQ": "chat.dlq", "GATEWAYS": "chat.gateways"}
        # GATEWAYS (heartbeats) is created by the services themselves.
        return {"REQUESTS": f"{self.ns}.chat.requests", "EVENTS": f"{self.ns}.chat.events",
                "CONTEXT": f"{self.ns}.chat.context", "DLQ": f"{self.ns}.chat.dlq",
                "GATEWAYS": f"{self.ns}.chat.gateways"}

    def create_topics(self) -> None:
        t = self.topics
        specs = [(t["REQUESTS"], self.partitions, {}),
                 (t["EVENTS"], self.partitions, {}),
                 (t["CONTEXT"], self.partitions, {"cleanup.policy": "compact"}),
                 (t["DLQ"], self.partitions, {})]
        kafka_proto.create_topics(self.brokers, specs)

    def kafka_env(self) -> dict[str, str]:
        env = service_base_env()
        env["KAFKA_BROKERS"] = self.brokers
        if self.isolate_topics:
            for k, v in self.topics.items():
                env[f"KAFKA_TOPIC_{k}"] = v
        return env

    def llm_env(self) -> dict[str, str]:
        assert self.mock and self.mock.port, "mock-llm not started"
        return {"OPENAI_BASE_URL": f"http://127.0.0.1:{self.mock.port}/v1",
                "OPENAI_API_KEY": "mock", "OPENAI_MODEL": "mock-llm"}

    # -- services ----------------------------------------------------------------------------
    def _service(self, name: str, binary: str, env: dict[str, str], args=()) -> Service:
        return Service(name, [str(BIN_DIR / binary), *args], env, self.log_dir / f"{name}.log")

    def start_mock(self, env: dict | None = None, timeout: float = 15) -> Service:
        e = service_base_env()
        e.update({"MOCK_LLM_PORT": "0", "MOCK_LLM_HOST": "127.0.0.1"})
        e.update(self.extra_mock_env)
        e.update(env or {})
        svc = self._service("mock-llm", "mock-llm", e)
        svc.start()
        m = svc.wait_log(r"listening\b.*\bport=(\d+)", timeout)
        svc.port = int(m.group(1))
        self.mock = svc
        return svc

    def restart_mock(self, timeout: float = 15) -> Service:
        """Restart mock-llm on the same port (the workers keep their OPENAI_BASE_URL)."""
        svc = self.mock
        svc.terminate()
        port = svc.port
        svc.env["MOCK_LLM_PORT"] = str(port)
        svc.start()
        svc.wait_log(r"listening\b.*\bport=(\d+)", timeout)
        return svc

    def worker_env(self, env: dict | None = None) -> dict[str, str]:
        e = self.kafka_env()
        e.update(self.llm_env())
        e["LLM_WORKER_GROUP"] = self.group
        # A killed worker must leave the group within seconds, not librdkafka's 45 s default.
        e["KAFKA_SESSION_TIMEOUT_MS"] = "6000"
        e["KAFKA_HEARTBEAT_INTERVAL_MS"] = "1000"
        e.update(self.extra_worker_env)
        e.update(env or {})
        return e

    def start_worker(self, env: dict | None = None) -> Service:
        n = len(self.workers) + 1
        svc = self._service(f"llm-worker-{n}", "llm-worker", self.worker_env(env))
        svc.start()
        self.workers.append(svc)
        return svc

    @property
    def worker(self) -> Service:
        return self.workers[0]

    def start_gateway(self, env: dict | None = None, wait: bool = True) -> Service:
        n = len(self.gateways) + 1
        port = free_port()
        e = self.kafka_env()
        e.update(self.llm_env())
        e["GATEWAY_PORT"] = str(port)
        e["GATEWAY_HOST"] = "127.0.0.1"
        e["GATEWAY_ID"] = f"{self.ns}-gw{n}"
        e["GATEWAY_LLM_LABEL"] = "mock"
        e.update(self.extra_gateway_env)
        e.update(env or {})
        svc = self._service(f"gateway-{n}", "gateway", e)
        svc.port = int(e["GATEWAY_PORT"])
        svc.start()
        self.gateways.append(svc)
        if wait:
            self.wait_gateway_ready(svc)
        return svc

    @property
    def gateway(self) -> Service:
        return self.gateways[0]

    def start_persister(self, database_url: str, env: dict | None = None) -> Service:
        """A persister on this stack's chat.events / chat.dlq, in the stack's own persister
        group (all persisters of a stack share it), writing to 'database_url'."""
        n = len(self.persisters) + 1
        e = self.kafka_env()
        e["DATABASE_URL"] = database_url
        e["PERSISTER_GROUP"] = f"{self.ns}-persister"
        e["PERSISTER_BACKOFF_MAX_MS"] = "2000"
        e["KAFKA_SESSION_TIMEOUT_MS"] = "6000"
        e["KAFKA_HEARTBEAT_INTERVAL_MS"] = "1000"
        e.update(env or {})
        svc = self._service(f"persister-{n}", "persister", e)
        svc.start()
        self.persisters.append(svc)
        return svc

    def restart(self, svc: Service, sig: int = signal.SIGTERM, wait_ready: bool = True) -> Service:
        """Stop 'svc' with 'sig' (SIGTERM: graceful, SIGKILL: crash) and start it again with the
        same environment (a gateway keeps its port and id)."""
        if sig == signal.SIGKILL:
            svc.kill()
        else:
            svc.terminate()
        svc.start()
        if wait_ready and svc in self.gateways:
            self.wait_gateway_ready(svc)
        return svc

    def http(self, path: str, gw: Service | None = None, timeout: float = 5) -> requests.Response:
        gw = gw or self.gateway
        return _HTTP.get(f"http://127.0.0.1:{gw.port}{path}", timeout=timeout)

    def wait_gateway_ready(self, gw: Service, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        for path in ("/healthz", "/readyz"):
            while True:
                if not gw.alive():
                    raise ServiceError(f"{gw.name} exited (rc={gw.returncode}):\n{gw.tail(30)}")
                try:
                    r = self.http(path, gw, timeout=2)
                    if r.status_code == 200:
                        break
                    last = f"{path}: HTTP {r.status_code} {r.text[:100]!r}"
                except requests.RequestException as ex:
                    last = f"{path}: {ex.__class__.__name__}"
                if time.monotonic() > deadline:
                    raise ServiceError(f"{gw.name} not ready within {timeout}s ({last}):\n"
                                       f"{gw.tail(30)}")
                time.sleep(0.1)

    def ws_url(self, path: str = "/ws/session", gw: Service | None = None) -> str:
        gw = gw or self.gateway
        return f"ws://127.0.0.1:{gw.port}{path}"

    def all_services(self) -> list[Service]:
        return [s for s in [self.mock, *self.workers, *self.gateways, *self.persisters] if s]

    # -- whole stack -------------------------------------------------------------------------
    def start(self, warmup: bool = True) -> "Stack":
        if self.isolate_topics:
            self.create_topics()
        self.start_mock()
        self.start_worker()
        self.start_gateway()
        if warmup:
            self.warm_up()
        return self

    def warm_up(self, timeout: float = 60) -> None:
        """One full turn: proves the worker has joined its group and is consuming."""
        from wsclient import WsClient

        async def run():
            async with await WsClient.open(self.ws_url("/ws/session/itest_warmup")) as c:
                t = await c.turn("warm-up: say hello", timeout=timeout)
                assert t.done, "warm-up turn did not finish"
        try:
            asyncio.run(asyncio.wait_for(run(), timeout + 10))
        except BaseException as ex:
            raise ServiceError(f"stack {self.name}: warm-up turn failed: {ex!r}\n" + self.tails())

    def check_alive(self) -> list[str]:
        return [f"{s.name} (rc={s.returncode})" for s in self.all_services() if not s.alive()]

    def ensure_running(self) -> list[str]:
        """Restart any service that died (a shared stack survives one test's crash)."""
        dead = self.check_alive()
        for s in self.all_services():
            if not s.alive():
                if s is self.mock:
                    self.restart_mock()
                else:
                    s.start()
                    if s in self.gateways:
                        self.wait_gateway_ready(s)
        return dead

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything, gateways first; returns name -> exit code."""
        rcs = {}
        for s in [*self.gateways, *self.workers, *self.persisters, self.mock]:
            if s and s.proc:
                rcs[s.name] = s.terminate()
        return rcs

    def tails(self, n: int = 40) -> str:
        parts = []
        for s in self.all_services():
            state = "running" if s.alive() else f"exited rc={s.returncode}"
            parts.append(f"----- {s.name} ({state}, log {s.log_path}) last {n} lines -----\n"
                         f"{s.tail(n)}")
        return "\n".join(parts)
