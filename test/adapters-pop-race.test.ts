// popItem of the OpenAI Agents SDK adapter when another writer adds an item between the pop's read and its write
// (library and HTTP, on the real actor): the added item is never lost. Every item is either still in the session or
// the one popItem answered. The race is made deterministic by holding the pop's write until the other add is
// acknowledged.
import type { AddressInfo } from 'node:net';
import type { AgentInputItem } from '@openai/agents';
import { DurableAgentsSession } from '../src/adapters/openai-agents';
import type { CommandCapableService } from '../src/service';
import { TemporalSessionService } from '../src/temporal/service';
import { uniqueIds } from './support/contract';
import { ALICE, KEYS, startHttpHarness, type HttpHarness } from './support/http-harness';

const text = (item: AgentInputItem): string => JSON.stringify((item as { content?: unknown }).content);

describe('popItem racing another addItems', () => {
  let s: HttpHarness;
  let baseUrl: string;
  const ids = uniqueIds();
  const service = () =>
    new TemporalSessionService({ client: s.h.client, pool: s.h.pool, taskQueue: s.h.taskQueue });

  beforeAll(async () => {
    s = await startHttpHarness('adapters_pop_race');
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await s?.close();
  });

  /** Seeds two items, pops while `other` adds a third at the worst moment, and checks that nothing vanished. */
  async function race(
    id: string,
    popper: DurableAgentsSession,
    other: DurableAgentsSession,
    held: () => boolean,
  ) {
    await other.addItems([
      { role: 'user', content: 'first' },
      { role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'second' }] },
    ] as AgentInputItem[]);
    const popped = await popper.popItem();
    expect(held()).toBe(true);
    const left = await other.getItems();
    const accounted = [...left.map(text), ...(popped ? [text(popped)] : [])].sort();
    expect(accounted).toEqual(
      ['"first"', JSON.stringify([{ type: 'output_text', text: 'second' }]), '"added during the pop"'].sort(),
    );
    // The pop took the newest item, as the SDK's own MemorySession would after the add.
    expect(popped && text(popped)).toBe('"added during the pop"');
    expect(id).toBeTruthy();
  }

  const added = [{ role: 'user', content: 'added during the pop' }] as AgentInputItem[];

  test('library: the item added between the read and the write is kept or popped, never lost', async () => {
    const id = ids.sessionId('pop-lib');
    const other = new DurableAgentsSession({ sessionId: id, userId: ALICE, service: service() });
    const real = service();
    let held = false;
    // The pop's write (a save) waits until the other writer's add is acknowledged.
    const racing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== 'execute' && prop !== 'commit') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<CommandCapableService['execute']>) => {
          if (args[1].type === 'save' && !held) {
            held = true;
            await other.addItems(added);
          }
          return prop === 'commit' ? target.commit(...args) : target.execute(...args);
        };
      },
    });
    const popper = new DurableAgentsSession({ sessionId: id, userId: ALICE, service: racing });
    await race(id, popper, other, () => held);
  });

  test('HTTP: the item added between the read and the write is kept or popped, never lost', async () => {
    const id = ids.sessionId('pop-http');
    const other = new DurableAgentsSession({
      sessionId: id,
      userId: ALICE,
      http: { baseUrl, apiKey: KEYS.alice },
    });
    let held = false;
    const racingFetch: typeof fetch = async (input, init) => {
      if (init?.method === 'PUT' && !held) {
        held = true;
        await other.addItems(added);
      }
      return fetch(input, init);
    };
    const popper = new DurableAgentsSession({
      sessionId: id,
      userId: ALICE,
      http: { baseUrl, apiKey: KEYS.alice, fetch: racingFetch },
    });
    await race(id, popper, other, () => held);
  });
});
