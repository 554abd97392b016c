-- Retention at scale (issue 17): a cleanup's batches delete set-wise, and each batch records the cleanup's keyset
-- position and totals in the same statement, so a cleanup resumed after a crash (kill -9 of its worker) continues
-- after the last batch that committed, with exact totals. Applied by src/postgres/migrate.ts; used by
-- src/retention/sql.ts.

-- One row per cleanup (its workflow id and first run id); purged with the tombstones once older than the retention.
CREATE TABLE cleanup_progress (
  cleanup_id text   COLLATE "C" PRIMARY KEY,
  cutoff     bigint NOT NULL,
  -- The last session id of the last batch that committed (null before the first).
  after_id   text   COLLATE "C",
  deleted    bigint NOT NULL DEFAULT 0,
  kept       bigint NOT NULL DEFAULT 0,
  batches    bigint NOT NULL DEFAULT 0,
  updated_at bigint NOT NULL DEFAULT ds_epoch()
);
CREATE INDEX cleanup_progress_updated_idx ON cleanup_progress (updated_at);

-- Deletes those of the batch's sessions (ids with the holder each had when selected) that are still expired and
-- still held by that holder, each leaving a tombstone, and advances the cleanup's progress by the batch: its last
-- id, the sessions its actors expired (p_by_actor) and kept (p_kept_by_actor), and what this statement deleted.
-- The same fence as ds_expire_idle_sessions (migration 2), set-wise: every session's lock first, in id order (so
-- concurrent cleanups never deadlock), then one DELETE that sees everything committed before each lock.
-- Returns the ids it deleted.
CREATE FUNCTION ds_expire_batch(
  p_cleanup_id text, p_cutoff bigint, p_ids text[], p_holders text[], p_last text,
  p_by_actor bigint, p_kept_by_actor bigint
) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  gone text[];
BEGIN
  PERFORM ds_lock_session(s.id) FROM (SELECT u.id FROM unnest(p_ids) AS u(id) ORDER BY u.id COLLATE "C") AS s;
  WITH removed AS (
    DELETE FROM conversation_context c
    USING unnest(p_ids, p_holders) AS u(id, holder)
    WHERE c.session_id = u.id AND c.updated_at < p_cutoff AND c.holder IS NOT DISTINCT FROM u.holder
    RETURNING c.session_id, c.version
  ), stones AS (
    INSERT INTO session_tombstone AS t (session_id, version, deleted_at)
    SELECT r.session_id, r.version, ds_epoch() FROM removed r
    ON CONFLICT (session_id) DO UPDATE SET version = greatest(t.version, EXCLUDED.version),
                                           deleted_at = EXCLUDED.deleted_at
    RETURNING t.session_id
  )
  SELECT coalesce(array_agg(s.session_id), '{}') INTO gone FROM stones s;
  INSERT INTO cleanup_progress AS p (cleanup_id, cutoff, after_id, deleted, kept, batches)
  VALUES (p_cleanup_id, p_cutoff, p_last, p_by_actor + cardinality(gone),
          p_kept_by_actor + cardinality(p_ids) - cardinality(gone), 1)
  ON CONFLICT (cleanup_id) DO UPDATE SET after_id = EXCLUDED.after_id,
                                         deleted = p.deleted + EXCLUDED.deleted,
                                         kept = p.kept + EXCLUDED.kept,
                                         batches = p.batches + 1,
                                         updated_at = ds_epoch();
  RETURN QUERY SELECT unnest(gone);
END $$;

-- A deletion destroys the keys of the sessions it deleted once per statement instead of once per row (migration 4's
-- trigger): the same keys in the same statement, without a trigger call and a query per session of a batch.
DROP TRIGGER conversation_context_destroy_key ON conversation_context;
DROP FUNCTION ds_destroy_session_key();
CREATE FUNCTION ds_destroy_session_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_key k USING gone g WHERE k.session_id = g.session_id;
  RETURN NULL;
END $$;
CREATE TRIGGER conversation_context_destroy_keys AFTER DELETE ON conversation_context
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION ds_destroy_session_keys();
