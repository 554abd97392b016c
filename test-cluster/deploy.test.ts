// deploy/ and docker-compose.yml are the configuration this suite runs: the server version, the dynamic config (valid
// for that server, the dev server's keys), the shared server.env and scripts, the start order, the pool sizes.
import fs from 'node:fs';
import path from 'node:path';
import { CLUSTER_POSTGRES_SETTINGS, readServerEnv } from '../src/runtime/cluster';
import { DYNAMIC_CONFIG } from '../src/runtime/dev-server';
import { run } from '../src/runtime/process';
import { TEMPORAL_SERVER_VERSION } from '../src/runtime/temporal-server-binaries';
import { SERVICE_START_ORDER } from '../src/runtime/temporal-services';
import { clusterAssets } from './support/assets';

const ROOT = path.resolve(__dirname, '..');
const DYNAMIC_CONFIG_FILE = path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

/** The `key:\n  - value: x` entries of the dynamic config file (the only shape it uses). */
function dynamicConfigFile(): Record<string, unknown> {
  const entries: Record<string, unknown> = {};
  const text = fs.readFileSync(DYNAMIC_CONFIG_FILE, 'utf8');
  for (const m of text.matchAll(/^([\w.]+):\n\s+- value: (.+)$/gm)) entries[m[1]] = JSON.parse(m[2]);
  return entries;
}

/** One service's block of docker-compose.yml (up to the next service). */
function composeService(name: string): string {
  const start = compose.indexOf(`\n  ${name}:\n`);
  if (start < 0) throw new Error(`docker-compose.yml has no service ${name}`);
  const rest = compose.slice(start + 1);
  const next = rest.slice(1).search(/\n {2}[\w-]+:\n|\n\S/);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

describe('deploy/ and docker-compose.yml', () => {
  test('the dynamic config is valid for the server it runs on, with no unknown key', async () => {
    const { stdout } = await run(clusterAssets().server, ['validate-dynamic-config', DYNAMIC_CONFIG_FILE]);
    expect(stdout.split('\n').filter((l) => /error|warning/.test(l))).toEqual([]);
  });

  test('the dynamic config file and the dev server flags carry the same keys and values', () => {
    expect(dynamicConfigFile()).toEqual(DYNAMIC_CONFIG);
  });

  test('docker-compose.yml runs the tested server version, services, order, settings and scripts', () => {
    expect(clusterAssets().serverVersion).toBe(TEMPORAL_SERVER_VERSION);
    const version = `\${TEMPORAL_VERSION:-${TEMPORAL_SERVER_VERSION}}`;
    // Every Temporal service container takes the image and settings of one anchor.
    const anchor = compose.slice(compose.indexOf('x-temporal: &temporal'), compose.indexOf('\nservices:'));
    expect(anchor).toContain(`image: temporalio/server:${version}`);
    expect(anchor).toContain('env_file: ./deploy/temporal/server.env');
    expect(anchor).toContain('./deploy/temporal/dynamicconfig.yaml:');
    for (const [i, service] of SERVICE_START_ORDER.entries()) {
      const block = composeService(`temporal-${service}`);
      expect(block).toContain('<<: *temporal\n');
      expect(block).toContain(`TEMPORAL_SERVICES: ${service}`);
      // Started one after the other, each once the previous one is healthy.
      const after = i === 0 ? 'temporal-schema' : `temporal-${SERVICE_START_ORDER[i - 1]}`;
      expect(block).toMatch(new RegExp(`depends_on:\\n\\s+${after}:`));
    }
    for (const job of ['temporal-schema', 'temporal-setup'])
      expect(composeService(job)).toContain(`image: temporalio/admin-tools:${version}`);
    expect(composeService('temporal-schema')).toContain('./deploy/temporal/schema.sh');
    expect(composeService('temporal-setup')).toContain('./deploy/temporal/setup.sh');
    expect(composeService('postgres')).toContain(
      `max_connections=${CLUSTER_POSTGRES_SETTINGS.max_connections}`,
    );
  });

  test('server.env: Postgres persistence and visibility, pools that fit max_connections', () => {
    const env = readServerEnv(ROOT);
    expect(env.DB).toBe('postgres12');
    const perService = Number(env.SQL_MAX_CONNS) + Number(env.SQL_VIS_MAX_CONNS);
    expect(SERVICE_START_ORDER.length * perService).toBeLessThanOrEqual(
      CLUSTER_POSTGRES_SETTINGS.max_connections / 2,
    );
  });

  test('docs/production.md names the tested version and says the frontend has no authorisation', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'production.md'), 'utf8');
    expect(doc).toContain(TEMPORAL_SERVER_VERSION);
    expect(doc).toMatch(/no authori[sz]ation/i);
    expect(doc).toContain('must not be exposed');
  });
});
