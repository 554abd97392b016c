-- Data keys per session (issue 17): every payload of a session's Temporal histories is encrypted with the session's
-- own key, kept here wrapped by the master key (src/codec/session-keys.ts). Destroying the row makes every copy of
-- the session's history unreadable (crypto-shredding). Applied by src/postgres/migrate.ts.
CREATE TABLE session_key (
  -- Random, named in each payload's metadata (`encryption-session-key`); never reused.
  key_id        text   COLLATE "C" PRIMARY KEY,
  -- One live key per session: a deleted session's key is gone, and its next incarnation gets a new one.
  session_id    text   COLLATE "C" NOT NULL UNIQUE,
  -- IV (12) ‖ AES-256-GCM of the 32-byte data key under the master key `master_key_id` ‖ tag (16).
  wrapped       bytea  NOT NULL,
  master_key_id text   NOT NULL,
  created_at    bigint NOT NULL DEFAULT ds_epoch()
);
CREATE INDEX session_key_master_idx ON session_key (master_key_id);

-- The session's live key, created from the caller's candidate when it has none. Under the session's lock, so a
-- deletion (which takes it too) is either before (a new key) or after (the key it destroys).
CREATE FUNCTION ds_session_key(p_session_id text, p_key_id text, p_wrapped bytea, p_master_key_id text)
RETURNS TABLE (key_id text, wrapped bytea, master_key_id text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM ds_lock_session(p_session_id);
  INSERT INTO session_key (key_id, session_id, wrapped, master_key_id)
  VALUES (p_key_id, p_session_id, p_wrapped, p_master_key_id)
  ON CONFLICT (session_id) DO NOTHING;
  RETURN QUERY SELECT k.key_id, k.wrapped, k.master_key_id FROM session_key k WHERE k.session_id = p_session_id;
END $$;

-- Every path that deletes a session's row (the actor's fenced delete, retention by SQL, the direct store) destroys
-- its key in the same statement.
CREATE FUNCTION ds_destroy_session_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_key k WHERE k.session_id = OLD.session_id;
  RETURN NULL;
END $$;
CREATE TRIGGER conversation_context_destroy_key AFTER DELETE ON conversation_context
  FOR EACH ROW EXECUTE FUNCTION ds_destroy_session_key();

-- ds_delete_session (migrations/2_session_fence.sql) also destroys a key whose session has no row yet (its first
-- payloads were sent, its first snapshot not yet written), first, under the same lock.
CREATE OR REPLACE FUNCTION ds_delete_session(p_session_id text, p_version bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  row_version bigint;
  fence bigint;
BEGIN
  PERFORM ds_lock_session(p_session_id);
  DELETE FROM session_key k WHERE k.session_id = p_session_id;
  DELETE FROM conversation_context c WHERE c.session_id = p_session_id RETURNING c.version INTO row_version;
  fence := greatest(coalesce(row_version, 0), p_version,
                    coalesce((SELECT t.version FROM session_tombstone t WHERE t.session_id = p_session_id), 0));
  IF fence > 0 THEN
    INSERT INTO session_tombstone AS t (session_id, version, deleted_at) VALUES (p_session_id, fence, ds_epoch())
    ON CONFLICT (session_id) DO UPDATE SET version = EXCLUDED.version, deleted_at = EXCLUDED.deleted_at;
  END IF;
  RETURN fence;
END $$;
