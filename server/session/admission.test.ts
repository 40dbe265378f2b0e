import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../shared/protocol.ts';
import { admitResolution, admitStyles, stepPixels } from './admission.ts';

test('S26: the resolution is lowered to the largest whose estimated step fits ENGINE_MAX_STEP_MS', () => {
  const estimate = (_m: string, px: number) => px * 0.004; // 4 µs per pixel (mobilenet_v2 on wasm)
  const square = { width: 4096, height: 4096 };
  assert.deepEqual(admitResolution({ resolution: 256, model: 'mobilenet_v2' }, square, estimate, 2000, 'wasm'), { resolution: 256 });
  const r = admitResolution({ resolution: 2048, model: 'mobilenet_v2' }, square, estimate, 2000, 'wasm');
  assert.ok(r.resolution < 2048 && estimate('', stepPixels(square, r.resolution)) <= 2000 && estimate('', stepPixels(square, r.resolution + 1)) > 2000, `at ${r.resolution}`);
  assert.equal(r.error?.code, ErrorCode.OverBudget);
  assert.match(r.error!.message, /16777 ms on wasm.*ENGINE_MAX_STEP_MS.*runs at 707 px/);
  // A wide canvas has fewer pixels at the same long side: more resolution fits.
  assert.ok(admitResolution({ resolution: 2048, model: 'mobilenet_v2' }, { width: 4096, height: 512 }, estimate, 2000, 'wasm').resolution > r.resolution);
  assert.deepEqual(admitResolution({ resolution: 2048, model: 'mobilenet_v2' }, square, undefined, 2000, 'fake'), { resolution: 2048 }, 'no estimate (fake engine): no engine budget');
});

test('S26: the resolution is also lowered to the largest whose step has at most ENGINE_MAX_STEP_PIXELS pixels', () => {
  const fast = (_m: string, px: number) => px * 0.0001; // time fits everywhere here
  const square = { width: 4096, height: 4096 };
  assert.deepEqual(admitResolution({ resolution: 512, model: 'mobilenet_v2' }, square, fast, 2000, 'wasm', 512 * 512), { resolution: 512 });
  const r = admitResolution({ resolution: 1024, model: 'mobilenet_v2' }, square, fast, 2000, 'wasm', 512 * 512);
  assert.equal(r.resolution, 512);
  assert.equal(r.error?.code, ErrorCode.OverBudget);
  assert.match(r.error!.message, /1048576 pixels, over the engine budget of 262144 pixels per step \(ENGINE_MAX_STEP_PIXELS.*runs at 512 px/);
  // Whichever budget is tighter decides; the time budget is named when it is the one exceeded.
  const slow = (_m: string, px: number) => px * 0.004;
  const both = admitResolution({ resolution: 2048, model: 'mobilenet_v2' }, square, slow, 2000, 'wasm', 512 * 512);
  assert.equal(both.resolution, 512);
  assert.match(both.error!.message, /ENGINE_MAX_STEP_MS.*runs at 512 px/);
  assert.deepEqual(admitResolution({ resolution: 2048, model: 'mobilenet_v2' }, square, undefined, 2000, 'fake', 512 * 512), { resolution: 2048 }, 'the fake engine has no engine budget');
});

test('S25: styles are admitted in order while their pixels at scale × resolution fit SESSION_MAX_STYLE_PIXELS', () => {
  const dims = (id: string) => (id === 'wide' ? { width: 2000, height: 1000 } : { width: 6300, height: 6300 });
  const style = (imageId: string, scale: number) => ({ imageId, weight: 1, scale });
  const { admitted, errors } = admitStyles([style('big', 1), style('big', 4), style('wide', 1)], 256, dims, 300_000);
  assert.deepEqual(admitted.map((s) => s.scale), [1, 1], '256² fits, 1024² does not, the wide 256x128 still fits');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, 'styles[1]');
  assert.match(errors[0].message, /1048576 pixels \(used at 1024x1024.*SESSION_MAX_STYLE_PIXELS/);
});
