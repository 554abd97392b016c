// Temporal history events per turn and bytes per run, read from the histories of sessions the other workloads
// drove (every run of each workflow id), beside the floor workflow's events per op.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { countActions } from '../actions';
import { productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import type { ActorConfig } from '../../src/config';
import { figure, Figure } from '../stats';

export interface HistoryGroup {
  workflows: number;
  runs: number;
  /** Runs that ended (continue-as-new): their size is a whole run's. */
  closedRuns: number;
  turns: number;
  events: number;
  eventsPerTurn: number;
  /** Event type → count per turn, over all runs of the group. */
  perTurnByType: Record<string, number>;
  bytesPerTurn: number;
  /** Temporal Cloud actions the histories show per turn (bench/actions.ts: queries and rejected updates are not in them). */
  actionsPerTurn: number;
  /** Event type → actions per turn. */
  actionsPerTurnByType: Record<string, number>;
  /** Encoded size of closed runs (or of open runs when none closed). */
  bytesPerRun: Figure;
  turnsPerRun: Figure;
}

const EventType = temporal.api.enums.v1.EventType;

function typeName(t: number | null | undefined): string {
  return (EventType[t ?? 0] ?? String(t)).replace(/^EVENT_TYPE_/, '');
}

/** Reads every run of each workflow id; a turn is an accepted update, a received signal, or either ('any'). */
export async function readHistories(
  client: Client,
  workflowIds: string[],
  turnEvent: 'update' | 'signal' | 'any',
): Promise<HistoryGroup> {
  const byType: Record<string, number> = {};
  const actionsByType: Record<string, number> = {};
  let actions = 0;
  let runs = 0;
  let closedRuns = 0;
  let turns = 0;
  let events = 0;
  let bytes = 0;
  const runBytes: number[] = [];
  const openRunBytes: number[] = [];
  const runTurns: number[] = [];
  for (const workflowId of workflowIds) {
    for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      const history = await client.workflow.getHandle(workflowId, info.runId).fetchHistory();
      const size = temporal.api.history.v1.History.encode(history).finish().length;
      let t = 0;
      for (const e of history.events ?? []) {
        const name = typeName(e.eventType);
        byType[name] = (byType[name] ?? 0) + 1;
        if (turnEvent !== 'signal' && name === 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED') t++;
        if (turnEvent !== 'update' && name === 'WORKFLOW_EXECUTION_SIGNALED') t++;
      }
      const counted = countActions(history.events ?? []);
      actions += counted.actions;
      for (const [k, v] of Object.entries(counted.byType)) actionsByType[k] = (actionsByType[k] ?? 0) + v;
      runs++;
      turns += t;
      events += history.events?.length ?? 0;
      bytes += size;
      if (info.status.name === 'RUNNING') openRunBytes.push(size);
      else {
        closedRuns++;
        runBytes.push(size);
        runTurns.push(t);
      }
    }
  }
  const perTurnByType: Record<string, number> = {};
  for (const [k, v] of Object.entries(byType).sort((a, b) => b[1] - a[1]))
    perTurnByType[k] = turns ? v / turns : NaN;
  const actionsPerTurnByType: Record<string, number> = {};
  for (const [k, v] of Object.entries(actionsByType).sort((a, b) => b[1] - a[1]))
    actionsPerTurnByType[k] = turns ? v / turns : NaN;
  return {
    workflows: workflowIds.length,
    runs,
    closedRuns,
    turns,
    events,
    eventsPerTurn: turns ? events / turns : NaN,
    perTurnByType,
    bytesPerTurn: turns ? bytes / turns : NaN,
    actionsPerTurn: turns ? actions / turns : NaN,
    actionsPerTurnByType,
    bytesPerRun: figure(runBytes.length ? runBytes : openRunBytes),
    turnsPerRun: figure(runTurns),
  };
}

export interface HistoryResult {
  /** One client, sequential: no batching possible. */
  appliedSequential: HistoryGroup;
  durableSequential: HistoryGroup;
  floorSequential: HistoryGroup;
  /** Sessions of the sustained-throughput workload (turns may share workflow tasks). */
  appliedSaturated: HistoryGroup;
  durableSaturated: HistoryGroup;
  floorSaturated: HistoryGroup;
  /** Sessions that each take one turn every PACE_MS (issue 15's "one turn per 5 s"), from their creation on. */
  appliedPaced: HistoryGroup;
  durablePaced: HistoryGroup;
  /** The same with the snapshot write coalesced over WIDE_WINDOW_MS (the lever: fewer writes and timers, more lag). */
  appliedPacedWide: HistoryGroup;
  durablePacedWide: HistoryGroup;
  /** The product's window with every write waiting for it (persistLeadingEdge false): the actor before the leading edge. */
  appliedPacedTrailing?: HistoryGroup;
  durablePacedTrailing?: HistoryGroup;
}

/** The coalescing window of the wide paced group: a snapshot write (and its timer) per this much time. */
export const WIDE_WINDOW_MS = 30_000;

/** One turn per session this often (sizes.pacedTurns turns each), on PACED_SESSIONS sessions per mode. */
const PACE_MS = 5_000;
const PACED_SESSIONS = 10;

/** The actor configs of the paced groups: the product's, its window without the leading edge, and a wide window. */
const PACED_CONFIGS = {
  product: {},
  trailing: { persistLeadingEdge: false },
  wide: { persistDelayMs: WIDE_WINDOW_MS, persistEvery: 1_000 },
} satisfies Record<string, Partial<ActorConfig>>;
type PacedConfig = keyof typeof PACED_CONFIGS;
type PacedIds = Record<PacedConfig, { applied: string[]; durable: string[] }>;

/**
 * Creates PACED_SESSIONS sessions per mode and config and gives each a turn every PACE_MS, spread over the interval:
 * what an interactive agent's session looks like. Its actions per turn include the session's start (a run, its
 * load, its search attributes), as a real session's do.
 */
async function drivePaced(ctx: BenchContext): Promise<PacedIds> {
  const ids = {} as PacedIds;
  const all: { id: string; applied: boolean; driver: ReturnType<typeof productDriver> }[] = [];
  for (const key of Object.keys(PACED_CONFIGS) as PacedConfig[]) {
    const driver = productDriver(ctx.target.serviceWith(PACED_CONFIGS[key]));
    const of = (mode: string) =>
      Array.from({ length: PACED_SESSIONS }, (_, i) => `${ctx.runId}-paced-${key}-${mode}-${i}`);
    ids[key] = { applied: of('applied'), durable: of('durable') };
    all.push(...ids[key].applied.map((id) => ({ id, applied: true, driver })));
    all.push(...ids[key].durable.map((id) => ({ id, applied: false, driver })));
  }
  const turns = ctx.sizes.pacedTurns;
  ctx.progress.step(`history: ${turns} turns per session, one per ${PACE_MS / 1000} s`, turns);
  await Promise.all(
    all.map(async (s, i) => {
      await sleep((PACE_MS * i) / all.length);
      const { driver } = s;
      await driver.recover(s.id, 5_000_000 + i);
      for (let t = 0; t < turns; t++) {
        const started = Date.now();
        if (s.applied) await driver.appendApplied(s.id, `paced question ${t}`, `paced answer ${t}`);
        else await driver.appendDurable(s.id, `paced question ${t}`, `paced answer ${t}`);
        if (i === 0) ctx.progress.tick();
        await sleep(Math.max(0, PACE_MS - (Date.now() - started)));
      }
    }),
  );
  // The last durable turns and the delayed writes land before the histories are read.
  await sleep(2_000);
  ctx.progress.done();
  return ids;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runHistory(
  ctx: BenchContext,
  latency: { applied: string; durable: string; floor: string },
  sample: { applied: string[]; durable: string[]; floor: string[] },
): Promise<HistoryResult> {
  const { progress } = ctx;
  const c = ctx.target.client;
  const wf = (id: string) => `session/${id}`;
  const paced = await drivePaced(ctx);
  progress.step('history: reading histories', 12);
  const step = async <T>(p: Promise<T>): Promise<T> => {
    const v = await p;
    progress.tick();
    return v;
  };
  const result: HistoryResult = {
    appliedSequential: await step(readHistories(c, [wf(latency.applied)], 'update')),
    durableSequential: await step(readHistories(c, [wf(latency.durable)], 'signal')),
    floorSequential: await step(readHistories(c, [latency.floor], 'update')),
    appliedSaturated: await step(readHistories(c, sample.applied, 'update')),
    durableSaturated: await step(readHistories(c, sample.durable, 'signal')),
    floorSaturated: await step(readHistories(c, sample.floor, 'any')),
    appliedPaced: await step(readHistories(c, paced.product.applied.map(wf), 'update')),
    durablePaced: await step(readHistories(c, paced.product.durable.map(wf), 'signal')),
    appliedPacedWide: await step(readHistories(c, paced.wide.applied.map(wf), 'update')),
    durablePacedWide: await step(readHistories(c, paced.wide.durable.map(wf), 'signal')),
    appliedPacedTrailing: await step(readHistories(c, paced.trailing.applied.map(wf), 'update')),
    durablePacedTrailing: await step(readHistories(c, paced.trailing.durable.map(wf), 'signal')),
  };
  progress.done();
  return result;
}
