"""The web UI in a real browser against the REAL stack: gateway (serving frontend/out, with
DATABASE_URL for the history API) -> llm-worker -> mock-llm, with persister and summarizer
writing PostgreSQL. Drives e2e/real.test.mjs (playwright-core + Debian Chromium): weather card,
Markdown, stop, reload mid-answer, and the sidebar listing a finished, summarized session that
can be reopened and continued. Screenshots land in e2e/screenshots/real-*.png."""
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pg_fixtures import *  # noqa: F401,F403

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
E2E = HERE / "e2e"
STATIC = REPO / "frontend" / "out"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
GRACE_MS = 1500
NODE_TIMEOUT = 420

# A private stack: a short grace period so the left session ends quickly, and a mock slow
# enough (about 7 s for the long answer) that Stop and a reload land mid-answer.
STACK_ENV = {"worker": {"SESSION_END_GRACE_MS": str(GRACE_MS)},
             "mock": {"MOCK_LLM_TOKENS_PER_SEC": "40", "MOCK_LLM_TTFT_MS": "100"}}


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing (apt-get install chromium)"
    if not (STATIC / "index.html").exists():
        return f"{STATIC}/index.html missing (cd frontend && npm ci && npm run build)"
    if not (E2E / "node_modules" / "playwright-core").exists():
        return f"{E2E}/node_modules missing (cd integration-tests/e2e && npm ci)"
    if not shutil.which("node"):
        return "node not installed"
    return None


@pytest.fixture(scope="module")
def ui_stack(stack, kafka, pg, kafka_tool, tmp_path_factory):
    """persister + summarizer on the stack's topics (summarizer on the stack's mock-llm) and a
    gateway serving the web UI with the history API."""
    why = _missing()
    if why:
        pytest.skip(why)
    d = Durable(kafka, pg, kafka_tool, tmp_path_factory.mktemp("logs-ui", numbered=True), "ui",
                events_topic=stack.topics["EVENTS"], dlq_topic=stack.topics["DLQ"])
    d.mock = stack.mock                      # borrowed: stopped with the stack, not here
    d.start_persister()
    d.start_summarizer()
    gw = stack.start_gateway(env={"DATABASE_URL": pg.url, "GATEWAY_DB_POOL": "2",
                                  "GATEWAY_STATIC_DIR": str(STATIC),
                                  "GATEWAY_LLM_LABEL": "mock"})
    yield d, gw
    rcs = d.stop()
    assert all(v == 0 for v in rcs.values()), f"bad exit on SIGTERM: {rcs}\n{d.tails()}"


@pytest.mark.timeout(NODE_TIMEOUT + 60)
def test_web_ui_against_real_stack(ui_stack, stack):
    d, gw = ui_stack
    env = dict(os.environ)
    env.update({"E2E_BASE_URL": f"http://127.0.0.1:{gw.port}",
                "E2E_GRACE_MS": str(GRACE_MS), "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost"})
    t0 = time.monotonic()
    try:
        p = subprocess.run(["node", "--test", "--test-concurrency=1", "real.test.mjs"],
                           cwd=E2E, env=env, capture_output=True, text=True,
                           timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired as ex:
        out = (ex.stdout or b"").decode() if isinstance(ex.stdout, bytes) else (ex.stdout or "")
        pytest.fail(f"real.test.mjs timed out after {NODE_TIMEOUT}s\n{out}\n"
                    f"{stack.tails()}\n{d.tails()}", pytrace=False)
    took = time.monotonic() - t0
    print(f"\n[ui-e2e] node --test real.test.mjs: rc={p.returncode} in {took:.0f}s\n"
          f"{p.stdout}\n{p.stderr}")
    assert p.returncode == 0, (f"real.test.mjs failed (rc={p.returncode})\n{p.stdout}\n"
                               f"{p.stderr}\n{stack.tails()}\n{d.tails()}")
