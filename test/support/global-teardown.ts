// Jest global teardown: stops the dev server and Postgres started by global-setup.ts and removes their temp dir.
// Configured in jest.config.js; runs in the same process as the setup (handles live in globalThis).
import { stopStack } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const handles = globalThis.__DS_TEST_STACK__;
  if (!handles) return;
  globalThis.__DS_TEST_STACK__ = undefined;
  await stopStack(handles);
}
