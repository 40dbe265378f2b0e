/**
 * S33: per-address rate limits hold across processes that share a Redis (two servers in this
 * process, one redis-server), and fall back to counting per process while Redis is unreachable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/index.ts';
import { describeWithServices, startRedis, type RedisService } from '../testing/services.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';

describeWithServices('S33: per-address limits shared through Redis', () => {
  let redis: RedisService;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    redis = await startRedis();
    const cfg = { redisUrl: redis.url, sessionCreatesPerMin: 3, leaseTtlMs: 1000 };
    [a, b] = await Promise.all([startTestServer({ ...cfg, instanceId: 'lim-a' }), startTestServer({ ...cfg, instanceId: 'lim-b' })]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
  });

  const post = (server: TestServer, address: string) =>
    fetch(server.url + '/api/sessions', { method: 'POST', headers: { 'X-Forwarded-For': address } });

  test('S33: one address gets SESSION_CREATES_PER_MIN across both processes, not per process; other addresses are not affected', async () => {
    const statuses = [];
    for (const server of [a, b, a, b]) statuses.push((await post(server, '10.9.0.1')).status);
    assert.deepEqual(statuses, [201, 201, 201, 429], 'the fourth creation is refused, whichever process it reaches');
    const refused = await post(b, '10.9.0.1');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After');
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /at most 3 per minute/);
    assert.equal((await post(a, '10.9.0.2')).status, 201, 'another address has its own allowance');
  });

  test('S33: while Redis is down the limit is counted per process and requests are answered at once', async () => {
    await redis.kill();
    try {
      const started = Date.now();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await post(a, '10.9.0.3')).status);
      assert.ok(Date.now() - started < 3_000, `answered without waiting for Redis (${Date.now() - started} ms)`);
      assert.deepEqual(statuses, [201, 201, 201, 429], 'the in-process fallback still limits');
    } finally {
      await redis.start();
    }
  });

  test('S33: a process whose Redis connection hangs (partition: the socket stays open) counts in-process after a bounded wait', async (t) => {
    const proxy = await TcpProxy.start({ port: redis.port });
    const c = await startTestServer({ redisUrl: proxy.rewrite(redis.url), sessionCreatesPerMin: 3, leaseTtlMs: 1000, instanceId: 'lim-c' });
    try {
      assert.equal((await post(c, '10.9.0.4')).status, 201, 'counted in Redis while it answers');
      proxy.pause();
      const started = Date.now();
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(c, '10.9.0.4')).status);
      const took = Date.now() - started;
      t.diagnostic(`3 requests answered in ${took} ms while Redis did not answer`);
      assert.ok(took < 3 * 1_500, `each request waited at most about REDIS_LIMIT_TIMEOUT_MS (${took} ms for 3)`);
      assert.deepEqual(statuses, [201, 201, 201], 'the in-process fallback has its own allowance of 3');
      assert.equal((await post(c, '10.9.0.4')).status, 429, 'and still limits');
    } finally {
      proxy.resume(); // let the held commands finish so the server closes
      await c.close();
      await proxy.close();
    }
  });
});
