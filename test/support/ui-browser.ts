// The browser tests' Chromium (Debian's, never a download) and the Temporal UI's history of a session's current
// run with one update opened: what test/ui-browser.test.ts (without a codec) and test/codec-ui-browser.test.ts
// (through it) read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import type { Client } from '@temporalio/client';
import { sessionWorkflowId } from '../../workflows/messages';

/** The page's `document`, as the functions run in the browser see it. */
declare const document: { body: { innerText: string } | null };

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium at `executablePath` with a fresh profile, and its first page; `close` removes the profile too. */
export async function launchUiBrowser(
  executablePath: string,
): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1600, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close();
        fs.rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}

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
