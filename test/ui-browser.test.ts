// Tracing in the Temporal UI, proven in a real browser: sessions of user 42 are found with the visibility query
// `UserId=42` in the dev server's UI (Debian's Chromium driven by playwright-core), a session's page shows its
// summary and current details, and a tool-calling step reads as what it is. Also: no message text ever reaches the
// search attributes.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { SessionRecovery } from '../src/recovery';
import { sessionWorkflowId } from '../workflows/messages';
import { requireTool, testStack } from './support/stack';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';
import { launchUiBrowser, openUpdateInHistory } from './support/ui-browser';

/** What the functions evaluated in the page use of the DOM (the project compiles without lib.dom). */
declare const document: { body: { innerText: string } | null };

const ARTIFACTS = path.join(__dirname, '..', 'test-artifacts');
describe('Temporal UI: a person traces a user’s sessions', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const mine = [1, 2, 3].map((i) => `ui-${run}-${i}`);
  const other = `ui-${run}-other`;
  const tools = `ui-${run}-tools`;
  const secret = `secret message text ${run}`;
  let h: TemporalHarness;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchUiBrowser>> | undefined;
  let ui: string;

  beforeAll(async () => {
    // The global setup installs Debian's Chromium when it can; otherwise this fails saying what to install.
    const chromiumPath = requireTool('chromium');
    const uiUrl = testStack().uiUrl;
    if (!uiUrl)
      throw new Error('the test stack runs no Temporal UI (DS_TEST_UI=0 or an external TEMPORAL_ADDRESS)');
    ui = uiUrl;
    h = await startTemporalHarness('ui');
    const recovery = new SessionRecovery(h.service);
    for (const [i, id] of mine.entries()) {
      await recovery.recoverSession(id, 42, 'assistant');
      await recovery.appendTurn(
        id,
        `${secret} (question ${i})`,
        `${secret} (answer ${i})`,
        i === 2 ? 'memo' : '',
      );
    }
    await recovery.recoverSession(other, 4242, 'assistant');
    await recovery.appendTurn(other, secret, secret);
    await recovery.recoverSession(tools, 43, 'weather', { windowMessages: 30, transcript: true });
    await recovery.appendMessages(tools, [
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [
          {
            id: 'call_ui_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', content: '{"temp_c":18}', toolCallId: 'call_ui_1' },
      { role: 'assistant', content: 'It is 18 °C in Paris.' },
    ]);

    browser = await launchUiBrowser(chromiumPath);
    ({ page } = browser);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  test('the workflow list filtered by UserId=42 shows exactly that user’s sessions', async () => {
    const url = `${ui}/namespaces/${testStack().namespace}/workflows?query=${encodeURIComponent('UserId=42')}`;
    // Visibility is eventually consistent: reload until the list has caught up.
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      const ok = await page
        .waitForFunction(
          (ids) => ids.every((id) => (document.body?.innerText ?? '').includes(id)),
          mine.map(sessionWorkflowId),
          {
            timeout: 5_000,
          },
        )
        .then(() => true)
        .catch(() => false);
      if (ok || Date.now() > deadline) break;
    }
    const text = await page.innerText('body');
    for (const id of mine) expect(text).toContain(sessionWorkflowId(id));
    expect(text).not.toContain(sessionWorkflowId(other));
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-sessions.png'), fullPage: true });
  });

  test('a session’s page shows its summary and current details', async () => {
    const id = mine[2];
    const { runId } = await h.client.workflow.getHandle(sessionWorkflowId(id)).describe();
    await page.goto(
      `${ui}/namespaces/${testStack().namespace}/workflows/${encodeURIComponent(sessionWorkflowId(id))}/${runId}/history`,
      { waitUntil: 'domcontentloaded' },
    );
    // The history names what happened in the domain's words: the update names and the activity summaries.
    await page.waitForFunction((s) => (document.body?.innerText ?? '').includes(s), 'persist snapshot', {
      timeout: 30_000,
    });
    const history = await page.innerText('body');
    for (const words of ['recoverSession', 'appendTurn', 'load session', 'persist snapshot v2'])
      expect(history).toContain(words);
    expect(history).toContain(`Session ${id}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-session-history.png') });

    // User Metadata: the static summary and the current details the actor keeps up to date.
    await page.getByText('User Metadata', { exact: true }).first().click();
    // The UI renders the details' markdown in a sandboxed iframe: read every frame.
    let metadata = '';
    const deadline = Date.now() + 30_000;
    while (!metadata.includes('last activity') && Date.now() < deadline) {
      await page.waitForTimeout(250);
      const texts = await Promise.all(
        page.frames().map((f) => f.evaluate(() => document.body?.innerText ?? '').catch(() => '')),
      );
      metadata = texts.join('\n');
    }
    expect(metadata).toContain(`Session ${id}`);
    expect(metadata).toMatch(/user\s*42/);
    expect(metadata).toMatch(/agent\s*memo/);
    expect(metadata).toMatch(/messages\s*2/);
    expect(metadata).toMatch(/last activity\s*\d{4}-/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-session-metadata.png') });
  });

  test('a tool-calling step reads as one appendMessages update, with its tool call, and the details count the calls', async () => {
    // The "Update Accepted" row of the history table, opened: its input (this harness runs without the codec, so
    // the UI shows it as sent), the step whole.
    const namespace = testStack().namespace;
    const accepted = await openUpdateInHistory(page, {
      ui,
      namespace,
      client: h.client,
      sessionId: tools,
      update: 'appendMessages',
    });
    const deadline = Date.now() + 30_000;
    let history = '';
    while (!history.includes('get_weather') && Date.now() < deadline) {
      await page.waitForTimeout(250);
      history = await page.innerText('body');
    }
    for (const words of [
      'appendMessages',
      'tool_calls',
      'get_weather',
      'call_ui_1',
      'persist snapshot v2 + 4 transcript messages',
    ])
      expect(history).toContain(words);
    await accepted.scrollIntoViewIfNeeded();
    await page.mouse.wheel(0, 520);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-tool-session.png') });

    await page.getByText('User Metadata', { exact: true }).first().click();
    let metadata = '';
    const until = Date.now() + 30_000;
    while (!metadata.includes('tool calls') && Date.now() < until) {
      await page.waitForTimeout(250);
      const texts = await Promise.all(
        page.frames().map((f) => f.evaluate(() => document.body?.innerText ?? '').catch(() => '')),
      );
      metadata = texts.join('\n');
    }
    expect(metadata).toMatch(/messages\s*4/);
    expect(metadata).toMatch(/tool calls\s*1 \(get_weather\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-tool-session-metadata.png') });
  });

  test('search attributes hold ids and the agent type, never message text', async () => {
    for (const id of [...mine, other]) {
      const described = await h.client.workflow.getHandle(sessionWorkflowId(id)).describe();
      const attributes = JSON.stringify(described.searchAttributes);
      expect(attributes).not.toContain('secret');
      expect(attributes).not.toContain('question');
      expect(described.searchAttributes).toMatchObject({
        SessionId: [id],
        UserId: [id === other ? 4242 : 42],
      });
    }
    const memo = await h.client.workflow.getHandle(sessionWorkflowId(mine[2])).describe();
    expect(memo.searchAttributes.AgentType).toEqual(['memo']);
  });
});
