// A new user's first steps, run literally: the shell lines of the README's Quick start, then the example lines the
// running API prints (the banner's "Try it"), in that order. Each step may only add to what the steps before made.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type CliProcess, startCli } from './support/cli-process';
import { testStack } from './support/stack';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

const ROOT = path.resolve(__dirname, '..');
const sh = promisify(execFile);

/** The shell commands of a markdown section's ```sh blocks, continuation lines joined, comments dropped. */
function shellCommands(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n'))
      if (line.trim() !== '' && !line.trim().startsWith('#')) commands.push(line);
  }
  return commands;
}

describe('README Quick start and the banner, followed in order', () => {
  let h: TemporalHarness;
  let api: CliProcess;
  let tmp: string;
  const sessions = ['demo-1', 'demo-2'];

  beforeAll(async () => {
    h = await startTemporalHarness('readme');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-readme-'));
  });
  afterAll(async () => {
    await api?.stop();
    for (const id of sessions) await h?.service.deleteSession(id).catch(() => undefined);
    await h?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('no step destroys what an earlier step made', async () => {
    // The stack the README's commands reach: this file's worker, task queue and database.
    const env: NodeJS.ProcessEnv = {
      TEMPORAL_ADDRESS: testStack().temporalAddress,
      TEMPORAL_NAMESPACE: testStack().namespace,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      DATABASE_URL: (h.pool.options as { connectionString: string }).connectionString,
      DURABLE_SESSIONS_DATA_DIR: tmp,
      DS_API_KEYS: '',
      DS_API_PORT: '0',
    };
    api = startCli(['api'], env);
    const urlLine = await api.waitFor((l) => /HTTP API\s+http:\/\//.test(l));
    const apiUrl = /HTTP API\s+(http:\/\/\S+)/.exec(urlLine)?.[1] as string;
    const key = /API key\s+(dsk_\S+)/.exec(await api.waitFor((l) => /API key\s+dsk_/.test(l)))?.[1] as string;
    await api.waitFor((l) => /^\s+curl .*\/sessions /.test(l)); // the last example line
    const printed = api.lines.filter((l) => /^\s+(npm run|curl) /.test(l)).map((l) => l.trim());
    expect(printed.length).toBeGreaterThan(0);

    const readme = shellCommands(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'Quick start').filter(
      // The stack is already up (this test's); running the whole suite from inside it is not a step.
      (c) => !/^npm (ci|start|test)\b/.test(c.trim()),
    );
    expect(readme.length).toBeGreaterThan(3);

    // Two substitutions only: the README's API address is this test's, and `.data/` is this test's data dir.
    const steps = [...readme, ...printed].map((c) =>
      c.replaceAll('localhost:8080', new URL(apiUrl).host).replaceAll('.data/', `${tmp}/`),
    );
    const shellEnv = { ...process.env, ...env, KEY: key };
    // Every problem on the way, so one run shows them all.
    const problems: string[] = [];
    const counts = new Map<string, number>();
    for (const step of steps) {
      if (/^KEY=/.test(step.trim())) {
        // A line that sets KEY must yield the key the API runs with (the README cannot know it in advance).
        const { stdout } = await sh('sh', ['-c', `${step}\nprintf %s "$KEY"`], { cwd: ROOT, env: shellEnv });
        if (stdout !== key) problems.push(`${step} sets KEY to ${JSON.stringify(stdout)}, not the API's key`);
        continue;
      }
      const { stdout } = await sh('sh', ['-c', step], { cwd: ROOT, env: shellEnv, timeout: 120_000 });
      const refused = /"code":"([a-z_]+)"/.exec(stdout);
      if (refused) problems.push(`${step} answered ${refused[1]}`);
      for (const id of sessions) {
        const now = (await h.service.loadContext(id))?.messages.length ?? 0;
        const before = counts.get(id) ?? 0;
        if (now < before) problems.push(`${id} went from ${before} to ${now} messages at: ${step}`);
        counts.set(id, now);
      }
    }
    expect(problems).toEqual([]);
    // Every turn the steps sent is there.
    expect(counts.get('demo-1')).toBeGreaterThanOrEqual(4);
    expect(counts.get('demo-2')).toBeGreaterThanOrEqual(2);
  });
});
