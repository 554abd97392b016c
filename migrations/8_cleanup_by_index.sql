-- Retention at scale, third step (issue 17): a deletion finds each deleted session's key and transcript by index,
-- and the cleanup's batch lays its tombstones in one pass. Needs PostgreSQL 15 or newer (MERGE).
-- 1. The statement trigger of migration 6 joined the deleted rows (a transition table, of unknown size to the
--    planner) to session_key and session_transcript; the planner answered with a hash join over the whole table, read
--    once per deleted batch. With a key per session (the default since migration 7) a cleanup of N sessions read N
--    keys per batch: the 1 M cleanup took 37 s and its bare SQL batches 73 s (BENCHMARKS.md, "Cleanup at scale, third
--    step"). Now the deleted ids are gathered once and each table is looked up by them through its index.
-- 2. The batch's tombstones (migration 6: an UPDATE of those that exist, then an INSERT of those that do not, each
--    probing session_tombstone once per row) become one MERGE: one probe per row.
-- Sequential scans are off inside both functions, so no plan (one cached while session_tombstone was still empty,
-- say) can fall back to reading a table whole. Applied by src/postgres/migrate.ts.

CREATE OR REPLACE FUNCTION ds_session_rows_deleted() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
  ids text[] := ARRAY(SELECT g.session_id FROM gone g);
BEGIN
  -- Live keys only: a key the fenced delete just retired waits for its run to close (migration 7).
  DELETE FROM session_key k WHERE k.session_id = ANY (ids) AND k.retired_at IS NULL;
  DELETE FROM session_transcript t WHERE t.session_id = ANY (ids);
  RETURN NULL;
END $$;

-- The cleanup's batch (migrations 5 and 6): the same locks, fence, progress and answers. The tombstones are laid or
-- raised under the sessions' locks, so no other statement lays one for these ids meanwhile. (A purge of tombstones
-- past the retention takes no lock; if it removes one that MERGE has matched, MERGE either lays it anew or fails,
-- depending on the PostgreSQL version, and a failed batch rolls back whole and the cleanup's activity runs it again.)
CREATE OR REPLACE FUNCTION ds_expire_batch(
  p_cleanup_id text, p_cutoff bigint, p_ids text[], p_holders text[], p_last text,
  p_by_actor bigint, p_kept_by_actor bigint
) RETURNS SETOF text LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
  gone text[];
  versions bigint[];
  now_s bigint := ds_epoch();
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(s.id, 20260))
  FROM (SELECT u.id FROM unnest(p_ids) AS u(id) ORDER BY u.id COLLATE "C") AS s;
  WITH removed AS (
    DELETE FROM conversation_context c
    USING unnest(p_ids, p_holders) AS u(id, holder)
    WHERE c.session_id = u.id AND c.updated_at < p_cutoff AND c.holder IS NOT DISTINCT FROM u.holder
    RETURNING c.session_id, c.version
  )
  SELECT coalesce(array_agg(r.session_id), '{}'), coalesce(array_agg(r.version), '{}') INTO gone, versions
  FROM removed r;
  MERGE INTO session_tombstone t
  USING unnest(gone, versions) AS r(session_id, version) ON t.session_id = r.session_id
  WHEN MATCHED THEN UPDATE SET version = greatest(t.version, r.version), deleted_at = now_s
  WHEN NOT MATCHED THEN INSERT (session_id, version, deleted_at) VALUES (r.session_id, r.version, now_s);
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
