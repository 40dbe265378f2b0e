#!/usr/bin/env node
/**
 * The project's one test command (`npm test`): typecheck, import-graph checks, then every
 * `*.test.ts` (unit and integration) and `e2e/*.e2e.ts` (real browser) file in one node:test run,
 * so the run ends with node:test's own summary.
 *
 *   npm test                 everything
 *   npm test -- --unit       skip e2e
 *   npm test -- path/a.test.ts …   just those files (no typecheck)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
process.chdir(root);
const args = process.argv.slice(2);
const explicit = args.filter((a) => !a.startsWith('--'));
const unitOnly = args.includes('--unit');

function run(cmd, argv, opts = {}) {
  console.log(`\n> ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function walk(dir, match, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, match, out);
    else if (match(p)) out.push(p);
  }
  return out;
}

let files = explicit;
if (!explicit.length) {
  run('npx', ['tsc', '--noEmit', '-p', '.']);
  run('node', ['scripts/check-imports.mjs']);
  files = ['shared', 'server', 'client/src', 'scripts', 'bench'].flatMap((d) => walk(d, (p) => p.endsWith('.test.ts')));
  if (!unitOnly) files.push(...walk('e2e', (p) => p.endsWith('.e2e.ts')));
}
if (!files.length) {
  console.error('test: no test files found');
  process.exit(1);
}
run('node', ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files.sort()], {
  env: { ...process.env, ATELIER_LOG: process.env.ATELIER_LOG ?? 'warn' },
});
