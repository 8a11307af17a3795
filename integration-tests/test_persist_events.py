"""persister: every chat.events event becomes exactly one event_log row, in order, with the
session row; replays write nothing twice; poison goes to the DLQ without blocking."""
import json
import signal
import uuid

from pg_fixtures import *  # noqa: F401,F403


def test_conversation_rows_in_order(durable):
    c = Conv()
    envs = c.start()
    envs += c.turn("What's the weather in Paris?", "It is 21 °C and sunny in Paris.", tool=True)
    envs += c.turn("Thanks! Any tips?", "Take sunglasses.")
    envs += c.turn("Tell me a long story", "Once upon a ti", interrupted=True)
    durable.start_persister()
    durable.produce(envs)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(envs), 30, "all rows")

    rows = durable.event_rows(c.sid)
    assert [r[0] for r in rows] == [e["type"] for e in envs] == [
        "session_start", "user_message", "tool_call", "tool_result", "ai_response",
        "user_message", "ai_response", "user_message", "ai_response"]
    for r, e in zip(rows, envs):
        assert r[2] == e["ts"], "timestamp must be the envelope ts"
        assert r[3] == e["id"], "event_key must be the envelope id"
        assert r[4] == e.get("turn_id")
        if e["type"] in ("user_message", "ai_response"):
            assert r[1] == e["payload"]["content"], "plain text content"
        else:
            assert json.loads(r[1]) == e["payload"], "JSON content"
    assert rows[1][1] == "What's the weather in Paris?"
    assert json.loads(rows[2][1])["name"] == "get_weather"
    # The interrupted answer is stored, marked as such.
    assert rows[-1][1] == "Once upon a ti"
    assert rows[-1][5]["interrupted"] is True and rows[-1][5]["finish_reason"] == "stopped"
    assert rows[4][5]["interrupted"] is False and rows[4][5]["usage"]["total_tokens"] == 15

    s = durable.session(c.sid)
    assert s["user_id"] == c.user
    assert s["start_ms"] == c.t0
    assert s["end_time"] is None and s["summary_status"] is None
    assert durable.pg.scalar("SELECT count(*) FROM session_metadata WHERE session_id = %s",
                             (c.sid,)) == 1


def test_replay_writes_nothing_twice(durable):
    c = Conv()
    envs = c.start() + c.turn("hi", tool=True) + c.turn("again")
    durable.start_persister()
    durable.produce(envs)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(envs), 30, "first copy")
    # The same events again (a producer retry, a re-run turn)...
    durable.produce(envs)
    # ...and a second persister group reading the whole topic from the start.
    p2 = durable.start_persister(group=f"{durable.ns}-replay")
    p2.wait_log(r'msg="progress" events=%d inserted=0 duplicates=%d' % (2 * len(envs),
                                                                         2 * len(envs)), 40)
    rows = durable.event_rows(c.sid)
    assert len(rows) == len(envs)
    assert sorted(r[3] for r in rows) == sorted(e["id"] for e in envs)


def test_event_before_its_session_start_creates_the_session(durable):
    """The FK needs a session row: any event creates it, with the earliest ts as start."""
    c = Conv()
    turn = c.turn("first", "answer")
    durable.start_persister()
    durable.produce(turn)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == 2, 30, "rows")
    s = durable.session(c.sid)
    assert s["user_id"] == c.user and s["start_ms"] == turn[0]["ts"]
    # A late session_start with an earlier ts moves the start back.
    start = c.env("session_start", {}, ts=c.t0 - 5000)
    durable.produce([start])
    durable.wait(lambda: durable.session(c.sid)["start_ms"] == c.t0 - 5000, 30, "earlier start")


def test_session_end_sets_end_time_and_only_moves_forward(durable):
    c = Conv()
    envs = c.start() + c.turn("hello")
    end1 = c.end(end_ts=c.t0 + 60_000)
    durable.start_persister()
    durable.produce(envs + end1)
    durable.wait(lambda: (durable.session(c.sid) or {}).get("end_ms") == c.t0 + 60_000, 30,
                 "end_time from the first end")
    rows = durable.event_rows(c.sid)
    assert rows[-1][0] == "session_end"
    assert json.loads(rows[-1][1]) == {"start_ts": c.t0, "end_ts": c.t0 + 60_000}
    # Resumed later and ended again: the end moves forward.
    later = c.turn("back again") + c.end(end_ts=c.t0 + 120_000)
    durable.produce(later)
    durable.wait(lambda: durable.session(c.sid)["end_ms"] == c.t0 + 120_000, 30, "later end")
    # A replayed old end changes nothing.
    durable.produce(end1)
    old = c.end(end_ts=c.t0 + 90_000)          # an older end arriving late
    durable.produce(old)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(envs) + 1 + len(later) + 1, 30,
                 "rows")
    assert durable.session(c.sid)["end_ms"] == c.t0 + 120_000


def test_poison_goes_to_the_dlq_and_the_rest_is_written(durable):
    c = Conv()
    good = c.start() + c.turn("before the poison")
    bad_id = dict(c.env("user_message", {"content": "x"}), id="not-a-uuid")
    far_future = c.env("user_message", {"content": "ts out of range"}, ts=9_500_000_000_000_000)
    c.events.remove(far_future)
    after = c.turn("after the poison")
    lines = [line_of(e) for e in good]
    lines += [f"{c.sid}\t{{not json", line_of(bad_id), line_of(far_future)]
    lines += [line_of(e) for e in after]
    durable.start_persister(env={"PERSISTER_BATCH_WAIT_MS": "200"})   # one batch, mostly
    durable.produce(lines)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(good) + len(after), 30,
                 "the good rows")
    dlq = durable.wait(lambda: (lambda d: d if len(d) >= 3 else None)(durable.dlq(1500)), 30,
                       "three DLQ records")
    assert len(dlq) == 3, dlq
    by_reason = {d["reason"]: d for d in dlq}
    assert any("not valid JSON" in r for r in by_reason), dlq
    assert any("is not a UUID" in r for r in by_reason), dlq
    pg_refused = [d for d in dlq if "database refused" in d["reason"]]
    assert len(pg_refused) == 1 and "22008" in pg_refused[0]["reason"], dlq
    assert pg_refused[0]["event_id"] == far_future["id"]
    for d in dlq:
        assert d["source"]["topic"] == durable.events_topic
        assert d["source"]["key"] == c.sid
        assert d["service"] == "persister" and "original" in d
    # Nothing of the poison reached the table; the persister kept going and is alive.
    keys = {r[3] for r in durable.event_rows(c.sid)}
    assert far_future["id"] not in keys
    assert durable.persisters[0].alive()
    more = c.turn("still working?")
    durable.produce(more)
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(good) + len(after) + 2, 30,
                 "rows after the poison")


def test_sigterm_finishes_and_exits_zero(durable):
    c = Conv()
    p = durable.start_persister()
    durable.produce(c.start() + c.turn("hi"))
    durable.wait(lambda: len(durable.event_rows(c.sid)) == 3, 30, "rows")
    p.signal(signal.SIGTERM)
    assert p.wait(15) == 0, p.tail(20)
    assert 'msg="persister stopped" status=0' in p.log_text()
    # Committed: a restart in the same group reads nothing again.
    p.start()
    p.wait_log(r"partitions assigned", 30)
    durable.produce(c.turn("after restart"))
    p.wait_log(r'msg="progress" events=2 inserted=2 duplicates=0', 30)


def test_migrate_is_idempotent_and_keeps_reference_tables(pg):
    """migrate.sh on a database that already has the reference's tables and rows."""
    db = f"ref_{uuid.uuid4().hex[:8]}"
    pg.query(f"CREATE DATABASE {db}")
    url = pg.url.rsplit("/", 1)[0] + "/" + db
    pg.query("""
        CREATE TABLE session_metadata (session_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            user_id TEXT NOT NULL, start_time TIMESTAMPTZ DEFAULT NOW(), end_time TIMESTAMPTZ,
            session_summary TEXT, duration_seconds INTEGER);
        CREATE TABLE event_log (event_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            session_id UUID REFERENCES session_metadata(session_id),
            timestamp TIMESTAMPTZ DEFAULT NOW(), event_type TEXT NOT NULL, content TEXT);
        WITH s AS (INSERT INTO session_metadata (user_id) VALUES ('old') RETURNING session_id)
        INSERT INTO event_log (session_id, event_type, content)
        SELECT session_id, 'user_message', 'from the reference' FROM s;
    """, url=url)
    out = pg.migrate(url)
    assert "applied 0001" in out and "applied 0002" in out
    assert "0 applied now" in pg.migrate(url)
    # The reference's statements and queries still work, old rows are intact.
    pg.query("INSERT INTO session_metadata (user_id) VALUES ('new')", url=url)
    pg.query("INSERT INTO event_log (session_id, event_type, content) SELECT session_id, "
             "'ai_response', 'hi' FROM session_metadata WHERE user_id = 'new'", url=url)
    rows = pg.query("SELECT m.user_id, e.event_type, e.content, e.event_key FROM event_log e "
                    "JOIN session_metadata m USING (session_id) ORDER BY e.timestamp", url=url)
    assert rows == [("old", "user_message", "from the reference", None),
                    ("new", "ai_response", "hi", None)]
    versions = pg.query("SELECT version FROM schema_migrations ORDER BY 1", url=url)
    assert [v[0] for v in versions] == ["0001", "0002"]
    pg.query(f"DROP DATABASE {db} WITH (FORCE)")
