import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { logRange, positionToValue, valueToPosition, formatNumber, parseNumberInput } from './log-scale.ts';

describe('log slider mapping', () => {
  test('C10: the ends of the slider are the ends of the range and the middle is the geometric mean', () => {
    const r = logRange(1, 1e8, { steps: 800 });
    assert.equal(positionToValue(r, 0), 1);
    assert.equal(positionToValue(r, 800), 1e8);
    assert.equal(positionToValue(r, 400), 1e4);
  });
  test('C10: value → position → value round-trips within one step', () => {
    const r = logRange(1e-3, 1e9);
    for (const v of [1e-3, 0.02, 1, 3e4, 7.5e6, 1e9]) {
      const back = positionToValue(r, valueToPosition(r, v));
      assert.ok(Math.abs(Math.log(back / v)) < Math.log(1e12) / 1000 + 0.01, `${v} → ${back}`);
    }
  });
  test('C10: with zeroAtStart, position 0 is zero and the rest spans min…max', () => {
    const r = logRange(1e-4, 1e4, { zeroAtStart: true, steps: 100 });
    assert.equal(positionToValue(r, 0), 0);
    assert.equal(positionToValue(r, 1), 1e-4);
    assert.equal(positionToValue(r, 100), 1e4);
    assert.equal(valueToPosition(r, 0), 0);
    assert.equal(valueToPosition(r, 1e-4), 1);
  });
  test('C10: values outside the range clamp to the ends', () => {
    const r = logRange(1, 100, { steps: 10 });
    assert.equal(valueToPosition(r, 1e6), 10);
    assert.equal(valueToPosition(r, 0.001), 0);
  });
  test('C10: an impossible range is a clear error', () => {
    assert.throws(() => logRange(0, 10), /0 < min < max/);
    assert.throws(() => logRange(5, 1), /0 < min < max/);
  });
  test('C11: numbers read short: plain in the middle, scientific at the extremes', () => {
    assert.equal(formatNumber(30000), '3e4');
    assert.equal(formatNumber(1), '1');
    assert.equal(formatNumber(0.02), '0.02');
    assert.equal(formatNumber(0.0025), '2.5e-3');
    assert.equal(formatNumber(1234.5678), '1230');
    assert.equal(formatNumber(0), '0');
  });
  test('C11: typed numbers accept scientific notation and k/M suffixes', () => {
    assert.equal(parseNumberInput('3e4'), 3e4);
    assert.equal(parseNumberInput(' 2.5k '), 2500);
    assert.equal(parseNumberInput('1M'), 1e6);
    assert.equal(parseNumberInput('1,000'), 1000);
    assert.equal(parseNumberInput('abc'), null);
    assert.equal(parseNumberInput(''), null);
  });
});
