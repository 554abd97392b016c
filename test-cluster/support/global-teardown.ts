// Global teardown of `npm run test:cluster`: stops the cluster global-setup.ts started and removes its temp dir.
// Runs in the same process as the setup (the handles live in globalThis).
import { stopSuite } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const handles = globalThis.__DS_CLUSTER_SUITE__;
  if (!handles) return;
  globalThis.__DS_CLUSTER_SUITE__ = undefined;
  await stopSuite(handles);
}
