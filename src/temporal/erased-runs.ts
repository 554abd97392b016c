// Runs that cannot decode their own history because their session's data key was destroyed (keys per session,
// docs/encryption.md): a write encrypted a moment before another process deleted the session. They belong to the
// deleted incarnation, so they are terminated. Used by TemporalSessionService (a command that meets such a run).
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

/** The SDK puts the decoding error's stack in the task failure; PayloadErasedError is the codec's own class. */
const ERASED_FAILURE = /^PayloadErasedError\b/;

/**
 * Terminates the running run of `workflowId` (or the run `runId`) when its last workflow task failed because a
 * payload's key is destroyed. Returns true when it did.
 */
export async function terminateErasedRun(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<boolean> {
  let running: string;
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    if (d.status.name !== 'RUNNING') return false;
    running = d.runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
  const handle = client.workflow.getHandle(workflowId, running);
  if (!lastTaskFailedErased((await handle.fetchHistory()).events ?? [])) return false;
  try {
    await handle.terminate('its history holds payloads of a deleted session (data key destroyed): erased');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  return true;
}

function lastTaskFailedErased(events: temporal.api.history.v1.IHistoryEvent[]): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.workflowTaskCompletedEventAttributes) return false;
    const failed = e.workflowTaskFailedEventAttributes;
    if (failed) return ERASED_FAILURE.test(failed.failure?.stackTrace ?? '');
  }
  return false;
}
