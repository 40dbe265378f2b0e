import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createStyleTransfer } from './transfer.ts';
import { AdamGroup, LbfgsSingle } from './optim/group.ts';
import { Lbfgs } from './optim/lbfgs.ts';
import { gramMatrix, styleLayerLoss } from './losses.ts';
import { rgbToTensor, resizeImage, sizeForLongSide } from './tensor-image.ts';
import { rgbToYiq } from './color.ts';
import { createRandomNet } from './testing/random-net.ts';
import { syntheticImage, testParams, useCpuBackend } from './testing/helpers.ts';
import type { TransferInputs } from './api.ts';

const content = syntheticImage(40, 30, 1);
const styleA = syntheticImage(32, 32, 2);
const styleB = syntheticImage(24, 36, 3);

function inputs(overrides: Partial<TransferInputs['params']> = {}): TransferInputs {
  return { content, styles: [{ image: styleA, weight: 1, scale: 1 }], params: testParams(overrides) };
}

describe('StyleTransfer', () => {
  before(useCpuBackend);

  test('E6: the gradient of the total loss matches central finite differences', () => {
    const net = createRandomNet({ activation: 'tanh', seed: 3 });
    for (const preset of ['default', 'tf-tutorial', 'gatys2015']) {
      const st = createStyleTransfer(net, {
        content: syntheticImage(10, 8, 4),
        styles: [
          { image: styleA, weight: 1, scale: 1 },
          { image: styleB, weight: 2, scale: 0.8 },
        ],
        params: testParams({ preset, resolution: 10, init: 'noise', seed: 5, tvWeight: preset === 'default' ? 1 : 1e-4 }),
      });
      const loss = st.lossFunction();
      const x0 = st.snapshot();
      const f = (x: tf.Tensor4D) => loss(x).total;
      const grad = tf.tidy(() => tf.grad((x: tf.Tensor) => f(x as tf.Tensor4D))(x0));
      const g = grad.dataSync();
      const base = x0.dataSync();
      const h = 1e-3;
      // |.| of TV has kinks: skip coordinates with a neighbour value within 2h in any channel row/column
      const [, H, W] = x0.shape;
      const awayFromKinks = (i: number) => {
        const px = Math.floor(i / 3);
        const [y, x] = [Math.floor(px / W), px % W];
        const near = (j: number) => Math.abs(base[i] - base[j]) < 2 * h;
        return !((x > 0 && near(i - 3)) || (x < W - 1 && near(i + 3)) || (y > 0 && near(i - 3 * W)) || (y < H - 1 && near(i + 3 * W)));
      };
      // the 6 largest-magnitude such coordinates (away from float32 noise)
      const order = Array.from(g.keys())
        .filter(awayFromKinks)
        .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
        .slice(0, 6);
      assert.equal(order.length, 6);
      for (const i of order) {
        const at = (delta: number) =>
          tf.tidy(() => {
            const v = Float32Array.from(base);
            v[i] += delta;
            return f(tf.tensor4d(v, x0.shape as [number, number, number, number])).dataSync()[0];
          });
        const fd = (at(h) - at(-h)) / (2 * h);
        const rel = Math.abs(fd - g[i]) / Math.max(Math.abs(g[i]), 1e-12);
        assert.ok(rel < 1e-2, `${preset}: coordinate ${i}: analytic ${g[i]}, finite difference ${fd} (rel ${rel})`);
      }
      tf.dispose([x0, grad]);
      st.dispose();
    }
    net.dispose();
  });

  test('E1, E13: evaluate() scores iteration 0 and each step reports the image it started from', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs());
    assert.equal(st.iter, 0);
    assert.deepEqual([st.width, st.height], [32, 24]);
    const initial = await st.evaluate();
    assert.equal(initial.content, 0, 'content init has no content loss');
    const first = await st.step();
    assert.equal(first.iter, 1);
    assert.ok(Math.abs(first.losses.total - initial.total) <= 1e-6 * initial.total);
    let last = first;
    for (let i = 0; i < 20; i++) last = await st.step();
    assert.equal(st.iter, 21);
    assert.ok(last.losses.style < first.losses.style, 'style loss goes down');
    const sum = last.losses.style + last.losses.content + last.losses.tv;
    assert.ok(Math.abs(sum - last.losses.total) < 1e-5 * last.losses.total);
    st.dispose();
    net.dispose();
  });

  test('E1: noise init is seeded: the same seed gives the same run, another seed another', async () => {
    const net = createRandomNet();
    const run = async (seed: number) => {
      const st = createStyleTransfer(net, inputs({ init: 'noise', seed }));
      for (let i = 0; i < 3; i++) await st.step();
      const img = await st.image();
      const losses = await st.evaluate();
      st.dispose();
      return { img, losses };
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.img.data, c.img.data);
    net.dispose();
  });

  test('E3, E17: a style update keeps the image and Adam state and recomputes only that style', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, {
      content,
      styles: [
        { image: styleA, weight: 1, scale: 1 },
        { image: styleB, weight: 1, scale: 1 },
      ],
      params: testParams(),
    });
    for (let i = 0; i < 5; i++) await st.step();
    assert.deepEqual({ ...st.counters }, { contentTargets: 1, styleGrams: 2, styleBlends: 1, regionMasks: 0, inits: 1, writeIns: 0 });
    const adam = (st.optimizer as AdamGroup).members[0];
    const m = Array.from(adam.moments.m!.dataSync());
    const x = st.snapshot();
    const xBefore = Array.from(x.dataSync());
    x.dispose();
    const calls = net.calls.length;

    const styleC = syntheticImage(30, 30, 9);
    st.update({ styles: [{ image: styleA, weight: 1, scale: 1 }, { image: styleC, weight: 1, scale: 1 }] });
    assert.equal((st.optimizer as AdamGroup).members[0], adam, 'same optimizer object');
    assert.equal(adam.iterations, 5);
    assert.deepEqual(Array.from(adam.moments.m!.dataSync()), m);
    const x2 = st.snapshot();
    assert.deepEqual(Array.from(x2.dataSync()), xBefore);
    x2.dispose();
    await st.evaluate();
    assert.deepEqual({ ...st.counters }, { contentTargets: 1, styleGrams: 3, styleBlends: 2, regionMasks: 0, inits: 1, writeIns: 0 });
    // one feature pass for styleC's Grams, one for the evaluation itself
    assert.equal(net.calls.length - calls, 2);

    // weights only: nothing recomputed but the blend
    st.update({ params: testParams({ contentWeight: 3, styleWeight: 0.5, tvWeight: 2 }) });
    st.update({ styles: [{ image: styleA, weight: 2, scale: 1 }, { image: styleC, weight: 1, scale: 1 }] });
    await st.step();
    assert.deepEqual({ ...st.counters }, { contentTargets: 1, styleGrams: 3, styleBlends: 3, regionMasks: 0, inits: 1, writeIns: 0 });
    assert.equal(st.iter, 6);

    // copies of the same images (as a worker receives them) recompute nothing
    st.update({ content: structuredClone(content), styles: structuredClone([{ image: styleA, weight: 2, scale: 1 }, { image: styleC, weight: 1, scale: 1 }]) });
    await st.step();
    assert.deepEqual({ ...st.counters }, { contentTargets: 1, styleGrams: 3, styleBlends: 3, regionMasks: 0, inits: 1, writeIns: 0 });

    // content change: content targets only (a new picture also restarts the image, E24)
    st.update({ content: syntheticImage(40, 30, 11) });
    await st.step();
    assert.deepEqual({ ...st.counters }, { contentTargets: 2, styleGrams: 3, styleBlends: 3, regionMasks: 0, inits: 2, writeIns: 0 });
    st.dispose();
    net.dispose();
  });

  test('E17: L-BFGS history is cleared when the objective changes, kept when only the learning rate does', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs({ optimizer: 'lbfgs' }));
    for (let i = 0; i < 4; i++) await st.step();
    const opt = (st.optimizer as LbfgsSingle).inner;
    assert.ok(opt instanceof Lbfgs);
    assert.ok(opt.historyLength > 0);
    st.update({ params: testParams({ optimizer: 'lbfgs', learningRate: 0.5 }) });
    assert.ok(opt.historyLength > 0);
    st.update({ params: testParams({ optimizer: 'lbfgs', learningRate: 0.5, styleWeight: 2 }) });
    assert.equal(opt.historyLength, 0);
    assert.equal(st.iter, 4, 'the run continues');
    st.update({ params: testParams({ optimizer: 'adam', styleWeight: 2 }) });
    assert.ok(st.optimizer instanceof AdamGroup);
    st.dispose();
    net.dispose();
  });

  test('E4, E5: style targets blend the Grams of the scaled styles by their normalised weights', async () => {
    const net = createRandomNet();
    const styles = [
      { image: styleA, weight: 1, scale: 0.5 },
      { image: styleB, weight: 3, scale: 1.5 },
      { image: syntheticImage(20, 20, 7), weight: 0, scale: 1 },
    ];
    // tf-tutorial: style = 1e-2 / 5... here the net's own layers (conv1..conv3), mse, averaged by count
    const params = testParams({ preset: 'tf-tutorial', contentWeight: 0, tvWeight: 0, pooling: 'max' });
    const st = createStyleTransfer(net, { content, styles, params });
    const got = (await st.evaluate()).style;
    const calls = net.calls.map((c) => c.shape);
    // styleA at long side 16, styleB at 48 (sizes as the preset rounds them); the zero-weight style is never run
    assert.ok(calls.some((s) => s[1] === 16 && s[2] === 16));
    assert.ok(calls.some((s) => s[1] === 48 && s[2] === 32));
    assert.ok(!calls.some((s) => s[1] === 32 && s[2] === 32), 'the zero-weight style is never run');

    const layers = ['conv1', 'conv2', 'conv3'];
    const expected = tf.tidy(() => {
      const grams = styles.slice(0, 2).map((s) => {
        const size = sizeForLongSide(s.image.width, s.image.height, Math.round(s.scale * 32), 'floor');
        const t = resizeImage(rgbToTensor(s.image), size.height, size.width);
        const f = net.features(t, layers, { pooling: 'max' });
        return layers.map((l) => gramMatrix(f.get(l)!));
      });
      const x = st.snapshot();
      const fx = net.features(x, layers, { pooling: 'max' });
      let total = tf.scalar(0);
      layers.forEach((l, i) => {
        const target = tf.add(tf.mul(grams[0][i], 0.25), tf.mul(grams[1][i], 0.75)) as tf.Tensor2D;
        total = tf.add(total, styleLayerLoss(gramMatrix(fx.get(l)!), target, 'mse'));
      });
      return tf.mul(total, 1e-2 / 3).dataSync()[0];
    });
    assert.ok(Math.abs(got - expected) <= 1e-4 * expected, `style loss ${got} vs ${expected}`);
    st.dispose();
    net.dispose();
  });

  test('E10: a resolution change resamples the image and Adam moments and recomputes targets at the new size', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs());
    for (let i = 0; i < 3; i++) await st.step();
    const adam = (st.optimizer as AdamGroup).members[0];
    st.update({ params: testParams({ resolution: 48 }) });
    assert.deepEqual([st.width, st.height], [48, 36]);
    assert.deepEqual(adam.moments.m!.shape, [1, 36, 48, 3]);
    assert.equal((st.optimizer as AdamGroup).members[0], adam);
    const r = await st.step();
    assert.equal(r.iter, 4);
    assert.equal(st.counters.contentTargets, 2);
    assert.equal(st.counters.styleGrams, 2);
    const img = await st.image();
    assert.deepEqual([img.width, img.height], [48, 36]);
    st.dispose();
    net.dispose();
  });

  test('E11: changing the seed of a noise start restarts the run', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs({ init: 'noise', seed: 1 }));
    await st.step();
    await st.step();
    st.update({ params: testParams({ init: 'noise', seed: 1, styleWeight: 2 }) });
    assert.equal(st.iter, 2);
    st.update({ params: testParams({ init: 'noise', seed: 2 }) });
    assert.equal(st.iter, 0);
    assert.equal(st.counters.inits, 2);
    st.dispose();
    net.dispose();
  });

  test('E11: a change of the restart counter restarts the run from the content image', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs({ learningRate: 0.2, styleWeight: 50 }));
    const start = st.snapshot();
    for (let i = 0; i < 3; i++) await st.step();
    const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(st.snapshot(), start))).dataSync()[0]);
    assert.ok(moved > 0.01, `the image moved (${moved})`);
    st.update({ params: testParams({ learningRate: 0.2, styleWeight: 50, restart: 1 }) });
    assert.equal(st.iter, 0);
    assert.equal(st.counters.inits, 2);
    const back = tf.tidy(() => tf.max(tf.abs(tf.sub(st.snapshot(), start))).dataSync()[0]);
    assert.equal(back, 0);
    start.dispose();
    st.dispose();
    net.dispose();
  });

  test('E7: Adam keeps the image in [0, 1]; L-BFGS runs unconstrained but image() clamps', async () => {
    const net = createRandomNet();
    const adam = createStyleTransfer(net, inputs({ learningRate: 0.5, styleWeight: 100 }));
    for (let i = 0; i < 5; i++) await adam.step();
    const xa = adam.snapshot();
    const va = xa.dataSync();
    assert.ok(va.every((v) => v >= 0 && v <= 1));
    xa.dispose();
    adam.dispose();
    const lb = createStyleTransfer(net, inputs({ optimizer: 'lbfgs', preset: 'gatys2015', styleWeight: 1e3 }));
    for (let i = 0; i < 8; i++) await lb.step();
    const img = await lb.image();
    assert.equal(img.data.length, lb.width * lb.height * 3);
    lb.dispose();
    net.dispose();
  });

  test("E9: in luminance mode the output has the content's chroma", async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs({ colors: 'luminance', learningRate: 0.1 }));
    for (let i = 0; i < 5; i++) await st.step();
    const out = await st.image();
    const c = tf.tidy(() => {
      const size = sizeForLongSide(content.width, content.height, 32);
      const resized = resizeImage(rgbToTensor(content), size.height, size.width, { antialias: true });
      return [rgbToYiq(resized).arraySync()[0], rgbToYiq(rgbToTensor(out)).arraySync()[0]];
    });
    let maxDiff = 0;
    let lumaDiff = 0;
    let compared = 0;
    c[0].forEach((row, i) =>
      row.forEach((px, j) => {
        const o = c[1][i][j];
        // pixels with a channel clamped to 0 or 255 (out of gamut) cannot keep their chroma
        const k = (i * out.width + j) * 3;
        const inGamut = [0, 1, 2].every((ch) => out.data[k + ch] > 0 && out.data[k + ch] < 255);
        if (inGamut) {
          compared += 1;
          maxDiff = Math.max(maxDiff, Math.abs(px[1] - o[1]), Math.abs(px[2] - o[2]));
        }
        lumaDiff = Math.max(lumaDiff, Math.abs(px[0] - o[0]));
      }),
    );
    assert.ok(compared > (out.width * out.height) / 2, `only ${compared} pixels in gamut`);
    assert.ok(maxDiff < 0.01, `chroma differs by ${maxDiff}`);
    assert.ok(lumaDiff > 0.01, 'the luminance was optimized');
    st.dispose();
    net.dispose();
  });

  test('E12: an update made during a step is applied when the step finishes', async () => {
    const net = createRandomNet();
    const st = createStyleTransfer(net, inputs());
    const pending = st.step();
    st.update({ params: testParams({ resolution: 16 }) });
    assert.equal(st.width, 32, 'not applied yet');
    const r = await pending;
    assert.equal(r.iter, 1);
    assert.deepEqual([st.width, st.height], [16, 12]);
    await st.step();
    st.dispose();
    net.dispose();
  });

  test('E16: dispose with calls in flight frees the tensors once they settle; calls not yet started reject', async () => {
    const net = createRandomNet();
    const before = tf.memory().numTensors;
    const st = createStyleTransfer(net, inputs({ optimizer: 'lbfgs' }));
    await st.step();
    const started = st.step();
    await new Promise((r) => setImmediate(r)); // let it start (it may also finish)
    const queued = st.evaluate();
    st.dispose();
    await Promise.allSettled([started]);
    await assert.rejects(queued, /after dispose/);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => st.step(), /after dispose/);
    net.dispose();
  });

  test('E2: bad inputs are rejected with the offending field named', () => {
    const net = createRandomNet();
    assert.throws(() => createStyleTransfer(net, inputs({ contentWeight: -1 })), /params\.contentWeight/);
    assert.throws(() => createStyleTransfer(net, inputs({ optimizer: 'sgd' as never })), /params\.optimizer/);
    assert.throws(() => createStyleTransfer(net, inputs({ init: 'image' })), /initImage/);
    assert.throws(() => createStyleTransfer(net, inputs({ preset: 'nope' })), /unknown preset 'nope'/);
    assert.throws(
      () => createStyleTransfer(net, inputs({ styleLayers: [{ layer: 'conv9', weight: 1 }] })),
      /style layer 'conv9' is not a layer of random-net \(layers: conv1, conv2, conv3\)/,
    );
    assert.throws(
      () => createStyleTransfer(net, { ...inputs(), styles: [{ image: styleA, weight: 1, scale: 0 }] }),
      /styles\[0\]\.scale/,
    );
    const st = createStyleTransfer(net, inputs());
    assert.throws(() => st.update({ params: testParams({ resolution: 3 }) }), /params\.resolution/);
    assert.throws(() => st.update({ params: testParams({ contentLayers: [{ layer: 'fc9', weight: 1 }] }) }), /content layer 'fc9'/);
    assert.equal(st.width, 32);
    st.dispose();
    assert.throws(() => st.update({}), /after dispose/);
    net.dispose();
  });

  test('E1: an init image starts the optimization from that image, resized', async () => {
    const net = createRandomNet();
    const initImage = syntheticImage(80, 60, 12);
    const st = createStyleTransfer(net, { ...inputs({ init: 'image' }), initImage });
    const x = st.snapshot();
    const expected = tf.tidy(() => resizeImage(rgbToTensor(initImage), 24, 32, { antialias: true }));
    assert.ok(Math.max(...Array.from(tf.abs(tf.sub(x, expected)).dataSync())) < 1e-6);
    tf.dispose([x, expected]);
    st.dispose();
    net.dispose();
  });
});
