// Validates docker-compose.yml with `docker-compose config` (Debian's docker-compose package; no engine runs
// here): the file parses, has the production services, keeps workers scalable and refuses to run without secrets.
// What its Temporal part runs is tested for real by `npm run test:cluster` (test-cluster/deploy.test.ts).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from './support/stack';

const exec = promisify(execFile);
const ROOT = path.join(__dirname, '..');
const SECRETS = {
  POSTGRES_PASSWORD: 'compose-test-password',
  DS_API_KEYS: 'compose-test-admin-key-000:admin',
};

let dockerCompose = 'docker-compose';

async function compose(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await exec(dockerCompose, ['-f', 'docker-compose.yml', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeout: 60_000,
  });
  return stdout;
}

describe('docker-compose.yml', () => {
  beforeAll(() => {
    // The global setup installs it when it can; otherwise this fails with the one line saying what to install.
    dockerCompose = requireTool('dockerCompose');
  });

  test('`docker-compose config` accepts it, with the production services', async () => {
    const services = (await compose(['config', '--services'], SECRETS)).trim().split('\n').sort();
    expect(services).toEqual(
      [
        'api',
        'migrate',
        'postgres',
        'temporal-frontend',
        'temporal-history',
        'temporal-matching',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
        'temporal-worker',
        'worker',
      ].sort(),
    );
    const resolved = await compose(['config'], SECRETS);
    // Scalable: `--scale worker=3` needs no fixed container names; the worker publishes no ports.
    expect(resolved).not.toContain('container_name');
    const worker = resolved.split(/\n {2}(?=\S)/).find((s) => s.startsWith('worker:')) ?? '';
    expect(worker).toContain('- worker');
    expect(worker).not.toContain('ports:');
    expect(worker).toContain('TEMPORAL_ADDRESS: temporal-frontend:7233');
    expect(worker).toContain(
      'DATABASE_URL: postgres://durable:compose-test-password@postgres:5432/durable_sessions',
    );
    // The search attributes the actors upsert are registered by the one-shot setup job's script (deploy/).
    expect(resolved).toContain('deploy/temporal/setup.sh');
    // The frontend and the UI have no authorisation: published on loopback unless TEMPORAL_BIND_IP says otherwise.
    expect(resolved).toContain('127.0.0.1:7233:7233');
  });

  test('refuses to resolve without the secrets', async () => {
    await expect(compose(['config', '--quiet'], { DS_API_KEYS: SECRETS.DS_API_KEYS })).rejects.toThrow(
      /set POSTGRES_PASSWORD/,
    );
    await expect(compose(['config', '--quiet'], { POSTGRES_PASSWORD: 'x' })).rejects.toThrow(
      /set DS_API_KEYS/,
    );
  });
});
