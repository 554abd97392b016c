// The bench's count of Temporal Cloud actions from a history (bench/actions.ts).
import { temporal } from '@temporalio/proto';
import { actionsOf, countActions } from '../bench/actions';

const T = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

describe('actions counted from a history', () => {
  test('one per start, signal, accepted update, activity, timer and upsert; none for tasks and completions', () => {
    const events: Event[] = [
      { eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED },
      { eventType: T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED },
      { eventType: T.EVENT_TYPE_WORKFLOW_TASK_STARTED },
      { eventType: T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED },
      { eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED },
      { eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED },
      { eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED },
      { eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED },
      { eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED, activityTaskStartedEventAttributes: { attempt: 1 } },
      { eventType: T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED },
      { eventType: T.EVENT_TYPE_TIMER_STARTED },
      { eventType: T.EVENT_TYPE_TIMER_FIRED },
      { eventType: T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES },
      { eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW },
    ];
    expect(countActions(events)).toEqual({
      actions: 6,
      byType: {
        WORKFLOW_EXECUTION_STARTED: 1,
        WORKFLOW_EXECUTION_UPDATE_ACCEPTED: 1,
        WORKFLOW_EXECUTION_SIGNALED: 1,
        ACTIVITY_TASK_SCHEDULED: 1,
        TIMER_STARTED: 1,
        UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: 1,
      },
    });
  });

  test('an activity that started on its third attempt counts its two retries', () => {
    expect(
      actionsOf({
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        activityTaskStartedEventAttributes: { attempt: 3 },
      }),
    ).toBe(2);
  });

  test("a local activity's marker is an action, a patch marker is not", () => {
    const marker = (markerName: string): Event => ({
      eventType: T.EVENT_TYPE_MARKER_RECORDED,
      markerRecordedEventAttributes: { markerName },
    });
    expect(actionsOf(marker('core_local_activity'))).toBe(1);
    expect(actionsOf(marker('core_patch'))).toBe(0);
  });
});
