-- Deletion fence for the session actor (issue 12): nothing in flight can write a deleted session back, and a
-- session re-created after a deletion continues its versions. Applied by src/postgres/migrate.ts.
--
-- Every statement that can race a deletion runs in a function that first takes a per-session advisory lock
-- (transaction-scoped). A plpgsql function takes a fresh snapshot for each statement, so what it reads after the
-- lock includes everything committed by whoever held the lock before: one round trip, no lost race.

-- The version at which this incarnation of the session was created: a write whose incarnation was deleted
-- (a tombstone at or above it) is refused.
ALTER TABLE conversation_context ADD COLUMN born_version bigint NOT NULL DEFAULT 1;
-- The actor chain (first run id of the workflow) that last loaded the session, and when (Unix seconds). Retention
-- deletes a row by SQL only while that holder is unchanged and no longer running; otherwise it asks the actor.
ALTER TABLE conversation_context ADD COLUMN holder text;
ALTER TABLE conversation_context ADD COLUMN claimed_at bigint;

-- One row per deleted or expired session, kept for the retention period: the last version it had.
CREATE TABLE session_tombstone (
  session_id text   COLLATE "C" PRIMARY KEY,
  version    bigint NOT NULL,
  -- Unix seconds; tombstones older than the retention are purged by the cleanup.
  deleted_at bigint NOT NULL
);
CREATE INDEX session_tombstone_deleted_idx ON session_tombstone (deleted_at);

-- Postgres' clock in Unix seconds: claims and tombstones are compared with each other, never with a client's clock.
CREATE FUNCTION ds_epoch() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT extract(epoch FROM now())::bigint $$;

-- The lock every fenced statement takes first (a 64-bit hash: unrelated sessions rarely share one, and then only wait).
CREATE FUNCTION ds_lock_session(p_session_id text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtextextended(p_session_id, 20260))
$$;

-- Loads a session for its actor and records the actor as its holder. Returns one row: the session's columns
-- (all null when there is none) and the tombstone's version (null when there is none).
CREATE FUNCTION ds_claim_session(p_session_id text, p_holder text)
RETURNS TABLE (
  user_id integer, agent_type text, context_data jsonb, created_at bigint, updated_at bigint,
  version bigint, born_version bigint, tombstone_version bigint
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM ds_lock_session(p_session_id);
  UPDATE conversation_context SET holder = p_holder, claimed_at = ds_epoch() WHERE session_id = p_session_id;
  RETURN QUERY
    SELECT c.user_id, c.agent_type, c.context_data, c.created_at, c.updated_at, c.version, c.born_version,
           (SELECT t.version FROM session_tombstone t WHERE t.session_id = p_session_id)
    FROM (SELECT p_session_id AS id) k
    LEFT JOIN conversation_context c ON c.session_id = k.id;
END $$;

-- Writes the actor's snapshot. outcome: 'written'; 'stale' when Postgres already holds this version or a newer one;
-- 'fenced' when this incarnation was deleted (a tombstone at or above its born version, returned as well).
CREATE FUNCTION ds_persist_session(
  p_session_id text, p_user_id integer, p_agent_type text, p_context_data jsonb, p_created_at bigint,
  p_updated_at bigint, p_version bigint, p_born_version bigint, p_holder text
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
  RETURN QUERY SELECT CASE WHEN written > 0 THEN 'written' ELSE 'stale' END, fence;
END $$;

-- Deletes a session and leaves its tombstone: the highest of the row's version, the actor's version and an earlier
-- tombstone's. Returns that version (0 when there was nothing to fence: no row, no version, no tombstone).
CREATE FUNCTION ds_delete_session(p_session_id text, p_version bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  row_version bigint;
  fence bigint;
BEGIN
  PERFORM ds_lock_session(p_session_id);
  DELETE FROM conversation_context c WHERE c.session_id = p_session_id RETURNING c.version INTO row_version;
  fence := greatest(coalesce(row_version, 0), p_version,
                    coalesce((SELECT t.version FROM session_tombstone t WHERE t.session_id = p_session_id), 0));
  IF fence > 0 THEN
    INSERT INTO session_tombstone AS t (session_id, version, deleted_at) VALUES (p_session_id, fence, ds_epoch())
    ON CONFLICT (session_id) DO UPDATE SET version = EXCLUDED.version, deleted_at = EXCLUDED.deleted_at;
  END IF;
  RETURN fence;
END $$;

-- Retention without an actor: deletes those sessions (ids with the holder each had when it was selected) that are
-- still expired and still held by that holder, in id order (so concurrent batches never deadlock), each leaving a
-- tombstone. Returns the ids it deleted.
CREATE FUNCTION ds_expire_idle_sessions(p_ids text[], p_holders text[], p_cutoff bigint)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  item record;
  gone_version bigint;
BEGIN
  FOR item IN
    SELECT u.id, u.holder FROM unnest(p_ids, p_holders) AS u(id, holder) ORDER BY u.id COLLATE "C"
  LOOP
    PERFORM ds_lock_session(item.id);
    gone_version := NULL;
    DELETE FROM conversation_context c
    WHERE c.session_id = item.id AND c.updated_at < p_cutoff AND c.holder IS NOT DISTINCT FROM item.holder
    RETURNING c.version INTO gone_version;
    IF gone_version IS NOT NULL THEN
      INSERT INTO session_tombstone AS t (session_id, version, deleted_at) VALUES (item.id, gone_version, ds_epoch())
      ON CONFLICT (session_id) DO UPDATE SET version = greatest(t.version, EXCLUDED.version),
                                             deleted_at = EXCLUDED.deleted_at;
      RETURN NEXT item.id;
    END IF;
  END LOOP;
END $$;
