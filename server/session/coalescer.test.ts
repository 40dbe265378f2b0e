import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from './canvas-builder.ts';

test('a coalescer runs once more after calls made while it runs, never twice at once', async () => {
  let running = 0;
  let runs = 0;
  const c = new Coalescer(async () => {
    running++;
    assert.equal(running, 1, 'one run at a time');
    await new Promise((r) => setTimeout(r, 5));
    runs++;
    running--;
  });
  await Promise.all([c.run(), c.run(), c.run(), c.run()]);
  assert.equal(runs, 2, 'the first call, then one run for all the calls made during it');
});

test('with a minimum interval, runs start at least that far apart and the latest call still runs', async () => {
  const starts: number[] = [];
  let seen = 0;
  let state = 0;
  const c = new Coalescer(async () => {
    starts.push(performance.now());
    seen = state;
  }, 40);
  for (let i = 1; i <= 20; i++) {
    state = i;
    void c.run();
    await new Promise((r) => setTimeout(r, 5));
  }
  await c.run();
  assert.equal(seen, 20, 'the last state was processed');
  assert.ok(starts.length < 10, `runs were coalesced (${starts.length} for 20 calls)`);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 35, `gap ${starts[i] - starts[i - 1]} ms`);
});
