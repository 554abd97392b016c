// Replay: histories recorded from this suite's own runs (test-reliability/fixtures/, re-recorded with
// RELIABILITY_RECORD_FIXTURES=1) replay against the current workflow bundle; a deliberately nondeterministic copy
// of the workflows (one extra timer before hydration) must fail that replay with a DeterminismViolationError.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { run } from '../src/runtime/process';
import { loadFixtures } from './support/fixtures';
import { report } from './support/load';
import { suiteAssets } from './support/rig';

const ROOT = path.resolve(__dirname, '..');

interface Replayed {
  workflowId: string;
  error?: string;
  determinismViolation: boolean;
}

/** Worker.runReplayHistories over every fixture, in a child process (see support/replay-main.ts). */
async function replayAll(codePath: string): Promise<Replayed[]> {
  const { stdout } = await run(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'support', 'replay-main.ts'), codePath],
    { cwd: ROOT, timeoutMs: 300_000 },
  );
  const line = stdout.split('\n').find((l) => l.startsWith('REPLAY RESULTS '));
  if (!line) throw new Error(`no replay results in:\n${stdout}`);
  return JSON.parse(line.slice('REPLAY RESULTS '.length)) as Replayed[];
}

/** A copy of workflows/ whose actors sleep 1 ms before they load: a command the recorded histories lack. */
async function nondeterministicBundle(dir: string): Promise<string> {
  const copy = path.join(dir, 'workflows');
  fs.mkdirSync(copy, { recursive: true });
  for (const f of fs.readdirSync(path.join(ROOT, 'workflows'))) {
    let text = fs.readFileSync(path.join(ROOT, 'workflows', f), 'utf8');
    text = text.replace(/from '\.\.\/src\//g, `from '${path.join(ROOT, 'src')}/`);
    text = text.replace(/from '\.\.\/activities'/g, `from '${path.join(ROOT, 'activities')}'`);
    // Both actors (the current one and the legacy one that replays runs recorded before the lifecycle machine,
    // fixtures legacy-*.json) get one extra timer before they load their session.
    if (f === 'session-actor.ts' || f === 'legacy-session-actor.ts') {
      const marker = '  if (!input.carried) {';
      if (!text.includes(marker)) throw new Error(`${f} changed: update the nondeterministic variant`);
      text = text.replace(marker, `  await sleep(1);\n${marker}`);
    }
    fs.writeFileSync(path.join(copy, f), text);
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(copy, 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(dir, 'bundle.js');
  fs.writeFileSync(file, code);
  return file;
}

describe('replay', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-reliability-replay-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('recorded histories replay against the current workflows; a nondeterministic change fails them', async () => {
    const fixtures = loadFixtures();
    expect(fixtures.length).toBeGreaterThanOrEqual(3);
    const events = fixtures.map((f) => ((f.history as { events?: unknown[] }).events ?? []).length);

    const current = await replayAll(suiteAssets().bundlePath);
    const currentFailures = current.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error}`);

    const changed = await replayAll(await nondeterministicBundle(dir));
    const violations = changed.filter((r) => r.determinismViolation);
    report('replay', {
      fixtures: fixtures.length,
      events: events.reduce((a, b) => a + b, 0),
      currentBundleFailures: currentFailures.length,
      nondeterministicVariant: { replayed: changed.length, determinismViolations: violations.length },
      firstViolation: violations[0]?.error?.slice(0, 200),
    });
    expect(current).toHaveLength(fixtures.length);
    expect(currentFailures).toEqual([]);
    // Every run's first task issues a command (the hydration marker, or the search attributes of a carried run)
    // where the changed code now starts a timer: each fixture must fail, and as a determinism violation.
    expect(changed.map((r) => r.workflowId)).toEqual(fixtures.map((f) => f.workflowId));
    expect(violations.map((r) => r.workflowId)).toEqual(fixtures.map((f) => f.workflowId));
  });
});
