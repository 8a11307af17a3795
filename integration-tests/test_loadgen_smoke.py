"""Smoke run of the benchmark load generator (bench/loadgen.c, build/bin/loadgen) in CI.

The real binary runs a few seconds of load against a real stack (the shared one: mock-llm +
llm-worker + gateway on Kafka): 10 sessions x 2 turns through the gateway, then the same load in
its direct mode straight against that stack's mock-llm. The tests check what loadgen reports
(its exit code and its --json file): no errors, every turn counted once, tokens consistent with
the turns and between both modes, TTFT percentiles present and ordered, the direct baseline there.
No timing thresholds: only counting and output. Two negative runs prove the checks can fail:
a closed port (connect errors, exit 3) and turns the LLM refuses (turn errors, exit 3).

loadgen is found through ITEST_BIN_DIR like the services (`make integration` builds it); when it
is missing the tests fail rather than skip.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from stack import BIN_DIR, free_port

LOADGEN = BIN_DIR / "loadgen"
SESSIONS = 10
TURNS = 2
# A plain message: no "long", "markdown", weather or summary words (mock-llm answers it with a
# short canned text), and no fault marker.
PROMPT = "loadgen smoke test, please answer"
RUN_TIMEOUT_S = 60         # loadgen's own --timeout; the process gets a little more


@pytest.fixture(scope="module")
def loadgen() -> Path:
    if not LOADGEN.exists():
        pytest.fail(f"loadgen is not built: {LOADGEN} is missing (ITEST_BIN_DIR={BIN_DIR}). "
                    f"`make integration` builds it, or `make build/bin/loadgen`", pytrace=False)
    return LOADGEN


def run_loadgen(loadgen: Path, out: Path, *args: str) -> tuple[int, dict | None, str]:
    """Runs loadgen with --json=out and 'args'; returns (exit code, the JSON or None, output)."""
    argv = [str(loadgen), f"--json={out}", f"--timeout={RUN_TIMEOUT_S}", *args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2 + 20,
                       stdin=subprocess.DEVNULL)
    output = f"$ {' '.join(argv)}\n(exit {p.returncode})\n{p.stdout}\n{p.stderr}"
    report = json.loads(out.read_text()) if out.exists() else None
    return p.returncode, report, output


def check_summary(s: dict, n: int, what: str) -> None:
    """A percentile summary of n samples: every field there, and min <= p50 <= p90 <= p99 <= max."""
    for k in ("n", "min", "mean", "p50", "p90", "p99", "max"):
        assert k in s, f"{what}: no {k!r} in {s}"
    assert s["n"] == n, f"{what}: {s['n']} samples, expected {n}: {s}"
    if n:
        assert 0 <= s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"], f"{what}: {s}"
        assert s["min"] <= s["mean"] <= s["max"], f"{what}: {s}"


def check_clean_run(r: dict, mode: str, out: str) -> None:
    """One mode's result of a run where every session did all its turns."""
    turns = SESSIONS * TURNS
    assert r["mode"] == mode, out
    assert r["sessions_started"] == SESSIONS and r["sessions_ok"] == SESSIONS, out
    assert r["connects_ok"] == SESSIONS, out
    for k in ("connect_errors", "closed_early", "turn_errors", "error_frames"):
        assert r[k] == 0, f"{mode}: {k}={r[k]}\n{out}"
    assert r["turns_ok"] == turns, f"{mode}: turns_ok={r['turns_ok']}, expected {turns}\n{out}"
    # Every turn got at least one token frame; a frame may carry several of the model's tokens.
    assert r["tokens"] > 0 and r["token_frames"] > 0, out
    assert turns <= r["token_frames"] <= r["tokens"], out
    assert r["bytes_in"] > 0 and r["wall_s"] > 0, out
    assert r["tokens_per_s"] > 0 and r["turns_per_s"] > 0, out
    # One TTFT per turn (first turns and later turns apart), one duration per turn, one gap
    # between each two consecutive token frames of a turn, one connect per session.
    check_summary(r["ttft_ms"], turns, f"{mode} ttft_ms")
    check_summary(r["ttft_first_turn_ms"], SESSIONS, f"{mode} ttft_first_turn_ms")
    check_summary(r["ttft_later_turns_ms"], turns - SESSIONS, f"{mode} ttft_later_turns_ms")
    check_summary(r["turn_ms"], turns, f"{mode} turn_ms")
    check_summary(r["token_gap_ms"], r["token_frames"] - turns, f"{mode} token_gap_ms")
    check_summary(r["connect_ms"], SESSIONS, f"{mode} connect_ms")
    assert r["ttft_ms"]["max"] <= r["turn_ms"]["max"], out


def test_pipeline_and_direct_smoke(loadgen, stack, tmp_path):
    out_json = tmp_path / "smoke.json"
    direct = f"http://127.0.0.1:{stack.mock.port}/v1/chat/completions"
    rc, rep, out = run_loadgen(loadgen, out_json, f"--url={stack.ws_url()}", f"--direct={direct}",
                               f"--sessions={SESSIONS}", f"--turns={TURNS}", f"--prompt={PROMPT}",
                               "--label=smoke")
    assert rc == 0, out
    assert rep is not None, f"no JSON written\n{out}"
    assert rep["label"] == "smoke", rep
    st = rep["settings"]
    assert (st["sessions"], st["turns"], st["concurrency"]) == (SESSIONS, TURNS, SESSIONS), st
    assert st["url"] == stack.ws_url() and st["direct_url"] == direct and st["prompt"] == PROMPT, st

    pipe, base = rep.get("pipeline"), rep.get("direct")
    assert pipe is not None, f"no pipeline result\n{out}"
    assert base is not None, f"no direct baseline\n{out}"
    check_clean_run(pipe, "pipeline", out)
    check_clean_run(base, "direct", out)
    # The gateway acks every user message once it is durably in Kafka.
    check_summary(pipe["ack_ms"], SESSIONS * TURNS, "pipeline ack_ms")
    check_summary(base["ack_ms"], 0, "direct ack_ms")
    # Direct mode counts one token per content chunk (mock-llm sends one word-piece per chunk).
    assert base["tokens"] == base["token_frames"], out
    # mock-llm is deterministic and both modes send it the same conversations (system prompt,
    # then the turns so far): the model's token count through the pipeline (done usage) equals
    # the chunks counted straight from mock-llm.
    assert pipe["tokens"] == base["tokens"], out
    ov = rep.get("overhead")
    assert ov is not None, f"no overhead section\n{out}"
    for k in ("ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "ttft_p50_ratio", "turn_p50_ms",
              "tokens_per_s_ratio"):
        assert isinstance(ov.get(k), (int, float)), f"overhead {k}: {ov}"
    assert ov["ttft_p50_ms"] == pytest.approx(pipe["ttft_ms"]["p50"] - base["ttft_ms"]["p50"],
                                              abs=1e-3), ov
    # The text table on stdout has both columns.
    assert "pipeline" in out and "direct" in out and "turns ok" in out, out


def test_closed_port_reports_errors(loadgen, tmp_path):
    """Nothing listens: every connect fails, loadgen says so and exits 3 (the JSON still comes)."""
    port = free_port()
    rc, rep, out = run_loadgen(loadgen, tmp_path / "closed.json",
                               f"--url=ws://127.0.0.1:{port}/ws/session",
                               f"--direct=http://127.0.0.1:{port}/v1/chat/completions",
                               f"--sessions={SESSIONS}", f"--turns={TURNS}", f"--prompt={PROMPT}")
    assert rc == 3, out
    assert rep is not None, f"no JSON written\n{out}"
    for mode in ("pipeline", "direct"):
        r = rep[mode]
        assert r["sessions_started"] == SESSIONS, (mode, r)
        assert r["connect_errors"] == SESSIONS, (mode, r)
        assert r["sessions_ok"] == 0 and r["connects_ok"] == 0 and r["turns_ok"] == 0, (mode, r)
        assert r["tokens"] == 0 and r["ttft_ms"]["n"] == 0, (mode, r)


def test_failed_turns_make_the_run_fail(loadgen, stack, tmp_path):
    """Every turn refused by the LLM (mock-llm's quota fault, not retried): the gateway sends an
    error frame and done(error) per turn, loadgen counts each as a turn error, no session counts
    as ok, and the exit code is 3."""
    sessions = 3
    rc, rep, out = run_loadgen(loadgen, tmp_path / "faults.json", f"--url={stack.ws_url()}",
                               f"--sessions={sessions}", f"--turns={TURNS}",
                               "--prompt=loadgen smoke refused [[fault:quota]]")
    assert rep is not None, f"no JSON written\n{out}"
    r = rep["pipeline"]
    assert "direct" not in rep, rep
    assert r["connects_ok"] == sessions and r["connect_errors"] == 0, out
    assert r["turns_ok"] == 0 and r["turn_errors"] == sessions * TURNS, out
    assert r["error_frames"] == sessions * TURNS, out
    assert r["sessions_ok"] == 0, out
    assert r["ttft_ms"]["n"] == 0 and r["turn_ms"]["n"] == sessions * TURNS, out
    assert rc == 3, out
