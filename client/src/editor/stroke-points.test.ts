import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { StrokeRecorder, PUBLISH_INTERVAL_MS } from './stroke-points.ts';

describe('stroke point recording', () => {
  test('C50: points closer than a fraction of the brush size are dropped', () => {
    const r = new StrokeRecorder(20); // min distance 1.6 px
    assert.equal(r.add(0, 0), true);
    assert.equal(r.add(1, 0), false);
    assert.equal(r.add(2, 0), true);
    assert.equal(r.add(Number.NaN, 0), false);
    assert.deepEqual(r.points, [0, 0, 2, 0]);
  });

  test('C50: publishing is throttled to one update per interval, and only when there is something new', () => {
    const r = new StrokeRecorder(2);
    r.add(0, 0);
    assert.equal(r.shouldPublish(1000), true);
    r.add(10, 10);
    assert.equal(r.shouldPublish(1000 + PUBLISH_INTERVAL_MS - 1), false);
    assert.equal(r.shouldPublish(1000 + PUBLISH_INTERVAL_MS), true);
    assert.equal(r.shouldPublish(5000), false, 'nothing new since the last publish');
  });

  test('C51: a stroke stops growing at the schema limit', () => {
    const r = new StrokeRecorder(1, 6);
    for (let i = 0; i < 10; i++) r.add(i * 10, 0);
    assert.equal(r.points.length, 6);
    assert.equal(r.full, true);
  });

  test('C52: only the points added since the last publish are handed out, in 1/8 px steps (a stroke is appended to, never rewritten)', () => {
    const r = new StrokeRecorder(1);
    r.add(0.04, 0);
    r.add(10.3, 0.06);
    assert.deepEqual(r.takeUnpublished(), [0, 0, 10.25, 0]);
    assert.deepEqual(r.takeUnpublished(), []);
    r.add(20, 5);
    assert.deepEqual(r.takeUnpublished(), [20, 5]);
    assert.deepEqual(r.points, [0, 0, 10.25, 0, 20, 5]);
  });
});
