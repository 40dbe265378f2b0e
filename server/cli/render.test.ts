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

test('L3: render on the embedded default writes a stylized image and one JSON line per iteration', async () => {
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

test('L1: render reports missing images, bad options and missing VGG19 weights clearly', () => {
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

test('L2: render --style-mask: each style goes where its mask is white; a mask of another aspect is refused (exit 2)', async () => {
  const { encodeImage } = await import('../images/codec.ts');
  const { writeFile } = await import('node:fs/promises');
  const dir = mkdtempSync(path.join(tmpdir(), 'render-mask-'));
  // chelsea is 451x300: masks at a third of that, left and right halves
  const half = async (file: string, left: boolean, w = 150, h = 100) => {
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill((x < w / 2) === left ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    await writeFile(path.join(dir, file), await encodeImage({ width: w, height: h, data }, 'image/png'));
  };
  await half('left.png', true);
  await half('right.png', false);
  await half('square.png', true, 100, 100);
  const scream = path.join(root, 'assets/style/the_scream.jpg');
  const out = path.join(dir, 'out.png');
  const r = render(['--content', content, '--style', style, '--style-mask', path.join(dir, 'left.png'), '--style', scream, '--style-mask', path.join(dir, 'right.png'), '--out', out, '--size', '64', '--iters', '2', '--backend', 'wasm', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines[0].style > 0, 'the regions make a style term');
  assert.ok(existsSync(out));
  const bad = render(['--content', content, '--style', style, '--style-mask', path.join(dir, 'square.png'), '--out', out, '--size', '64', '--iters', '1', '--backend', 'wasm']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /square\.png is 100x100 but the content is 451x300/);
});
