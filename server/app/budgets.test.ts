/**
 * Issue 18's budgets, one test per limit, against a real server (fake engine unless said).
 * Client addresses are told apart with X-Forwarded-For, honoured from the loopback proxy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { io as ioClient, type Socket } from 'socket.io-client';
import { ErrorCode, SOCKET_PATH, api, type CreateSessionResponse, type ErrorPayload, type ErrorResponse } from '../../shared/protocol.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import type { EngineEvents, EngineHost, EngineInputs, OpenOptions, SessionEngine } from '../session/engine-host.ts';
import { FakeEngineHost } from '../session/fake-engine.ts';
import { ImageStore } from '../images/store.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { ExportJobs } from '../history/export.ts';

const xff = (ip: string) => ({ 'X-Forwarded-For': ip });
const errorOf = async (res: Response) => ((await res.json()) as ErrorResponse).error;

function rawSocket(url: string, s: { id: string }, token: string, ip: string): Promise<Socket & { errors: ErrorPayload[] }> {
  const socket = ioClient(url, { path: SOCKET_PATH, auth: { session: s.id, token, name: 'raw' }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: xff(ip) }) as Socket & {
    errors: ErrorPayload[];
  };
  socket.errors = [];
  socket.on('error', (e: ErrorPayload) => socket.errors.push(e));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => (socket.close(), reject(e)));
  });
}

/** Opens stream.mjpg; resolves with the status (the response is kept open until `close`). */
function openStream(url: string, s: CreateSessionResponse, ip: string): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url + api.stream(s.id) + `?token=${s.viewerToken}`, { headers: xff(ip) }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('budgets over the wire', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  before(async () => {
    server = await startTestServer({
      idlePauseMs: 2000,
      maxSocketsPerIp: 3,
      sessionCreatesPerMin: 4,
      docMaxUpdateBytes: 64 * 1024,
      sessionMaxDocBytes: 256 * 1024,
      publicUrl: 'https://atelier.example.org',
      uploadPixelsPerMin: 100_000,
      maxImagePixels: 200_000,
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  test('S2: links come from PUBLIC_URL, never from the Host header', async () => {
    const res = await fetch(server.url + api.sessions, { method: 'POST', headers: { Host: 'attacker.example', ...xff('10.1.0.1') } });
    const body = (await res.json()) as CreateSessionResponse;
    assert.match(body.editorUrl, /^https:\/\/atelier\.example\.org\/s\/[\w-]+\?token=/);
    assert.match(body.viewerUrl, /^https:\/\/atelier\.example\.org\/s\/[\w-]+\/view\?token=/);
  });

  test('S25: uploaded pixels are budgeted per address (UPLOAD_PIXELS_PER_MIN), from the header before the decode', async () => {
    const s = await createSession(server.url, xff('10.1.3.1'));
    const upload = async (seed: number) => {
      const png = await sharp({ create: { width: 300, height: 300, channels: 3, background: { r: seed, g: 0, b: 0 } } }).png().toBuffer();
      return fetch(server.url + api.images(s.id), { method: 'POST', headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}`, ...xff('10.1.3.1') }, body: new Uint8Array(png) });
    };
    assert.equal((await upload(1)).status, 201);
    assert.equal((await upload(2)).status, 201, '180 000 of the 200 000-pixel burst');
    const refused = await upload(3);
    assert.equal(refused.status, 429);
    const err = await errorOf(refused);
    assert.equal(err.code, ErrorCode.RateLimited);
    assert.match(err.message, /UPLOAD_PIXELS_PER_MIN/);
  });

  test('R3: malformed percent-encoding in a path is 400 BAD_REQUEST, not 500', async () => {
    for (const p of ['/api/images/%E0%A4%A', '/api/sessions/%ZZ/frame.jpg', '/s/%']) {
      const res = await fetch(server.url + p);
      assert.equal(res.status, 400, p);
      assert.equal((await errorOf(res)).code, ErrorCode.BadRequest);
    }
  });

  test('R2, S17: sockets and MJPEG streams share MAX_SOCKETS_PER_IP of the trusted client address (X-Forwarded-For on sockets too)', async () => {
    const s = await createSession(server.url, xff('10.1.0.2'));
    const a = await rawSocket(server.url, s, s.viewerToken, '10.1.0.3');
    const st = await openStream(server.url, s, '10.1.0.3');
    assert.equal(st.status, 200);
    const b = await rawSocket(server.url, s, s.viewerToken, '10.1.0.3');
    const refused = await rawSocket(server.url, s, s.viewerToken, '10.1.0.3').then(
      () => assert.fail('a fourth connection from one address was accepted'),
      (e: Error & { data?: ErrorPayload }) => e,
    );
    assert.equal(refused.data?.code, ErrorCode.TooManyClients);
    const stream = await openStream(server.url, s, '10.1.0.3');
    assert.equal(stream.status, 429, 'a stream over the address limit');
    const other = await rawSocket(server.url, s, s.viewerToken, '10.1.0.4');
    assert.ok(other.connected, 'another address behind the same proxy has its own allowance');
    for (const x of [a, b, other]) x.close();
    st.close();
  });

  test('R2: forks spend the same per-address allowance as session creation', async () => {
    const s = await createSession(server.url, xff('10.1.0.5'));
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken, headers: xff('10.1.0.6') });
    clients.push(c);
    await waitFor(() => server.storage.latestKeyframe(s.id), 10_000, 'a keyframe');
    const fork = () => fetch(server.url + api.fork(s.id), { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${s.editorToken}`, ...xff('10.1.0.5') }, body: JSON.stringify({ t: Date.now() }) });
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await fork()).status);
    assert.deepEqual(answers, [201, 201, 201, 429, 429], 'one creation + three forks = SESSION_CREATES_PER_MIN (4)');
    const res = await fork();
    assert.equal((await errorOf(res)).code, ErrorCode.RateLimited);
  });

  test('S27: an update over DOC_MAX_UPDATE_BYTES and updates past SESSION_MAX_DOC_BYTES are refused with OVER_BUDGET', async () => {
    const s = await createSession(server.url, xff('10.1.0.7'));
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken, headers: xff('10.1.0.7') });
    clients.push(c);
    c.doc.getMap('scratch').set('big', 'x'.repeat(100 * 1024));
    await waitFor(() => c.errors.some((e) => e.code === ErrorCode.OverBudget), 5000, 'OVER_BUDGET');
    assert.match(c.errors.find((e) => e.code === ErrorCode.OverBudget)!.message, /DOC_MAX_UPDATE_BYTES/);
    const other = await createSession(server.url, xff('10.1.0.8'));
    const w = await connectClient({ url: server.url, session: other.id, token: other.editorToken, headers: xff('10.1.0.8') });
    clients.push(w);
    for (let i = 0; i < 8; i++) {
      w.doc.getMap('scratch').set(`k${i}`, 'y'.repeat(40 * 1024));
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor(() => w.errors.some((e) => /SESSION_MAX_DOC_BYTES/.test(e.message)), 5000, 'the session budget');
    const session = server.sessions.loaded().find((x) => x.id === other.id)!;
    assert.ok(session.docBytes <= 256 * 1024, `stored ${session.docBytes} bytes`);
  });

  test('S27: unknown params keys are dropped from the document for everyone', async () => {
    const s = await createSession(server.url, xff('10.1.0.9'));
    const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, headers: xff('10.1.0.9') });
    const b = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, headers: xff('10.1.0.10') });
    clients.push(a, b);
    a.doc.getMap('params').set('junk', 'z'.repeat(10_000));
    await waitFor(() => a.errors.some((e) => e.path === 'params.junk'), 5000, 'the report');
    assert.match(a.errors.find((e) => e.path === 'params.junk')!.message, /dropped/);
    await waitFor(() => !a.doc.getMap('params').has('junk') && !b.doc.getMap('params').has('junk'), 5000, 'the key gone everywhere');
    const session = server.sessions.loaded().find((x) => x.id === s.id)!;
    assert.equal(session.doc.getMap('params').has('junk'), false);
    assert.ok(Y.encodeStateAsUpdate(session.doc).length < 5000, 'the deleted content is garbage-collected');
  });

  test('S9: awareness is validated against the presence schema, rate-limited, and an id belongs to the socket that claimed it', async () => {
    const s = await createSession(server.url, xff('10.1.1.1'));
    const honest = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'ann', headers: xff('10.1.1.2') });
    clients.push(honest);
    honest.awareness.setLocalState({ user: { name: 'ann', color: '#ff0000' }, cursor: null });
    const watcher = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'watch', headers: xff('10.1.1.5') });
    clients.push(watcher);
    await waitFor(() => watcher.awareness.getStates().has(honest.doc.clientID), 5000, 'the honest presence');
    // A forger from another address takes the honest id with a huge clock: refused.
    const forger = await rawSocket(server.url, s, s.viewerToken, '10.1.1.3');
    const fdoc = new Y.Doc();
    fdoc.clientID = honest.doc.clientID;
    const faw = new awarenessProtocol.Awareness(fdoc);
    faw.setLocalState({ user: { name: 'forged', color: '#000000' } });
    (faw.meta.get(fdoc.clientID) as { clock: number }).clock = 2 ** 30;
    forger.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(faw, [fdoc.clientID]));
    await waitFor(() => forger.errors.length > 0, 5000, 'the refusal');
    assert.match(forger.errors[0].message, /belongs to another connection/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((watcher.awareness.getStates().get(honest.doc.clientID) as { user: { name: string } }).user.name, 'ann');
    // A state that does not match the schema (extra field, or too big) is refused.
    const odoc = new Y.Doc();
    const oaw = new awarenessProtocol.Awareness(odoc);
    oaw.setLocalState({ user: { name: 'x', color: '#000000' }, payload: 'y'.repeat(500) });
    forger.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(oaw, [odoc.clientID]));
    await waitFor(() => forger.errors.some((e) => /presence schema/.test(e.message)), 5000, 'the schema refusal');
    // The same tab reconnecting (same address, name and role) takes its id over before the old socket is gone.
    const again = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'ann', headers: xff('10.1.1.2') });
    clients.push(again);
    const adoc = new Y.Doc();
    adoc.clientID = honest.doc.clientID;
    const aaw = new awarenessProtocol.Awareness(adoc);
    aaw.setLocalState({ user: { name: 'ann again', color: '#ff0000' } });
    (aaw.meta.get(adoc.clientID) as { clock: number }).clock = 100;
    again.socket.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(aaw, [adoc.clientID]));
    await waitFor(() => (watcher.awareness.getStates().get(honest.doc.clientID) as { user: { name: string } } | undefined)?.user.name === 'ann again', 5000, 'the takeover');
    // Rate: far over 30 messages/s → RATE_LIMITED.
    const flood = await rawSocket(server.url, s, s.viewerToken, '10.1.1.4');
    const ldoc = new Y.Doc();
    const law = new awarenessProtocol.Awareness(ldoc);
    for (let i = 0; i < 100; i++) {
      law.setLocalStateField('cursor', { x: i, y: i });
      if (i === 0) law.setLocalStateField('user', { name: 'f', color: '#00ff00' });
      flood.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(law, [ldoc.clientID]));
    }
    await waitFor(() => flood.errors.some((e) => e.code === ErrorCode.RateLimited), 5000, 'RATE_LIMITED');
    assert.match(flood.errors.find((e) => e.code === ErrorCode.RateLimited)!.message, /30\/s/);
    for (const x of [forger, flood]) x.close();
    for (const a of [faw, oaw, aaw, law]) a.destroy();
  });

  test('R2, S27: a step1 is charged by the size of its answer', async () => {
    const s = await createSession(server.url, xff('10.1.2.1'));
    const w = await connectClient({ url: server.url, session: s.id, token: s.editorToken, headers: xff('10.1.2.1') });
    clients.push(w);
    // ~150 KB of document (under both doc budgets of this server).
    for (let i = 0; i < 3; i++) w.doc.getMap('scratch').set(`k${i}`, String(i).repeat(50 * 1024));
    await waitFor(() => server.sessions.loaded().find((x) => x.id === s.id)!.docBytes > 150 * 1024, 5000, 'the document');
    const limited = await startTestServer({ idlePauseMs: 2000, socketByteRate: 64 * 1024, socketByteBurst: 64 * 1024, socketMaxMessageBytes: 32 * 1024 }, { storage: server.storage });
    try {
      const v = await rawSocket(limited.url, s, s.viewerToken, '10.1.2.2');
      let answers = 0;
      v.on('y:sync', () => answers++);
      for (let i = 0; i < 5; i++) v.emit('y:sync', new Uint8Array([0, 1, 0]));
      await waitFor(() => v.errors.some((e) => e.code === ErrorCode.RateLimited) && answers >= 1, 5000, 'RATE_LIMITED and one answer');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(answers, 1, `one 150 KB answer spends a 64 KB/s bucket; the next step1s are refused (got ${answers} answers, errors ${JSON.stringify(v.errors)})`);
      v.close();
    } finally {
      await limited.close();
    }
  });
});

test('S25: images are decoded at the size they are used at, and the decoded cache is bounded by bytes', async () => {
  const storage = new MemoryStorage();
  const store = new ImageStore(storage, 3 * 64 * 64 * 3);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const png = await sharp({ create: { width: 1000, height: 500, channels: 3, background: { r: i * 40, g: 0, b: 0 } } }).png().toBuffer();
    ids.push(await store.put(png, 'image/png', 1000, 500));
  }
  const styled = await store.decode(ids[0], { maxSide: 64 });
  assert.deepEqual([styled.width, styled.height], [64, 32], 'long side 64, aspect kept');
  const canvas = await store.decode(ids[0], { width: 50, height: 40 });
  assert.deepEqual([canvas.width, canvas.height, canvas.data.length], [50, 40, 50 * 40 * 3], 'the canvas size exactly');
  for (const id of ids) await store.decode(id, { width: 64, height: 64 });
  assert.ok(store.cachedBytes <= 3 * 64 * 64 * 3, `cache holds ${store.cachedBytes} bytes`);
  assert.deepEqual(store.dims(ids[1]), { width: 1000, height: 500 });
  const full = await store.decode(ids[0]);
  assert.equal(full.width, 1000, 'no target: full size (the CLI)');
  assert.equal(store.cachedBytes <= 3 * 64 * 64 * 3, true, 'an entry larger than the budget is not kept');
});

/** Fake host with a step estimate: 1 ms per 100 pixels (mobilenet_v2), so 256² ≈ 655 ms. */
class EstimatingHost implements EngineHost {
  readonly inner = new FakeEngineHost({ frameRate: 10, frameQuality: 70 });
  readonly backend = 'fake';
  opens: { inputs: EngineInputs; options: OpenOptions }[] = [];
  updates: Partial<EngineInputs>[] = [];
  estimateStepMs(_model: string, pixels: number): number {
    return pixels / 100;
  }
  open(id: string, inputs: EngineInputs, options: OpenOptions, events: EngineEvents): SessionEngine {
    this.opens.push({ inputs, options });
    const e = this.inner.open(id, inputs, options, events);
    return { update: (c) => (this.updates.push(c), e.update(c)), setActive: (a) => e.setActive(a), dispose: () => e.dispose() };
  }
  close() {
    return this.inner.close();
  }
}

test('S26, S25: resolution is admitted against ENGINE_MAX_STEP_MS; styles against SESSION_MAX_STYLE_PIXELS; the owner address is the scheduling group', async () => {
  const host = new EstimatingHost();
  const server = await startTestServer({ idlePauseMs: 2000, engineMaxStepMs: 1000, sessionMaxStylePixels: 300_000 }, { engineHost: host });
  try {
    const s = await createSession(server.url, xff('10.3.0.1'));
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken, headers: xff('10.3.0.2') });
    await waitFor(() => host.opens.length === 1, 5000, 'the engine');
    assert.equal(host.opens[0].options.group, '10.3.0.1', 'the creating address');
    c.doc.getMap('params').set('resolution', 2048);
    await waitFor(() => c.errors.some((e) => e.code === ErrorCode.OverBudget), 5000, 'OVER_BUDGET');
    const err = c.errors.find((e) => e.code === ErrorCode.OverBudget)!;
    assert.equal(err.path, 'params.resolution');
    assert.match(err.message, /ENGINE_MAX_STEP_MS/);
    await waitFor(() => host.updates.some((u) => u.params), 5000, 'the params');
    const res = host.updates.filter((u) => u.params).at(-1)!.params!.resolution;
    // Chelsea is 451×300: at resolution r the step has r × 0.665 r pixels; 1000 ms ↔ 100 000 px → r ≈ 387.
    assert.ok(res < 2048 && res >= 350 && res <= 390, `the engine runs at ${res}`);
    await waitFor(() => host.updates.some((u) => u.content && u.content.width === res), 5000, 'the canvas at the admitted working size');
    // Styles: 300 000 pixels at scale 2 × resolution ~387 → ~774² ≈ 400 000 for a square style → refused.
    const styles = c.doc.getArray<Y.Map<unknown>>('styles');
    const id = (styles.get(0) as Y.Map<unknown>).get('imageId') as string;
    c.doc.transact(() => {
      const m = new Y.Map<unknown>();
      m.set('imageId', id);
      m.set('weight', 1);
      m.set('scale', 2);
      styles.push([m]);
    });
    await waitFor(() => c.errors.some((e) => e.path === 'styles[1]'), 5000, 'the style refusal');
    assert.match(c.errors.find((e) => e.path === 'styles[1]')!.message, /SESSION_MAX_STYLE_PIXELS/);
    c.close();
  } finally {
    await server.close();
  }
});

test('S28: export jobs are capped per session and per address, one slot is left for others, results are files', async () => {
  const jobs = new ExportJobs({ maxPerSession: 2, maxPerAddress: 3, maxJobs: 10, concurrency: 2, maxPixels: 4_000_000 });
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } }).jpeg().toBuffer();
  const kf = (id: number) => ({ id, sessionId: 's', iter: id, width: 64, height: 48, mime: 'image/jpeg' as const, data: jpeg, losses: { total: 1, style: 1, content: 1, tv: 0 }, time: id });
  const source = { list: () => [1, 2, 3].map((i) => { const { data: _d, ...m } = kf(i); return m; }), get: (id: number) => kf(id) };
  try {
    await jobs.start('a', source, { format: 'gif', fps: 8, size: 512 }, '10.4.0.1');
    await jobs.start('a', source, { format: 'gif', fps: 8, size: 512 }, '10.4.0.1');
    await assert.rejects(jobs.start('a', source, { format: 'gif', fps: 8 }, '10.4.0.1'), /EXPORT_MAX_JOBS_PER_SESSION/);
    await jobs.start('b', source, { format: 'gif', fps: 8, size: 512 }, '10.4.0.1');
    await assert.rejects(jobs.start('c', source, { format: 'gif', fps: 8 }, '10.4.0.1'), /EXPORT_MAX_JOBS_PER_IP/);
    // The honest job of another address starts at once in the slot the first address may not take.
    const honest = await jobs.start('d', source, { format: 'png', fps: 8, size: 64 }, '10.4.0.2');
    assert.equal(jobs.status(honest.jobId)!.state, 'running');
    await jobs.idle();
    const file = jobs.file(honest.jobId)!;
    assert.ok(existsSync(file.path) && file.bytes > 0, 'the result is a file on disk');
  } finally {
    jobs.close();
  }
});
