// What every workload receives: the target under test, the sizes chosen by the flags, the progress display.
// Built by bench/main.ts.
import type { Progress } from './progress';
import type { BenchBase, Target } from './stack';
import { FloorClient } from './floor-client';

export interface Sizes {
  /** Rounds of every latency and throughput workload; figures are medians over rounds. */
  rounds: number;
  /** Sequential ops per latency round (each of floor/actor, update/signal). */
  turns: number;
  /** Durable appends checked for read-your-writes per round. */
  rywTurns: number;
  /** Sessions (and floor workflows) of the sustained-throughput workload. */
  sessions: number;
  clients: number;
  /** Duration of each sustained-throughput series. */
  durationMs: number;
  contentionWriters: number;
  contentionWritesEach: number;
  storeTurns: number;
  coldSessions: number;
  /** Stored sessions for listSessions. */
  rows: number;
  listQueries: number;
  /** Expired sessions each cleanup deletes. */
  cleanupRows: number;
  /** Turns per session of the paced history group (one per 5 s). */
  pacedTurns: number;
  memorySessions: number;
  /** SQLite-settings comparison: sequential ops per series and throughput duration. */
  sqliteTurns: number;
  sqliteDurationMs: number;
}

export interface BenchContext {
  base: BenchBase;
  target: Target;
  floor: FloorClient;
  sizes: Sizes;
  progress: Progress;
  /** Unique prefix for ids of this run. */
  runId: string;
}

export function makeContext(base: BenchBase, target: Target, sizes: Sizes, progress: Progress, runId: string): BenchContext {
  return { base, target, floor: new FloorClient(target.client, target.floorTaskQueue), sizes, progress, runId };
}
