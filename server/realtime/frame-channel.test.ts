import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FramePayload } from '../../shared/protocol.ts';
import { FrameChannel } from './frame-channel.ts';

const frame = (iter: number): FramePayload => ({
  iter, w: 1, h: 1, mime: 'image/jpeg', losses: { total: 0, style: 0, content: 0, tv: 0 }, stepsPerSec: 0, backend: 'fake', data: new Uint8Array(1),
});

test('S10: at most two frames are in flight and only the newest waits', () => {
  const sent: number[] = [];
  const acks: (() => void)[] = [];
  const ch = new FrameChannel((f, acked) => {
    sent.push(f.iter);
    acks.push(acked);
  }, 2);
  for (let i = 1; i <= 6; i++) ch.offer(frame(i));
  assert.deepEqual(sent, [1, 2]);
  assert.equal(ch.dropped, 3);
  acks[0]();
  acks[0](); // a second ack of the same frame is ignored
  assert.deepEqual(sent, [1, 2, 6]);
  assert.equal(ch.inFlight, 2);
  acks[1]();
  acks[2]();
  assert.equal(ch.inFlight, 0);
  ch.offer(frame(7));
  assert.deepEqual(sent, [1, 2, 6, 7]);
});
