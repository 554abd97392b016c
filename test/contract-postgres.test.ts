// Runs the SessionService and SessionRecovery contract suites against PostgresSessionStore, with and without
// its cache; SessionRecovery takes the reference's load → change → save path on it (the store has no execute).
import { createPool, insertSnapshotsRaw, LruSessionCache, PostgresSessionStore } from '../src/postgres';
import { describeAgentSessionContract } from './support/agent-contract';
import { type ContractHarness, describeSessionServiceContract } from './support/contract';
import { describeRecoveryContract } from './support/recovery-contract';
import { createTestDatabase } from './support/stack';

function postgresHarness(withCache: boolean): () => Promise<ContractHarness> {
  return async () => {
    const db = await createTestDatabase(withCache ? 'contract_pg_cache' : 'contract_pg');
    const pool = createPool(db.url, 5);
    const service = new PostgresSessionStore(pool, withCache ? new LruSessionCache() : undefined);
    return {
      service,
      seed: async (ctx) => {
        // Exact timestamps; deleteSession first so a re-seeded id replaces the row and leaves no cache entry.
        await service.deleteSession(ctx.sessionId);
        await insertSnapshotsRaw(pool, [ctx]);
      },
      close: async () => {
        await pool.end();
        await db.drop();
      },
    };
  };
}

describeSessionServiceContract('PostgresSessionStore', postgresHarness(false));
describeSessionServiceContract('PostgresSessionStore with LruSessionCache', postgresHarness(true));
describeRecoveryContract('PostgresSessionStore (read-modify-write)', postgresHarness(true));
// Watching needs a single writer to order changes: the direct store has none.
describeAgentSessionContract('PostgresSessionStore with LruSessionCache', postgresHarness(true), {
  transcript: true,
  watch: false,
});
