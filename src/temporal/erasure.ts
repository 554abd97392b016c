// Erasure and expiry on Temporal: delete every run's history of a session's workflow id, and expire sessions
// through their actor when it runs (single writer) or by one guarded SQL statement when it does not.
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { deleteIfExpired, selectExpiredIds } from '../postgres/snapshots';
import { expiryCutoff, validateRetentionDays } from '../session-rules';
import { expireSessionUpdate, sessionWorkflowId } from '../../workflows/messages';
import { isActorGone, toSessionError } from './failures';

const ERASE_ROUNDS = 20;

/**
 * Deletes the history of every execution (each continue-as-new run is one) of a workflow id. Visibility is
 * eventually consistent, so it lists and deletes until the list comes back empty.
 */
export async function eraseWorkflowHistories(client: Client, workflowId: string): Promise<number> {
  const namespace = client.options.namespace;
  let deleted = 0;
  for (let round = 0; round < ERASE_ROUNDS; round++) {
    const runs: string[] = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = ${quoteVisibility(workflowId)}` })) {
      runs.push(execution.runId);
    }
    if (runs.length === 0) return deleted;
    for (const runId of runs) {
      try {
        await client.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId, runId } });
        deleted++;
      } catch (err) {
        if (!/not found/i.test(String((err as Error)?.message))) throw err;
      }
    }
    await new Promise((r) => setTimeout(r, 50 * (round + 1)));
  }
  return deleted;
}

/** Expires one session: through its actor when running, else by SQL that re-checks the cutoff. */
export async function expireSession(client: Client, pool: Pool, sessionId: string, cutoff: number): Promise<boolean> {
  let expired: boolean;
  try {
    ({ expired } = await client.workflow
      .getHandle(sessionWorkflowId(sessionId))
      .executeUpdate(expireSessionUpdate, { args: [{ cutoff }] }));
  } catch (err) {
    if (!isActorGone(err)) throw toSessionError(err, sessionId);
    expired = await deleteIfExpired(pool, sessionId, cutoff);
  }
  if (expired) await eraseWorkflowHistories(client, sessionWorkflowId(sessionId));
  return expired;
}

/** Deletes sessions with updatedAt < now - retentionDays (strictly), each erased everywhere; returns the count. */
export async function cleanupExpiredSessions(
  client: Client,
  pool: Pool,
  retentionDays: number,
  batchSize = 200,
): Promise<number> {
  validateRetentionDays(retentionDays);
  const cutoff = expiryCutoff(Date.now(), retentionDays);
  let count = 0;
  let after: string | null = null;
  for (;;) {
    const ids = await selectExpiredIds(pool, cutoff, after, batchSize);
    if (ids.length === 0) return count;
    for (const id of ids) if (await expireSession(client, pool, id, cutoff)) count++;
    after = ids[ids.length - 1];
  }
}

/** A visibility query string literal; ids are restricted to [A-Za-z0-9._:-/] but escape anyway. */
export function quoteVisibility(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
