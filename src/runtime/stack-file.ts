// What a running embedded stack advertises in <dataDir>/stack.json (addresses, its pid) and how clients read it.
// Kept free of the Temporal worker and the HTTP server so the CLI's quick commands load only what they use.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';

export interface AdvertisedStack {
  /** `cluster` when `durable-sessions cluster start` runs it; absent for `start`'s embedded stack. */
  kind?: 'cluster';
  temporalAddress?: string;
  databaseUrl?: string;
  uiUrl?: string;
  codecEndpoint?: string;
  pid?: number;
}

/** Where a running embedded stack advertises its addresses, so `durable-sessions turn …` can reach it. */
export function stackFile(config: Config): string {
  return path.join(config.dataDir, 'stack.json');
}

/** The advertised stack, or undefined when none was started under this data dir (or it stopped cleanly). */
export function readStackFile(config: Config): AdvertisedStack | undefined {
  try {
    return JSON.parse(fs.readFileSync(stackFile(config), 'utf8')) as AdvertisedStack;
  } catch {
    return undefined;
  }
}

/** The pid of the stack that advertises itself here, when that process is still alive. */
export function runningStackPid(config: Config): number | undefined {
  const pid = readStackFile(config)?.pid;
  if (typeof pid !== 'number') return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive but another user's; ESRCH: gone (a crash left the file behind).
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** DS_CODEC_UI_ORIGINS, else the embedded UI under both names a browser may use for it. */
export function uiOrigins(config: Config, uiUrl: string | undefined): string[] {
  if (config.codec.uiOrigins.length > 0) return config.codec.uiOrigins;
  if (!uiUrl) return [];
  return [uiUrl, uiUrl.replace('//127.0.0.1:', '//localhost:')];
}
