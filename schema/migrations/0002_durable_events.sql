-- 0002: what the persister and summarizer need on top of the reference tables.
-- Every new column is nullable, so the reference's INSERTs and queries keep working.

-- event_log
--   event_key  the Kafka envelope id: one row per event however often it is replayed
--              (NULLs are distinct, so rows written without a key never collide)
--   turn_id    the turn the event belongs to (NULL for session_start / session_end)
--   meta       for user_message / ai_response, the payload without its text, e.g.
--              {"finish_reason":"stop","interrupted":false,"usage":{...}}
ALTER TABLE event_log ADD COLUMN IF NOT EXISTS event_key UUID;
ALTER TABLE event_log ADD COLUMN IF NOT EXISTS turn_id UUID;
ALTER TABLE event_log ADD COLUMN IF NOT EXISTS meta JSONB;
CREATE UNIQUE INDEX IF NOT EXISTS event_log_event_key_key ON event_log (event_key);
-- A session's events in order: ORDER BY timestamp, event_id.
CREATE INDEX IF NOT EXISTS event_log_session_time_idx
    ON event_log (session_id, timestamp, event_id);

-- session_metadata
--   summary_status     NULL until the summarizer handled an end of the session, then
--                      'ok' (session_summary set), 'empty' (no user message, no LLM call)
--                      or 'failed' (session_summary NULL, summary_error says why)
--   summary_error      why the last summary could not be produced
--   summary_event_key  the session_end event the current summary answers (a session that
--                      is resumed and ends again gets a fresh summary)
--   summarized_at      when the summarizer wrote it
ALTER TABLE session_metadata ADD COLUMN IF NOT EXISTS summary_status TEXT;
ALTER TABLE session_metadata ADD COLUMN IF NOT EXISTS summary_error TEXT;
ALTER TABLE session_metadata ADD COLUMN IF NOT EXISTS summary_event_key UUID;
ALTER TABLE session_metadata ADD COLUMN IF NOT EXISTS summarized_at TIMESTAMPTZ;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conname = 'session_metadata_summary_status_check') THEN
        ALTER TABLE session_metadata ADD CONSTRAINT session_metadata_summary_status_check
            CHECK (summary_status IN ('ok', 'empty', 'failed'));
    END IF;
END
$$;
-- A user's sessions, newest first.
CREATE INDEX IF NOT EXISTS session_metadata_user_time_idx
    ON session_metadata (user_id, start_time DESC);
