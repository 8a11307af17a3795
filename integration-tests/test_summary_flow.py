"""summarizer: after session_end (and only once every event of the session is stored) the
session gets a summary, end_time and duration; empty sessions get no LLM call; failures are
recorded, never dropped; a later end refreshes the summary; replays are skipped."""
import signal
import time

from pg_fixtures import *  # noqa: F401,F403


def summarized(durable, sid, key=None):
    s = durable.session(sid)
    if not s or not s["summary_status"]:
        return None
    if key and s["summary_event_key"] is not None and str(s["summary_event_key"]) != key:
        return None
    return s


def conversation(c: Conv) -> list[dict]:
    return (c.start() + c.turn("What's the weather in Paris?", "21 °C and sunny.", tool=True)
            + c.turn("Should I take an umbrella?", "No need."))


def test_summary_end_time_and_duration(durable):
    c = Conv()
    envs = conversation(c)
    end_ts = c.t0 + 125_400                  # 125.4 s after the start
    end = c.end(start_ts=c.t0, end_ts=end_ts)
    durable.start_persister()
    s = durable.start_summarizer()
    t0 = time.monotonic()
    durable.produce(envs + end)
    row = durable.wait(lambda: summarized(durable, c.sid), 30, "the summary")
    took = time.monotonic() - t0
    assert row["summary_status"] == "ok", row
    assert row["session_summary"].startswith("Mock summary:"), row
    assert "What's the weather in Paris" in row["session_summary"]
    assert row["summary_error"] is None
    assert row["end_ms"] == end_ts
    assert row["duration_seconds"] == 125
    assert str(row["summary_event_key"]) == end[0]["id"]
    assert row["summarized_at"] is not None
    assert s.wait_log(r'msg="session summarized" session=%s .*status=ok applied=yes llm_calls=1'
                      % c.sid, 5)
    print(f"\n[summarizer] summary {took:.2f}s after the events were produced")


def test_session_without_user_messages_gets_no_llm_call(durable):
    c = Conv()
    durable.start_persister()
    s = durable.start_summarizer()
    durable.produce(c.start() + c.end(end_ts=c.t0 + 3000))
    row = durable.wait(lambda: summarized(durable, c.sid), 30, "the outcome")
    assert row["summary_status"] == "empty" and row["session_summary"] is None
    assert row["duration_seconds"] == 3 and row["end_ms"] == c.t0 + 3000
    s.wait_log(r"session=%s .*status=empty applied=yes llm_calls=0" % c.sid, 5)


def test_unreachable_llm_is_recorded_as_failed(durable):
    c = Conv()
    durable.start_persister()
    s = durable.start_summarizer(llm=False, env={
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",        # nothing listens on port 9
        "OPENAI_MODEL": "mock-llm", "SUMMARIZER_LLM_ATTEMPTS": "2", "SUMMARIZER_LLM_RETRIES": "1",
        "SUMMARIZER_BACKOFF_MS": "100", "SUMMARIZER_LLM_TIMEOUT_MS": "2000"})
    durable.produce(conversation(c) + c.end())
    row = durable.wait(lambda: summarized(durable, c.sid), 60, "the failure")
    assert row["summary_status"] == "failed" and row["session_summary"] is None
    assert "llm" in row["summary_error"] and "network" in row["summary_error"], row
    assert row["end_time"] is not None and row["duration_seconds"] is not None
    assert "llm attempts exhausted" in s.log_text()


def test_llm_errors_are_retried(durable):
    """A mock that fails most requests with 500: the summary still arrives, after retries."""
    c = Conv()
    durable.start_mock(env={"MOCK_LLM_FAULTS": "500:0.7", "MOCK_LLM_SEED": "7"})
    durable.start_persister()
    durable.start_summarizer(env={"SUMMARIZER_LLM_ATTEMPTS": "10", "SUMMARIZER_LLM_RETRIES": "1",
                                  "SUMMARIZER_BACKOFF_MS": "100"})
    durable.produce(conversation(c) + c.end())
    row = durable.wait(lambda: summarized(durable, c.sid), 60, "the summary")
    assert row["summary_status"] == "ok", row


def test_waits_until_the_persister_stored_the_session(durable):
    """No race with the persister: nothing happens until the session_end row exists, then the
    transcript holds every turn."""
    c = Conv()
    envs = conversation(c) + c.turn("One more thing", "Sure.")
    s = durable.start_summarizer(env={"LOG_LEVEL": "debug"})
    s.wait_log(r"partitions assigned", 30)
    durable.produce(envs + c.end())
    time.sleep(4)
    assert durable.session(c.sid) is None, "nothing may be written before the persister ran"
    durable.start_persister()
    row = durable.wait(lambda: summarized(durable, c.sid), 30, "the summary")
    assert row["summary_status"] == "ok"
    # 3 user messages + 3 answers + tool call + tool result = 8 transcript rows.
    s.wait_log(r'msg="asking the LLM" session=%s rows=8 ' % c.sid, 5)


def test_end_never_stored_fails_after_the_bound(durable):
    c = Conv()
    s = durable.start_summarizer(env={"SUMMARIZER_PERSIST_WAIT_MS": "2000"})
    durable.produce(conversation(c) + c.end(end_ts=c.t0 + 10_000))
    row = durable.wait(lambda: summarized(durable, c.sid), 30, "the failure")
    assert row["summary_status"] == "failed"
    assert "not stored by the persister" in row["summary_error"]
    assert row["user_id"] == c.user and row["end_ms"] == c.t0 + 10_000
    # The persister, when it comes, still writes every event (the session row exists).
    durable.start_persister()
    durable.wait(lambda: len(durable.event_rows(c.sid)) == len(c.events), 30, "the rows")
    assert s.alive()


def test_resumed_session_gets_a_fresh_summary(durable):
    c = Conv()
    durable.start_persister()
    s = durable.start_summarizer()
    end1 = c.end(end_ts=c.t0 + 30_000)
    durable.produce(conversation(c) + end1)
    durable.wait(lambda: summarized(durable, c.sid, end1[0]["id"]), 30, "first summary")
    c.clock = c.t0 + 40_000
    end2 = c.end(end_ts=c.t0 + 90_000)
    durable.produce(c.turn("I'm back: what about Rome?", "Rome is warm.") + end2)
    row = durable.wait(lambda: (lambda r: r if r and str(r["summary_event_key"]) == end2[0]["id"]
                                else None)(durable.session(c.sid)), 30, "second summary")
    assert row["summary_status"] == "ok"
    assert row["end_ms"] == c.t0 + 90_000 and row["duration_seconds"] == 90
    assert s.log_text().count(f"session={c.sid} ") >= 2


def test_replayed_end_is_not_summarized_again(durable):
    c = Conv()
    durable.start_persister()
    durable.start_summarizer()
    durable.produce(conversation(c) + c.end())
    first = durable.wait(lambda: summarized(durable, c.sid), 30, "the summary")
    # Another group reads everything again (as after a crash before the commit).
    s2 = durable.start_summarizer(group=f"{durable.ns}-replay")
    s2.wait_log(r"summary not needed.*session=%s .*reason=already_written" % c.sid, 30)
    assert f'msg="session summarized" session={c.sid}' not in s2.log_text()
    again = durable.session(c.sid)
    assert again["summarized_at"] == first["summarized_at"]


def test_sigterm_exits_zero(durable):
    durable.start_persister()
    s = durable.start_summarizer()
    s.wait_log(r"partitions assigned", 30)
    s.signal(signal.SIGTERM)
    assert s.wait(15) == 0, s.tail(20)
    assert 'msg="summarizer stopped" status=0' in s.log_text()
