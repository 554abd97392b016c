// A scripted model for the OpenAI Agents SDK (no network) and the weather agent the adapter tests run; run as a
// script (`node -r ts-node/register/transpile-only test/support/openai-agents-scripted.ts SESSION TEXT`), one turn of
// that agent in a new process on a DurableAgentsSession over the HTTP API (DS_BASE_URL, DS_API_KEY, DS_USER_ID),
// printing the final output and the model's first request as JSON.
import {
  Agent,
  type AgentInputItem,
  type Model,
  type ModelRequest,
  type ModelResponse,
  Runner,
  Usage,
  tool,
} from '@openai/agents';
import { z } from 'zod';
import { DurableAgentsSession } from '../../src/adapters/openai-agents';

/** A model that calls `get_weather` for the city in the last user message, then answers from the tool's result. */
export class ScriptedModel implements Model {
  readonly requests: AgentInputItem[][] = [];
  private calls = 0;

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const input = typeof request.input === 'string' ? [] : structuredClone(request.input);
    this.requests.push(input);
    const last = input[input.length - 1] as { type?: string; output?: unknown; callId?: string };
    const n = ++this.calls;
    if (last?.type === 'function_call_result') {
      const out = last.output as string | { text?: string };
      const output = typeof out === 'string' ? out : (out?.text ?? JSON.stringify(out));
      return {
        usage: new Usage(),
        responseId: `resp_${n}`,
        output: [
          {
            type: 'message',
            id: `msg_${n}`,
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: `It is ${output} there.` }],
          },
        ],
      };
    }
    const user = [...input].reverse().find((i) => 'role' in i && i.role === 'user') as { content: unknown };
    const city = typeof user?.content === 'string' ? user.content.replace(/^weather in /, '') : 'nowhere';
    return {
      usage: new Usage(),
      responseId: `resp_${n}`,
      output: [
        {
          type: 'function_call',
          id: `fc_${n}`,
          callId: `call_${n}_${Math.random().toString(36).slice(2, 8)}`,
          name: 'get_weather',
          arguments: JSON.stringify({ city }),
          status: 'completed',
        },
      ],
    };
  }

  // eslint-disable-next-line require-yield
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error('the scripted model does not stream');
  }
}

const getWeather = tool({
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `18C in ${city}`,
});

export function weatherAgent(model: Model): Agent {
  return new Agent({
    name: 'weather',
    instructions: 'Answer about the weather.',
    model,
    tools: [getWeather],
  });
}

export const runner = () => new Runner({ tracingDisabled: true });

if (require.main === module) {
  const [sessionId, text] = process.argv.slice(2);
  const session = new DurableAgentsSession({
    sessionId,
    userId: Number(process.env.DS_USER_ID),
    http: { baseUrl: process.env.DS_BASE_URL!, apiKey: process.env.DS_API_KEY! },
  });
  const model = new ScriptedModel();
  runner()
    .run(weatherAgent(model), text, { session })
    .then((result) => {
      process.stdout.write(
        `${JSON.stringify({ finalOutput: result.finalOutput, firstRequest: model.requests[0] })}\n`,
      );
    })
    .catch((err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exit(1);
    });
}
