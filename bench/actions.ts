// Temporal Cloud bills "actions". The history shows most of them, one event each: a run started (client start,
// continue-as-new, child), a signal received, an update accepted, an activity scheduled (and each retry of it), a
// timer started, search attributes or memo upserted, a local activity's marker, a child started, an external
// workflow signalled or cancelled. Queries, rejected updates and heartbeats leave no event, so they are not counted
// here (docs.temporal.io/cloud/actions lists them); nor are the patch markers of `patched()`, which are not actions.
import { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const T = temporal.api.enums.v1.EventType;

const ONE_ACTION = new Set<number>([
  T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  T.EVENT_TYPE_TIMER_STARTED,
  T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  T.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
  T.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
  T.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
  T.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
]);

/** The billable actions one history event stands for (0 for most events). */
export function actionsOf(e: HistoryEvent): number {
  const type = e.eventType ?? 0;
  if (ONE_ACTION.has(type)) return 1;
  if (type === T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) return 1;
  // A retried activity's history holds only its last attempt's start: the attempts before it were actions too.
  if (type === T.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    return Math.max(0, (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
  if (type === T.EVENT_TYPE_MARKER_RECORDED)
    return e.markerRecordedEventAttributes?.markerName === 'core_local_activity' ? 1 : 0;
  return 0;
}

/** Actions in a history, and by the event type that stands for them. */
export function countActions(events: HistoryEvent[]): { actions: number; byType: Record<string, number> } {
  const byType: Record<string, number> = {};
  let actions = 0;
  for (const e of events) {
    const n = actionsOf(e);
    if (!n) continue;
    actions += n;
    const name = (T[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '');
    byType[name] = (byType[name] ?? 0) + n;
  }
  return { actions, byType };
}
