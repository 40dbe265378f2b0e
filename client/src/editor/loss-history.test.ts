import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LossHistory, logAxisFor, logPosition } from './loss-history.ts';

const L = (total: number, style = total / 2, content = total / 4, tv = total / 8) => ({ total, style, content, tv });

describe('loss history', () => {
  test('C70: samples accumulate per iteration; a repeated iteration replaces, a lower one restarts', () => {
    const h = new LossHistory();
    h.push(1, L(100));
    h.push(2, L(90));
    h.push(2, L(80));
    assert.deepEqual(h.all().map((s) => [s.iter, s.total]), [[1, 100], [2, 80]]);
    h.push(0, L(500));
    assert.deepEqual(h.all().map((s) => s.iter), [0]);
  });
  test('C70: a full history thins its older half and keeps the first and latest samples', () => {
    const h = new LossHistory(100);
    for (let i = 0; i < 1000; i++) h.push(i, L(1000 - i));
    assert.ok(h.length <= 100);
    assert.equal(h.all()[0].iter, 0);
    assert.equal(h.all().at(-1)!.iter, 999);
  });
  test('C71: the log axis spans whole decades around all positive values; zeros are skipped', () => {
    const axis = logAxisFor([{ iter: 0, total: 2.5e5, style: 3e4, content: 12, tv: 0 }]);
    assert.deepEqual(axis, { lo: 1, hi: 6 });
    assert.equal(logPosition(axis!, 1e6), 1);
    assert.equal(logPosition(axis!, 10), 0);
    assert.equal(logPosition(axis!, 0), null);
    assert.equal(logAxisFor([]), null);
    assert.deepEqual(logAxisFor([{ iter: 0, total: 100, style: 100, content: 100, tv: 100 }]), { lo: 2, hi: 3 });
  });
});
