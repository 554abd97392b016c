// The actor's lifecycle machine without a server: every transition, what each phase admits, and what a run does next.
// The wiring (workflows/session-actor.ts) is covered against a real server by test/lifecycle.test.ts.
import {
  type CommandClass,
  type Phase,
  admit,
  endReason,
  nextStep,
  readable,
  transition,
} from '../workflows/lifecycle';

const loading: Phase = { name: 'loading' };
const active: Phase = { name: 'active' };
const failedLoad: Phase = {
  name: 'failed',
  during: 'load',
  code: 'corrupt',
  message: 'messages is not an array',
};
const failedWrite: Phase = { name: 'failed', during: 'write', code: '22003', message: 'out of range' };
const deleted: Phase = { name: 'removed', reason: 'deleted' };
const expired: Phase = { name: 'removed', reason: 'expired' };
const ending: Phase = { name: 'ending', reason: 'idle' };
const failure = { type: 'storageFailed', code: '22003', message: 'out of range' } as const;

describe('transition', () => {
  test('loading becomes active once loaded, or failed when the row is refused', () => {
    expect(transition(loading, { type: 'loaded' })).toEqual(active);
    expect(transition(loading, { ...failure, during: 'load' })).toMatchObject({
      name: 'failed',
      during: 'load',
    });
  });

  test('a permanent write failure fails an active session; a later one keeps the first cause', () => {
    const failed = transition(active, { ...failure, during: 'write' });
    expect(failed).toEqual({ name: 'failed', during: 'write', code: '22003', message: 'out of range' });
    expect(transition(failed, { type: 'storageFailed', during: 'write', code: '42P01', message: 'x' })).toBe(
      failed,
    );
  });

  test('a removal ends the session from active and failed, not before it is loaded', () => {
    expect(transition(active, { type: 'removed', reason: 'deleted' })).toEqual(deleted);
    expect(transition(failedLoad, { type: 'removed', reason: 'expired' })).toEqual(expired);
    expect(transition(loading, { type: 'removed', reason: 'deleted' })).toBe(loading);
  });

  test('a write fenced by a tombstone means the session was deleted elsewhere', () => {
    expect(transition(active, { type: 'fenced' })).toEqual(deleted);
    expect(transition(failedWrite, { type: 'fenced' })).toEqual(deleted);
    expect(transition(expired, { type: 'fenced' })).toBe(expired);
  });

  test('a write failing after the removal changes nothing; ending is final', () => {
    expect(transition(deleted, { ...failure, during: 'write' })).toBe(deleted);
    for (const event of [
      { type: 'loaded' },
      { type: 'removed', reason: 'deleted' },
      { type: 'fenced' },
    ] as const)
      expect(transition(ending, event)).toBe(ending);
    expect(transition(deleted, { type: 'ending', reason: 'deleted' })).toEqual({
      name: 'ending',
      reason: 'deleted',
    });
  });
});

describe('admit', () => {
  const classes: CommandClass[] = ['create', 'change', 'remove', 'turn', 'creating-turn'];
  const table = (phase: Phase) => Object.fromEntries(classes.map((c) => [c, admit(phase, c)]));

  test('loading queues everything; active applies everything', () => {
    expect(new Set(Object.values(table(loading)))).toEqual(new Set(['wait']));
    expect(new Set(Object.values(table(active)))).toEqual(new Set(['apply']));
  });

  test('failed refuses writes but still deletes and expires', () => {
    for (const phase of [failedLoad, failedWrite])
      expect(table(phase)).toEqual({
        create: 'refuse-failed',
        change: 'refuse-failed',
        remove: 'apply',
        turn: 'refuse-failed',
        'creating-turn': 'refuse-failed',
      });
  });

  test('removed: changes are not found, re-creations belong to the next run, a second removal is answered', () => {
    expect(table(deleted)).toEqual({
      create: 'next-run',
      change: 'not-found',
      remove: 'apply',
      turn: 'not-found',
      'creating-turn': 'successor',
    });
  });

  test('ending: updates go to the next run, signals (which cannot be refused) are handed over', () => {
    expect(table(ending)).toEqual({
      create: 'next-run',
      change: 'next-run',
      remove: 'next-run',
      turn: 'successor',
      'creating-turn': 'successor',
    });
  });
});

describe('readable', () => {
  test('busy while loading, a failure when the row could not be loaded, the state otherwise', () => {
    expect(readable(loading)).toBe('busy');
    expect(readable(failedLoad)).toBe('failed');
    for (const phase of [active, failedWrite, deleted, ending]) expect(readable(phase)).toBe('state');
  });
});

describe('nextStep and endReason', () => {
  const facts = { dirty: false, idle: false, newRunDue: false, handedOver: 0 };

  test('active: continue-as-new before a write (unsaved changes travel), a write before idling out', () => {
    expect(nextStep(active, facts)).toBe('wait');
    expect(nextStep(active, { ...facts, dirty: true, idle: true })).toBe('persist');
    expect(nextStep(active, { ...facts, dirty: true, newRunDue: true })).toBe('continue-as-new');
    expect(nextStep(active, { ...facts, idle: true })).toBe('complete');
  });

  test('failed never waits on Postgres: it idles out, or a new run tries again', () => {
    expect(nextStep(failedWrite, { ...facts, dirty: true })).toBe('wait');
    expect(nextStep(failedWrite, { ...facts, dirty: true, idle: true })).toBe('complete');
    expect(nextStep(failedLoad, { ...facts, newRunDue: true })).toBe('continue-as-new');
    expect(endReason(failedWrite)).toBe('failed');
  });

  test('removed completes at once, or hands turns received after the removal to the next run', () => {
    expect(nextStep(deleted, facts)).toBe('complete');
    expect(nextStep(deleted, { ...facts, handedOver: 2 })).toBe('hand-over');
    expect(endReason(deleted)).toBe('deleted');
    expect(endReason(expired)).toBe('expired');
  });

  test('loading and ending never act', () => {
    for (const phase of [loading, ending])
      expect(nextStep(phase, { dirty: true, idle: true, newRunDue: true, handedOver: 1 })).toBe('wait');
    expect(endReason(active)).toBe('idle');
  });
});
