-- Keys per session, retired by the actor's delete and destroyed once its run has closed (issue 17). Destroying the
-- key inside the run that deletes the session left that run unable to replay its own history: a workflow task of it
-- that ran again after the key was gone (a worker that died before completing it, a run evicted from a worker's
-- cache while its removal waited) decoded its earlier events as erased and did not answer the delete. Now the fenced
-- delete retires the key: no new payload is sealed with it (a write after the delete gets a new key), the codec
-- server shows its payloads as erased, and only the run's own replays still open them. Whoever sent the delete
-- destroys it as soon as the removing run has answered (src/retention/retired-keys.ts destroyRetiredKeys), and each cleanup destroys
-- what a crashed caller left retired. The paths without an actor (retention by SQL, the direct store) have no run to
-- replay and still destroy the key with the row. Applied by src/postgres/migrate.ts.

-- NULL while the key is live; the time (epoch seconds) it was retired.
ALTER TABLE session_key ADD COLUMN retired_at bigint;
-- One live key per session; retired keys of earlier incarnations may sit beside it until they are destroyed.
ALTER TABLE session_key DROP CONSTRAINT session_key_session_id_key;
CREATE UNIQUE INDEX session_key_live_idx ON session_key (session_id) WHERE retired_at IS NULL;
-- Few at any time (each is destroyed once its run has answered): the sweep reads them all.
CREATE INDEX session_key_retired_idx ON session_key (session_id) WHERE retired_at IS NOT NULL;

-- The session's live key, created from the caller's candidate when it has none (migration 4), never a retired one.
CREATE OR REPLACE FUNCTION ds_session_key(p_session_id text, p_key_id text, p_wrapped bytea, p_master_key_id text)
RETURNS TABLE (key_id text, wrapped bytea, master_key_id text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM ds_lock_session(p_session_id);
  INSERT INTO session_key (key_id, session_id, wrapped, master_key_id)
  VALUES (p_key_id, p_session_id, p_wrapped, p_master_key_id)
  ON CONFLICT (session_id) WHERE retired_at IS NULL DO NOTHING;
  RETURN QUERY SELECT k.key_id, k.wrapped, k.master_key_id FROM session_key k
    WHERE k.session_id = p_session_id AND k.retired_at IS NULL;
END $$;

-- The actor's fenced delete (migrations 2 and 4): the live key is retired first, under the session's lock, also when
-- the session has no row yet; the rest as before.
CREATE OR REPLACE FUNCTION ds_delete_session(p_session_id text, p_version bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  row_version bigint;
  fence bigint;
BEGIN
  PERFORM ds_lock_session(p_session_id);
  UPDATE session_key k SET retired_at = ds_epoch() WHERE k.session_id = p_session_id AND k.retired_at IS NULL;
  DELETE FROM conversation_context c WHERE c.session_id = p_session_id RETURNING c.version INTO row_version;
  fence := greatest(coalesce(row_version, 0), p_version,
                    coalesce((SELECT t.version FROM session_tombstone t WHERE t.session_id = p_session_id), 0));
  IF fence > 0 THEN
    INSERT INTO session_tombstone AS t (session_id, version, deleted_at) VALUES (p_session_id, fence, ds_epoch())
    ON CONFLICT (session_id) DO UPDATE SET version = EXCLUDED.version, deleted_at = EXCLUDED.deleted_at;
  END IF;
  RETURN fence;
END $$;

-- Deleted rows take their live keys and transcripts in the same statement (migration 6); a key the fenced delete
-- just retired waits for its run to close.
CREATE OR REPLACE FUNCTION ds_session_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_key k USING gone g WHERE k.session_id = g.session_id AND k.retired_at IS NULL;
  DELETE FROM session_transcript t USING gone g WHERE t.session_id = g.session_id;
  RETURN NULL;
END $$;

-- Destroys the keys these sessions' deletes retired, once the runs that retired them have closed (the caller of the
-- delete, or the cleanup's sweep of keys such a caller left). With p_unused, also the live key of each that has no row:
-- the removing run's last payloads (its removal's result) were sealed with a key made after the retirement, which
-- seals nothing else. Under each session's lock, in id order. Returns how many keys it destroyed.
CREATE FUNCTION ds_destroy_retired_keys(p_session_ids text[], p_unused boolean)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_id text;
  destroyed bigint := 0;
  n bigint;
BEGIN
  FOR v_id IN SELECT u.id FROM (SELECT DISTINCT x AS id FROM unnest(p_session_ids) AS x) u ORDER BY u.id COLLATE "C"
  LOOP
    PERFORM ds_lock_session(v_id);
    DELETE FROM session_key k WHERE k.session_id = v_id
      AND (k.retired_at IS NOT NULL
           OR (p_unused AND NOT EXISTS (SELECT 1 FROM conversation_context c WHERE c.session_id = v_id)));
    GET DIAGNOSTICS n = ROW_COUNT;
    destroyed := destroyed + n;
  END LOOP;
  RETURN destroyed;
END $$;
