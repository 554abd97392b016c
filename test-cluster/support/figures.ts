// The figures of one cluster fault: what the ledger (test-reliability/support/load.ts) and its verdict say, plus the
// longest stretch without any acknowledgement. Printed as one line and kept in test-cluster/.results/<fault>.json.
import fs from 'node:fs';
import path from 'node:path';
import type { AckMode, Ledger, Verdict } from '../../test-reliability/support/load';

/** The longest time between two consecutive acknowledgements (of any session) in [from, to]; per mode when given. */
export function worstAckGapMs(ledger: Ledger, from: number, to: number, mode?: AckMode): number {
  const times = ledger.acks
    .filter((a) => (!mode || a.mode === mode) && a.ackAt >= from && a.ackAt <= to)
    .map((a) => a.ackAt)
    .sort((a, b) => a - b);
  let worst = 0;
  let previous = from;
  for (const t of [...times, to]) {
    worst = Math.max(worst, t - previous);
    previous = t;
  }
  return worst;
}

export function reportFault(
  fault: string,
  verdict: Verdict,
  ledger: Ledger,
  extra: Record<string, unknown>,
): void {
  const figures = {
    acknowledged: verdict.acknowledged,
    lost: verdict.lost,
    duplicated: verdict.duplicated,
    sessions: verdict.sessions,
    windowMismatches: verdict.windowMismatches,
    versionMismatches: verdict.versionMismatches,
    wedgedTasks: verdict.wedgedTasks,
    attempts: ledger.attempts,
    failedAttempts: ledger.failedAttempts,
    errors: ledger.topErrors(3),
    ...extra,
  };
  process.stdout.write(`[cluster fault] ${fault}: ${JSON.stringify(figures)}\n`);
  const dir = path.join(__dirname, '..', '.results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${fault}.json`),
    JSON.stringify({ fault, at: new Date().toISOString(), ...figures }, null, 2),
  );
}
