"""persister under load: 200 sessions x 5 turns give exactly one row per event, also when the
persister is SIGKILLed mid-load or PostgreSQL is stopped for 20 s (nothing lost, nothing twice).
Rates are printed (run with -s to see them)."""
import os
import signal
import threading
import time
import uuid

import pytest

from pg_fixtures import *  # noqa: F401,F403

SESSIONS = 200
TURNS = 5


def make_load(user: str, sessions: int = SESSIONS, turns: int = TURNS) -> list[dict]:
    """Sessions interleaved turn by turn, as concurrent users would produce them."""
    convs = [Conv(user=user) for _ in range(sessions)]
    per = [c.start() for c in convs]
    for t in range(turns):
        for i, c in enumerate(convs):
            per[i] += c.turn(f"question {t} of session {i}: weather in Paris?",
                             f"answer {t}", tool=(t % 2 == 0))
    for i, c in enumerate(convs):
        per[i] += c.end()
    out = []
    for t in range(max(len(p) for p in per)):
        out += [p[t] for p in per if t < len(p)]
    return out


def check_exact(durable, user: str, envs: list[dict]) -> None:
    rows = durable.pg.query(
        "SELECT e.event_key::text FROM event_log e JOIN session_metadata m USING (session_id) "
        "WHERE m.user_id = %s", (user,))
    keys = [r[0] for r in rows]
    assert len(keys) == len(envs), f"{len(keys)} rows for {len(envs)} events"
    assert len(set(keys)) == len(keys), "duplicate rows"
    assert set(keys) == {e["id"] for e in envs}, "rows do not match the events"
    n_sessions = durable.pg.scalar("SELECT count(*) FROM session_metadata WHERE user_id = %s",
                                   (user,))
    assert n_sessions == len({e["session_id"] for e in envs})
    ended = durable.pg.scalar("SELECT count(*) FROM session_metadata WHERE user_id = %s "
                              "AND end_time IS NOT NULL", (user,))
    assert ended == n_sessions


def feed(durable, envs: list[dict], seconds: float) -> threading.Thread:
    """Produce 'envs' spread over about 'seconds' from a background thread."""
    p = durable.stream()
    chunk = max(1, len(envs) // int(seconds * 10))

    def run():
        for i in range(0, len(envs), chunk):
            p.stdin.write("".join(line_of(e) + "\n" for e in envs[i:i + chunk]))
            p.stdin.flush()
            time.sleep(0.1)
        Durable.finish_stream(p, len(envs))
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


@pytest.mark.timeout(240)
def test_200_sessions_row_count_equals_event_count(durable):
    user = f"load-{uuid.uuid4().hex[:8]}"
    envs = make_load(user)
    assert len(envs) == SESSIONS * (1 + 3 * 4 + 2 * 2 + 1)
    durable.produce(envs)
    t0 = time.monotonic()
    durable.start_persister()
    durable.wait(lambda: durable.count_for_user(user) >= len(envs), 180, "every row",
                 interval=0.1)
    dt = time.monotonic() - t0
    print(f"\n[persister] backlog of {len(envs)} events written in {dt:.2f}s "
          f"(including start-up and group join): {len(envs) / dt:.0f} events/s")
    time.sleep(1)   # anything extra would show now
    check_exact(durable, user, envs)


@pytest.mark.timeout(240)
def test_sigkill_mid_load_still_one_row_per_event(durable):
    durable.allow_bad_exit = True
    user = f"kill-{uuid.uuid4().hex[:8]}"
    envs = make_load(user)
    # Small batches: many commits, so the kill lands between a DB commit and an offset commit.
    p = durable.start_persister(env={"PERSISTER_BATCH_MAX": "40"})
    p.wait_log(r"partitions assigned", 30)
    th = feed(durable, envs, seconds=8)
    durable.wait(lambda: durable.count_for_user(user) >= len(envs) // 3, 60, "a third of the rows",
                 interval=0.05)
    p.kill()                                  # SIGKILL: no commit, no goodbye
    killed_at = durable.count_for_user(user)
    time.sleep(1)
    p.start()
    th.join(120)
    durable.wait(lambda: durable.count_for_user(user) >= len(envs), 120, "every row")
    time.sleep(2)
    print(f"\n[persister] SIGKILLed with {killed_at}/{len(envs)} rows written; restarted")
    check_exact(durable, user, envs)


@pytest.mark.timeout(300)
def test_postgres_stopped_20s_under_load(durable, pg):
    if not pg.controllable:
        pytest.skip("external database (ITEST_DATABASE_URL): not ours to stop")
    user = f"pgdown-{uuid.uuid4().hex[:8]}"
    envs = make_load(user)
    p = durable.start_persister()
    p.wait_log(r"partitions assigned", 30)
    th = feed(durable, envs, seconds=30)      # ~120 events/s for 30 s
    time.sleep(4)
    before = durable.count_for_user(user)
    pg.stop()
    t_stop = time.monotonic()
    time.sleep(20)
    assert p.alive(), p.tail(30)
    pg.start()
    t_up = time.monotonic()
    down = t_up - t_stop
    during = durable.count_for_user(user)
    durable.wait(lambda: durable.count_for_user(user) >= during + 1, 60, "writes to resume",
                 interval=0.05)
    resumed = time.monotonic() - t_up
    th.join(120)
    durable.wait(lambda: durable.count_for_user(user) >= len(envs), 120, "every row")
    catch_up = time.monotonic() - t_up
    time.sleep(2)
    log = p.log_text()
    assert "database write failed; consumption paused, retrying" in log
    assert "database write succeeded after retries" in log
    print(f"\n[persister] {before} rows before the stop; PostgreSQL down {down:.1f}s; "
          f"writing again {resumed:.1f}s after its restart; all {len(envs)} rows "
          f"{catch_up:.1f}s after it (the producer ran {len(envs) // 120}s)")
    check_exact(durable, user, envs)


@pytest.mark.timeout(120)
def test_frozen_database_connection_is_replaced(durable, pg):
    """A server that stops answering (its backend SIGSTOPped): the statement deadline drops the
    connection, a new one is made, and every event still arrives once."""
    if not pg.controllable:
        pytest.skip("external database (ITEST_DATABASE_URL): not ours to freeze")
    user = f"frozen-{uuid.uuid4().hex[:8]}"
    first = make_load(user, sessions=5, turns=1)
    second = make_load(user, sessions=5, turns=2)
    p = durable.start_persister(env={"PERSISTER_DB_TIMEOUT_MS": "1500"})
    durable.produce(first)
    durable.wait(lambda: durable.count_for_user(user) == len(first), 30, "first rows")
    pids = [r[0] for r in pg.query("SELECT pid FROM pg_stat_activity WHERE application_name = "
                                   "'persister' AND state = 'idle'")]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        durable.produce(second)
        durable.wait(lambda: durable.count_for_user(user) == len(first) + len(second), 30,
                     "rows through a new connection")
        print(f"\n[persister] frozen backend replaced; rows {time.monotonic() - t0:.1f}s later")
    finally:
        os.kill(pids[0], signal.SIGCONT)
    assert "statement deadline passed" in p.log_text()
    check_exact(durable, user, first + second)
