// The Temporal UI's history of a session's current run, with the "Update Accepted" row of one update opened: what
// the browser tests read (test/ui-browser.test.ts without a codec, test/codec-ui-browser.test.ts through it).
import type { Locator, Page } from 'playwright-core';
import type { Client } from '@temporalio/client';
import { sessionWorkflowId } from '../../workflows/messages';

/** The page's `document`, as the functions run in the browser see it. */
declare const document: { body: { innerText: string } | null };

/**
 * Opens the history of the session's current run in the UI at `ui` and clicks the first "Update Accepted" row of the
 * update named `update`; answers that row (its input shows below it once opened).
 */
export async function openUpdateInHistory(
  page: Page,
  o: { ui: string; namespace: string; client: Client; sessionId: string; update: string },
): Promise<Locator> {
  const workflowId = sessionWorkflowId(o.sessionId);
  const { runId } = await o.client.workflow.getHandle(workflowId).describe();
  await page.goto(
    `${o.ui}/namespaces/${o.namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`,
    { waitUntil: 'domcontentloaded' },
  );
  await page.waitForFunction((s) => (document.body?.innerText ?? '').includes(s), o.update, {
    timeout: 30_000,
  });
  const accepted = page
    .locator('tr', { hasText: 'Workflow Execution Update Accepted' })
    .filter({ hasText: o.update })
    .first();
  await accepted.getByText('Workflow Execution Update Accepted').click();
  return accepted;
}
