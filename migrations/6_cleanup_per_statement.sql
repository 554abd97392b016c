-- Retention at scale, second step (issue 17): what a deletion costs per row, cut where it bought nothing per row.
-- Measured on 1 M expired sessions, statements alone (BENCHMARKS.md, "Cleanup at scale"): the transcript's foreign
-- key ran one cascade query per deleted row (~27 % of a batch), ON CONFLICT made every tombstone a speculative
-- insertion, and the lock went through a SQL function per id. Applied by src/postgres/migrate.ts.

-- Transcripts go with their session's row once per statement, like the session keys (migration 5): one join of the
-- deleted rows against session_transcript instead of a trigger call and a query per row. The foreign key goes: the
-- only writer of transcripts is ds_persist_session, which writes the row first under the session's lock and fence,
-- and every DELETE of rows (the fenced delete, retention, the direct store) takes the transcripts in the same
-- statement here. A TRUNCATE does not fire it: truncate session_transcript with it.
ALTER TABLE session_transcript DROP CONSTRAINT session_transcript_session_id_fkey;
DROP TRIGGER conversation_context_destroy_keys ON conversation_context;
DROP FUNCTION ds_destroy_session_keys();
CREATE FUNCTION ds_session_rows_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM session_key k USING gone g WHERE k.session_id = g.session_id;
  DELETE FROM session_transcript t USING gone g WHERE t.session_id = g.session_id;
  RETURN NULL;
END $$;
CREATE TRIGGER conversation_context_rows_deleted AFTER DELETE ON conversation_context
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION ds_session_rows_deleted();

-- The cleanup's batch (migration 5), the same fence and the same answers. Tombstones: raised where the session has
-- one, laid where it has none (most expired sessions were never deleted before), both under the sessions' locks, so
-- no other statement lays one for these ids meanwhile; no speculative insertion per row. (A purge of tombstones past
-- the retention, which takes no lock, can remove one between the two: that session is still deleted and counted, and
-- is left without a tombstone, as it would be a moment later anyway.) The time is read once.
CREATE OR REPLACE FUNCTION ds_expire_batch(
  p_cleanup_id text, p_cutoff bigint, p_ids text[], p_holders text[], p_last text,
  p_by_actor bigint, p_kept_by_actor bigint
) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  gone text[];
  now_s bigint := ds_epoch();
BEGIN
  -- ds_lock_session's own expression, inline: the same lock, without a function call per id.
  PERFORM pg_advisory_xact_lock(hashtextextended(s.id, 20260))
  FROM (SELECT u.id FROM unnest(p_ids) AS u(id) ORDER BY u.id COLLATE "C") AS s;
  WITH removed AS (
    DELETE FROM conversation_context c
    USING unnest(p_ids, p_holders) AS u(id, holder)
    WHERE c.session_id = u.id AND c.updated_at < p_cutoff AND c.holder IS NOT DISTINCT FROM u.holder
    RETURNING c.session_id, c.version
  ), raised AS (
    UPDATE session_tombstone t SET version = greatest(t.version, r.version), deleted_at = now_s
    FROM removed r WHERE t.session_id = r.session_id
  ), laid AS (
    INSERT INTO session_tombstone (session_id, version, deleted_at)
    SELECT r.session_id, r.version, now_s FROM removed r
    WHERE NOT EXISTS (SELECT 1 FROM session_tombstone t WHERE t.session_id = r.session_id)
  )
  SELECT coalesce(array_agg(r.session_id), '{}') INTO gone
  FROM removed r; -- raised and laid run to completion with it: data-modifying CTEs always do, read or not.
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
