/**
 * scripts/check-imports.mjs on small trees: it passes a layered tree and names each kind of
 * violation (folder cycle, layer, shared/ and client/ boundaries, module cycle).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'check-imports.mjs');

/** Writes `files` (path → source) into a fresh tree and runs the check on it. */
function check(files: Record<string, string>): { status: number | null; output: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'check-imports-'));
  try {
    for (const [p, src] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), src);
    }
    const r = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const layered = {
  'shared/names.ts': "export const A = 1;\n",
  'server/engine/api.ts': "import { A } from '../../shared/names.ts';\nexport const B = A;\n",
  'server/session/doc-state.ts': "import { B } from '../engine/api.ts';\nexport const C = B;\n",
  'server/history/timeline.ts': "import { C } from '../session/doc-state.ts';\nexport const D = C;\n",
  'server/history/timeline.test.ts': "import '../testing/index.ts';\n",
  'server/testing/index.ts': "import '../history/timeline.ts';\n",
  'client/src/main.ts': "import { A } from '../../shared/names.ts';\nexport const E = A;\n",
};

test('a layered tree passes; a test may use the harness that imports its own folder', () => {
  const r = check(layered);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /no module or folder cycles, layering ok/);
});

test('a folder cycle is found and shown with one import per edge (session ↔ history)', () => {
  const r = check({ ...layered, 'server/session/loss.ts': "import { D } from '../history/timeline.ts';\nexport const F = D;\n" });
  assert.equal(r.status, 1);
  assert.match(r.output, /folder cycle: server\/history -> server\/session -> server\/history \(server\/history\/timeline\.ts -> server\/session\/doc-state\.ts; server\/session\/loss\.ts -> server\/history\/timeline\.ts\)/);
  assert.match(r.output, /server\/session\/loss\.ts imports server\/history\/timeline\.ts: server\/history is not below server\/session/);
});

test('the engine may not import the layers that drive it, not even from a test', () => {
  const r = check({ ...layered, 'server/engine/x.test.ts': "import '../session/doc-state.ts';\n" });
  assert.equal(r.status, 1);
  assert.match(r.output, /server\/engine\/x\.test\.ts imports server\/session\/doc-state\.ts: the engine is pure tensor code/);
});

test('shared/ imports nothing from server/, client/ nothing from server/', () => {
  const r = check({ ...layered, 'shared/bad.ts': "import '../server/engine/api.ts';\n", 'client/src/bad.ts': "import '../../server/engine/api.ts';\n" });
  assert.equal(r.status, 1);
  assert.match(r.output, /shared\/bad\.ts imports server\/engine\/api\.ts: shared\/ is the vocabulary/);
  assert.match(r.output, /client\/src\/bad\.ts imports server\/engine\/api\.ts: the browser bundle holds no server code/);
});

test('module cycles inside one folder are still refused', () => {
  const r = check({ ...layered, 'server/session/a.ts': "import './b.ts';\n", 'server/session/b.ts': "import './a.ts';\n" });
  assert.equal(r.status, 1);
  assert.match(r.output, /import cycle: server\/session\/a\.ts -> server\/session\/b\.ts -> server\/session\/a\.ts/);
});
