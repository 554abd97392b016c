// The JSON the benchmark writes to bench/results/<timestamp>.json: every figure of every workload.
// Filled by bench/main.ts, read by bench/report.ts.
import type { SealedPayloads } from './sealed';
import type { AgentResult } from './workloads/agent';
import type { CleanupResult } from './workloads/cleanup';
import type { ColdResult } from './workloads/cold';
import type { ContentionResult } from './workloads/contention';
import type { HistoryResult } from './workloads/history';
import type { LatencyResult } from './workloads/latency';
import type { ListResult } from './workloads/list';
import type { MemoryResult } from './workloads/memory';
import type { SqliteRow } from './workloads/sqlite';
import type { StoreResult } from './workloads/store';
import type { ThroughputResult } from './workloads/throughput';
import type { VariantResult } from './workloads/variants';
import type { Sizes } from './context';
import type { TopologyRun } from './topology';

export interface Results {
  startedAt: string;
  finishedAt?: string;
  seconds?: number;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number; loadAverageAtStart: number[]; loadAverageAtEnd?: number[]; node: string };
  versions: { temporalCli: string; postgres: string };
  settings: { sqlite: string; sizes: Sizes; /** --codec: the actors' payloads sealed as the product does. */ codec?: 'master' | 'session' };
  latency?: LatencyResult;
  /** With --codec: how the latency sessions' histories hold their payloads. */
  sealed?: SealedPayloads;
  throughput?: ThroughputResult;
  history?: HistoryResult;
  contention?: ContentionResult;
  store?: StoreResult;
  cold?: ColdResult;
  list?: ListResult;
  cleanup?: CleanupResult;
  memory?: MemoryResult;
  sqlite?: SqliteRow[];
  /** Issue 16: a transcript's cost per agent step, and acknowledgement → event for a watcher. */
  agent?: AgentResult;
  /** The product actor under several persist configs (persistDelayMs / persistEvery), sharing floors. */
  variants?: VariantResult[];
  /** `--target` / `--workers`: latency and throughput per topology (then nothing else runs). */
  topologies?: TopologyRun[];
  /** Workloads that threw, with the message (the rest still ran). */
  failures: Record<string, string>;
  /** Wall time of the stack's start-up and of each workload. */
  workloadSeconds: Record<string, number>;
}
