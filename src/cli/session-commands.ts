// CLI commands that act on sessions of a running stack: turn, sessions list/show/delete, cleanup.
// They connect through TEMPORAL_ADDRESS/DATABASE_URL or the embedded stack's .data/stack.json; each prints
// text for people or, with --json, one JSON document.
import { randomUUID } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { type Config, loadConfig } from '../config';
import { SessionError, SessionNotFoundError, ValidationError } from '../errors';
import type { StackConnection } from '../runtime/connect';
import { expiryCutoff, validateRetentionDays } from '../session-rules';
import { ConversationContext, SessionPage, toWireContext, toWireSummary } from '../types';

// Session commands import their Temporal and Postgres modules when they run (see withStack): `--help` and the
// commands that need neither should not pay for loading them.

/** How long `turn --durable` waits for the actor to say what became of the turn before answering "accepted". */
const TURN_STATUS_WAIT_MS = 5_000;

export function registerSessionCommands(program: Command): void {
  program
    .command('turn')
    .description('append a user/assistant turn to a session, creating it for --user-id when missing')
    .argument('<session-id>')
    .argument('<user>', 'the user message')
    .argument('<assistant>', "the assistant's reply")
    .option(
      '--user-id <n>',
      "the user the turn acts for: creates the session for this user when it is missing, refuses another user's",
      integer,
    )
    .option('--agent-type <type>', 'agent type to record', '')
    .option('--durable', 'acknowledge once Temporal has persisted the turn (signal) instead of once applied')
    .option(
      '--turn-id <id>',
      "the turn's id: sending the same id again (a retry after a timeout) applies the turn at most once; default: a new id, printed",
    )
    .action(async (sessionId: string, user: string, assistant: string, opts: TurnOptions) => {
      const config = loadConfig();
      // Chosen here, not by the service, so a failure can name the id a safe retry needs.
      const turnId = opts.turnId ?? randomUUID();
      await withStack(config, async (stack) => {
        try {
          const turn: Turn = {
            sessionId,
            user,
            assistant,
            turnId,
            userId: opts.userId,
            agentType: opts.agentType,
          };
          await (opts.durable ? durableTurn : appliedTurn)(config, stack, turn);
        } catch (err) {
          // The turn may or may not have reached the actor: only the same turn id makes trying again safe.
          if (!refusedForSure(err))
            console.error(
              `turn ${turnId} may or may not have been applied; to retry safely: --turn-id ${turnId}`,
            );
          throw err;
        }
        if (stack.uiUrl)
          console.log(
            `see it in the Temporal UI: ${uiLink(stack.uiUrl, config.temporal.namespace, `SessionId="${sessionId}"`)}`,
          );
      });
    });

  const sessions = program.command('sessions').description('list, show and delete sessions');

  sessions
    .command('list')
    .description("list a user's sessions, newest first")
    .requiredOption('--user <n>', 'the user whose sessions to list', integer)
    .option('--limit <n>', 'page size (default 20, at most 200)', integer, 20)
    .option('--cursor <cursor>', 'continue after a previous page (its next_cursor)')
    .option('--agent-type <type>', 'only sessions of this agent type')
    .option('--json', 'print JSON')
    .action(async (opts: ListOptions) => {
      await withStack(loadConfig(), async ({ service }) => {
        const page = await service.listSessionsPage(opts.user, opts.limit, {
          cursor: opts.cursor,
          agentType: opts.agentType,
        });
        console.log(opts.json ? JSON.stringify(pageJson(opts.user, page)) : formatPage(opts.user, page));
      });
    });

  sessions
    .command('show')
    .description('show one session: owner, agent type, times, metadata and its message window')
    .argument('<session-id>')
    .option('--json', 'print JSON')
    .action(async (sessionId: string, opts: JsonOption) => {
      await withStack(loadConfig(), async ({ service }) => {
        const ctx = await service.loadContext(sessionId);
        if (!ctx) throw new SessionNotFoundError(sessionId);
        console.log(opts.json ? JSON.stringify(toWireContext(ctx)) : formatSession(ctx));
      });
    });

  sessions
    .command('delete')
    .description('delete a session everywhere it lives (Postgres and its Temporal histories); idempotent')
    .argument('<session-id>')
    .option('--json', 'print JSON')
    .action(async (sessionId: string, opts: JsonOption) => {
      await withStack(loadConfig(), async ({ service }) => {
        const existed = (await service.loadContext(sessionId)) !== null;
        await service.deleteSession(sessionId);
        console.log(
          opts.json
            ? JSON.stringify({ session_id: sessionId, deleted: true, existed })
            : existed
              ? `deleted session ${sessionId}`
              : `session ${sessionId} did not exist; nothing left of it anywhere`,
        );
      });
    });

  program
    .command('cleanup')
    .description('delete sessions not updated for --retention-days (the retention cleanup, run now)')
    .option(
      '--retention-days <n>',
      'keep sessions updated within this many days (default SESSION_RETENTION_DAYS or 30)',
      integer,
    )
    .option('--dry-run', 'only count the sessions that would be deleted')
    .option('--json', 'print JSON')
    .action(async (opts: CleanupOptions) => {
      const config = loadConfig();
      const days = opts.retentionDays ?? config.cleanup.retentionDays;
      validateRetentionDays(days);
      const { countExpired } = await import('../retention/sql');
      await withStack(config, async ({ service, pool }) => {
        const cutoff = expiryCutoff(Date.now(), days);
        const expired = await countExpired(pool, cutoff);
        const base = { retention_days: days, cutoff, cutoff_iso: isoSeconds(cutoff) };
        if (opts.dryRun) {
          console.log(
            opts.json
              ? JSON.stringify({ ...base, dry_run: true, expired })
              : `${plural(expired, 'session')} would be deleted (not updated since ${base.cutoff_iso}); nothing was deleted`,
          );
          return;
        }
        // Progress: the cleanup workflow deletes in batches; the remaining count in Postgres shows how far it got.
        const deleted = await withProgress(
          { total: expired, label: 'cleanup', enabled: !opts.json },
          async () => expired - (await countExpired(pool, cutoff)),
          () => service.cleanupExpired(days),
        );
        console.log(
          opts.json
            ? JSON.stringify({ ...base, dry_run: false, deleted })
            : `deleted ${plural(deleted, 'session')} not updated since ${base.cutoff_iso}`,
        );
      });
    });
}

interface JsonOption {
  json?: boolean;
}
interface TurnOptions {
  userId?: number;
  agentType: string;
  durable?: boolean;
  turnId?: string;
}
interface ListOptions extends JsonOption {
  user: number;
  limit: number;
  cursor?: string;
  agentType?: string;
}
interface CleanupOptions extends JsonOption {
  retentionDays?: number;
  dryRun?: boolean;
}

async function withStack<T>(config: Config, work: (stack: StackConnection) => Promise<T>): Promise<T> {
  const { connectToStack } = await import('../runtime/connect');
  const stack = await connectToStack(config);
  try {
    return await work(stack);
  } finally {
    await stack.close();
  }
}

/** A turn that was certainly not applied (refused before or by the actor, or never sent). */
class TurnRefused extends Error {}

function refusedForSure(err: unknown): boolean {
  if (err instanceof TurnRefused) return true;
  return (
    err instanceof SessionError &&
    (err.code === 'invalid_argument' || err.code === 'session_not_found' || err.code === 'session_conflict')
  );
}

/** One turn as the command line gave it (the turn id chosen, when not given). */
interface Turn {
  sessionId: string;
  user: string;
  assistant: string;
  turnId: string;
  userId?: number;
  agentType: string;
}

async function appliedTurn(config: Config, stack: StackConnection, turn: Turn): Promise<void> {
  const { sessionId, user, assistant, turnId, userId } = turn;
  if (!(await workerPolls(config, stack)))
    throw new TurnRefused(
      `no worker polls task queue ${config.temporal.taskQueue}, so nothing can apply the turn now: start one ` +
        '(`npm start`, or `durable-sessions worker`), or send it with --durable (Temporal keeps it until a worker applies it)',
    );
  const { SessionRecovery } = await import('../recovery');
  const recovery = new SessionRecovery(stack.service);
  // Without --user-id the turn goes to the session as it is, whoever owns it; a missing one cannot be made.
  if (userId !== undefined) await recovery.recoverSession(sessionId, userId);
  try {
    const { version, context } = await recovery.appendTurn(sessionId, user, assistant, turn.agentType, {
      turnId,
      expectedUserId: userId,
    });
    console.log(JSON.stringify({ turn_id: turnId, version, session: toWireContext(context) }, null, 2));
  } catch (err) {
    if (err instanceof SessionNotFoundError)
      throw new TurnRefused(`session not found: ${sessionId} (pass --user-id to create it for that user)`);
    throw err;
  }
}

async function durableTurn(config: Config, stack: StackConnection, turn: Turn): Promise<void> {
  const { sessionId, turnId } = turn;
  const { service, client } = stack;
  await service.submitTurn(sessionId, turn.user, turn.assistant, {
    turnId,
    userId: turn.userId,
    agentType: turn.agentType || undefined,
  });
  // From here on the turn is Temporal's: whatever happens next, it is not lost and not an error.
  if (!(await workerPolls(config, stack))) {
    console.log(
      JSON.stringify({ turn_id: turnId, status: { status: 'accepted' }, waiting_for_worker: true }),
    );
    console.error(
      `accepted, waiting for a worker: Temporal keeps turn ${turnId}; a worker on task queue ` +
        `${config.temporal.taskQueue} applies it when one starts (\`npm start\`, or \`durable-sessions worker\`)`,
    );
    return;
  }
  let status: unknown;
  try {
    status = await client.connection.withDeadline(Date.now() + TURN_STATUS_WAIT_MS, () =>
      service.turnStatus(sessionId, turnId),
    );
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    // A worker polled recently but the actor did not answer in time (it just stopped, or it is busy).
    status = { status: 'accepted' };
    console.error(
      `accepted: Temporal keeps turn ${turnId}, but its actor did not answer within ${TURN_STATUS_WAIT_MS / 1000} s ` +
        `(${err instanceof SessionError ? err.code : 'no answer'}); is a worker running on ${config.temporal.taskQueue}?`,
    );
  }
  console.log(JSON.stringify({ turn_id: turnId, status }));
  const outcome = status as { status: string; code?: string; message?: string };
  if (outcome.status === 'rejected')
    throw new TurnRefused(`turn ${turnId} was rejected by the session: ${outcome.code}: ${outcome.message}`);
}

/**
 * Whether any worker has polled the session actors' task queue lately (the server lists pollers for a few
 * minutes after their last poll), asked with DescribeTaskQueue.
 */
async function workerPolls(config: Config, { client }: StackConnection): Promise<boolean> {
  const { temporal } = await import('@temporalio/proto');
  const described = await client.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: {
      name: config.temporal.taskQueue,
      kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL,
    },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (described.pollers ?? []).length > 0;
}

function integer(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

function pageJson(userId: number, page: SessionPage): object {
  return {
    user_id: userId,
    sessions: page.sessions.map(toWireSummary),
    ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}),
  };
}

function formatPage(userId: number, page: SessionPage): string {
  if (page.sessions.length === 0) return `no sessions for user ${userId}`;
  const rows = page.sessions.map((s) => [
    s.sessionId,
    s.agentType || '–',
    isoSeconds(s.updatedAt),
    clip(s.lastMessage, 60),
  ]);
  const lines = table(['SESSION', 'AGENT', 'UPDATED', 'LAST MESSAGE'], rows);
  lines.push('', `${plural(page.sessions.length, 'session')} of user ${userId}`);
  if (page.nextCursor) lines.push(`more: --cursor ${page.nextCursor}`);
  return lines.join('\n');
}

function formatSession(c: ConversationContext): string {
  const lines = [
    `session     ${c.sessionId}`,
    `user        ${c.userId}`,
    `agent type  ${c.agentType || '–'}`,
    `created     ${isoSeconds(c.createdAt)}`,
    `updated     ${isoSeconds(c.updatedAt)}`,
    `metadata    ${JSON.stringify(c.metadata)}`,
    `messages    ${c.messages.length}`,
  ];
  c.messages.forEach((m, i) =>
    lines.push(`  ${String(i + 1).padStart(2)}. ${m.role.padEnd(9)} ${clip(m.content, 100)}`),
  );
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function uiLink(uiUrl: string, namespace: string, query: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

/**
 * Runs `work` while a progress bar on stderr follows `poll` (how much of `total` is done). Shown only to people:
 * not with --json, not when stderr is not a terminal, not when there is nothing to do.
 */
async function withProgress<T>(
  opts: { total: number; label: string; enabled: boolean },
  poll: () => Promise<number>,
  work: () => Promise<T>,
): Promise<T> {
  if (!opts.enabled || !process.stderr.isTTY || opts.total === 0) return work();
  const { SingleBar } = await import('cli-progress');
  const bar = new SingleBar({
    format: `${opts.label} [{bar}] {value}/{total} sessions | {duration_formatted}`,
    stream: process.stderr,
    hideCursor: true,
  });
  bar.start(opts.total, 0);
  const timer = setInterval(() => {
    void poll().then(
      (done) => bar.update(Math.max(0, Math.min(opts.total, done))),
      () => undefined, // a failed poll only delays the display; the work reports its own errors
    );
  }, 300);
  try {
    const result = await work();
    bar.update(opts.total);
    return result;
  } finally {
    clearInterval(timer);
    bar.stop();
  }
}
