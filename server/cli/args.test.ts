import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SESSION_IMAGES } from '../../shared/schema.ts';
import { parseRenderArgs, UsageError, type RenderOptions } from './args.ts';

const base = ['--content', 'c.png', '--style', 's.jpg', '--out', 'o.png'];
const parse = (...extra: string[]) => parseRenderArgs([...base, ...extra]) as RenderOptions;

test('L1: defaults are the documented ones', () => {
  const o = parse();
  assert.equal(o.preset, 'default');
  assert.equal(o.size, 256);
  assert.equal(o.iters, 200);
  assert.equal(o.seed, 1);
  assert.equal(o.backend, 'auto');
  assert.equal(o.mode, 'transfer');
  assert.deepEqual(o.styles, [{ path: 's.jpg', weight: 1, scale: 1 }]);
});

test('L2: --style-weight and --style-scale apply to the --style before them', () => {
  const o = parseRenderArgs([
    '--content', 'c.png', '--style', 'a.jpg', '--style-weight', '2', '--style', 'b.jpg', '--style-scale', '0.5', '--style-weight', '3', '--out', 'o.png',
  ]) as RenderOptions;
  assert.deepEqual(o.styles, [
    { path: 'a.jpg', weight: 2, scale: 1 },
    { path: 'b.jpg', weight: 3, scale: 0.5 },
  ]);
});

test('L1: bad options are refused with a message naming the option', () => {
  const cases: [string[], RegExp][] = [
    [['--size', 'abc'], /--size must be an integer/],
    [['--size', '8'], /--size must be an integer between 16/],
    [['--iters', '-1'], /--iters/],
    [['--backend', 'cuda'], /--backend must be one of/],
    [['--preset', 'nope'], /--preset must be one of/],
    [['--colors', 'rainbow'], /--colors/],
    [['--init', 'image'], /--init-image/],
    [['--bogus'], /Unknown option/],
  ];
  for (const [extra, re] of cases) {
    assert.throws(() => parse(...extra), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), extra.join(' '));
  }
});

test('L1: no options at all render a new session\'s images (the chelsea photo × The Starry Night) to render.png', () => {
  const o = parseRenderArgs([]) as RenderOptions;
  assert.equal(o.out, 'render.png');
  assert.ok(o.content!.endsWith(path.join('assets', DEFAULT_SESSION_IMAGES.content)) && existsSync(o.content!), o.content);
  assert.deepEqual(o.styles.map((s) => path.relative(path.dirname(o.content!), s.path).replaceAll(path.sep, '/')), ['../' + DEFAULT_SESSION_IMAGES.style]);
  assert.ok(existsSync(o.styles[0].path));
});

test('L1: missing inputs are reported per mode', () => {
  assert.throws(() => parseRenderArgs(['--style', 's.jpg', '--out', 'o.png']), /--content is required/);
  assert.throws(() => parseRenderArgs(['--content', 'c.png', '--out', 'o.png']), /at least one --style/);
  assert.throws(() => parseRenderArgs(['--content', 'c.png', '--style', 's.jpg']), /--out is required/);
  assert.throws(() => parseRenderArgs([...base.slice(0, 4), '--out', 'o.gif']), /--out must end/);
  assert.throws(() => parseRenderArgs(['--style-weight', '2', ...base]), /must follow the --style/);
  const texture = parseRenderArgs(['--mode', 'synthesize-style', '--style', 's.jpg', '--out', 't.png']) as RenderOptions;
  assert.equal(texture.content, undefined);
});

test('L2: --style-mask applies to the --style before it (engine E34): that style goes only into its region', () => {
  const o = parseRenderArgs(['--content', 'c.png', '--style', 'a.jpg', '--style-mask', 'left.png', '--style', 'b.jpg', '--out', 'o.png']) as RenderOptions;
  assert.deepEqual(o.styles, [
    { path: 'a.jpg', weight: 1, scale: 1, mask: 'left.png' },
    { path: 'b.jpg', weight: 1, scale: 1 },
  ]);
  const masksOnly = parseRenderArgs(['--content', 'c.png', '--style', 'a.jpg', '--style-mask', 'l.png', '--out', 'o.png']) as RenderOptions;
  assert.equal(masksOnly.styles[0].mask, 'l.png', 'regions alone are a transfer');
  assert.throws(() => parseRenderArgs(['--content', 'c.png', '--style-mask', 'l.png', '--style', 'a.jpg', '--out', 'o.png']), /--style-mask must follow the --style/);
  assert.throws(() => parseRenderArgs(['--content', 'c.png', '--style', 'a.jpg', '--style-mask', 'l.png', '--style-mask', 'r.png', '--out', 'o.png']), /two --style-mask/);
  assert.throws(() => parseRenderArgs(['--mode', 'grid', '--content', 'c.png', '--style', 'a.jpg', '--style-mask', 'l.png', '--out', 'o.png']), /--mode transfer only/);
});
