import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../storage/memory.ts';
import { StorageUnavailableError } from '../storage/types.ts';
import { LOSS_SAMPLE_INTERVAL_MS, recordLossSample } from './loss-samples.ts';

/** Runs `fn` with stderr captured (the logger writes there). */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: unknown) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = orig;
  }
  return lines.join('');
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('loss sample recorder', () => {
  test('a failed loss-sample write is logged once per outage, and its end once; the caller never sees it', async () => {
    const storage = new MemoryStorage();
    let down = true;
    const write = storage.appendLossSample.bind(storage);
    storage.appendLossSample = (s) => (down ? Promise.reject(new StorageUnavailableError('database unreachable')) : write(s));
    const frame = { iter: 1, losses: { total: 1, content: 0.5, style: 0.5, tv: 0 } } as Parameters<typeof recordLossSample>[2];
    const level = process.env.ATELIER_LOG;
    process.env.ATELIER_LOG = 'info';
    try {
      const log = await captureStderr(async () => {
        let t = 1_000_000;
        for (let i = 0; i < 3; i++) {
          assert.equal(recordLossSample(storage, 'sess0001', frame, (t += LOSS_SAMPLE_INTERVAL_MS)), true);
          await settle();
        }
        down = false;
        assert.equal(recordLossSample(storage, 'sess0001', frame, (t += LOSS_SAMPLE_INTERVAL_MS)), true);
        await settle();
      });
      assert.equal(log.match(/could not store a loss sample/g)?.length, 1, log);
      assert.match(log, /database unreachable/);
      assert.equal(log.match(/loss samples are stored again/g)?.length, 1, log);
    } finally {
      if (level === undefined) delete process.env.ATELIER_LOG;
      else process.env.ATELIER_LOG = level;
    }
  });
});
