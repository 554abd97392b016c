// Where the cluster runtime gets the Temporal server from (src/runtime/temporal-server-binaries.ts), with stand-in
// executables: explicit paths, PATH only at the tested version, the tool cache, and one `go install` for
// concurrent callers. The real build is exercised by `npm run test:cluster`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  TEMPORAL_SERVER_VERSION,
  cachedServerDir,
  resolveTemporalServer,
} from '../src/runtime/temporal-server-binaries';
import { run } from '../src/runtime/process';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-server-binaries-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An executable that prints `<name> version <version>`, as both Temporal tools do. */
function fakeTool(file: string, name: string, version = TEMPORAL_SERVER_VERSION): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho "${name} version ${version}"\n`, { mode: 0o755 });
  return file;
}

/** A `go` that "installs" both tools into $GOBIN after a pause, counting its runs in `<dir>/go-runs`. */
function fakeGo(): string {
  const bin = path.join(dir, 'go-bin');
  const script = [
    '#!/bin/sh',
    `echo run >> "${path.join(dir, 'go-runs')}"`,
    'sleep 1',
    'mkdir -p "$GOBIN"',
    `printf '#!/bin/sh\\necho "temporal version ${TEMPORAL_SERVER_VERSION}"\\n' > "$GOBIN/server"`,
    `printf '#!/bin/sh\\necho "temporal-sql-tool version ${TEMPORAL_SERVER_VERSION}"\\n' > "$GOBIN/sql"`,
    'chmod +x "$GOBIN/server" "$GOBIN/sql"',
  ].join('\n');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'go'), `${script}\n`, { mode: 0o755 });
  return bin;
}

test('explicit paths are used as given; one without the other is refused', async () => {
  const server = fakeTool(path.join(dir, 'x', 'my-server'), 'temporal', '1.99.0');
  const sqlTool = fakeTool(path.join(dir, 'x', 'my-sql'), 'temporal-sql-tool', '1.99.0');
  const cache = path.join(dir, 'cache');
  await expect(
    resolveTemporalServer({ serverPath: server, sqlToolPath: sqlTool, toolCacheDir: cache }),
  ).resolves.toEqual({ server, sqlTool, version: '1.99.0' });
  await expect(resolveTemporalServer({ serverPath: server, toolCacheDir: cache })).rejects.toThrow(
    /TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH/,
  );
});

test('PATH is used only at the tested version; otherwise the tool cache', async () => {
  const onPath = path.join(dir, 'path');
  fakeTool(path.join(onPath, 'temporal-server'), 'temporal');
  fakeTool(path.join(onPath, 'temporal-sql-tool'), 'temporal-sql-tool');
  const cache = path.join(dir, 'cache');
  const found = await resolveTemporalServer({ toolCacheDir: cache, searchPath: onPath, install: false });
  expect(found.server).toBe(path.join(onPath, 'temporal-server'));

  fakeTool(path.join(onPath, 'temporal-server'), 'temporal', '1.20.0');
  await expect(
    resolveTemporalServer({ toolCacheDir: cache, searchPath: onPath, install: false }),
  ).rejects.toThrow(/go install go\.temporal\.io\/server\/cmd\/server@v/);
  const cached = cachedServerDir(cache);
  fakeTool(path.join(cached, 'temporal-server'), 'temporal');
  fakeTool(path.join(cached, 'temporal-sql-tool'), 'temporal-sql-tool');
  await expect(
    resolveTemporalServer({ toolCacheDir: cache, searchPath: onPath, install: false }),
  ).resolves.toEqual({
    server: path.join(cached, 'temporal-server'),
    sqlTool: path.join(cached, 'temporal-sql-tool'),
    version: TEMPORAL_SERVER_VERSION,
  });
});

test('a missing server is built once into the cache, however many callers want it at once', async () => {
  const cache = path.join(dir, 'cache');
  const env = { ...process.env, PATH: `${fakeGo()}${path.delimiter}${process.env.PATH ?? ''}` };
  const calls = await Promise.all(
    [1, 2, 3].map(() => resolveTemporalServer({ toolCacheDir: cache, searchPath: '', env })),
  );
  const expected = path.join(cachedServerDir(cache), 'temporal-server');
  expect(calls.map((c) => c.server)).toEqual([expected, expected, expected]);
  expect(fs.readFileSync(path.join(dir, 'go-runs'), 'utf8').trim().split('\n')).toHaveLength(1);
  // Nothing half-built is left beside it.
  expect(fs.readdirSync(path.dirname(cachedServerDir(cache)))).toEqual([TEMPORAL_SERVER_VERSION]);
});

test('two processes that both find it missing build it once: the second waits for the first', async () => {
  const cache = path.join(dir, 'cache');
  const env = { ...process.env, PATH: `${fakeGo()}${path.delimiter}${process.env.PATH ?? ''}` };
  const code = `require('./src/runtime/temporal-server-binaries')
    .resolveTemporalServer({ toolCacheDir: ${JSON.stringify(cache)}, searchPath: '' })
    .then((b) => console.log(b.server), (e) => { console.error(e); process.exit(1); });`;
  const results = await Promise.all(
    [1, 2].map(() =>
      run(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], {
        env,
        cwd: path.resolve(__dirname, '..'),
        timeoutMs: 60_000,
      }),
    ),
  );
  const expected = path.join(cachedServerDir(cache), 'temporal-server');
  expect(results.map((r) => r.stdout.trim())).toEqual([expected, expected]);
  expect(fs.readFileSync(path.join(dir, 'go-runs'), 'utf8').trim().split('\n')).toHaveLength(1);
});
