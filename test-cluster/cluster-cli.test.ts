// `durable-sessions cluster start|stop` as an operator runs them: the cluster, two workers and the API come up; turns
// in both modes, the UI's `UserId = N` query, the CLI's client commands; `cluster stop` leaves no process behind;
// a second start finds everything where it was.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { processAlive } from '../src/runtime/process';
import { sessionWorkflowId } from '../workflows/messages';
import { type CliProcess, startCli } from '../test/support/cli-process';
import { eventually, uniqueIds } from '../test/support/contract';
import { clusterAssets } from './support/assets';

describe('durable-sessions cluster start|stop', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-cluster-cli-'));
  fs.chmodSync(dataDir, 0o755); // the private Postgres runs as user "postgres" when we are root
  const assets = clusterAssets();
  const env = {
    DURABLE_SESSIONS_DATA_DIR: dataDir,
    TEMPORAL_SERVER_PATH: assets.server,
    TEMPORAL_SQL_TOOL_PATH: assets.sqlTool,
    TEMPORAL_CLI_PATH: assets.temporalCliPath,
    DS_WORKFLOW_BUNDLE: assets.bundlePath,
    TEMPORAL_PORT: '0',
    DS_API_PORT: '0',
    DS_CLUSTER_WORKERS: '2',
  };
  const running: CliProcess[] = [];
  const ids = uniqueIds();
  const sessionId = ids.sessionId();
  const userId = ids.userId();

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    if (!process.env.DS_TEST_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Starts the cluster; returns what its banner says. */
  async function start(): Promise<{ cli: CliProcess; api: string; temporal: string; pids: number[] }> {
    const cli = startCli(['cluster', 'start'], env);
    running.push(cli);
    await cli.waitFor((l) => l.includes('durable-sessions cluster is running'), 600_000);
    const line = (label: string) => cli.lines.find((l) => l.trimStart().startsWith(label)) ?? '';
    return {
      cli,
      api: /https?:\/\/\S+/.exec(line('HTTP API'))?.[0] ?? '',
      temporal: /\S+:\d+/.exec(line('Temporal').replace('Temporal', ''))?.[0] ?? '',
      pids: startedPids(cli),
    };
  }

  const key = () => fs.readFileSync(path.join(dataDir, 'api-key'), 'utf8').trim();
  const call = async (api: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(`${api}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${key()}`,
        'x-user-id': String(userId),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return {
      status: res.status,
      body: res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>),
    };
  };
  const contents = (body: Record<string, unknown> | undefined) =>
    ((body?.messages ?? []) as { content: string }[]).map((m) => m.content);

  test('start: turns in both modes through the API, found in Temporal by UserId, readable by the CLI', async () => {
    const { api, temporal, pids } = await start();
    expect(pids).toHaveLength(6); // four Temporal services, two workers
    expect((await call(api, 'PUT', `/v1/sessions/${sessionId}`, { agent_type: 'assistant' })).status).toBe(
      200,
    );
    expect(
      (await call(api, 'POST', `/v1/sessions/${sessionId}/turns`, { user: 'q1', assistant: 'a1' })).status,
    ).toBe(200);
    const durable = await call(api, 'POST', `/v1/sessions/${sessionId}/turns?ack=durable`, {
      user: 'q2',
      assistant: 'a2',
    });
    expect(durable.status).toBe(202);
    await eventually(async () => {
      expect(contents((await call(api, 'GET', `/v1/sessions/${sessionId}`)).body)).toEqual([
        'q1',
        'a1',
        'q2',
        'a2',
      ]);
    }, 30_000);

    // What a person does in the Temporal UI: filter by user.
    const connection = await Connection.connect({ address: temporal });
    try {
      const client = new Client({ connection });
      await eventually(async () => {
        const found: string[] = [];
        for await (const wf of client.workflow.list({ query: `UserId = ${userId}` }))
          found.push(wf.workflowId);
        expect(found).toContain(sessionWorkflowId(sessionId));
      }, 30_000);
    } finally {
      await connection.close();
    }

    // The CLI's client commands find the cluster through the data dir, as they find `npm start`'s stack.
    const show = startCli(['sessions', 'show', sessionId, '--json'], env);
    running.push(show);
    await show.waitFor((l) => l.includes('"q2"'), 60_000);
  });

  test('stop: every process it started is gone; a second start has the same state', async () => {
    const first = running[0];
    const postmaster = fs.readFileSync(path.join(dataDir, 'cluster', 'postgres', 'postmaster.pid'), 'utf8');
    const pids = [...startedPids(first), Number(postmaster.split('\n')[0])];
    const stop = startCli(['cluster', 'stop'], env);
    running.push(stop);
    await stop.waitFor((l) => l.includes('cluster stopped'), 180_000);
    expect(await first.stop()).toBe(0);
    for (const pid of pids) expect(processAlive(pid)).toBe(false);

    const { api } = await start();
    const res = await call(api, 'GET', `/v1/sessions/${sessionId}`);
    expect(res.status).toBe(200);
    expect(contents(res.body)).toEqual(['q1', 'a1', 'q2', 'a2']);
    const next = await call(api, 'POST', `/v1/sessions/${sessionId}/turns`, { user: 'q3', assistant: 'a3' });
    expect(next.status).toBe(200);
    expect(contents((next.body?.session ?? {}) as Record<string, unknown>).slice(-2)).toEqual(['q3', 'a3']);
  });
});

/** The pids a `cluster start` printed in its banner (Temporal services, then workers). */
function startedPids(cli: CliProcess): number[] {
  const services = cli.lines.find((l) => /history \d+, matching \d+/.test(l)) ?? '';
  const workers = cli.lines.find((l) => l.trimStart().startsWith('Workers')) ?? '';
  return [...services.matchAll(/\d+/g), ...(/pids ([\d, ]+)/.exec(workers)?.[1] ?? '').matchAll(/\d+/g)].map(
    (m) => Number(m[0]),
  );
}
