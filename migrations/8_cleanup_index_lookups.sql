-- Retention at scale, third step (issue 17): a deletion finds each deleted session's key and transcript by index.
-- The statement trigger of migration 6 joined the deleted rows (a transition table, of unknown size to the planner)
-- to session_key and session_transcript; the planner answered with a hash join over the whole table, read once per
-- deleted batch. With a key per session (the default since migration 7) a cleanup of N sessions read N keys per
-- batch: the 1 M cleanup took 37 s and its bare SQL batches 73 s, where the rows alone took about 20 s
-- (BENCHMARKS.md, "Cleanup at scale, third step"). Now the deleted ids are gathered once and every table is looked
-- up by them through its index; sequential scans are off inside the trigger and the cleanup's batch, so no plan
-- (a plan cached while session_tombstone was still empty, say) can fall back to reading a table whole.
-- Applied by src/postgres/migrate.ts.

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

ALTER FUNCTION ds_expire_batch(text, bigint, text[], text[], text, bigint, bigint) SET enable_seqscan = off;
