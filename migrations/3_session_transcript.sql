-- Transcripts (issue 16): for a session that keeps one, every message that entered its window, in order. Written
-- with the snapshot, in the same call under the same per-session lock and fence (a deleted session's transcript can
-- never come back), and deleted with the session's row. Applied by src/postgres/migrate.ts.
CREATE TABLE session_transcript (
  -- ON DELETE CASCADE: every path that deletes a session (the actor's fenced delete, retention, the direct store)
  -- takes its transcript with it, in the same statement.
  session_id text    COLLATE "C" NOT NULL REFERENCES conversation_context (session_id) ON DELETE CASCADE,
  -- The version that brought the message in, and its place among that version's messages: the transcript's order.
  version    bigint  NOT NULL,
  seq        integer NOT NULL,
  -- The message in its wire form ({role, content, name?, tool_calls?, tool_call_id?}).
  message    jsonb   NOT NULL,
  PRIMARY KEY (session_id, version, seq)
);

-- ds_persist_session (migrations/2_session_fence.sql) gains the transcript: p_transcript is a JSON array of
-- {version, messages}. Rows are keyed by (version, seq), so a retried or repeated write adds nothing twice.
DROP FUNCTION ds_persist_session(text, integer, text, jsonb, bigint, bigint, bigint, bigint, text);
CREATE FUNCTION ds_persist_session(
  p_session_id text, p_user_id integer, p_agent_type text, p_context_data jsonb, p_created_at bigint,
  p_updated_at bigint, p_version bigint, p_born_version bigint, p_holder text, p_transcript jsonb DEFAULT NULL
) RETURNS TABLE (outcome text, tombstone_version bigint) LANGUAGE plpgsql AS $$
DECLARE
  fence bigint;
  written integer;
BEGIN
  PERFORM ds_lock_session(p_session_id);
  SELECT t.version INTO fence FROM session_tombstone t WHERE t.session_id = p_session_id;
  IF fence >= p_born_version THEN
    RETURN QUERY SELECT 'fenced'::text, fence;
    RETURN;
  END IF;
  INSERT INTO conversation_context AS c
    (session_id, user_id, agent_type, context_data, created_at, updated_at, version, born_version, holder,
     claimed_at, persisted_at)
  VALUES (p_session_id, p_user_id, p_agent_type, p_context_data, p_created_at, p_updated_at, p_version,
          p_born_version, p_holder, ds_epoch(), now())
  ON CONFLICT (session_id) DO UPDATE SET
    user_id = EXCLUDED.user_id,
    agent_type = EXCLUDED.agent_type,
    context_data = EXCLUDED.context_data,
    created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at,
    version = EXCLUDED.version,
    born_version = EXCLUDED.born_version,
    holder = EXCLUDED.holder,
    persisted_at = now()
  WHERE c.version < EXCLUDED.version;
  GET DIAGNOSTICS written = ROW_COUNT;
  -- Also on 'stale': the row is this incarnation's (the fence above says so) and the rows are idempotent.
  IF p_transcript IS NOT NULL THEN
    INSERT INTO session_transcript (session_id, version, seq, message)
    SELECT p_session_id, (b.value->>'version')::bigint, (m.ordinality - 1)::integer, m.value
    FROM jsonb_array_elements(p_transcript) AS b(value),
         jsonb_array_elements(b.value->'messages') WITH ORDINALITY AS m(value, ordinality)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN QUERY SELECT CASE WHEN written > 0 THEN 'written' ELSE 'stale' END, fence;
END $$;
