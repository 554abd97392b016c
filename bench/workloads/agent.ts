// Issue 16 in numbers: what a transcript costs per agent step (a 4-message appendMessages with a tool call) against
// the same step without one, and how long a watcher waits for a change after the write is acknowledged (applied and
// durable), beside the no-op Update floor of the same rounds. `npm run bench -- --only agent`.
import { SessionRecovery } from '../../src/recovery';
import type { Message } from '../../src/types';
import { sessionWorkflowId } from '../../workflows/messages';
import type { BenchContext } from '../context';
import { Figure, figure, latency, nowMs, ratio, sleep, timeEach } from '../stats';
import { readHistories } from './history';

export interface AgentResult {
  steps: number;
  transcript: {
    /** appendMessages of one step, applied, 1 client: without and with a transcript, and the floor. */
    off: { p50: Figure; p99: Figure };
    on: { p50: Figure; p99: Figure };
    floorUpdateP50: Figure;
    ratioP50: Figure;
    ratioP99: Figure;
    /** What reached Postgres per step with the transcript on (rows, bytes of the jsonb column). */
    rowsPerStep: number;
    bytesPerStep: number;
    /** Temporal history bytes per step, without and with (the snapshot write carries the transcript). */
    historyBytesPerStep: { off: number; on: number };
  };
  watch: {
    /** Event arrival minus acknowledgement (negative: the event came first), per write path. */
    applied: { p50: Figure; p99: Figure };
    durable: { p50: Figure; p99: Figure };
    /** The applied write's own acknowledgement latency, for scale, and the same write on a session nobody watches. */
    appliedAck: { p50: Figure };
    unwatchedAck: { p50: Figure };
    /** What a watcher costs the writer: ack p50 watched over unwatched (its re-poll takes a workflow task too). */
    watchedOverUnwatchedP50: Figure;
    /** Event arrival counted from the send, over the applied ack latency (p50). */
    eventOverAckP50: Figure;
  };
}

function step(i: number): Message[] {
  const id = `call_${i}`;
  return [
    { role: 'user', content: `What is the weather in city ${i}?` },
    {
      role: 'assistant',
      content: '',
      toolCalls: [{ id, type: 'function', function: { name: 'get_weather', arguments: `{"city":"city ${i}"}` } }],
    },
    { role: 'tool', content: `{"temp_c":${i % 30},"sky":"clear"}`, toolCallId: id },
    { role: 'assistant', content: `It is ${i % 30} °C and clear in city ${i}.` },
  ];
}

export async function runAgent(ctx: BenchContext): Promise<AgentResult> {
  const { target, floor, progress, sizes } = ctx;
  const recovery = new SessionRecovery(target.service);
  const steps = Math.max(5, Math.ceil(sizes.turns / 3));
  const rounds = Math.min(2, sizes.rounds);
  const off = `${ctx.runId}-agent-plain`;
  const on = `${ctx.runId}-agent-transcript`;
  const floorId = `${ctx.runId}-agent-floor`;
  await floor.start(floorId);
  await recovery.recoverSession(off, 51, 'weather');
  await recovery.recoverSession(on, 51, 'weather', { transcript: true });
  for (let i = 0; i < 5; i++) {
    await recovery.appendMessages(off, step(i));
    await recovery.appendMessages(on, step(i));
    await floor.update(floorId);
  }

  // ---- transcript: the same steps with and without, interleaved by round ------------------------------------
  const samples = { off: [] as number[][], on: [] as number[][], floor: [] as number[][] };
  progress.step(`agent: transcript cost (${rounds} rounds × 3 series × ${steps})`, rounds * 3 * steps);
  const tick = () => progress.tick();
  let n = 5;
  for (let r = 0; r < rounds; r++) {
    samples.floor.push(await timeEach(steps, () => floor.update(floorId), tick));
    samples.off.push(await timeEach(steps, (i) => recovery.appendMessages(off, step(n + i)), tick));
    samples.on.push(await timeEach(steps, (i) => recovery.appendMessages(on, step(n + i)), tick));
    n += steps;
  }
  progress.done();
  const lat = (rs: number[][]) => rs.map((x) => latency(x));
  const [lOff, lOn, lFloor] = [lat(samples.off), lat(samples.on), lat(samples.floor)];
  const totalSteps = n;
  // Every step of the transcript session reaches Postgres (within the persist delay).
  const deadline = Date.now() + 30_000;
  let rows = 0;
  let bytes = 0;
  for (;;) {
    const { rows: r } = await target.pool.query<{ n: string; b: string }>(
      'SELECT count(*) AS n, coalesce(sum(pg_column_size(message)), 0) AS b FROM session_transcript WHERE session_id = $1',
      [on],
    );
    rows = Number(r[0].n);
    bytes = Number(r[0].b);
    if (rows >= totalSteps * 4 || Date.now() > deadline) break;
    await sleep(200);
  }
  const historyOff = await readHistories(target.client, [sessionWorkflowId(off)], 'update');
  const historyOn = await readHistories(target.client, [sessionWorkflowId(on)], 'update');

  // ---- watch: acknowledgement → event, applied and durable ---------------------------------------------------
  const watched = `${ctx.runId}-agent-watched`;
  const { version: start } = await recovery.appendTurn(
    (await recovery.recoverSession(watched, 52, 'assistant')).sessionId,
    'warm',
    'up',
  );
  const arrivals = new Map<number, number>();
  const controller = new AbortController();
  const watching = (async () => {
    for await (const change of target.service.watch(watched, { fromVersion: start, signal: controller.signal }))
      arrivals.set(change.version, nowMs());
  })().catch(() => undefined);
  const waitFor = async (version: number): Promise<number> => {
    const until = Date.now() + 10_000;
    while (!arrivals.has(version) && Date.now() < until) await sleep(1);
    return arrivals.get(version) ?? NaN;
  };
  const unwatched = `${ctx.runId}-agent-unwatched`;
  await recovery.appendTurn((await recovery.recoverSession(unwatched, 52, 'assistant')).sessionId, 'warm', 'up');
  const rows2 = {
    applied: [] as number[][],
    durable: [] as number[][],
    ack: [] as number[][],
    fromSend: [] as number[][],
    unwatched: [] as number[][],
  };
  const watchSteps = Math.max(5, Math.ceil(steps / 2));
  progress.step(`agent: watch latency (${rounds} rounds × 3 × ${watchSteps})`, rounds * 3 * watchSteps);
  let version = start;
  for (let r = 0; r < rounds; r++) {
    const applied: number[] = [];
    const durable: number[] = [];
    const ack: number[] = [];
    const fromSend: number[] = [];
    rows2.unwatched.push(await timeEach(watchSteps, (i) => recovery.appendTurn(unwatched, `q${r}.${i}`, 'a'), tick));
    for (let i = 0; i < watchSteps; i++) {
      const t0 = nowMs();
      const result = await recovery.appendTurn(watched, `q${r}.${i}`, `a${r}.${i}`);
      const t1 = nowMs();
      version = result.version;
      const t2 = await waitFor(version);
      applied.push(t2 - t1);
      ack.push(t1 - t0);
      fromSend.push(t2 - t0);
      tick();
    }
    for (let i = 0; i < watchSteps; i++) {
      await target.service.submitTurn(watched, `dq${r}.${i}`, `da${r}.${i}`);
      const t1 = nowMs();
      version++;
      durable.push((await waitFor(version)) - t1);
      tick();
    }
    rows2.applied.push(applied);
    rows2.durable.push(durable);
    rows2.ack.push(ack);
    rows2.fromSend.push(fromSend);
  }
  controller.abort();
  await watching;
  progress.done();

  const pick = (ls: ReturnType<typeof latency>[], k: 'p50' | 'p99') => ls.map((l) => l[k]);
  const two = (rs: number[][]) => {
    const ls = lat(rs);
    return { p50: figure(pick(ls, 'p50')), p99: figure(pick(ls, 'p99')) };
  };
  return {
    steps: totalSteps,
    transcript: {
      off: { p50: figure(pick(lOff, 'p50')), p99: figure(pick(lOff, 'p99')) },
      on: { p50: figure(pick(lOn, 'p50')), p99: figure(pick(lOn, 'p99')) },
      floorUpdateP50: figure(pick(lFloor, 'p50')),
      ratioP50: ratio(pick(lOn, 'p50'), pick(lOff, 'p50')),
      ratioP99: ratio(pick(lOn, 'p99'), pick(lOff, 'p99')),
      rowsPerStep: rows / totalSteps,
      bytesPerStep: bytes / totalSteps,
      historyBytesPerStep: { off: historyOff.bytesPerTurn, on: historyOn.bytesPerTurn },
    },
    watch: {
      applied: two(rows2.applied),
      durable: two(rows2.durable),
      appliedAck: { p50: figure(pick(lat(rows2.ack), 'p50')) },
      unwatchedAck: { p50: figure(pick(lat(rows2.unwatched), 'p50')) },
      watchedOverUnwatchedP50: ratio(pick(lat(rows2.ack), 'p50'), pick(lat(rows2.unwatched), 'p50')),
      eventOverAckP50: ratio(pick(lat(rows2.fromSend), 'p50'), pick(lat(rows2.ack), 'p50')),
    },
  };
}
