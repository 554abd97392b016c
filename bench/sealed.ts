// How the actors' histories hold their payloads, for a run with `--codec` (bench/main.ts): sealed with a session's
// key, with the master key, or in clear (search attributes and the SDK's patch markers are always in clear).
import type { Client } from '@temporalio/client';
import { KEY_ID_METADATA, SESSION_KEY_METADATA } from '../src/codec';

export interface SealedPayloads {
  sessionKey: number;
  masterKey: number;
  clear: number;
}

export async function sealedPayloads(client: Client, workflowIds: string[]): Promise<SealedPayloads> {
  const counts: SealedPayloads = { sessionKey: 0, masterKey: 0, clear: 0 };
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
      const metadata = o.metadata as Record<string, unknown>;
      if (metadata[SESSION_KEY_METADATA]) counts.sessionKey++;
      else if (metadata[KEY_ID_METADATA]) counts.masterKey++;
      else counts.clear++;
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  for (const workflowId of workflowIds) walk(await client.workflow.getHandle(workflowId).fetchHistory());
  return counts;
}
