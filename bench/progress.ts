// Progress display of the benchmark (cli-progress on stderr): one bar per workload step.
// Used by bench/main.ts and handed to every workload.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Starts a bar for one step of a workload with `total` units of work. */
  step(name: string, total: number): void;
  tick(n?: number): void;
  /** Ends the current bar. */
  done(): void;
  log(message: string): void;
}

export function createProgress(enabled: boolean): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: '{name} |{bar}| {value}/{total} {unit} | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  const done = (): void => {
    if (active) bar.stop();
    active = false;
  };
  return {
    step(name, total) {
      done();
      if (!enabled) return;
      bar.start(Math.max(1, Math.round(total)), 0, { name: name.padEnd(42).slice(0, 42), unit: '' });
      active = true;
    },
    tick(n = 1) {
      if (active) bar.increment(n);
    },
    done,
    log(message) {
      const was = active;
      done();
      process.stderr.write(`${message}\n`);
      void was;
    },
  };
}
