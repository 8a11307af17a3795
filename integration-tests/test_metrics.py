"""Metrics and readiness: every service's admin endpoint (llm-worker, persister, summarizer on
ADMIN_PORT, here ephemeral and read from the `admin listening ... port=N` log line) and the
gateway's own /metrics. After one chat turn each /metrics parses as strict Prometheus text
(0.0.4), the turn, token and written-event counters moved, and /readyz answers 200."""
import math
import re

import pytest
import requests

from pg_fixtures import *  # noqa: F401,F403
from pg_fixtures import Durable
from wsclient import WsClient, run

_HTTP = requests.Session()
_HTTP.trust_env = False          # never through a proxy to 127.0.0.1

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RX = re.compile(rf"^({NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?,?\}})? (\S+)(?: -?\d+)?$")
LABELS_RX = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_value(s: str) -> float:
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(s)
    except ValueError:
        raise AssertionError(f"bad sample value {s!r}") from None


def parse_prometheus(text: str) -> dict:
    """Strict parser of the text format: returns {family: {"type", "help", "samples":
    [(name, {labels}, value)]}}; asserts on anything malformed."""
    fams: dict = {}
    assert text.endswith("\n"), "the exposition ends with a newline"
    for n, line in enumerate(text.splitlines(), 1):
        where = f"line {n}: {line!r}"
        assert line, f"empty line at {n}"
        if line.startswith("# HELP "):
            m = re.match(rf"^# HELP ({NAME}) (.*)$", line)
            assert m, where
            f = fams.setdefault(m.group(1), {"samples": []})
            assert "help" not in f, f"second HELP, {where}"
            f["help"] = m.group(2)
            continue
        if line.startswith("# TYPE "):
            m = re.match(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$", line)
            assert m, where
            f = fams.setdefault(m.group(1), {"samples": []})
            assert "type" not in f and not f["samples"], f"TYPE after samples, {where}"
            f["type"] = m.group(2)
            continue
        assert not line.startswith("#") or line.startswith("# "), where
        if line.startswith("#"):
            continue                 # a comment
        m = SAMPLE_RX.match(line)
        assert m, f"bad sample, {where}"
        name, labels, value = m.group(1), m.group(2) or "", parse_value(m.group(3))
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in fams and \
                    fams[name[: -len(suffix)]].get("type") == "histogram":
                fam = name[: -len(suffix)]
        assert fam in fams and "type" in fams[fam], f"sample before its TYPE, {where}"
        fams[fam]["samples"].append((name, dict(LABELS_RX.findall(labels)), value))
    for fname, f in fams.items():
        assert "type" in f and "help" in f, f"{fname}: HELP and TYPE"
        if f["type"] == "counter":
            assert all(v >= 0 and not math.isnan(v) for _, _, v in f["samples"]), fname
        if f["type"] == "histogram":
            check_histogram(fname, f["samples"])
    return fams


def check_histogram(fname: str, samples: list) -> None:
    series: dict = {}
    for name, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if name == fname + "_bucket":
            assert "le" in labels, f"{fname}: bucket without le"
            s["buckets"].append((parse_value(labels["le"]), value))
        elif name == fname + "_sum":
            s["sum"] = value
        elif name == fname + "_count":
            s["count"] = value
        else:
            pytest.fail(f"{fname}: stray sample {name}")
    for key, s in series.items():
        b = s["buckets"]
        assert b and s["sum"] is not None and s["count"] is not None, (fname, key)
        les = [le for le, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), (fname, les)
        assert les[-1] == math.inf, f"{fname}: the last bucket is +Inf"
        counts = [c for _, c in b]
        assert all(a <= c for a, c in zip(counts, counts[1:])), f"{fname}: not cumulative"
        assert counts[-1] == s["count"], f"{fname}: +Inf != _count"


def total(fams: dict, family: str, sample: str | None = None) -> float:
    """Sum of a family's samples named 'sample' (default: the family, or _count)."""
    f = fams[family]
    want = sample or (family + "_count" if f["type"] == "histogram" else family)
    return sum(v for n, _, v in f["samples"] if n == want)


def admin_port(svc) -> int:
    return int(svc.wait_log(r'admin listening"?.*\bport=(\d+)', 15).group(1))


def get(port: int, path: str) -> requests.Response:
    return _HTTP.get(f"http://127.0.0.1:{port}{path}", timeout=5)


def wait_ready(port: int, timeout: float = 30) -> requests.Response:
    import time
    deadline = time.monotonic() + timeout
    r = None
    while time.monotonic() < deadline:
        r = get(port, "/readyz")
        if r.status_code == 200:
            return r
        time.sleep(0.2)
    pytest.fail(f"/readyz on {port} not 200: {r.status_code if r else '-'} {r.text if r else ''}")


@pytest.fixture
def durable(stack, kafka, pg, kafka_tool, tmp_path_factory):
    d = Durable(kafka, pg, kafka_tool, tmp_path_factory.mktemp("logs-metrics", numbered=True),
                "metrics", events_topic=stack.topics["EVENTS"], dlq_topic=stack.topics["DLQ"])
    d.mock = stack.mock
    d.start_persister()
    d.start_summarizer()
    yield d
    rcs = d.stop()
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}\n{d.tails()}"


def test_parser_rejects_bad_text():
    good = ("# HELP x_total a\n# TYPE x_total counter\nx_total 3\n"
            "# HELP h b\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 1.5\nh_count 2\n")
    assert total(parse_prometheus(good), "h") == 2
    for bad in (good.replace("h_count 2", "h_count 3"),             # +Inf != count
                good.replace('le="1"} 1', 'le="1"} 5'),              # not cumulative
                good.replace("x_total 3", "x_total three"),          # bad value
                "x_total 1\n",                                       # no TYPE
                good.replace("\n# TYPE x_total counter", "")):       # no TYPE for x_total
        with pytest.raises(AssertionError):
            parse_prometheus(bad)


def test_metrics_after_one_turn(stack, durable):
    worker = stack.worker
    ports = {"llm-worker": admin_port(worker),
             "persister": admin_port(durable.persisters[0]),
             "summarizer": admin_port(durable.summarizers[0])}
    for name, port in ports.items():
        assert get(port, "/healthz").status_code == 200, name
        wait_ready(port)
    before = {n: parse_prometheus(get(p, "/metrics").text) for n, p in ports.items()}
    gw_before = parse_prometheus(stack.http("/metrics").text)

    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/metrics_user")) as c:
            t = await c.turn("hello metrics")
            assert t.finish_reason == "stop"
            return len(t.tokens)
    n_tokens = run(body())

    import time
    deadline = time.monotonic() + 30
    while True:
        after = {n: parse_prometheus(get(p, "/metrics").text) for n, p in ports.items()}
        written = total(after["persister"], "chat_persister_events_written_total") - \
            total(before["persister"], "chat_persister_events_written_total")
        if written >= 3 or time.monotonic() > deadline:     # session_start, user, ai_response
            break
        time.sleep(0.3)
    w0, w1 = before["llm-worker"], after["llm-worker"]
    assert total(w1, "chat_llm_turns_started_total") - total(w0, "chat_llm_turns_started_total") >= 1
    fin = {lab["finish_reason"]: v for n, lab, v in w1["chat_llm_turns_finished_total"]["samples"]}
    assert fin.get("stop", 0) >= 1, fin
    assert total(w1, "chat_llm_tokens_total") - total(w0, "chat_llm_tokens_total") >= n_tokens
    assert total(w1, "chat_llm_request_first_token_seconds") > \
        total(w0, "chat_llm_request_first_token_seconds")
    assert w1["chat_llm_running_turns"]["type"] == "gauge"
    assert written >= 3, durable.tails()
    p1 = after["persister"]
    assert total(p1, "chat_persister_batch_size") >= 1
    assert total(p1, "chat_persister_db_write_seconds") >= 1
    for fam in ("chat_persister_duplicates_total", "chat_persister_dead_letters_total",
                "chat_persister_db_errors_total"):
        assert p1[fam]["type"] == "counter", fam
    s1 = after["summarizer"]
    assert s1["chat_summarizer_summaries_total"]["type"] == "counter"
    assert s1["chat_summarizer_llm_request_seconds"]["type"] == "histogram"

    r = stack.http("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    g1 = parse_prometheus(r.text)
    assert total(g1, "chat_gateway_messages_received_total") > \
        total(gw_before, "chat_gateway_messages_received_total")
    assert total(g1, "chat_gateway_frames_sent_total") - \
        total(gw_before, "chat_gateway_frames_sent_total") >= n_tokens
    for fam in ("chat_gateway_connections", "chat_gateway_errors_total",
                "chat_gateway_outq_full_closes_total"):
        assert fam in g1, fam
    assert stack.http("/readyz").status_code == 200
    for name, port in ports.items():
        assert get(port, "/readyz").status_code == 200, name
        assert get(port, "/nope").status_code == 404, name
