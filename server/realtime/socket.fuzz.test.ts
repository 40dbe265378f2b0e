/**
 * Fuzzing the socket handlers: 100k seeded hostile messages (random and mutated y-protocols sync and
 * awareness messages, truncated and oversize ones, non-binary payloads, unknown events, valid
 * updates carrying bad values) from several sockets with editor and viewer tokens, while two
 * honest editors draw and a viewer watches. Afterwards the server is up, every honest stroke is
 * there, and all documents (server, editors, viewer, a fresh client) are identical.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { io as ioClient, type Socket } from 'socket.io-client';
import { SOCKET_PATH } from '../../shared/protocol.ts';
import { connectClient, createSession, docJson, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import { addStroke, mutate, nonBinaryPayload, prng, randInt, randomBytes, recordSeedMessages, strokeIds } from '../testing/fuzz-kit.ts';
import { isDeepStrictEqual } from 'node:util';

const SEED = 20261126;
const TOTAL_MESSAGES = 100_000;
const ATTACKERS = 4;
const BURST = 500;
const MAX_MESSAGE_BYTES = 64 * 1024;

type Raw = Socket & { emit(event: string, ...args: unknown[]): Socket };

/** A raw socket.io client that sends whatever it is given and can wait for the server to catch up. */
class Attacker {
  socket!: Raw;
  disconnects = 0;
  errors = 0;
  constructor(
    private url: string,
    private auth: { session: string; token: string; name: string },
  ) {}

  async connect(): Promise<void> {
    const s = ioClient(this.url, { path: SOCKET_PATH, auth: this.auth, transports: ['websocket'], reconnection: false, forceNew: true }) as Raw;
    s.on('error', () => this.errors++);
    s.on('disconnect', () => this.disconnects++);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
    this.socket = s;
  }

  /** Sends a valid step1 and waits for its step2: every message before it has been handled. */
  async barrier(): Promise<void> {
    if (!this.socket.connected) await this.connect();
    const s = this.socket;
    await new Promise<void>((resolve) => {
      const onSync = (m: Uint8Array) => {
        if (new Uint8Array(m)[0] === 1) done();
      };
      const done = () => {
        s.off('y:sync', onSync);
        s.off('disconnect', done);
        resolve();
      };
      s.on('y:sync', onSync);
      s.once('disconnect', done);
      s.emit('y:sync', new Uint8Array([0, 1, 0]));
    });
    if (!this.socket.connected) await this.connect();
  }

  close(): void {
    this.socket?.close();
  }
}

describe('socket fuzzing', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      idlePauseMs: 10_000,
      // Rate limits out of the way (they have their own tests): every message reaches the handlers.
      socketMsgRate: 1e6,
      socketMsgBurst: 1e7,
      socketByteRate: 1024 ** 3,
      socketByteBurst: 1024 ** 3,
      socketMaxBadMessages: 0,
      socketMaxMessageBytes: MAX_MESSAGE_BYTES,
    });
  });
  after(async () => {
    await server.close();
  });

  test(`S7/R1: after ${TOTAL_MESSAGES} hostile messages (seed ${SEED}) the server is up and honest documents are intact and converge`, async () => {
    const rnd = prng(SEED);
    const s = await createSession(server.url);
    const honest: TestClient[] = [];
    const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'alice' });
    const b = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'bob' });
    const v = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'viewer' });
    honest.push(a, b, v);
    const attackers = Array.from(
      { length: ATTACKERS },
      (_, i) => new Attacker(server.url, { session: s.id, token: i === ATTACKERS - 1 ? s.viewerToken : s.editorToken, name: `fuzz${i}` }),
    );
    const honestStrokes: string[] = [];
    // y-protocols swallows a throwing update with console.error: count those (server or client).
    let swallowed = 0;
    const consoleError = console.error;
    console.error = (...args: unknown[]) => {
      if (String(args[0]).includes('Yjs update')) swallowed++;
      else consoleError(...args);
    };
    try {
      await Promise.all(attackers.map((x) => x.connect()));
      const seeds = recordSeedMessages(SEED);
      const events = ['y:sync', 'y:awareness'];
      const nextMessage = (): [string, unknown] => {
        const r = rnd();
        const anySync = seeds.sync[randInt(rnd, seeds.sync.length)];
        if (r < 0.25) return ['y:sync', mutate(rnd, anySync)];
        if (r < 0.35) return ['y:sync', anySync.subarray(0, randInt(rnd, anySync.length))];
        if (r < 0.45) return [events[randInt(rnd, 2)], randomBytes(rnd, randInt(rnd, 64))];
        if (r < 0.55) {
          const payload = randomBytes(rnd, randInt(rnd, 40));
          return ['y:sync', Uint8Array.from([randInt(rnd, 4), payload.length, ...payload])];
        }
        if (r < 0.65) return ['y:awareness', mutate(rnd, seeds.awareness[randInt(rnd, seeds.awareness.length)])];
        if (r < 0.75) return [events[randInt(rnd, 2)], nonBinaryPayload(rnd)];
        if (r < 0.8) return [`evt${randInt(rnd, 1000)}`, randomBytes(rnd, 8)];
        if (r < 0.9) return ['y:sync', anySync];
        return ['y:awareness', seeds.awareness[randInt(rnd, seeds.awareness.length)]];
      };

      // Oversize: just over the guard's limit (refused with an error) and far over socket.io's
      // buffer (the transport drops the connection; the attacker reconnects).
      for (let i = 0; i < 10; i++) attackers[0].socket.emit('y:sync', new Uint8Array(MAX_MESSAGE_BYTES + 10));
      await attackers[0].barrier();
      attackers[1].socket.emit('y:sync', new Uint8Array(MAX_MESSAGE_BYTES * 4));
      await attackers[1].barrier();

      let sent = 0;
      let round = 0;
      while (sent < TOTAL_MESSAGES) {
        round++;
        // Honest edits interleaved with the attack.
        const writer = round % 2 ? a : b;
        const id = `honest-${round}`;
        const pts = addStroke(writer.doc, id, [round, round, round + 5, round + 5], writer === a ? 'alice' : 'bob');
        pts.push([round + 10, round + 12]);
        honestStrokes.push(id);
        if (round % 5 === 0) writer.doc.getMap('params').set('seed', round);
        await Promise.all(
          attackers.map(async (x) => {
            for (let i = 0; i < BURST && sent < TOTAL_MESSAGES; i++, sent++) {
              const [event, payload] = nextMessage();
              x.socket.emit(event, payload);
            }
            await x.barrier();
          }),
        );
      }

      // Up: health, and a fresh client syncs.
      const health = await fetch(server.url + '/healthz');
      assert.equal(health.status, 200);
      const session = server.sessions.loadedSession(s.id)!;
      const last = honestStrokes.at(-1)!;
      await waitFor(() => honest.every((c) => strokeIds(c.doc).has(last)), 30_000, 'the last honest stroke everywhere');
      const fresh = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'late' });
      honest.push(fresh);
      // Converge to the server's document as it is when they meet: a late resync (an honest edit
      // dropped by the rate limit is re-sent a second later) may still change it after the flood.
      // Compared structurally: a Y.Map's key order can differ between equal documents.
      await waitFor(() => {
        const now = docJson(session.doc);
        return honest.every((c) => isDeepStrictEqual(docJson(c.doc), now));
      }, 30_000, 'convergence');
      const reference = docJson(session.doc);
      for (const c of honest) {
        assert.deepEqual(docJson(c.doc), reference);
        assert.deepEqual(Y.decodeStateVector(Y.encodeStateVector(c.doc)), Y.decodeStateVector(Y.encodeStateVector(session.doc)));
        const ids = strokeIds(c.doc);
        for (const id of honestStrokes) assert.ok(ids.has(id), `honest stroke ${id} survived`);
      }
      // The honest writers were never told their own edits were bad.
      assert.deepEqual(a.errors.filter((e) => e.code !== 'INVALID_VALUE'), []);
      assert.deepEqual(b.errors.filter((e) => e.code !== 'INVALID_VALUE'), []);
      assert.ok(attackers.some((x) => x.errors > 1000), 'the attackers were answered with errors');
      // The engine still runs on valid values.
      await waitFor(() => fresh.frames.length > 0, 5000, 'a frame after the fuzzing');
      assert.ok(Number.isFinite(session.validator.state().params.styleWeight));
      assert.equal(swallowed, 0, 'no update failed half-way (server or client)');
    } finally {
      console.error = consoleError;
      for (const x of attackers) x.close();
      for (const c of honest) c.close();
    }
  });
});
