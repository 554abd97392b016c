// The Temporal UI decodes through the codec server in a real browser (Debian's Chromium driven by playwright-core),
// and only with a credential: before the operator signs in at /codec/login the UI's requests are refused (401) and
// no text shows; after it, with the UI's "include cross-origin credentials" setting, the history shows the turn.
import type { BrowserContext, Page } from 'playwright-core';
import { AesGcmCodec } from '../src/codec';
import { type Api, buildApp } from '../src/http/app';
import { silentLogger } from '../src/logger';
import { SessionRecovery } from '../src/recovery';
import { apiConfig, KEYS } from './support/http-harness';
import { requireTool, testStack } from './support/stack';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';
import { launchUiBrowser, openUpdateInHistory } from './support/ui-browser';

/** What the functions evaluated in the page use of the DOM (the project compiles without lib.dom). */
declare const localStorage: { setItem(key: string, value: string): void };

describe('Temporal UI: decoding through the codec server needs a signed-in browser', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const id = `ui-codec-${run}`;
  const secret = `codec ui secret ${run}`;
  let h: TemporalHarness;
  let api: Api;
  let endpoint: string;
  let context: BrowserContext;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchUiBrowser>> | undefined;
  let ui: string;
  const statuses: number[] = [];

  beforeAll(async () => {
    const chromiumPath = requireTool('chromium');
    const uiUrl = testStack().uiUrl;
    if (!uiUrl)
      throw new Error('the test stack runs no Temporal UI (DS_TEST_UI=0 or an external TEMPORAL_ADDRESS)');
    ui = uiUrl;
    const codec = new AesGcmCodec([{ id: 'kui', key: Buffer.alloc(32, 5) }]);
    h = await startTemporalHarness('ui_codec', {}, { codec });
    api = await buildApp({
      service: h.service,
      pool: h.pool,
      client: h.client,
      config: apiConfig(),
      logger: silentLogger,
      codec: { codec, uiOrigins: [new URL(ui).origin] },
    });
    const address = await api.listen({ host: '127.0.0.1', port: 0 });
    endpoint = `${address}/codec`;
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(id, 77, 'assistant');
    await recovery.appendTurn(id, `${secret} (question)`, `${secret} (answer)`, '');

    browser = await launchUiBrowser(chromiumPath);
    ({ context, page } = browser);
    page.on('response', (res) => {
      if (res.url().startsWith(`${endpoint}/decode`) && res.request().method() === 'POST')
        statuses.push(res.status());
    });
    // The UI's Codec Server settings as an operator saves them (kept in the browser's local storage): this
    // endpoint, "use my browser setting", "include cross-origin credentials".
    await page.goto(ui, { waitUntil: 'domcontentloaded' });
    await page.evaluate((url) => {
      localStorage.setItem('endpoint', JSON.stringify(url));
      localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
      localStorage.setItem('includeCredentials', 'true');
      localStorage.setItem('passAccessToken', 'false');
    }, endpoint);
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await h?.close();
  });

  /** The session's history with the appendTurn update opened; the page text once `until` holds or 20 s passed. */
  async function historyText(until: (text: string) => boolean): Promise<string> {
    const namespace = testStack().namespace;
    await openUpdateInHistory(page, { ui, namespace, client: h.client, sessionId: id, update: 'appendTurn' });
    const deadline = Date.now() + 20_000;
    let text = '';
    while (Date.now() < deadline) {
      await page.waitForTimeout(250);
      text = await page.innerText('body');
      if (until(text)) break;
    }
    return text;
  }

  test('not signed in: the UI’s requests carry its Origin but no credential, and are refused', async () => {
    const text = await historyText(() => statuses.length > 0);
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(text).not.toContain(secret);
  });

  test('signed in with the admin key at /codec/login: the UI decodes the turn', async () => {
    await page.goto(`${endpoint}/login`, { waitUntil: 'domcontentloaded' });
    await page.fill('input[name="key"]', KEYS.admin);
    await Promise.all([page.waitForURL(`${endpoint}/login`), page.click('button[type="submit"]')]);
    expect(await page.innerText('body')).toContain('Signed in');
    // The host's cookies hold the UI's own too (cookies are per host, not per port): ours is HttpOnly, /codec only.
    const cookies = (await context.cookies(endpoint)).filter((c) => c.name.startsWith('ds_'));
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).toEqual([
      ['ds_codec_ui', true, 'Strict', '/codec'],
    ]);

    statuses.length = 0;
    const text = await historyText((t) => t.includes(secret));
    expect(text).toContain(`${secret} (question)`);
    expect(statuses).toContain(200);
    expect(statuses).not.toContain(401);
  });
});
