/**
 * `npm run screenshots`: refreshes every screenshot committed under docs/screenshots/ from real
 * runs — the client's editor/projector/start shots, the replay page, and the e2e scenarios
 * (docs/screenshots/e2e/). Each step also checks what it shows, so a broken UI fails this
 * command instead of being photographed. Needs /usr/bin/chromium.
 *
 *   node --import tsx scripts/refresh-screenshots.ts [--only client|replay|e2e]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readArgs } from './cli-args.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = readArgs({ only: { type: 'string' } }, 'node --import tsx scripts/refresh-screenshots.ts [--only client|replay|e2e]');
const only = args.only ?? null;
const e2eShots = path.join(root, 'docs/screenshots/e2e');

function step(name: string, cmd: string, argv: string[], env: Record<string, string> = {}): void {
  if (only && only !== name) return;
  console.log(`\n> ${name}: ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`screenshots: step '${name}' failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

step('client', 'npm', ['run', 'build:client:test']); // the screenshot scripts read the pages' test hooks
step('client', process.execPath, ['--import', 'tsx', 'client/scripts/screenshots.ts', '--no-build']);
step('replay', process.execPath, ['--import', 'tsx', 'client/scripts/replay-screenshot.ts']);
if (!only || only === 'e2e') rmSync(e2eShots, { recursive: true, force: true });
const e2eFiles = readdirSync(path.join(root, 'e2e'))
  .filter((f) => f.endsWith('.e2e.ts'))
  .map((f) => path.join('e2e', f));
step('e2e', process.execPath, ['scripts/test.mjs', ...e2eFiles], { ATELIER_E2E_DOCS: '1' });

const shots = path.join(root, 'docs/screenshots');
const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n)) : [path.join(d, n)]));
const files = walk(shots).filter((f) => f.endsWith('.png'));
const total = files.reduce((n, f) => n + statSync(f).size, 0);
for (const f of files) console.log(`  ${path.relative(root, f)}  ${(statSync(f).size / 1024).toFixed(0)} KiB`);
console.log(`${files.length} screenshots, ${(total / 1024 / 1024).toFixed(2)} MiB in docs/screenshots/`);
