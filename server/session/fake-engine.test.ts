import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PARAMS } from '../../shared/schema.ts';
import type { EngineState } from '../../shared/protocol.ts';
import { decodeImage } from '../images/codec.ts';
import { waitFor } from '../testing/index.ts';
import type { EngineFrame, EngineInputs } from './engine-host.ts';
import { FakeEngineHost } from './fake-engine.ts';
import { solidImage } from './rasterize.ts';

/** Mean colour of a frame's JPEG. */
async function meanOf(frame: EngineFrame): Promise<number[]> {
  const img = await decodeImage(frame.data);
  const acc = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) acc[i % 3] += img.data[i];
  return acc.map((v) => v / (img.width * img.height));
}

test('S12: the fake engine (pixels in its worker thread) keeps the host contract: states, frames counting on from iterOffset, warm updates, pause, dispose', async () => {
  const host = new FakeEngineHost({ frameRate: 20, frameQuality: 80, stepsPerSec: 100 });
  const frames: EngineFrame[] = [];
  const states: EngineState[] = [];
  let steps = 0;
  // learningRate 0.25: each step moves half-way to the target, so a change shows within a frame or two.
  const inputs: EngineInputs = { content: solidImage(64, 48, '#ff0000'), styles: [], regions: [], params: { ...DEFAULT_PARAMS, resolution: 64, learningRate: 0.25, styleWeight: 0 } };
  const e = host.open('s1', inputs, { iterOffset: 100 }, { frame: (f) => frames.push(f), state: (s) => states.push(s), step: () => steps++ });
  try {
    e.setActive(true);
    assert.deepEqual(states, ['running']);
    await waitFor(() => frames.length >= 3, 10_000, 'frames');
    const first = frames[0];
    assert.equal(first.mime, 'image/jpeg');
    assert.deepEqual([first.width, first.height], [64, 48]);
    assert.ok(first.iter > 100, `iter ${first.iter} counts on from the offset`);
    assert.ok(frames.every((f, i) => i === 0 || f.iter > frames[i - 1].iter), 'iterations increase');
    assert.ok(steps >= frames.at(-1)!.iter - 100, 'every step is reported');
    assert.ok(frames.at(-1)!.stepsPerSec > 0);
    const [r, , b] = await meanOf(frames.at(-1)!);
    assert.ok(r > 200 && b < 60, `red content: ${r}, ${b}`);

    e.update({ content: solidImage(64, 48, '#0000ff') });
    const seen = frames.length;
    await waitFor(async () => frames.length > seen + 2 && (await meanOf(frames.at(-1)!))[2] > 200, 10_000, 'the new content in the frames');

    e.setActive(false);
    assert.deepEqual(states, ['running', 'paused']);
    await new Promise((r) => setTimeout(r, 200)); // a frame asked for before the pause may still come
    const paused = frames.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(frames.length, paused, 'no frames while paused');

    e.setActive(true);
    await waitFor(() => frames.length > paused, 10_000, 'frames again');
    assert.ok(frames.at(-1)!.iter > frames[paused - 1].iter, 'the iteration count carries on');
    e.dispose();
    const disposed = frames.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(frames.length, disposed, 'no events after dispose');
    assert.deepEqual(states, ['running', 'paused', 'running']);
  } finally {
    await host.close();
  }
});
