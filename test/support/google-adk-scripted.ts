// A scripted model for Google ADK (no network) and the weather agent the adapter tests run; run as a script
// (`node -r ts-node/register/transpile-only test/support/google-adk-scripted.ts USER SESSION TEXT`), one turn of that
// agent in a new process on a DurableAdkSessionService over its own Temporal client and Postgres pool (the test
// stack's address, DS_DATABASE_URL, DS_TASK_QUEUE), printing the model's requests as JSON.
import { Client, Connection } from '@temporalio/client';
import {
  BaseLlm,
  type BaseSessionService,
  type Event,
  FunctionTool,
  LlmAgent,
  type LlmRequest,
  type LlmResponse,
  Runner,
} from '@google/adk';
import type { Content } from '@google/genai';
import pg from 'pg';
import { z } from 'zod';
import { DurableAdkSessionService } from '../../src/adapters/google-adk';
import { TemporalSessionService } from '../../src/temporal/service';
import { testStack } from './stack';

/** Calls get_weather for the city of the last user text (with an id of its own), then answers from the result. */
export class ScriptedLlm extends BaseLlm {
  readonly requests: Content[][] = [];
  constructor() {
    super({ model: 'scripted' });
  }
  async *generateContentAsync(request: LlmRequest): AsyncGenerator<LlmResponse, void> {
    this.requests.push(structuredClone(request.contents));
    const last = request.contents[request.contents.length - 1];
    const response = last?.parts?.find((p) => p.functionResponse)?.functionResponse;
    if (response) {
      const result = (response.response as { result?: string }).result;
      yield { content: { role: 'model', parts: [{ text: `It is ${result} there.` }] } };
      return;
    }
    const text = last?.parts?.find((p) => p.text)?.text ?? '';
    const city = text.replace(/^weather in /, '');
    yield {
      content: {
        role: 'model',
        parts: [{ functionCall: { id: `call_${city}`, name: 'get_weather', args: { city } } }],
      },
    };
  }
  async connect(): Promise<never> {
    throw new Error('the scripted model has no live connection');
  }
}

const getWeather = new FunctionTool({
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: z.object({ city: z.string() }),
  execute: ({ city }, context) => {
    // State writes of every scope travel as the event's stateDelta.
    context?.state.set('last_city', city);
    context?.state.set(`seen_${city}`, true);
    context?.state.set('user:asked', city);
    context?.state.set('temp:scratch', 'not kept');
    return `18C in ${city}`;
  },
});

export function runnerOn(sessionService: BaseSessionService, model = new ScriptedLlm()) {
  const agent = new LlmAgent({
    name: 'weather',
    model,
    instruction: 'Answer about the weather.',
    tools: [getWeather],
  });
  return { runner: new Runner({ appName: 'weather-app', agent, sessionService }), model };
}

export async function turn(
  runner: Runner,
  userId: string,
  sessionId: string,
  text: string,
): Promise<Event[]> {
  const events: Event[] = [];
  for await (const e of runner.runAsync({
    userId,
    sessionId,
    newMessage: { role: 'user', parts: [{ text }] },
  }))
    events.push(e);
  return events;
}

if (require.main === module) {
  const [userId, sessionId, text] = process.argv.slice(2);
  void (async () => {
    const stack = testStack();
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const pool = new pg.Pool({ connectionString: process.env.DS_DATABASE_URL, max: 2 });
    try {
      const client = new Client({ connection, namespace: stack.namespace });
      const service = new TemporalSessionService({ client, pool, taskQueue: process.env.DS_TASK_QUEUE! });
      const { runner, model } = runnerOn(new DurableAdkSessionService({ service }));
      await turn(runner, userId, sessionId, text);
      process.stdout.write(`${JSON.stringify(model.requests)}\n`);
    } finally {
      await pool.end();
      await connection.close();
    }
  })().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
