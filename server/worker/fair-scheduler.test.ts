import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairScheduler } from './fair-scheduler.ts';
import { EngineCostModel } from './engine-cost.ts';

/** Runs the scheduler for `ms` of simulated engine time; each key's step takes stepMs[key]. */
function simulate(s: FairScheduler<string>, stepMs: Record<string, number>, ms: number): Record<string, number> {
  const used: Record<string, number> = {};
  for (let t = 0; t < ms; ) {
    const k = s.next()!;
    s.charge(k, stepMs[k]);
    used[k] = (used[k] ?? 0) + stepMs[k];
    t += stepMs[k];
  }
  return used;
}

test('S26: sessions share the device by time, not by steps: 1 s steps do not starve 50 ms steps', () => {
  const s = new FairScheduler<string>();
  s.add('big', 'a');
  s.add('small', 'b');
  s.setRunnable('big', true);
  s.setRunnable('small', true);
  const used = simulate(s, { big: 1000, small: 50 }, 60_000);
  assert.ok(Math.abs(used.big - used.small) <= 1000, `equal time: ${JSON.stringify(used)}`);
});

test('S26: an address with many sessions gets one share, the same as an address with one', () => {
  const s = new FairScheduler<string>();
  for (let i = 0; i < 30; i++) {
    s.add(`fork${i}`, 'attacker');
    s.setRunnable(`fork${i}`, true);
  }
  s.add('honest', 'bystander');
  s.setRunnable('honest', true);
  const steps = Object.fromEntries([...Array(30)].map((_, i) => [`fork${i}`, 200]).concat([['honest', 200]]));
  const used = simulate(s, steps, 60_000);
  const attacker = Object.entries(used).filter(([k]) => k.startsWith('fork')).reduce((n, [, v]) => n + v, 0);
  assert.ok(Math.abs(attacker - used.honest) <= 400, `attacker ${attacker} ms vs honest ${used.honest} ms`);
});

test('S26: a session that becomes runnable gets no credit for the time it idled', () => {
  const s = new FairScheduler<string>();
  s.add('a', 'x');
  s.add('b', 'y');
  s.setRunnable('a', true);
  simulate(s, { a: 100, b: 100 }, 10_000);
  s.setRunnable('b', true);
  const picks: string[] = [];
  for (let i = 0; i < 10; i++) {
    const k = s.next()!;
    picks.push(k);
    s.charge(k, 100);
  }
  assert.ok(picks.filter((k) => k === 'a').length >= 4, `a keeps about half the turns: ${picks.join(' ')}`);
  s.remove('a');
  assert.equal(s.next(), 'b');
  s.setRunnable('b', false);
  assert.equal(s.next(), undefined);
});

test('S26: the step cost model starts from the benchmarks and learns from measured steps', () => {
  let backend = 'wasm';
  const m = new EngineCostModel(() => backend);
  assert.equal(Math.round(m.estimateStepMs('mobilenet_v2', 256 * 256)), 262, '4 µs/px × 256²');
  assert.ok(m.estimateStepMs('vgg19', 256 * 256) > 10 * m.estimateStepMs('mobilenet_v2', 256 * 256));
  backend = 'cpu';
  assert.ok(m.estimateStepMs('mobilenet_v2', 256 * 256) > 5000, 'the cpu backend is far slower');
  backend = 'wasm';
  for (let i = 0; i < 50; i++) m.observe('mobilenet_v2', 256 * 256, 1310); // 5× slower than the table here
  assert.ok(Math.abs(m.estimateStepMs('mobilenet_v2', 256 * 256) - 1310) < 50, 'converges on what this machine measures');
  m.observe('tiny', 16, 1000);
  assert.equal(m.usPerPixel('tiny'), 0.9, 'tiny steps (overhead-bound) teach nothing');
});
