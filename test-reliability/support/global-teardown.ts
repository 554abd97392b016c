// Global teardown of the reliability suite: removes what global-setup.ts made (the bundle and the assets file).
// Every test file stops its own servers and worker in afterAll (support/rig.ts).
import fs from 'node:fs';
import path from 'node:path';
import { ASSETS_ENV } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const file = process.env[ASSETS_ENV];
  if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
