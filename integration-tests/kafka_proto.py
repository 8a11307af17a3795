"""Just enough of the Kafka wire protocol to create topics and wait for their leaders.

The tests give every stack its own topic names (KAFKA_TOPIC_* overrides), so they must create
topics quickly and without a JVM per topic. CreateTopics v4 and Metadata v4 are plain
(non-flexible) encodings that every broker from 2.x to 4.x accepts.
"""
from __future__ import annotations

import socket
import struct
import time

API_METADATA = 3
API_CREATE_TOPICS = 19
ERR_NONE = 0
ERR_TOPIC_ALREADY_EXISTS = 36


class KafkaProtoError(RuntimeError):
    pass


def _str(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _array(items: list[bytes] | None) -> bytes:
    if items is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(items)) + b"".join(items)


class _Reader:
    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def array(self, fn):
        n = self.take(">i")
        return [fn() for _ in range(max(n, 0))]


def _parse_bootstrap(brokers: str) -> tuple[str, int]:
    first = brokers.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, _, port = first.rpartition(":")
    return host or "127.0.0.1", int(port)


class KafkaConn:
    """One blocking connection to a broker (single-node clusters: it is also the controller)."""

    def __init__(self, brokers: str, timeout: float = 10.0):
        self.addr = _parse_bootstrap(brokers)
        self.sock = socket.create_connection(self.addr, timeout=timeout)
        self.sock.settimeout(timeout)
        self.corr = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv_exact(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise KafkaProtoError("broker closed the connection")
            out += chunk
        return bytes(out)

    def request(self, api_key: int, version: int, body: bytes) -> _Reader:
        self.corr += 1
        header = struct.pack(">hhi", api_key, version, self.corr) + _str("itest")
        msg = header + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._recv_exact(4))[0]
        r = _Reader(self._recv_exact(size))
        if r.take(">i") != self.corr:
            raise KafkaProtoError("correlation id mismatch")
        return r

    def create_topics(self, specs: list[tuple[str, int, dict[str, str]]],
                      timeout_ms: int = 15000) -> dict[str, tuple[int, str | None]]:
        """Create topics; specs are (name, partitions, configs). Returns name -> (error, msg)."""
        topics = []
        for name, parts, cfg in specs:
            configs = [_str(k) + _str(v) for k, v in cfg.items()]
            topics.append(_str(name) + struct.pack(">ih", parts, 1) + _array([]) + _array(configs))
        body = _array(topics) + struct.pack(">i?", timeout_ms, False)
        r = self.request(API_CREATE_TOPICS, 4, body)
        r.take(">i")  # throttle_time_ms
        out = {}
        for _ in range(r.take(">i")):
            name = r.string()
            err = r.take(">h")
            out[name] = (err, r.string())
        return out

    def metadata(self, topics: list[str] | None) -> dict[str, dict]:
        """Topic name -> {"error": code, "partitions": {index: leader_id}}."""
        body = _array(None if topics is None else [_str(t) for t in topics]) + struct.pack(">?", False)
        r = self.request(API_METADATA, 4, body)
        r.take(">i")  # throttle
        r.array(lambda: (r.take(">i"), r.string(), r.take(">i"), r.string()))  # brokers
        r.string()  # cluster id
        r.take(">i")  # controller id
        out = {}

        def partition():
            err = r.take(">h")
            idx = r.take(">i")
            leader = r.take(">i")
            r.array(lambda: r.take(">i"))
            r.array(lambda: r.take(">i"))
            return idx, leader, err

        for _ in range(r.take(">i")):
            err = r.take(">h")
            name = r.string()
            r.take(">?")
            parts = r.array(partition)
            out[name] = {"error": err,
                         "partitions": {i: (ld if e == ERR_NONE else -1) for i, ld, e in parts}}
        return out


def create_topics(brokers: str, specs: list[tuple[str, int, dict[str, str]]],
                  timeout: float = 30.0) -> None:
    """Create the topics (idempotently) and wait until every partition has a leader."""
    deadline = time.monotonic() + timeout
    with KafkaConn(brokers) as c:
        res = c.create_topics(specs)
        for name, (err, msg) in res.items():
            if err not in (ERR_NONE, ERR_TOPIC_ALREADY_EXISTS):
                raise KafkaProtoError(f"creating {name}: error {err} {msg or ''}")
        names = [s[0] for s in specs]
        want = {s[0]: s[1] for s in specs}
        while True:
            md = c.metadata(names)
            ok = all(
                t in md and md[t]["error"] == ERR_NONE
                and len(md[t]["partitions"]) >= want[t]
                and all(ld >= 0 for ld in md[t]["partitions"].values())
                for t in names)
            if ok:
                return
            if time.monotonic() > deadline:
                raise KafkaProtoError(f"topics not ready after {timeout}s: {md}")
            time.sleep(0.1)


def wait_broker(brokers: str, timeout: float = 60.0) -> None:
    """Wait until the broker answers a metadata request."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with KafkaConn(brokers, timeout=5) as c:
                c.metadata([])
                return
        except (OSError, KafkaProtoError) as e:
            last = e
            time.sleep(0.3)
    raise KafkaProtoError(f"broker {brokers} not answering: {last}")
