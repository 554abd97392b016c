// The session actor's lifecycle as a pure state machine: the phases one run of the actor goes through, the events
// that move it, what each phase answers to a command, and what the run does next. No Temporal APIs here:
// workflows/session-actor.ts feeds it events and carries out its answers; test/lifecycle-machine.test.ts covers it.
import type { SessionSnapshot } from '../src/session-rules';

/**
 * - loading: the run is reading its session from Postgres; commands wait in arrival order, reads are "busy".
 * - active: commands are applied one at a time, in one serial order.
 * - failed: Postgres refused the session for good (a corrupt row, a value it cannot hold, a missing schema).
 *   Writes are refused; reads, deletion and expiry still work, and the run still idles out.
 * - removed: the session was deleted or expired in this run. Changes are "not found"; a command that would create
 *   the session again belongs to a new incarnation and therefore to the next run (never to this one, whose
 *   history is erased).
 * - ending: the run is completing or continuing as new in this very task; nothing more is applied in it.
 */
export type Phase =
  | { name: 'loading' }
  | { name: 'active' }
  | { name: 'failed'; during: 'load' | 'write'; code: string; message: string }
  | { name: 'removed'; reason: RemovalReason }
  | { name: 'ending'; reason: EndReason };

export type RemovalReason = 'deleted' | 'expired';
export type EndReason = 'idle' | 'continue-as-new' | 'failed' | RemovalReason;

export type LifecycleEvent =
  | { type: 'loaded' }
  | { type: 'storageFailed'; during: 'load' | 'write'; code: string; message: string }
  /** This run deleted or expired the session. */
  | { type: 'removed'; reason: RemovalReason }
  /** Postgres refused a write because the session was deleted outside this run. */
  | { type: 'fenced' }
  | { type: 'ending'; reason: EndReason };

export function transition(phase: Phase, event: LifecycleEvent): Phase {
  if (phase.name === 'ending') return phase; // final within the run
  switch (event.type) {
    case 'loaded':
      return phase.name === 'loading' ? { name: 'active' } : phase;
    case 'storageFailed':
      // A write that fails after the session was removed is moot; a second failure keeps the first one's cause.
      return phase.name === 'loading' || phase.name === 'active'
        ? { name: 'failed', during: event.during, code: event.code, message: event.message }
        : phase;
    case 'removed':
      return phase.name === 'loading' ? phase : { name: 'removed', reason: event.reason };
    case 'fenced':
      return phase.name === 'active' || phase.name === 'failed'
        ? { name: 'removed', reason: 'deleted' }
        : phase;
    case 'ending':
      return { name: 'ending', reason: event.reason };
  }
}

/** What a command does to a session: creates it when missing, changes it, removes it, or a durable turn. */
export type CommandClass = 'create' | 'change' | 'remove' | 'turn' | 'creating-turn';

/**
 * - wait: keep it queued (the session is not loaded yet).
 * - apply: apply it now, through the rules.
 * - refuse-failed: refuse it as a storage failure (non-retryable while the session is failed).
 * - next-run: refuse it as ActorClosing; the client sends it again and it reaches the next run.
 * - not-found: the session does not exist (it was removed in this run).
 * - successor: a durable turn that re-creates a removed session: handed to the next run, applied there.
 */
export type Admission = 'wait' | 'apply' | 'refuse-failed' | 'next-run' | 'not-found' | 'successor';

export function admit(phase: Phase, command: CommandClass): Admission {
  switch (phase.name) {
    case 'loading':
      return 'wait';
    case 'active':
      return 'apply';
    case 'failed':
      return command === 'remove' ? 'apply' : 'refuse-failed';
    case 'removed':
      switch (command) {
        case 'remove':
          return 'apply'; // idempotent: answered without touching Postgres again
        case 'create':
          return 'next-run';
        case 'creating-turn':
          return 'successor';
        default:
          return 'not-found';
      }
    case 'ending':
      // Signals cannot be refused: a turn that reaches an ending run is handed on like a re-creation.
      return command === 'turn' || command === 'creating-turn' ? 'successor' : 'next-run';
  }
}

/** How a query is answered: from the state, "busy" (ask again), or as a storage failure. */
export function readable(phase: Phase): 'state' | 'busy' | 'failed' {
  if (phase.name === 'loading') return 'busy';
  if (phase.name === 'failed' && phase.during === 'load') return 'failed';
  return 'state';
}

export interface RunFacts {
  /** The state is ahead of Postgres. */
  dirty: boolean;
  /** No command changed the session for the idle timeout. */
  idle: boolean;
  /** Temporal suggests continue-as-new, or the run has handled its share of commands. */
  newRunDue: boolean;
  /** Durable turns received after a removal, waiting for the next run. */
  handedOver: number;
}

/**
 * What the run's main loop does next. Continue-as-new comes before a snapshot write (the next run inherits unsaved
 * changes in its input; under a steady stream of writes one is always waiting), a write before idling out.
 */
export type NextStep = 'wait' | 'persist' | 'continue-as-new' | 'complete' | 'hand-over';

export function nextStep(phase: Phase, facts: RunFacts): NextStep {
  switch (phase.name) {
    case 'loading':
    case 'ending':
      return 'wait';
    case 'removed':
      return facts.handedOver > 0 ? 'hand-over' : 'complete';
    case 'failed':
      // A new run tries Postgres again (it loads, or writes the carried state); an idle one completes.
      if (facts.newRunDue) return 'continue-as-new';
      return facts.idle ? 'complete' : 'wait';
    case 'active':
      if (facts.newRunDue) return 'continue-as-new';
      if (facts.dirty) return 'persist';
      return facts.idle ? 'complete' : 'wait';
  }
}

/** The reason a run ends with, from the phase it ends in. */
export function endReason(phase: Phase): 'idle' | 'failed' | RemovalReason {
  if (phase.name === 'removed') return phase.reason;
  if (phase.name === 'failed') return 'failed';
  return 'idle';
}

// ---- the actor's activities' answers (shared with activities/index.ts) ---------------------------------

/** ApplicationFailure type of an activity failure no retry can fix (refused values, missing schema). */
export const PERMANENT_STORAGE_FAILURE = 'PermanentStorageFailure';

/** What an actor finds when it loads (claims) its session. */
export type ClaimAnswer =
  /** No session: a new one starts after `floorVersion` (a deleted session's last version, or 0). */
  | { kind: 'missing'; floorVersion: number }
  | { kind: 'found'; snapshot: SessionSnapshot; bornVersion: number }
  /** A row that does not parse: its owner, version and age are still known, so it can be expired or deleted. */
  | { kind: 'corrupt'; reason: string; userId: number; version: number; updatedAt: number };

export type PersistOutcome =
  | { outcome: 'written' }
  /** Postgres already holds this version or a newer one. */
  | { outcome: 'stale' }
  /** This incarnation of the session was deleted: nothing was written. */
  | { outcome: 'fenced'; tombstoneVersion: number };
