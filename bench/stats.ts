// Shared statistics of the benchmark: percentiles of one round's samples and the median of several rounds.
// Used by every workload (bench/workloads/*) and by the report (bench/report.ts).

/** The p-th percentile (0..100) of samples, nearest-rank on a sorted copy; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  n: number;
}

export function latency(samplesMs: readonly number[]): Latency {
  return { p50: percentile(samplesMs, 50), p90: percentile(samplesMs, 90), p99: percentile(samplesMs, 99), n: samplesMs.length };
}

/** One figure over rounds: the median is the figure, min/max show the spread. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export function figure(rounds: readonly number[]): Figure {
  const finite = rounds.filter((r) => Number.isFinite(r));
  return {
    median: percentileMedian(finite),
    min: finite.length ? Math.min(...finite) : NaN,
    max: finite.length ? Math.max(...finite) : NaN,
    rounds: [...rounds],
  };
}

function percentileMedian(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const median = percentileMedian;

/** Figures per key (p50, p90, …) from one record per round. */
export function figures<K extends string>(rounds: readonly Record<K, number>[]): Record<K, Figure> {
  const out = {} as Record<K, Figure>;
  if (rounds.length === 0) return out;
  for (const key of Object.keys(rounds[0]) as K[]) out[key] = figure(rounds.map((r) => r[key]));
  return out;
}

/** Per-round ratios a/b, as a figure (ratios taken within a round cancel slow drift in machine load). */
export function ratio(a: readonly number[], b: readonly number[]): Figure {
  return figure(a.map((x, i) => x / b[i]));
}

/** Milliseconds since an arbitrary origin, sub-millisecond. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Times each call of `op` (sequentially) and returns the latencies in ms. */
export async function timeEach(count: number, op: (i: number) => Promise<unknown>, tick?: () => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = nowMs();
    await op(i);
    out.push(nowMs() - t0);
    tick?.();
  }
  return out;
}

/**
 * Runs `op` from `clients` concurrent loops for `durationMs` and returns completed ops per second and latencies.
 * Each loop gets its own index so it can own a slice of the sessions.
 */
export async function sustain(
  clients: number,
  durationMs: number,
  op: (client: number, i: number) => Promise<unknown>,
  tick?: () => void,
): Promise<{ opsPerSec: number; ops: number; latencies: number[]; errors: number; firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = nowMs();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; nowMs() < deadline; i++) {
        const t0 = nowMs();
        try {
          await op(c, i);
          latencies.push(nowMs() - t0);
          tick?.();
        } catch (err) {
          errors++;
          firstError ??= String((err as Error)?.message ?? err);
        }
      }
    }),
  );
  const elapsed = nowMs() - start;
  return { opsPerSec: (latencies.length * 1000) / elapsed, ops: latencies.length, latencies, errors, firstError };
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
