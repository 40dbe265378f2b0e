import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedRateLimiter, TokenBucket } from './rate-limit.ts';

describe('token buckets', () => {
  test('R2: a bucket allows its burst, then refills at its rate', () => {
    let now = 0;
    const b = new TokenBucket(3, 2, () => now);
    assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
    assert.equal(b.retryAfterSec(), 1);
    now += 500; // one token back
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    now += 60_000;
    assert.equal(b.available(), 3, 'never above capacity');
  });

  test('R2: keyed limiters keep one bucket per key and forget idle keys when full', () => {
    let now = 0;
    const l = new KeyedRateLimiter({ capacity: 1, refillPerSec: 1, maxKeys: 2, now: () => now });
    assert.equal(l.take('a'), true);
    assert.equal(l.take('a'), false);
    assert.equal(l.take('b'), true, 'another key has its own bucket');
    now += 5000;
    assert.equal(l.take('c'), true);
    assert.ok(l.size <= 2);
  });
});
