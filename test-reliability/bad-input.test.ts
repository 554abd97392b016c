// Bad input: fast-check generates requests against every HTTP route (app.inject) and every actor message (raw
// client calls). No answer may be a 5xx, a control session must stay unchanged, and no actor may be left with a
// failed workflow task.
import fc from 'fast-check';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { sessionWorkflowId, statusQuery } from '../workflows/messages';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import type { Api } from '../src/http/app';
import { ALICE, BOB, KEYS, bearer, startApi } from './support/api';
import { recordFixture } from './support/fixtures';
import { report, sessionIds, sessionRuns, withTimeout } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.badInput;
const [run] = sessionIds('bi', 1);
const FUZZ = [`${run}-a`, `${run}-b`, `${run}-c`]; // alice's sessions the fuzzer may change
const CONTROL = `${run}-control`; // bob's; the fuzzer never acts as bob, so nothing may change it

const idArb = fc.oneof(
  fc.constantFrom(...FUZZ, CONTROL, `${run}-missing`, 'x', 'a'.repeat(128), 'a'.repeat(129)),
  fc.string({ maxLength: 140 }).map(encodeURIComponent),
  fc.constantFrom('%00', '..', '%2F', 'a%20b', '%F0%9F%98%80', 'null', '__proto__'),
);
const nasty = fc.constantFrom(
  '',
  '\u0000',
  '\ud800',
  '💥',
  'x'.repeat(70_000),
  '__proto__',
  'constructor',
  '{"a":1}',
);
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nasty,
  fc.integer(),
  fc.double(),
  fc.constant(null),
);
const objectArb = fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), nasty), valueArb, { maxKeys: 5 });
const bodyArb = fc.oneof(
  fc.record(
    {
      role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'robot'), valueArb),
      content: fc.oneof(fc.string(), nasty, valueArb),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      user: fc.oneof(fc.string(), nasty, valueArb),
      assistant: fc.oneof(fc.string(), nasty, valueArb),
      agent_type: fc.oneof(fc.string(), valueArb),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      user_id: fc.oneof(fc.constant(ALICE), fc.constant(BOB), fc.integer(), valueArb),
      agent_type: valueArb,
      messages: fc.oneof(fc.array(objectArb, { maxLength: 3 }), valueArb),
      metadata: fc.oneof(objectArb, valueArb),
      created_at: valueArb,
    },
    { requiredKeys: [] },
  ),
  fc.record({ retention_days: valueArb, dry_run: valueArb }, { requiredKeys: [] }),
  objectArb,
  valueArb,
);
const pathArb = fc.oneof(
  fc
    .tuple(
      idArb,
      fc.constantFrom(
        '',
        '/recover',
        '/messages',
        '/turns',
        '/turns?ack=durable',
        '/turns?ack=bogus',
        '/metadata',
        '/messages?last=3',
        '/messages?last=-1',
        '/messages?last=x',
      ),
    )
    .map(([id, p]) => `/v1/sessions/${id}${p}`),
  fc
    .oneof(fc.constant(ALICE), fc.constant(BOB), fc.integer(), fc.constant('x'))
    .chain((u) =>
      fc
        .constantFrom(
          '',
          '?limit=5',
          '?limit=-1',
          '?limit=100000',
          '?cursor=zzz',
          '?agent_type=%00',
          '?cursor=eyJ4IjoxfQ',
        )
        .map((q) => `/v1/users/${u}/sessions${q}`),
    ),
  fc.constantFrom(
    '/v1/cleanup',
    '/healthz',
    '/readyz',
    '/metrics',
    '/openapi.json',
    '/v1/sessions',
    '/v1',
    '/',
  ),
  fc.string({ maxLength: 40 }).map((s) => `/v1/${encodeURIComponent(s)}`),
);
// Never bob's key and never X-User-Id = bob; never the admin key (cleanup may rightly delete anything).
const headersArb = fc.record(
  {
    auth: fc.constantFrom(
      bearer('alice').authorization,
      `Bearer ${KEYS.service}`,
      'Bearer nope',
      'Basic abc',
      '',
      `Bearer ${KEYS.alice} extra`,
    ),
    user: fc.oneof(
      fc.constant(String(ALICE)),
      fc
        .integer()
        .filter((n) => n !== BOB)
        .map(String),
      fc.constantFrom('x', '', '99999999999', ' 1', '-0'),
    ),
    key: fc.oneof(
      fc.uuid(),
      fc.string({ maxLength: 140 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
    ),
    type: fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
    ),
  },
  { requiredKeys: [] },
);
const requestArb = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'POST', 'PATCH', 'DELETE') as fc.Arbitrary<
    'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'
  >,
  url: pathArb,
  headers: headersArb,
  body: fc.option(
    bodyArb.map((b) => JSON.stringify(b) ?? 'null'),
    { nil: undefined },
  ),
  raw: fc.option(
    fc.constantFrom(
      '{',
      '{"a":',
      '[1,2',
      '\u0000',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
    ),
    { nil: undefined },
  ),
});

const UPDATES = [
  'saveContext',
  'recoverSession',
  'appendMessage',
  'appendTurn',
  'clearMessages',
  'updateMetadata',
  'expireSession',
];
const QUERIES = ['context', 'recentMessages', 'turnStatus', 'status'];
const actorArb = fc.record({
  target: fc.constantFrom(...FUZZ),
  kind: fc.constantFrom('update', 'update', 'signal', 'query'),
  update: fc.constantFrom(...UPDATES),
  query: fc.constantFrom(...QUERIES),
  updateId: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 140 })), { nil: undefined }),
  args: fc.oneof(
    bodyArb,
    fc.record(
      {
        turn_id: fc.oneof(fc.uuid(), valueArb),
        user: fc.oneof(fc.string(), valueArb),
        assistant: fc.oneof(fc.string(), valueArb),
        user_id: valueArb,
        cutoff: fc.oneof(fc.integer({ min: 0, max: 1_000 }), valueArb),
      },
      { requiredKeys: [] },
    ),
  ),
});

describe('bad input', () => {
  let rig: Rig;
  let app: Api;
  beforeAll(async () => {
    rig = await Rig.start('bad-input');
    app = await startApi(rig);
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
  });

  test(`${size.requests} generated requests: no 5xx, control session unchanged, no failed workflow task`, async () => {
    for (const id of FUZZ) await rig.service.execute(id, { type: 'recover', userId: ALICE });
    await rig.service.execute(CONTROL, { type: 'recover', userId: BOB });
    await rig.service.execute(CONTROL, { type: 'appendTurn', user: 'control q', assistant: 'control a' });
    await rig.service.submitTurn(CONTROL, 'control q2', 'control a2');
    const controlBefore = await rig.service.loadContext(CONTROL);
    const controlStatusBefore = await rig.client.workflow
      .getHandle(sessionWorkflowId(CONTROL))
      .query(statusQuery);

    const statuses = new Map<number, number>();
    const fiveHundreds: string[] = [];
    const untyped: string[] = [];
    const httpRuns = Math.round(size.requests * 0.7);
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const headers: Record<string, string> = {};
        if (r.headers.auth !== undefined) headers.authorization = r.headers.auth;
        if (r.headers.user !== undefined) headers['x-user-id'] = r.headers.user;
        if (r.headers.key !== undefined && r.method !== 'GET') headers['idempotency-key'] = r.headers.key;
        const payload = r.raw ?? r.body;
        if (payload !== undefined) headers['content-type'] = r.headers.type ?? 'application/json';
        const res = await app.inject({ method: r.method, url: r.url, headers, payload });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500)
          fiveHundreds.push(
            `${r.method} ${r.url.slice(0, 80)} -> ${res.statusCode} ${res.body.slice(0, 120)}`,
          );
        if (res.statusCode >= 400 && !(res.json() as { code?: unknown }).code)
          untyped.push(`${r.method} ${r.url.slice(0, 80)} -> ${res.statusCode}`);
      }),
      { numRuns: httpRuns, seed: 8, endOnFailure: false },
    );

    const outcomes = new Map<string, number>();
    const unexpected: string[] = [];
    await fc.assert(
      fc.asyncProperty(actorArb, async (a) => {
        const handle = rig.client.workflow.getHandle(sessionWorkflowId(a.target));
        let outcome = 'ok';
        try {
          if (a.kind === 'update') {
            await withTimeout(
              handle.executeUpdate(a.update, { args: [a.args], updateId: a.updateId || undefined }),
              30_000,
              `update ${a.update}`,
            );
          } else if (a.kind === 'signal') {
            await handle.signal('turn', a.args);
          } else {
            await handle.query(a.query, a.args);
          }
        } catch (err) {
          outcome = err instanceof WorkflowUpdateFailedError ? 'update rejected' : (err as Error).name;
          if (!(err instanceof WorkflowUpdateFailedError) && a.kind !== 'query')
            unexpected.push(
              `${a.kind} ${a.update}: ${(err as Error).name}: ${(err as Error).message.slice(0, 160)}`,
            );
        }
        const label = `${a.kind} ${outcome}`;
        outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
        // An expired fuzz session completes its actor: bring it back so later messages reach a running actor.
        if (a.kind === 'update' && a.update === 'expireSession')
          await rig.service.execute(a.target, { type: 'recover', userId: ALICE }).catch(() => undefined);
      }),
      { numRuns: size.requests - httpRuns, seed: 8, endOnFailure: false },
    );

    // Actors: no task failure anywhere in any run's history, none pending, state persisted and equal to Postgres.
    let taskFailures = 0;
    const stuck: string[] = [];
    const corrupted: string[] = [];
    for (const id of [...FUZZ, CONTROL]) {
      const wid = sessionWorkflowId(id);
      for await (const { runId, handle: h, events } of sessionRuns(rig.client, id)) {
        const failed = events.filter((ev) => ev.workflowTaskFailedEventAttributes);
        taskFailures += failed.length;
        if (failed.length)
          stuck.push(
            `${wid}/${runId}: ${failed[0].workflowTaskFailedEventAttributes?.failure?.message?.slice(0, 200)}`,
          );
        const d = await h.describe();
        if (d.raw.pendingWorkflowTask && (d.raw.pendingWorkflowTask.attempt ?? 1) > 1)
          stuck.push(`${wid}: pending task attempt ${d.raw.pendingWorkflowTask.attempt}`);
      }
      const status = await rig.client.workflow
        .getHandle(wid)
        .query(statusQuery)
        .catch(() => undefined);
      if (status) {
        for (let i = 0; i < 50 && status.persisted_version !== status.version; i++) await sleep(100);
        const row = await loadSnapshot(rig.pool, id);
        const live = await rig.service.loadContext(id);
        if (row && live && JSON.stringify(row.context) !== JSON.stringify(live))
          corrupted.push(`${id}: Postgres differs from the actor`);
      }
    }
    const controlAfter = await rig.service.loadContext(CONTROL);
    const controlStatusAfter = await rig.client.workflow
      .getHandle(sessionWorkflowId(CONTROL))
      .query(statusQuery);
    report('bad-input', {
      requests: size.requests,
      http: httpRuns,
      actorMessages: size.requests - httpRuns,
      statuses: Object.fromEntries([...statuses.entries()].sort((a, b) => a[0] - b[0])),
      fiveHundreds: fiveHundreds.length,
      untypedErrors: untyped.length,
      actorOutcomes: Object.fromEntries(outcomes),
      unexpectedActorErrors: unexpected.length,
      workflowTaskFailures: taskFailures,
      stuck: stuck.slice(0, 5),
      corrupted,
      controlVersion: [controlStatusBefore.version, controlStatusAfter.version],
      examples: [...fiveHundreds, ...unexpected].slice(0, 5),
    });
    await recordFixture(rig.client, FUZZ[0], 'bad-input');
    expect(fiveHundreds).toEqual([]);
    expect(untyped).toEqual([]);
    expect(controlAfter).toEqual(controlBefore);
    expect(controlStatusAfter.version).toBe(controlStatusBefore.version);
    expect(corrupted).toEqual([]);
    expect(stuck).toEqual([]);
    expect(taskFailures).toBe(0);
    expect(unexpected).toEqual([]);
  });
});
