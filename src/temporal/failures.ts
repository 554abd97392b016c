// Maps what the Temporal client throws back to the library's typed errors, and says which failures to retry.
// Used by TemporalSessionService around every update, signal and query.
import { WorkflowNotFoundError } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import {
  QueryRejectedError,
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import {
  FAILURE_TYPES,
  SessionConflictError,
  SessionError,
  SessionExistsError,
  SessionNotFoundError,
  StorageError,
  TooManyInFlightError,
  ValidationError,
  VersionMismatchError,
} from '../errors';
import { temporal } from '@temporalio/proto';
import { ACTOR_BUSY, ACTOR_CLOSING, SESSION_STORAGE_FAILED } from '../../workflows/messages';

/** The actor's failure as a typed error; other errors become StorageError with the cause kept. */
export function toSessionError(err: unknown, sessionId: string): Error {
  if (err instanceof SessionError) return err;
  const failure = applicationFailureOf(err);
  if (failure) {
    switch (failure.type) {
      case FAILURE_TYPES.validation: {
        const details = failure.details?.[0] as { field?: string } | undefined;
        const field = details?.field ?? 'input';
        return new ValidationError(field, stripField(failure.message, field));
      }
      case FAILURE_TYPES.notFound:
        return new SessionNotFoundError(sessionId);
      case FAILURE_TYPES.conflict:
        return new SessionConflictError(sessionId);
      case FAILURE_TYPES.exists:
        return new SessionExistsError(sessionId);
      case FAILURE_TYPES.versionMismatch: {
        const d = failure.details?.[0] as { expected_version?: number; actual_version?: number } | undefined;
        return new VersionMismatchError(sessionId, d?.expected_version ?? -1, d?.actual_version ?? -1);
      }
      case SESSION_STORAGE_FAILED:
        // Postgres refused the session for good: the actor's failed state (status query, logs, metrics).
        return new StorageError(`session ${sessionId}: ${failure.message}`, { cause: err });
    }
  }
  // A hot session: Temporal refused more in-flight updates or more signals in this run, or the call outlived its
  // deadline. Nothing is lost (the turn id makes the retry safe); the caller should back off, which is a 429,
  // not a storage failure.
  if (isOverloaded(err)) return new TooManyInFlightError(sessionId, 1000);
  return new StorageError(`session ${sessionId}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

/**
 * True for the window in which a command reaches a run that is completing (idle, deleted, expired):
 * retrying starts or reaches the next run, so the command is never lost.
 */
export function isActorGone(err: unknown): boolean {
  const type = applicationFailureOf(err)?.type;
  // UnprocessedUpdate: the run ended (continue-as-new, idle) in the task that carried the update, so the
  // server refused it unapplied. The retry carries the same update id, so it is applied at most once.
  if (type === ACTOR_CLOSING || type === 'UnprocessedUpdate') return true;
  if (err instanceof WorkflowNotFoundError) return true;
  const text = describeChain(err);
  // "unexpected workflow task failure": the server failed the task that carried the update (e.g. the run tried to
  // complete as the update arrived) and aborted the update before it was accepted; nothing was applied.
  return /workflow execution already completed|workflow (execution )?not found|update was not accepted.*closed|update due to unexpected workflow task failure/i.test(
    text,
  );
}

/** The actor's run fails every workflow task (the server says so; its cause is in the run's history). */
export function isActorTaskFailing(err: unknown): boolean {
  return /workflow task in failed state/i.test(describeChain(err));
}

/** A query refused because the actor is still loading or applying received turns. */
export function isActorBusy(err: unknown): boolean {
  return describeChain(err).includes(ACTOR_BUSY);
}

/**
 * A query that reached a run just as it continued as new: the next run holds the state (and possibly changes
 * Postgres does not have yet), so the query is asked again, never answered from Postgres.
 */
export function isQueryOnContinuedRun(err: unknown): boolean {
  return (
    err instanceof QueryRejectedError &&
    err.status === temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
  );
}

export function isQueryOnClosedActor(err: unknown): boolean {
  return err instanceof QueryRejectedError || err instanceof WorkflowNotFoundError;
}

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
/** The server's answer once a run holds `history.maximumSignalsPerExecution` signals (it calls it an invalid argument). */
const SIGNAL_LIMIT = /exceeded workflow execution limit for signal events/i;

function isOverloaded(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === GRPC_DEADLINE_EXCEEDED || code === GRPC_RESOURCE_EXHAUSTED) return true;
    if (
      code === GRPC_INVALID_ARGUMENT &&
      SIGNAL_LIMIT.test(`${(e as Error).message} ${String((e as { details?: unknown }).details)}`)
    )
      return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof ApplicationFailure) return e;
    if (e instanceof WorkflowUpdateFailedError || e instanceof ServiceError || e instanceof Error)
      e = e.cause;
    else return undefined;
  }
  return undefined;
}

function describeChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(' <- ');
}

function stripField(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}
