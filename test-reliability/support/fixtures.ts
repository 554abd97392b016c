// Replay fixtures: histories recorded from the suite's own runs, committed under test-reliability/fixtures/.
// Tests call recordFixture(); it writes only when RELIABILITY_RECORD_FIXTURES=1 (then commit the files).
// Read by support/replay-main.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { sessionWorkflowId } from '../../workflows/messages';

export const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures');
const History = temporal.api.history.v1.History;
// protobufjs JSON of temporal.api.history.v1.History (not the proto3 JSON of `temporal workflow show`): the SDK's
// historyFromJSON fails in this install ("type must be a Type": @temporalio/common and @temporalio/proto each
// carry their own protobufjs copy), while History.fromObject needs only @temporalio/proto.
const FIXTURE_FORMAT = { longs: String, enums: String, bytes: String } as const;

/** A fixture's history as the SDK's proto object. */
export function fixtureHistory(json: unknown): temporal.api.history.v1.History {
  return History.fromObject(json as Record<string, unknown>);
}

/** Fixture files and their histories (proto JSON), for Worker.runReplayHistories. */
export function loadFixtures(): { name: string; workflowId: string; history: unknown }[] {
  if (!fs.existsSync(FIXTURES_DIR)) return [];
  return fs
    .readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      name: f,
      workflowId: `fixture/${f}`,
      history: JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, f), 'utf8')),
    }));
}

/** Writes every run of the session's actor as `<name>.<n>.json` (oldest run first), at most `maxRuns`. */
export async function recordFixture(
  client: Client,
  sessionId: string,
  name: string,
  maxRuns = 2,
): Promise<void> {
  if (process.env.RELIABILITY_RECORD_FIXTURES !== '1') return;
  const workflowId = sessionWorkflowId(sessionId);
  const runs: { runId: string; start: number }[] = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ runId: e.runId, start: e.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  fs.mkdirSync(FIXTURES_DIR, { recursive: true });
  for (const [i, r] of runs.slice(0, maxRuns).entries()) {
    const history = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    const json = History.toObject(History.fromObject(history), FIXTURE_FORMAT);
    fs.writeFileSync(path.join(FIXTURES_DIR, `${name}.${i + 1}.json`), JSON.stringify(json));
  }
}
