import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { io as ioClient, type Socket } from 'socket.io-client';
import { ErrorCode, SOCKET_PATH, api, type ErrorPayload, type ErrorResponse } from '../../shared/protocol.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';

type Raw = Socket & { emit(event: string, ...args: unknown[]): Socket };

/** A raw socket.io client (no Y.Doc) that records errors and whether it was disconnected. */
function rawSocket(url: string, session: string, token: string): Promise<{ socket: Raw; errors: ErrorPayload[]; gone: Promise<string> }> {
  const socket = ioClient(url, { path: SOCKET_PATH, auth: { session, token, name: 'raw' }, transports: ['websocket'], reconnection: false, forceNew: true }) as Raw;
  const errors: ErrorPayload[] = [];
  socket.on('error', (e: ErrorPayload) => errors.push(e));
  const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, errors, gone }));
    socket.once('connect_error', (e) => {
      socket.close();
      reject(e);
    });
  });
}

describe('per-socket limits', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  before(async () => {
    server = await startTestServer({ idlePauseMs: 2000, socketMsgRate: 20, socketMsgBurst: 20, socketMaxBadMessages: 3 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  test('R2: an honest burst over the rate gets RATE_LIMITED, and the dropped edits come back by resync', async () => {
    const s = await createSession(server.url);
    const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'fast' });
    const b = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'other' });
    clients.push(a, b);
    for (let i = 0; i < 60; i++) a.doc.getMap('params').set('seed', i);
    await waitFor(() => a.errors.some((e) => e.code === ErrorCode.RateLimited), 5000, 'RATE_LIMITED');
    assert.match(a.errors.find((e) => e.code === ErrorCode.RateLimited)!.message, /20 messages\/s/);
    // The server asks the editor for what it missed (step1 → step2): both end on the last value.
    await waitFor(() => b.doc.getMap('params').get('seed') === 59, 5000, 'the last edit after the resync');
    assert.equal(a.socket.connected, true, 'one burst does not cost the connection');
  });

  test('R2: a socket that keeps flooding is disconnected after its strikes', async () => {
    const s = await createSession(server.url);
    const x = await rawSocket(server.url, s.id, s.editorToken);
    const flood = setInterval(() => {
      for (let i = 0; i < 30; i++) x.socket.emit('y:sync', new Uint8Array([2, 2, 0, 0]));
    }, 50);
    try {
      const reason = await Promise.race([x.gone, new Promise<string>((r) => setTimeout(() => r('still connected'), 15_000))]);
      assert.equal(reason, 'io server disconnect');
      assert.ok(x.errors.every((e) => e.code === ErrorCode.RateLimited));
      assert.match(x.errors.at(-1)!.message, /disconnecting/);
    } finally {
      clearInterval(flood);
      x.socket.close();
    }
  });

  test('R1: a socket sending garbage is disconnected after SOCKET_MAX_BAD_MESSAGES strikes', async () => {
    const s = await createSession(server.url);
    const x = await rawSocket(server.url, s.id, s.viewerToken);
    x.socket.emit('y:sync', 'not binary');
    x.socket.emit('y:awareness', { fake: true });
    x.socket.emit('made:up', 1);
    x.socket.emit('y:sync', new Uint8Array([7, 7, 7]));
    assert.equal(await x.gone, 'io server disconnect');
    assert.deepEqual(
      x.errors.map((e) => e.code),
      [ErrorCode.BadMessage, ErrorCode.BadMessage, ErrorCode.BadMessage, ErrorCode.BadMessage],
    );
    assert.ok(x.errors.some((e) => /unknown event 'made:up'/.test(e.message)));
    assert.match(x.errors.at(-1)!.message, /too many bad messages, disconnecting/);
    x.socket.close();
  });
});

describe('per-address limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ idlePauseMs: 2000, maxSocketsPerIp: 2, sessionCreatesPerMin: 3, uploadsPerMin: 2 });
  });
  after(async () => {
    await server.close();
  });
  const errorOf = async (res: Response) => ((await res.json()) as ErrorResponse).error;

  test('R2: more sockets from one address than MAX_SOCKETS_PER_IP are refused with TOO_MANY_CLIENTS', async () => {
    const s = await createSession(server.url);
    const one = await rawSocket(server.url, s.id, s.viewerToken);
    const two = await rawSocket(server.url, s.id, s.viewerToken);
    const refused = await rawSocket(server.url, s.id, s.viewerToken).then(
      () => assert.fail('a third socket was accepted'),
      (e: Error & { data?: ErrorPayload }) => e,
    );
    assert.equal(refused.data?.code, ErrorCode.TooManyClients);
    assert.match(refused.message, /maximum of 2 connections/);
    one.socket.close();
    await waitFor(async () => {
      try {
        const three = await rawSocket(server.url, s.id, s.viewerToken);
        three.socket.close();
        return true;
      } catch {
        return false;
      }
    }, 5000, 'a slot after a socket left');
    two.socket.close();
  });

  test('R2: session creation is limited per address with 429 RATE_LIMITED and Retry-After', async () => {
    const post = (ip: string) => fetch(server.url + api.sessions, { method: 'POST', headers: { 'X-Forwarded-For': ip } });
    for (let i = 0; i < 3; i++) assert.equal((await post('10.0.0.5')).status, 201);
    const limited = await post('10.0.0.5');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const err = await errorOf(limited);
    assert.equal(err.code, ErrorCode.RateLimited);
    assert.match(err.message, /3 per minute/);
    assert.equal((await post('10.0.0.6')).status, 201, 'another address is not affected');
  });

  test('R2: uploads are limited per address with 429 RATE_LIMITED', async () => {
    const s = (await (await fetch(server.url + api.sessions, { method: 'POST', headers: { 'X-Forwarded-For': '10.0.0.9' } })).json()) as { id: string; editorToken: string };
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } }).png().toBuffer();
    const upload = () =>
      fetch(server.url + api.images(s.id), {
        method: 'POST',
        headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}`, 'X-Forwarded-For': '10.0.0.10' },
        body: new Uint8Array(png),
      });
    assert.equal((await upload()).status, 201);
    assert.equal((await upload()).status, 201);
    const limited = await upload();
    assert.equal(limited.status, 429);
    assert.equal((await errorOf(limited)).code, ErrorCode.RateLimited);
  });
});

describe('slow consumers', () => {
  test('R2: a socket that stops reading is dropped once its send queue passes SOCKET_MAX_BUFFERED_BYTES', async () => {
    const server = await startTestServer({
      idlePauseMs: 2000,
      socketMaxBufferedBytes: 2 * 1024 * 1024,
      socketMsgRate: 1e6,
      socketMsgBurst: 1e6,
      socketByteRate: 1024 ** 3,
      socketByteBurst: 1024 ** 3,
    });
    const clients: TestClient[] = [];
    try {
      const s = await createSession(server.url);
      const writer = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'writer' });
      const stalled = await rawSocket(server.url, s.id, s.viewerToken);
      clients.push(writer);
      // Stop reading from the TCP socket: the kernel buffers fill, then socket.io's queue grows.
      const engine = (stalled.socket as unknown as { io: { engine: { transport: { ws: { _socket: { pause(): void } } } } } }).io.engine;
      engine.transport.ws._socket.pause();
      // Big updates the validation fence has nothing to say about (a map it does not watch).
      const big = 'x'.repeat(1_000_000);
      let i = 0;
      const pump = setInterval(() => writer.doc.getMap('scratch').set(`k${i++ % 10}`, big), 20);
      try {
        await waitFor(() => server.io.of('/').sockets.size === 1, 20_000, 'the stalled socket to be dropped');
      } finally {
        clearInterval(pump);
      }
      // The socket that keeps up stays connected.
      assert.equal(writer.socket.connected, true);
      assert.equal([...server.io.of('/').sockets.values()][0].data.name, 'writer');
      assert.ok(i < 1000, 'dropped well before the writer sent 1 GB');
      stalled.socket.close();
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });
});
