/** Engine leases on a real redis-server: one holder at a time, fencing tokens, self-fencing, takeover. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type RedisClientType } from 'redis';
import { connectClient, createSession, startTestServer, waitFor } from '../testing/index.ts';
import { describeWithServices, startRedis, type RedisService } from '../testing/services.ts';
import { EngineLeases, type LeaseHolder } from './engine-lease.ts';
import { decodeBusMessage, encodeBusMessage } from './session-cluster.ts';

const TTL = 600;

class FakeHolder implements LeaseHolder {
  tokens: number[] = [];
  revoked = 0;
  isClosed = false;
  wantsEngine = true;
  constructor(readonly id: string) {}
  grantEngine(token: number): void {
    this.tokens.push(token);
  }
  revokeEngine(): void {
    this.revoked++;
  }
  get owns(): boolean {
    return this.tokens.length > this.revoked;
  }
}

test('C5: bus messages round-trip a JSON header and binary body, and malformed ones are refused', () => {
  const body = new Uint8Array([0, 1, 2, 255]);
  const msg = decodeBusMessage(encodeBusMessage({ from: 'a', kind: 'frame', frame: { iter: 3, w: 1, h: 1, mime: 'image/jpeg', losses: { total: 1, style: 1, content: 1, tv: 1 }, stepsPerSec: 2, backend: 'x' } }, body));
  assert.equal(msg.header.from, 'a');
  assert.equal(msg.header.frame?.iter, 3);
  assert.deepEqual([...msg.body], [0, 1, 2, 255]);
  assert.throws(() => decodeBusMessage(Buffer.from([0, 0, 0, 99, 1])), /overruns/);
  assert.throws(() => decodeBusMessage(Buffer.from([0, 0])), /too short/);
});

describeWithServices('engine leases on redis-server', () => {
  let redis: RedisService;
  const clients: RedisClientType[] = [];
  const leases: EngineLeases[] = [];
  const connect = async () => {
    const c = createClient({ url: redis.url }) as RedisClientType;
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  const manager = async (instanceId: string, client?: RedisClientType) => {
    const l = new EngineLeases(client ?? (await connect()), { instanceId, ttlMs: TTL, prefix: 'lt' });
    leases.push(l);
    return l;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const l of leases) await l.close().catch(() => {});
    for (const c of clients) if (c.isOpen) await c.quit().catch(() => {});
    await redis?.stop();
  });

  test('C2, C3: one holder at a time; a release hands the engine over with a higher fencing token', async () => {
    const [a, b] = [await manager('a'), await manager('b')];
    const ha = new FakeHolder('sess-one');
    const hb = new FakeHolder('sess-one');
    a.want(ha);
    await waitFor(() => ha.owns, 5_000, 'a to own the lease');
    b.want(hb);
    await new Promise((r) => setTimeout(r, TTL * 1.5));
    assert.equal(hb.tokens.length, 0, 'b does not get the engine while a renews its lease');
    assert.deepEqual(await a.owner('sess-one'), { instanceId: 'a', token: ha.tokens[0] });
    a.release(ha);
    await waitFor(() => hb.owns, 5_000, 'b to take over after the release');
    assert.ok(hb.tokens[0] > ha.tokens[0], `fencing tokens grow (${ha.tokens[0]} then ${hb.tokens[0]})`);
    b.release(hb);
  });

  test('C3: fencing tokens keep growing even when Redis lost its data (restart without persistence)', async () => {
    const a = await manager('a4');
    const h1 = new FakeHolder('sess-four');
    a.want(h1);
    await waitFor(() => h1.owns, 5_000, 'the first lease');
    a.release(h1);
    await waitFor(async () => (await a.owner('sess-four')) === null, 5_000, 'the release');
    await (await connect()).flushAll();
    const h2 = new FakeHolder('sess-four');
    a.want(h2);
    await waitFor(() => h2.owns, 5_000, 'the second lease');
    assert.ok(h2.tokens[0] > h1.tokens[0], `${h2.tokens[0]} > ${h1.tokens[0]}, so stored keyframe fences still accept the new owner`);
    a.release(h2);
  });

  test('C3: a lease taken over in Redis revokes the engine at the next renewal', async () => {
    const a = await manager('a2');
    const h = new FakeHolder('sess-two');
    a.want(h);
    await waitFor(() => h.owns, 5_000, 'the lease');
    const admin = await connect();
    await admin.set(a.leaseKey('sess-two'), 'intruder:999', { PX: 60_000 });
    await waitFor(() => h.revoked === 1, 5_000, 'the revocation');
    assert.equal(a.tokenOf('sess-two'), undefined);
  });

  test('C3, S35: an owner cut off from Redis stops its engine once its lease may have expired, and another takes over', async () => {
    const cutClient = await connect();
    const a = await manager('a3', cutClient);
    const b = await manager('b3');
    const ha = new FakeHolder('sess-three');
    const hb = new FakeHolder('sess-three');
    a.want(ha);
    await waitFor(() => ha.owns, 5_000, 'the lease');
    b.want(hb);
    await cutClient.disconnect(); // like a network partition: a can neither renew nor release
    await waitFor(() => ha.revoked === 1, 5 * TTL, 'a to fence itself');
    await waitFor(() => hb.owns, 5 * TTL, 'b to take over after the TTL');
    assert.ok(hb.tokens[0] > ha.tokens[0]);
    b.release(hb);
  });

  test('C5: a server started with REDIS_URL serves a session and closes cleanly (leases released, no handles left)', async () => {
    const server = await startTestServer({ redisUrl: redis.url, instanceId: 'solo', leaseTtlMs: TTL });
    try {
      const s = await createSession(server.url);
      const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
      await waitFor(() => c.frames.length > 0, 10_000, 'a frame');
      assert.equal((await server.cluster!.leases.owner(s.id))?.instanceId, 'solo');
      c.close();
    } finally {
      await server.close();
    }
    const admin = await connect();
    assert.deepEqual(await admin.keys('atelier:lease:*'), [], 'the lease was released on close');
  });
});
