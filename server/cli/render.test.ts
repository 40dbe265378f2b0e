import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeImage } from '../images/codec.ts';
import { readFile } from 'node:fs/promises';

const root = path.resolve(import.meta.dirname, '../..');
const content = path.join(root, 'assets/content/chelsea.png');
const style = path.join(root, 'assets/style/starry_night.jpg');

function render(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/render.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ATELIER_LOG: 'warn', VGG19_WEIGHTS: path.join(tmpdir(), 'no-such-vgg19.h5') },
    timeout: 120_000,
  });
}

test('render on the embedded default writes a stylized image and one JSON line per iteration', async () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'render-')), 'out.png');
  const r = render(['--content', content, '--style', style, '--out', out, '--size', '64', '--iters', '3', '--backend', 'wasm', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.iter), [0, 1, 2, 3]);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ['iter', 'loss', 'style', 'content', 'tv', 'ms']);
    for (const v of Object.values(l)) assert.ok(Number.isFinite(v as number));
  }
  assert.ok(lines[3].loss < lines[0].loss, 'the loss goes down');
  const img = await decodeImage(await readFile(out));
  assert.equal(Math.max(img.width, img.height), 64);
});

test('render reports missing images, bad options and missing VGG19 weights clearly', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'render-'));
  const missing = render(['--content', path.join(dir, 'nope.png'), '--style', style, '--out', path.join(dir, 'o.png')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot read image .*nope\.png: ENOENT/);

  const bad = render(['--content', content, '--style', style, '--out', path.join(dir, 'o.png'), '--size', 'big']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--size must be an integer/);

  const notImage = render(['--content', path.join(root, 'README.md'), '--style', style, '--out', path.join(dir, 'o.png')]);
  assert.equal(notImage.status, 1);
  assert.match(notImage.stderr, /cannot decode image/);

  const vgg = render(['--content', content, '--style', style, '--out', path.join(dir, 'o.png'), '--model', 'vgg19', '--backend', 'cpu']);
  assert.equal(vgg.status, 1);
  assert.match(vgg.stderr, /weights:vgg19|VGG19_WEIGHTS/);
  assert.equal(existsSync(path.join(dir, 'o.png')), false);
});
