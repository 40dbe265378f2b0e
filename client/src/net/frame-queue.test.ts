import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { LatestFrameQueue } from './frame-queue.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('latest-wins frame queue', () => {
  test('C80: while a frame decodes only the newest arrival is kept; overtaken frames are acked unshown', async () => {
    const decodes = new Map<number, ReturnType<typeof deferred<number>>>();
    const shown: number[] = [];
    const acked: number[] = [];
    const q = new LatestFrameQueue<number, number>(
      (f) => {
        const d = deferred<number>();
        decodes.set(f, d);
        return d.promise;
      },
      (d) => shown.push(d),
    );
    for (const f of [1, 2, 3, 4]) q.push(f, () => acked.push(f));
    assert.deepEqual(acked, [2, 3], 'frames 2 and 3 were overtaken');
    decodes.get(1)!.resolve(1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(shown, [1]);
    assert.deepEqual(acked, [2, 3, 1], 'frame 1 acked after display');
    decodes.get(4)!.resolve(4);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(shown, [1, 4]);
    assert.deepEqual(acked, [2, 3, 1, 4]);
    assert.equal(q.skipped, 2);
  });

  test('C80: a frame that fails to decode is still acknowledged exactly once', async () => {
    const acked: string[] = [];
    const errors: unknown[] = [];
    const q = new LatestFrameQueue<string, string>(
      async (f) => {
        if (f === 'bad') throw new Error('corrupt');
        return f;
      },
      () => {},
      (e) => errors.push(e),
    );
    const ack = () => acked.push('bad');
    q.push('bad', ack);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(acked, ['bad']);
    assert.equal(errors.length, 1);
    assert.equal(q.failed, 1);
  });

  test('C80: after close, queued and new frames are acknowledged without display', async () => {
    const acked: number[] = [];
    const shown: number[] = [];
    const d = deferred<number>();
    const q = new LatestFrameQueue<number, number>(() => d.promise, (v) => shown.push(v));
    q.push(1, () => acked.push(1));
    q.push(2, () => acked.push(2));
    q.close();
    q.push(3, () => acked.push(3));
    d.resolve(1);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(shown, []);
    assert.deepEqual(acked.sort(), [1, 2, 3]);
  });
});
