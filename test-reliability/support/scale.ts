// Sizes of the reliability suite: RELIABILITY_SCALE=small (CI, a few minutes on 2 cores) or full (the sizes).
// Every test file reads its own block. thinkMs paces each session's writer: at full size an unpaced load of 100-200
// sessions offers far more than 2 cores can apply, and the test would measure saturation instead of the fault.
export type ScaleName = 'small' | 'full';

export const SCALE: ScaleName = process.env.RELIABILITY_SCALE === 'full' ? 'full' : 'small';

const SIZES = {
  small: {
    workerCrash: { sessions: 30, minTurns: 400, killEveryMs: 8_000, minKills: 2, thinkMs: 0 },
    serverCrash: { sessions: 20, minTurns: 400, kills: 3, runBeforeKillMs: 4_000, downMs: 1_500, thinkMs: 0 },
    postgresOutage: { sessions: 20, minTurns: 300, outageMs: 8_000, runBeforeMs: 3_000, thinkMs: 0 },
    contention: { writers: 50, turnsPerWriter: 6, maxInFlight: 8 },
    longSession: { turns: 1_500 },
    badInput: { requests: 1_000 },
    erasure: { sessions: 20, turnsPerSession: 6 },
    lifecycleChaos: { sessions: 12, seconds: 45, expireEveryMs: 3_000, hangMs: 3_000, minTurns: 150 },
    cleanupCrash: { expired: 40_000, fresh: 2_000, batchSize: 250, killAfter: 8_000 },
  },
  full: {
    workerCrash: { sessions: 200, minTurns: 5_000, killEveryMs: 15_000, minKills: 4, thinkMs: 2_000 },
    serverCrash: {
      sessions: 100,
      minTurns: 2_000,
      kills: 3,
      runBeforeKillMs: 10_000,
      downMs: 3_000,
      thinkMs: 1_000,
    },
    postgresOutage: { sessions: 100, minTurns: 2_000, outageMs: 30_000, runBeforeMs: 5_000, thinkMs: 1_000 },
    contention: { writers: 50, turnsPerWriter: 40, maxInFlight: 8 },
    longSession: { turns: 10_000 },
    badInput: { requests: 10_000 },
    erasure: { sessions: 100, turnsPerSession: 10 },
    lifecycleChaos: { sessions: 60, seconds: 300, expireEveryMs: 2_000, hangMs: 10_000, minTurns: 3_000 },
    cleanupCrash: { expired: 1_000_000, fresh: 20_000, batchSize: 2_000, killAfter: 300_000 },
  },
} as const;

export const sizes = SIZES[SCALE];
