import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer, type EngineStyleTransfer } from './transfer.ts';
import { AdamGroup } from './optim/group.ts';
import { changedFraction } from './write-in.ts';
import { PARAMETERIZATION_NAMES } from './parameterization.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';
import { rgbToTensor } from './tensor-image.ts';
import type { RgbImage, TransferParams } from './api.ts';

const W = 32;
const H = 24;
const photo = syntheticImage(W, H, 1);
const style = syntheticImage(24, 24, 2);

/** `img` with a filled rectangle (a thick stroke) in `color`. */
function withStroke(img: RgbImage, x0: number, y0: number, x1: number, y1: number, color: [number, number, number]): RgbImage {
  const data = Uint8Array.from(img.data);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data.set(color, (y * img.width + x) * 3);
  return { ...img, data };
}

/** `img` at half its size, each pixel the mean of a 2×2 block (as a box-filtered re-composition would be). */
function halfSize(img: RgbImage): RgbImage {
  const w = img.width >> 1;
  const h = img.height >> 1;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 3 + c];
        data[(y * w + x) * 3 + c] = Math.round((at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4);
      }
  return { width: w, height: h, data };
}

/** Max |a − b| over the pixels of rows y0..y1, columns x0..x1 (all channels). */
function regionDiff(a: tf.Tensor4D, b: tf.Tensor4D, x0: number, y0: number, x1: number, y1: number): number {
  return tf.tidy(() => {
    const size = [1, y1 - y0, x1 - x0, 3];
    return tf.max(tf.abs(tf.sub(tf.slice(a, [0, y0, x0, 0], size), tf.slice(b, [0, y0, x0, 0], size)))).dataSync()[0];
  });
}

async function running(parameterization: (typeof PARAMETERIZATION_NAMES)[number], extra: Partial<TransferParams> = {}): Promise<EngineStyleTransfer> {
  const st = createStyleTransfer(createRandomNet(), {
    content: photo,
    styles: [{ image: style, weight: 1, scale: 1 }],
    params: testParams({ parameterization, resolution: W, learningRate: 0.1, styleWeight: 30, ...extra }),
  });
  for (let i = 0; i < 4; i++) await st.step();
  return st;
}

describe('content write-in', () => {
  before(useCpuBackend);

  test('E24: changedFraction counts pixels that moved by more than the threshold', () => {
    const stroked = withStroke(photo, 0, 0, 8, 6, [0, 0, 255]);
    const f = changedFraction(photo, stroked);
    assert.ok(f > 0 && f <= (8 * 6) / (W * H), `${f}`);
    assert.equal(changedFraction(photo, structuredClone(photo)), 0);
    assert.equal(changedFraction(photo, syntheticImage(W + 1, H, 1)), 1, 'another aspect ratio');
    assert.equal(changedFraction(photo, halfSize(photo)), 0, 'the same picture at half the size');
  });

  test('E24, E10: the same picture composed at another size is a resize, not a new picture nor a write-in', async () => {
    const st = await running('pyramid');
    st.update({ content: halfSize(photo) });
    assert.equal(st.iter, 4);
    assert.equal(st.counters.inits, 1);
    assert.equal(st.counters.writeIns, 0);
    st.dispose();
  });

  for (const name of PARAMETERIZATION_NAMES) {
    test(`E24: ${name}: a stroke is written into the image at once, the rest is untouched, Adam forgets there`, async () => {
      const st = await running(name);
      const before = st.snapshot();
      const stroked = withStroke(photo, 10, 8, 22, 16, [20, 40, 230]);
      st.update({ content: stroked });
      const after = st.snapshot();
      const target = rgbToTensor(stroked);
      // inside the stroke (away from the 2-px feather) the image is the stroke's colour
      assert.ok(regionDiff(after, target, 12, 10, 20, 14) < 1e-5, 'stroke pixels written in');
      // far from it nothing moved
      assert.ok(regionDiff(after, before, 0, 0, 6, 24) < 1e-6, 'left band untouched');
      assert.ok(regionDiff(after, before, 26, 0, 32, 24) < 1e-6, 'right band untouched');
      assert.equal(st.counters.writeIns, 1);
      assert.equal(st.counters.inits, 1, 'no restart');
      assert.equal(st.iter, 4, 'the run continues');
      // Adam's moments of the finest variable are zero inside the stroke, intact far away
      const { m } = (st.optimizer as AdamGroup).members[0].moments;
      const inside = tf.tidy(() => tf.max(tf.abs(tf.slice(m!, [0, 10, 12, 0], [1, 4, 8, 3]))).dataSync()[0]);
      const outside = tf.tidy(() => tf.max(tf.abs(tf.slice(m!, [0, 0, 0, 0], [1, 24, 6, 3]))).dataSync()[0]);
      assert.equal(inside, 0);
      assert.ok(outside > 0);
      // the next step runs normally and the stroke stays (its colour is what the content wants):
      // one Adam step moves each of the 4 pyramid levels by about the learning rate
      await st.step();
      const stepped = st.snapshot();
      const original = rgbToTensor(photo);
      const meanIn = (a: tf.Tensor4D) => tf.tidy(() => tf.mean(tf.abs(tf.sub(tf.slice(a, [0, 10, 12, 0], [1, 4, 8, 3]), tf.slice(target, [0, 10, 12, 0], [1, 4, 8, 3])))).dataSync()[0]);
      assert.ok(meanIn(stepped) < 0.35 * meanIn(original), `after a step: ${meanIn(stepped)} from the stroke colour, the photo is ${meanIn(original)}`);
      original.dispose();
      tf.dispose([before, after, target, stepped]);
      st.dispose();
    });

    test(`E24: ${name}: erasing the stroke brings the photo's pixels back`, async () => {
      const st = await running(name);
      const stroked = withStroke(photo, 10, 8, 22, 16, [250, 250, 0]);
      st.update({ content: stroked });
      st.update({ content: photo });
      const after = st.snapshot();
      const original = rgbToTensor(photo);
      assert.ok(regionDiff(after, original, 12, 10, 20, 14) < 1e-5);
      assert.equal(st.counters.writeIns, 2);
      tf.dispose([after, original]);
      st.dispose();
    });

    test(`E24: ${name}: a new picture restarts from it (other size, or most pixels changed)`, async () => {
      for (const next of [syntheticImage(W, H, 9), syntheticImage(20, 30, 9)]) {
        const st = await running(name, { init: 'noise' });
        st.update({ content: next });
        assert.equal(st.iter, 0);
        assert.equal(st.counters.inits, 2);
        assert.equal(st.counters.writeIns, 0);
        assert.deepEqual([st.width, st.height], next.width === W ? [W, H] : [Math.round((20 * W) / 30), W]);
        st.dispose();
      }
    });

    test(`E24: ${name}: a new picture under a resumed run (init 'image') starts from the new picture`, async () => {
      const st = await running(name, { init: 'image' }).catch(() => null);
      assert.equal(st, null, "init 'image' needs an initImage (E2)");
      const resumed = createStyleTransfer(createRandomNet(), {
        content: photo,
        styles: [{ image: style, weight: 1, scale: 1 }],
        params: testParams({ parameterization: name, resolution: W, init: 'image' }),
        initImage: syntheticImage(W, H, 5),
      });
      await resumed.step();
      const next = syntheticImage(W, H, 9);
      resumed.update({ content: next });
      const x = resumed.snapshot();
      const t = rgbToTensor(next);
      assert.ok(regionDiff(x, t, 0, 0, W, H) < 1e-6);
      tf.dispose([x, t]);
      resumed.dispose();
    });
  }

  test('E11, E24: restart resets the image to the start image in every init mode', async () => {
    for (const init of ['content', 'noise'] as const) {
      for (const name of PARAMETERIZATION_NAMES) {
        const st = await running(name, { init, seed: 3 });
        const fresh = createStyleTransfer(createRandomNet(), {
          content: photo,
          styles: [],
          params: testParams({ parameterization: name, resolution: W, init, seed: 3 }),
        });
        st.update({ params: testParams({ parameterization: name, resolution: W, learningRate: 0.1, styleWeight: 30, init, seed: 3, restart: 1 }) });
        const a = st.snapshot();
        const b = fresh.snapshot();
        assert.ok(regionDiff(a, b, 0, 0, W, H) <= 1e-6, `${init} / ${name}`);
        assert.equal(st.iter, 0);
        tf.dispose([a, b]);
        st.dispose();
        fresh.dispose();
      }
    }
  });
});
