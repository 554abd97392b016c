// The session actor's plain, serialisable state: the snapshot, what Postgres has, the remembered turn ids.
// No Temporal APIs here: the workflow hands commands to it, and continue-as-new carries it to the next run.
import { SessionCommand, SessionSnapshot, applyCommand, nowSeconds } from '../src/session-rules';
import { fromWireContext, toWireContext } from '../src/types';
import type { CarriedState, TurnOutcome } from './messages';

export class ActorState {
  snapshot: SessionSnapshot | null = null;
  /** The newest version known to be in Postgres. */
  persistedVersion = 0;
  /** Applied commands in this run (continue-as-new is counted from it). */
  commandsThisRun = 0;
  lastActivityMs: number;
  private readonly turns: Map<string, TurnOutcome>;

  constructor(
    readonly sessionId: string,
    private readonly rememberTurnIds: number,
    nowMs: number,
    carried?: CarriedState,
  ) {
    this.lastActivityMs = nowMs;
    this.turns = new Map(carried?.turns ?? []);
    if (carried) {
      const s = carried.snapshot;
      this.snapshot = s ? { context: fromWireContext(s.context), version: s.version } : null;
      this.persistedVersion = carried.persisted_version;
    }
  }

  /** Takes the snapshot loaded from Postgres (a fresh actor's first step). */
  hydrate(stored: SessionSnapshot | null): void {
    this.snapshot = stored;
    this.persistedVersion = stored?.version ?? 0;
  }

  /** Applies one command through the rules; throws SessionError subclasses for caller mistakes, changing nothing. */
  apply(command: SessionCommand, nowMs: number): { snapshot: SessionSnapshot; changed: boolean } {
    const result = applyCommand(this.sessionId, this.snapshot, command, nowSeconds(nowMs));
    if (result.changed) {
      this.snapshot = result.snapshot;
      this.commandsThisRun++;
      this.lastActivityMs = nowMs;
    }
    return result;
  }

  /** The session is gone from Postgres (deleted or expired). */
  clear(): void {
    this.snapshot = null;
    this.persistedVersion = 0;
  }

  /** The state is ahead of Postgres. */
  get dirty(): boolean {
    return this.snapshot !== null && this.snapshot.version > this.persistedVersion;
  }

  /** How many versions Postgres is behind. */
  get versionsBehind(): number {
    return this.snapshot ? this.snapshot.version - this.persistedVersion : 0;
  }

  markPersisted(version: number): void {
    this.persistedVersion = Math.max(this.persistedVersion, version);
  }

  turnOutcome(turnId: string): TurnOutcome | undefined {
    return this.turns.get(turnId);
  }

  /** Remembers a turn id's outcome; the oldest are forgotten past the bound. */
  rememberTurn(turnId: string, outcome: TurnOutcome): void {
    this.turns.delete(turnId);
    this.turns.set(turnId, outcome);
    while (this.turns.size > this.rememberTurnIds)
      this.turns.delete(this.turns.keys().next().value as string);
  }

  /** What the next run starts from. */
  carry(): CarriedState {
    const s = this.snapshot;
    return {
      snapshot: s ? { context: toWireContext(s.context), version: s.version } : null,
      persisted_version: this.persistedVersion,
      turns: [...this.turns.entries()],
    };
  }

  /** The Temporal UI's current details: who, which agent, how much, how recent. No message text. */
  details(): string {
    if (!this.snapshot) return 'no session';
    const c = this.snapshot.context;
    return (
      `**user** ${c.userId} · **agent** ${c.agentType || '–'} · **messages** ${c.messages.length} · ` +
      `**version** ${this.snapshot.version} · **last activity** ${new Date(c.updatedAt * 1000).toISOString()}`
    );
  }
}
