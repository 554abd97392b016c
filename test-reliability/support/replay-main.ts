// Replays the fixture histories against one workflow bundle and prints the results as JSON. Run as a child process
// by replay.test.ts, so the replay worker's native runtime lives and dies outside the jest process.
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { HeldRuns } from '../../src/temporal/held-runs';
import { fixtureHistory, loadFixtures } from './fixtures';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const codePath = process.argv[2];
  const histories = loadFixtures().map((f) => ({
    workflowId: f.workflowId,
    history: fixtureHistory(f.history),
  }));
  const results: { workflowId: string; error?: string; determinismViolation: boolean }[] = [];
  for await (const r of Worker.runReplayHistories(
    { workflowBundle: { codePath }, sinks: new HeldRuns().sinks() },
    histories,
  )) {
    results.push({
      workflowId: r.workflowId,
      error: r.error ? `${r.error.name}: ${r.error.message}` : undefined,
      determinismViolation: r.error instanceof DeterminismViolationError,
    });
  }
  process.stdout.write(`REPLAY RESULTS ${JSON.stringify(results)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`replay failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
