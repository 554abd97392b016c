// Same-session contention: W writers change one session at once. Counts acknowledged writes that were kept —
// the actor (applied: distinct metadata keys; durable: the version count) vs PostgresSessionStore's load-modify-save.
import { PostgresSessionStore } from '../../src/postgres/store';
import { SessionRecovery } from '../../src/recovery';
import type { SessionService } from '../../src/service';
import { sessionWorkflowId, statusQuery } from '../../workflows/messages';
import type { BenchContext } from '../context';
import { Figure, figure, nowMs, sleep } from '../stats';

type Mode = 'actorApplied' | 'actorDurable' | 'store';
const MODES: Mode[] = ['actorApplied', 'actorDurable', 'store'];

export interface ContentionResult {
  writers: number;
  writesEach: number;
  keptPercent: Record<Mode, Figure>;
  turnsPerSec: Record<Mode, Figure>;
  acknowledged: Record<Mode, number>;
  kept: Record<Mode, number>;
  errors: Record<Mode, number>;
}

export async function runContention(ctx: BenchContext): Promise<ContentionResult> {
  const { target, progress, sizes } = ctx;
  const writers = sizes.contentionWriters;
  const each = sizes.contentionWritesEach;
  const store = new PostgresSessionStore(target.pool);
  const kept: Record<Mode, number[]> = { actorApplied: [], actorDurable: [], store: [] };
  const rate: Record<Mode, number[]> = { actorApplied: [], actorDurable: [], store: [] };
  const ackTotal: Record<Mode, number> = { actorApplied: 0, actorDurable: 0, store: 0 };
  const keptTotal: Record<Mode, number> = { actorApplied: 0, actorDurable: 0, store: 0 };
  const errTotal: Record<Mode, number> = { actorApplied: 0, actorDurable: 0, store: 0 };
  progress.step(`contention (${writers} writers × ${each}, ${sizes.rounds} rounds × 3)`, sizes.rounds * 3 * writers * each);

  for (let r = 0; r < sizes.rounds; r++) {
    for (const mode of MODES) {
      const sessionId = `${ctx.runId}-cont-${mode}-${r}`;
      const service: SessionService = mode === 'store' ? store : target.service;
      const recovery = new SessionRecovery(service);
      await recovery.recoverSession(sessionId, 11, 'assistant');
      const startVersion = mode === 'actorDurable' ? await actorVersion(ctx, sessionId) : 0;
      const acked: string[] = [];
      const t0 = nowMs();
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let j = 0; j < each; j++) {
            const key = `w${w}_${j}`;
            try {
              if (mode === 'actorDurable') await target.service.submitTurn(sessionId, key, 'ok');
              else await recovery.updateMetadata(sessionId, key, j);
              acked.push(key);
            } catch {
              errTotal[mode]++;
            }
            progress.tick();
          }
        }),
      );
      const seconds = (nowMs() - t0) / 1000;
      let keptCount: number;
      if (mode === 'actorDurable') {
        // Each applied turn bumps the version by one; wait until the actor has applied what it received.
        let v = 0;
        for (let i = 0; i < 100; i++) {
          v = (await actorVersion(ctx, sessionId)) - startVersion;
          if (v >= acked.length) break;
          await sleep(100);
        }
        keptCount = Math.min(v, acked.length);
      } else {
        const ctxNow = await service.loadContext(sessionId);
        keptCount = acked.filter((k) => ctxNow?.metadata && k in ctxNow.metadata).length;
      }
      kept[mode].push(acked.length ? (100 * keptCount) / acked.length : NaN);
      rate[mode].push(acked.length / seconds);
      ackTotal[mode] += acked.length;
      keptTotal[mode] += keptCount;
    }
  }
  progress.done();
  const fig = (m: Record<Mode, number[]>) =>
    ({ actorApplied: figure(m.actorApplied), actorDurable: figure(m.actorDurable), store: figure(m.store) }) as Record<Mode, Figure>;
  return { writers, writesEach: each, keptPercent: fig(kept), turnsPerSec: fig(rate), acknowledged: ackTotal, kept: keptTotal, errors: errTotal };
}

async function actorVersion(ctx: BenchContext, sessionId: string): Promise<number> {
  return (await ctx.target.client.workflow.getHandle(sessionWorkflowId(sessionId)).query(statusQuery)).version;
}
