import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  colorStats,
  combineLuminanceAndChroma,
  luminance,
  matchColorHistogram,
  rgbToYiq,
  symmetricEigen3,
  yiqToRgb,
  RGB_TO_YIQ,
} from './color.ts';
import { rgbToTensor, tensorToRgb } from './tensor-image.ts';
import { syntheticImage, useCpuBackend } from './testing/helpers.ts';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('colour control (Gatys et al. 2016)', () => {
  before(useCpuBackend);

  test('E9: RGB -> YIQ -> RGB is the identity and Y is the NTSC luminance', () => {
    const x = rgbToTensor(syntheticImage(9, 7, 3));
    const back = yiqToRgb(rgbToYiq(x));
    assert.ok(maxAbsDiff(back.dataSync(), x.dataSync()) < 1e-5);
    const y = luminance(x).dataSync();
    const v = x.dataSync();
    assert.ok(Math.abs(y[0] - (0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2])) < 1e-6);
    assert.deepEqual(RGB_TO_YIQ[0], [0.299, 0.587, 0.114]);
    tf.dispose([x, back]);
  });

  test("E9: luminance transfer keeps the content's chroma and the result's luminance", () => {
    const content = rgbToTensor(syntheticImage(12, 10, 1));
    const result = rgbToTensor(syntheticImage(12, 10, 2));
    const out = combineLuminanceAndChroma(result, content);
    const [yo, yr, yc] = [rgbToYiq(out), rgbToYiq(result), rgbToYiq(content)].map((t) => t.arraySync()[0]);
    let dY = 0;
    let dIQ = 0;
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 12; j++) {
        dY = Math.max(dY, Math.abs(yo[i][j][0] - yr[i][j][0]));
        dIQ = Math.max(dIQ, Math.abs(yo[i][j][1] - yc[i][j][1]), Math.abs(yo[i][j][2] - yc[i][j][2]));
      }
    }
    assert.ok(dY < 1e-5, `luminance differs by ${dY}`);
    assert.ok(dIQ < 1e-5, `chroma differs by ${dIQ}`);
    tf.dispose([content, result, out]);
  });

  test("E9: histogram matching gives the style the content's colour mean and covariance", async () => {
    // A low-contrast content (so the mapped style stays inside [0, 1]) and a colourful style.
    const content = syntheticImage(24, 20, 5);
    for (let i = 0; i < content.data.length; i++) content.data[i] = 90 + Math.round(content.data[i] * 0.3);
    const style = syntheticImage(20, 24, 6);
    const cs = colorStats(content);
    const ss = colorStats(style);
    const mapped = matchColorHistogram(rgbToTensor(style), ss, cs, false);
    // Stats of the mapped floats (no 8-bit rounding) on the host.
    const v = mapped.dataSync();
    const n = v.length / 3;
    const mean = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = c; i < v.length; i += 3) s += v[i];
      return s / n;
    });
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(mean[c] - cs.mean[c]) < 1e-4, `mean ${c}: ${mean[c]} vs ${cs.mean[c]}`);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (v[i * 3 + a] - mean[a]) * (v[i * 3 + b] - mean[b]);
        const cov = s / n;
        assert.ok(Math.abs(cov - cs.cov[a][b]) < 2e-4, `cov ${a}${b}: ${cov} vs ${cs.cov[a][b]}`);
      }
    }
    // And the clipped version is a valid image.
    const clipped = matchColorHistogram(rgbToTensor(style), ss, cs);
    const img = await tensorToRgb(clipped);
    assert.equal(img.width, 20);
    tf.dispose([mapped, clipped]);
  });

  test('E9: the symmetric 3x3 eigen-decomposition reconstructs its matrix', () => {
    const m = [
      [4, 1, 0.5],
      [1, 3, 0.2],
      [0.5, 0.2, 1],
    ];
    const { values, vectors } = symmetricEigen3(m);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const r = [0, 1, 2].reduce((s, k) => s + vectors[i][k] * values[k] * vectors[j][k], 0);
        assert.ok(Math.abs(r - m[i][j]) < 1e-10);
      }
    }
  });
});
