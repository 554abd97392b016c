// Replay fixtures: histories recorded from the suite's own runs, committed under test-reliability/fixtures/.
// Tests call recordFixture(); it writes only when RELIABILITY_RECORD_FIXTURES=1 (then commit the files).
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { sessionWorkflowId } from '../../workflows/messages';

export const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures');

/** Writes every run of the session's actor as `<name>.<n>.json` (oldest run first), at most `maxRuns`. */
export async function recordFixture(client: Client, sessionId: string, name: string, maxRuns = 2): Promise<void> {
  if (process.env.RELIABILITY_RECORD_FIXTURES !== '1') return;
  const workflowId = sessionWorkflowId(sessionId);
  const runs: { runId: string; start: number }[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ runId: e.runId, start: e.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  fs.mkdirSync(FIXTURES_DIR, { recursive: true });
  for (const [i, run] of runs.slice(0, maxRuns).entries()) {
    const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    fs.writeFileSync(path.join(FIXTURES_DIR, `${name}.${i + 1}.json`), historyToJSON(history));
  }
}
