import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { StrokeRecorder, simplifyPolyline, PUBLISH_INTERVAL_MS } from './stroke-points.ts';

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

  test('C52: simplification keeps the ends and the corners and drops collinear points', () => {
    const line = [0, 0, 1, 0.01, 2, 0, 3, 0.02, 4, 0, 4, 5, 4, 10];
    assert.deepEqual(simplifyPolyline(line, 0.5), [0, 0, 4, 0, 4, 10]);
    assert.deepEqual(simplifyPolyline([5, 5], 1), [5, 5]);
    assert.deepEqual(simplifyPolyline(line, 0), line);
  });

  test('C52: simplification handles long strokes without recursion limits', () => {
    const pts: number[] = [];
    for (let i = 0; i < 10_000; i++) pts.push(i, Math.sin(i / 50) * 40);
    const s = simplifyPolyline(pts, 0.5);
    assert.ok(s.length < pts.length / 4, `kept ${s.length / 2} of ${pts.length / 2}`);
    assert.deepEqual(s.slice(0, 2), [0, 0]);
    assert.deepEqual(s.slice(-2), pts.slice(-2));
  });
});
