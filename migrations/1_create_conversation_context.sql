-- Session snapshots: one row per session, written by the session actor (or PostgresSessionStore).
-- Applied by src/postgres/migrate.ts (postgres-migrations runs this file in a transaction).
CREATE TABLE conversation_context (
  -- COLLATE "C": ties in listSessions order bytewise, the same as a JS string comparison in the other services.
  session_id   text        COLLATE "C" PRIMARY KEY CHECK (char_length(session_id) BETWEEN 1 AND 128),
  user_id      integer     NOT NULL,
  agent_type   text        NOT NULL DEFAULT '',
  -- {metadata, messages}, as the reference stores it.
  context_data jsonb       NOT NULL,
  -- Unix seconds, set by the service (no trigger rewrites them).
  created_at   bigint      NOT NULL,
  updated_at   bigint      NOT NULL,
  -- Monotonic snapshot version: an upsert never replaces a row with an older version.
  version      bigint      NOT NULL,
  -- When the row was last written; the difference to updated_at is the snapshot lag.
  persisted_at timestamptz NOT NULL DEFAULT now()
);

-- listSessions keyset pages: WHERE user_id = $1 AND (updated_at, session_id) < ($2, $3) ORDER BY updated_at DESC, session_id DESC.
CREATE INDEX conversation_context_user_updated_idx
  ON conversation_context (user_id, updated_at DESC, session_id DESC);

-- Retention cleanup: WHERE updated_at < cutoff.
CREATE INDEX conversation_context_updated_idx ON conversation_context (updated_at);
