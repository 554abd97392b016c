#!/usr/bin/env node
// `npm run cli` / `npm run turn` in a checkout: runs src/cli/main.ts from JavaScript cached in .cache/cli-js/,
// transpiling only the sources changed since the last run. ts-node would transpile every module on every call.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
// A build artifact like dist/ (which `npm run build` makes, with types, for the package): safe to delete.
const OUT = path.join(ROOT, '.cache', 'cli-js');
const SOURCE_DIRS = ['src', 'workflows', 'activities'];

/** Every .ts source whose cached .js is missing or was made from another version of it (mtimes differ). */
function staleSources() {
  const stale = [];
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = outputOf(file);
        let outMtime;
        try {
          outMtime = fs.statSync(out).mtimeMs;
        } catch {
          outMtime = undefined;
        }
        // The cached file carries its source's mtime (set below); within a millisecond counts as equal.
        if (outMtime === undefined || Math.abs(outMtime - fs.statSync(file).mtimeMs) >= 1) stale.push(file);
      }
    }
  };
  for (const dir of SOURCE_DIRS) visit(path.join(ROOT, dir));
  return stale;
}

function outputOf(source) {
  return path.join(OUT, path.relative(ROOT, source).replace(/\.ts$/, '.js'));
}

/**
 * Transpiles each file on its own with the project's compiler options, as ts-node --transpile-only and ts-jest do
 * here (tsconfig sets isolatedModules, so no file needs another to compile). Type errors are `npm run lint`'s job.
 */
function transpile(files) {
  const ts = require('typescript');
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.build.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  const compilerOptions = { ...parsed.options, sourceMap: true, declaration: false, outDir: undefined };
  for (const file of files) {
    const out = outputOf(file);
    const { outputText, sourceMapText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      compilerOptions,
      fileName: file,
    });
    fs.mkdirSync(path.dirname(out), { recursive: true });
    // Written aside and renamed, so a CLI started at the same moment never loads half a file.
    const tmp = `${out}.${process.pid}.tmp`;
    const map = JSON.parse(sourceMapText);
    map.sources = [path.relative(path.dirname(out), file)];
    fs.writeFileSync(`${tmp}.map`, JSON.stringify(map));
    fs.renameSync(`${tmp}.map`, `${out}.map`);
    fs.writeFileSync(
      tmp,
      outputText.replace(/\/\/# sourceMappingURL=.*$/m, `//# sourceMappingURL=${path.basename(out)}.map`),
    );
    const { mtime } = fs.statSync(file);
    fs.utimesSync(tmp, mtime, mtime);
    fs.renameSync(tmp, out);
  }
}

/**
 * What else the output depends on: the compiler's version and the compiler options. When either changed since the
 * cache was made, it is made again from scratch.
 */
function compilerStamp() {
  const { version } = require('typescript/package.json');
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map(
    (f) => fs.statSync(path.join(ROOT, f)).mtimeMs,
  );
  return JSON.stringify({ typescript: version, configs });
}

const stampFile = path.join(OUT, 'compiler.json');
const stamp = compilerStamp();
let cachedStamp;
try {
  cachedStamp = fs.readFileSync(stampFile, 'utf8');
} catch {
  cachedStamp = undefined;
}
if (cachedStamp !== stamp) fs.rmSync(OUT, { recursive: true, force: true });
const stale = staleSources();
if (stale.length > 0) transpile(stale);
if (cachedStamp !== stamp) fs.writeFileSync(stampFile, stamp);
// Source maps are written but not loaded: Node would then read the maps of every module, ours and node_modules',
// on each start (a tenth of it). For stack traces that name the .ts lines: NODE_OPTIONS=--enable-source-maps.
require(path.join(OUT, 'src', 'cli', 'main.js')).main(process.argv);
