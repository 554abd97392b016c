// The session actor's plain, serialisable state: the snapshot, what Postgres has, the remembered turn ids, the
// versions that fence a deletion, the transcript not yet written and the recent changes watchers are answered from.
// No Temporal APIs here: the workflow hands commands to it, continue-as-new carries it.
import { StorageError } from '../src/errors';
import { ChangeLog, changeOf } from '../src/session-changes';
import {
  SessionCommand,
  SessionSnapshot,
  applyCommand,
  messageBytes,
  nowSeconds,
} from '../src/session-rules';
import { type Message, fromWireContext, fromWireMessage, toWireContext, toWireMessage } from '../src/types';
import type { ClaimAnswer } from './lifecycle';
import type { CarriedState, TranscriptBatch, TurnOutcome, TurnSignalArgs } from './messages';

/**
 * Transcript text the actor holds while Postgres is behind (down, or slower than the commands). Past it, commands
 * that add to the transcript are refused as retryable until Postgres catches up: with the snapshot, this is what a
 * snapshot write and a continue-as-new carry, and both must stay well below Temporal's 2 MB payload limit.
 */
export const TRANSCRIPT_BACKLOG_MAX_BYTES = 512 * 1024;

export class ActorState {
  snapshot: SessionSnapshot | null = null;
  /** The newest version known to be in Postgres. */
  persistedVersion = 0;
  /** The version this incarnation of the session was created at; a deletion fences writes of incarnations up to it. */
  bornVersion = 1;
  /** A new session starts after this version: the last version of a deleted one, so versions never go back. */
  floorVersion = 0;
  /** Commands that changed the session in this run (continue-as-new is counted from it). */
  commandsThisRun = 0;
  lastActivityMs: number;
  /** What is known of a row that does not parse (a corrupt session can still be expired or deleted). */
  corrupt: { userId: number; version: number; updatedAt: number } | null = null;
  /** Durable turns received after a removal in this run: the next run applies them, as a new session. */
  readonly handedOver: TurnSignalArgs[];
  /** The recent changes, for watchers (not carried: a watcher further behind gets the whole session). */
  readonly changes = new ChangeLog();
  private readonly turns: Map<string, TurnOutcome>;
  /** Transcript messages not yet in Postgres, by version, oldest first. */
  private backlog: { version: number; messages: Message[] }[] = [];
  private backlogBytes = 0;

  constructor(
    readonly sessionId: string,
    private readonly rememberTurnIds: number,
    nowMs: number,
    carried?: CarriedState,
  ) {
    this.lastActivityMs = nowMs;
    this.turns = new Map(carried?.turns ?? []);
    this.handedOver = [];
    if (carried) {
      const s = carried.snapshot;
      this.snapshot = s ? { context: fromWireContext(s.context), version: s.version } : null;
      this.persistedVersion = carried.persisted_version;
      this.bornVersion = carried.born_version ?? 1;
      this.floorVersion = carried.floor_version ?? 0;
      for (const b of carried.transcript ?? []) this.addToBacklog(b.version, b.messages.map(fromWireMessage));
    }
  }

  /** Takes the snapshot loaded from Postgres (runs before the lifecycle machine). */
  hydrate(stored: SessionSnapshot | null): void {
    this.snapshot = stored;
    this.persistedVersion = stored?.version ?? 0;
  }

  /** Takes what the actor found when it claimed its session. */
  hydrateClaim(claim: ClaimAnswer): void {
    switch (claim.kind) {
      case 'found':
        this.hydrate(claim.snapshot);
        this.bornVersion = claim.bornVersion;
        return;
      case 'missing':
        this.hydrate(null);
        this.floorVersion = claim.floorVersion;
        this.persistedVersion = claim.floorVersion;
        return;
      case 'corrupt':
        this.hydrate(null);
        this.corrupt = { userId: claim.userId, version: claim.version, updatedAt: claim.updatedAt };
        this.persistedVersion = claim.version;
        return;
    }
  }

  /**
   * Applies one command through the rules; throws SessionError subclasses for caller mistakes, and StorageError
   * (retryable) while the transcript backlog is full, changing nothing.
   */
  apply(command: SessionCommand, nowMs: number): { snapshot: SessionSnapshot; changed: boolean } {
    const result = applyCommand(this.sessionId, this.snapshot, command, nowSeconds(nowMs), this.floorVersion);
    if (result.changed) {
      const entered = result.transcribed ?? [];
      const bytes = entered.reduce((n, m) => n + messageBytes(m), 0);
      // Only what adds to the backlog waits: other commands (metadata, a clear) go through meanwhile.
      if (bytes > 0 && this.backlogBytes > 0 && this.backlogBytes + bytes > TRANSCRIPT_BACKLOG_MAX_BYTES)
        throw new StorageError(`session ${this.sessionId}: its transcript waits for Postgres; retry shortly`);
      if (entered.length > 0) this.addToBacklog(result.snapshot.version, entered);
      if (!this.snapshot) this.bornVersion = result.snapshot.version;
      this.snapshot = result.snapshot;
      this.commandsThisRun++;
      this.lastActivityMs = nowMs;
      this.changes.record(changeOf(command, result.snapshot));
    }
    return result;
  }

  private addToBacklog(version: number, messages: Message[]): void {
    this.backlog.push({ version, messages });
    this.backlogBytes += messages.reduce((n, m) => n + messageBytes(m), 0);
  }

  /** The transcript messages the next snapshot write carries. */
  transcriptBacklog(): TranscriptBatch[] {
    return this.backlog.map((b) => ({ version: b.version, messages: b.messages.map(toWireMessage) }));
  }

  /** How many transcript messages wait for Postgres. */
  get transcriptPending(): number {
    return this.backlog.reduce((n, b) => n + b.messages.length, 0);
  }

  /** The session is gone from Postgres (runs before the lifecycle machine: versions restarted). */
  clear(): void {
    this.snapshot = null;
    this.persistedVersion = 0;
  }

  /**
   * The session was deleted or expired, with a tombstone at `tombstoneVersion`. Its turn ids go with it: a retried
   * turn of the deleted session must not be answered as applied.
   */
  removed(tombstoneVersion: number): void {
    const floor = Math.max(tombstoneVersion, this.highestVersion);
    this.snapshot = null;
    this.corrupt = null;
    this.floorVersion = floor;
    this.persistedVersion = floor;
    this.turns.clear();
    // The session's transcript rows went with it; nothing of this incarnation may be written any more. The change
    // log stays: a watcher behind still gets the changes before the deletion (no new incarnation starts in this run).
    this.backlog = [];
    this.backlogBytes = 0;
  }

  /** The highest version this session has had, written or not. */
  get highestVersion(): number {
    return Math.max(
      this.snapshot?.version ?? 0,
      this.persistedVersion,
      this.floorVersion,
      this.corrupt?.version ?? 0,
    );
  }

  /** The owner, also of a corrupt row; undefined when there is no session. */
  get ownerId(): number | undefined {
    return this.snapshot?.context.userId ?? this.corrupt?.userId;
  }

  /** The session's last change (Unix seconds), also of a corrupt row; undefined when there is no session. */
  get updatedAt(): number | undefined {
    return this.snapshot?.context.updatedAt ?? this.corrupt?.updatedAt;
  }

  /** The state is ahead of Postgres. */
  get dirty(): boolean {
    return this.snapshot !== null && this.snapshot.version > this.persistedVersion;
  }

  /** How many versions Postgres is behind. */
  get versionsBehind(): number {
    return this.snapshot ? this.snapshot.version - this.persistedVersion : 0;
  }

  /** Postgres holds `version` and the transcript up to it. */
  markPersisted(version: number): void {
    this.persistedVersion = Math.max(this.persistedVersion, version);
    const written = this.backlog.filter((b) => b.version <= version);
    this.backlog = this.backlog.filter((b) => b.version > version);
    for (const b of written) this.backlogBytes -= b.messages.reduce((n, m) => n + messageBytes(m), 0);
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
      born_version: this.bornVersion,
      floor_version: this.floorVersion,
      ...(this.handedOver.length > 0 ? { handed_over: [...this.handedOver] } : {}),
      ...(this.backlog.length > 0 ? { transcript: this.transcriptBacklog() } : {}),
    };
  }

  /** The Temporal UI's current details: who, which agent, how much, how recent. No message text. */
  details(): string {
    if (!this.snapshot) return 'no session';
    const c = this.snapshot.context;
    // Tool calls by count and function name: the names are the agent's tools, never the user's text.
    const calls = c.messages.flatMap((m) => (m.toolCalls ?? []).map((call) => call.function.name));
    const tools =
      calls.length > 0
        ? ` · **tool calls** ${calls.length} (${[...new Set(calls)].slice(0, 5).join(', ')})`
        : '';
    return (
      `**user** ${c.userId} · **agent** ${c.agentType || '–'} · **messages** ${c.messages.length}${tools} · ` +
      `**version** ${this.snapshot.version} · **last activity** ${new Date(c.updatedAt * 1000).toISOString()}`
    );
  }
}
