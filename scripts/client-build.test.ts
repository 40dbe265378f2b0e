/**
 * The client's two builds (client/SPEC.md): the production bundle (`npm run build:client`, what
 * `npm start` serves) carries no test hook; the test build (`--mode test`, what the e2e suite
 * builds) carries them and says so in TEST-BUILD.txt. Both are built into temporary folders, so
 * client/dist is left alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOOKS = ['atelierApp', 'atelierReplay', "'atelier'", '`atelier`', '"atelier"'];

function build(mode: 'production' | 'test'): { dir: string; js: string } {
  const dir = mkdtempSync(path.join(tmpdir(), `atelier-client-${mode}-`));
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--config', 'client/vite.config.ts', '--mode', mode, '--outDir', dir, '--emptyOutDir', '--logLevel', 'error'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const assets = path.join(dir, 'assets');
  const js = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(path.join(assets, f), 'utf8'))
    .join('\n');
  return { dir, js };
}

describe('client builds', () => {
  test('the production bundle has no test hook; the test build has them and is marked', { timeout: 120_000 }, () => {
    const prod = build('production');
    const testBuild = build('test');
    try {
      for (const hook of HOOKS) assert.ok(!prod.js.includes(hook), `production bundle mentions ${hook}`);
      assert.equal(existsSync(path.join(prod.dir, 'TEST-BUILD.txt')), false);
      for (const hook of ['atelierApp', 'atelierReplay', '`atelier`']) assert.ok(testBuild.js.includes(hook), `test build lacks ${hook}`);
      assert.ok(existsSync(path.join(testBuild.dir, 'TEST-BUILD.txt')));
    } finally {
      rmSync(prod.dir, { recursive: true, force: true });
      rmSync(testBuild.dir, { recursive: true, force: true });
    }
  });
});
