/**
 * Hostile-client suite (issue 18): runs each attack of the issue against a real server that this
 * script starts itself (child process, 127.0.0.1, port 0, temp DATA_DIR, default limits, the real
 * engine with the embedded default unless `--engine fake`), and measures what it costs everyone
 * else: the slowest `/healthz` answer, a bystander session's steps/s (the bystander watches its own
 * session from another client address), and the server's RSS before / peak / after.
 *
 *   npm run attack -- [--engine real|fake] [--only strokes,canvas,…] [--write]
 *
 * Loopback only, bounded in count (each attack's sizes are fixed) and time (each attack has a
 * deadline; the whole run stops after --max-minutes, default 10). Client addresses are told apart
 * with X-Forwarded-For, which the server honours from its loopback proxy (TRUST_PROXY): the
 * attacker is 10.66.0.1, the bystander 10.2.0.1, so per-address limits and the engine's fair
 * share apply to them as to two people on the network.
 *
 * Bystander steps/s are compared with a baseline taken just before each attack while the
 * attacker's session runs honestly (default document): sharing the device with one more honest
 * session is the normal cost of a neighbour, the attack's cost is what comes on top. `--write`
 * puts the table into docs/RELIABILITY.md between `<!-- results:attack -->` markers.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ServerChild } from './server-child.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import http from 'node:http';
import sharp from 'sharp';
import * as Y from 'yjs';
import { io as ioClient, type Socket } from 'socket.io-client';
import { SOCKET_PATH, api, type CreateSessionResponse, type ErrorPayload, type FramePayload } from '../shared/protocol.ts';
import { exitWithUsage, numberArg, readArgs } from './cli-args.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ATTACKER = '10.66.0.1';
const BYSTANDER = '10.2.0.1';
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ─── child: the server ──────────────────────────────────────────────────────────────────────────

async function serve(engine: string): Promise<void> {
  const { loadConfig } = await import('../server/config.ts');
  const { startServer } = await import('../server/app/server.ts');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-attack-'));
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    IDLE_PAUSE_MS: '4000',
    KEYFRAME_INTERVAL_MS: '1000',
    ATELIER_FAKE_ENGINE: engine === 'fake' ? '1' : '0',
  });
  const server = await startServer(config);
  if ('ready' in server.engineHost) await (server.engineHost as { ready: Promise<unknown> }).ready;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on('message', (m: { type: string }) => {
    if (m.type === 'sample') {
      const mem = process.memoryUsage();
      process.send!({ type: 'sample', sample: { rss: mem.rss, heap: mem.heapUsed, loopMax: loop.max / 1e6, loopP99: loop.percentile(99) / 1e6, sessions: server.sessions.loaded().length } });
      loop.reset();
    }
    if (m.type === 'stop') void server.close().then(() => (rmSync(dataDir, { recursive: true, force: true }), process.exit(0)));
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
  process.send!({ type: 'ready', url: server.url, backend: server.engineHost.backend });
}

interface Sample {
  rss: number;
  heap: number;
  loopMax: number;
  loopP99: number;
  sessions: number;
}

/** The server child of this script (scripts/server-child.ts), with the attack's sample. */
type AttackServer = ServerChild<Sample>;

function startServer(engine: string): Promise<AttackServer> {
  return ServerChild.start<Sample>({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', '--engine', engine],
    cwd: repoRoot,
    // ATTACK_SERVER_NODE_ARGS="--cpu-prof" profiles the server (a .cpuprofile lands in the repo root).
    nodeArgsVar: 'ATTACK_SERVER_NODE_ARGS',
    env: { ...process.env, ATELIER_LOG: process.env.ATELIER_LOG ?? 'error' },
    startTimeoutMs: 180_000,
    stopTimeoutMs: 15_000,
  });
}

// ─── clients ────────────────────────────────────────────────────────────────────────────────────

const xff = (ip: string) => ({ 'X-Forwarded-For': ip });

async function request(url: string, init: RequestInit & { ip?: string } = {}): Promise<{ status: number; body: any; ms: number }> {
  const t = performance.now();
  const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(init.ip ? xff(init.ip) : {}) } });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, ms: performance.now() - t };
}

async function newSession(url: string, ip: string): Promise<CreateSessionResponse> {
  const r = await request(url + api.sessions, { method: 'POST', ip });
  if (r.status !== 201) throw new Error(`POST /api/sessions → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as CreateSessionResponse;
}

async function editor(url: string, s: CreateSessionResponse, ip: string, name = 'attacker') {
  const { connectClient } = await import('../server/testing/index.ts');
  return connectClient({ url, session: s.id, token: s.editorToken, name, headers: xff(ip) });
}

/** A raw socket.io client (no Y.Doc). */
function rawSocket(url: string, session: string, token: string, ip: string): Promise<Socket & { errors: ErrorPayload[] }> {
  const socket = ioClient(url, { path: SOCKET_PATH, auth: { session, token, name: 'raw' }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: xff(ip) }) as Socket & { errors: ErrorPayload[] };
  socket.errors = [];
  socket.on('error', (e: ErrorPayload) => socket.errors.push(e));
  socket.on('frame', (_f: FramePayload, ack: () => void) => ack());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => (socket.close(), reject(e)));
  });
}

/** Watches a session as a viewer and counts its optimizer iterations from the frames. */
class Bystander {
  private frames: { t: number; iter: number }[] = [];
  constructor(readonly socket: Socket) {
    socket.on('frame', (f: FramePayload, ack: () => void) => {
      this.frames.push({ t: performance.now(), iter: f.iter });
      if (this.frames.length > 5000) this.frames.splice(0, 1000);
      ack();
    });
  }
  static async start(url: string): Promise<{ b: Bystander; s: CreateSessionResponse }> {
    const s = await newSession(url, BYSTANDER);
    const socket = await rawSocket(url, s.id, s.viewerToken, BYSTANDER);
    return { b: new Bystander(socket), s };
  }
  /** Steps per second between t0 and t1 (from the iteration counter of the frames). */
  stepsPerSec(t0: number, t1: number): number {
    const inside = this.frames.filter((f) => f.t >= t0 && f.t <= t1);
    const before = this.frames.filter((f) => f.t < t0).at(-1) ?? inside[0];
    const last = inside.at(-1);
    if (!before || !last || last === before) return 0;
    return (last.iter - before.iter) / ((t1 - t0) / 1000);
  }
}

/**
 * Polls /healthz back to back (one request at a time) from its own process — so what it measures
 * is the server, not this process's event loop, busy with the attacker's hundreds of streams —
 * and reports the slowest answer since the last `take`.
 */
function probeMain(url: string): void {
  let max = 0;
  let failures = 0;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'take') {
      process.send!({ type: 'probe', max, failures });
      max = 0;
      failures = 0;
    }
  });
  process.on('disconnect', () => process.exit(0));
  void (async () => {
    for (;;) {
      const t = performance.now();
      try {
        const res = await fetch(url + api.health, { signal: AbortSignal.timeout(30_000) });
        await res.text();
        if (!res.ok) failures++;
      } catch {
        failures++;
      }
      max = Math.max(max, performance.now() - t);
      await sleep(50);
    }
  })();
}

class HealthProbe {
  private proc: ChildProcess;
  constructor(url: string) {
    this.proc = fork(fileURLToPath(import.meta.url), ['--probe', url], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  /** The slowest answer since the previous call (ms). */
  take(): Promise<number> {
    return new Promise((resolve) => {
      this.proc.once('message', (m: { max: number }) => resolve(m.max));
      this.proc.send({ type: 'take' });
    });
  }
  stop(): void {
    this.proc.kill();
  }
}

// ─── attacks ────────────────────────────────────────────────────────────────────────────────────

interface Ctx {
  url: string;
  server: AttackServer;
  /** The attacker's own session (created once, honest until an attack starts). */
  session: CreateSessionResponse;
  notes: string[];
}

type Attack = { name: string; what: string; run: (c: Ctx) => Promise<void> };

function zigzag(n: number, w: number, h: number): number[] {
  const pts: number[] = [];
  for (let i = 0; i < n; i++) pts.push(i % 2 ? 0 : w - 1, i % 2 ? 0 : h - 1);
  return pts;
}

function strokeMap(id: string, points: number[], size: number): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries({ id, author: 'attacker', tool: 'brush', color: '#ff0000', size, opacity: 1, points })) m.set(k, v);
  return m;
}

const codes = (errors: readonly ErrorPayload[]) => [...new Set(errors.map((e) => e.code))].join(', ') || 'none';
const firstMessage = (errors: readonly ErrorPayload[], code: string) => errors.find((e) => e.code === code)?.message.slice(0, 160);

async function pngOf(width: number, height: number, seed: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: (seed * 37) % 256, g: (seed * 91) % 256, b: (seed * 53) % 256 } } }).png({ compressionLevel: 9 }).toBuffer();
}

async function upload(c: Ctx, s: CreateSessionResponse, png: Buffer): Promise<{ imageId: string; width: number; height: number }> {
  const r = await request(c.url + api.images(s.id), { method: 'POST', body: new Uint8Array(png), ip: ATTACKER, headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}` } });
  if (r.status !== 201) throw new Error(`upload → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const ATTACKS: Attack[] = [
  {
    name: 'strokes',
    what: 'one stroke of 10 000 points zig-zagging corner to corner at size 512; three in one message; a 4096² canvas with a 100-point stroke; then a viewer GET frame.jpg after the session unloaded',
    run: async (c) => {
      const a = await editor(c.url, c.session, ATTACKER);
      const strokes = a.doc.getArray('strokes');
      strokes.push([strokeMap('z1', zigzag(10_000, 451, 300), 512)]);
      await sleep(1500);
      a.doc.transact(() => strokes.push([1, 2, 3].map((i) => strokeMap(`z3-${i}`, zigzag(10_000, 451, 300), 512))));
      await sleep(1500);
      a.doc.transact(() => {
        const content = a.doc.getMap('content');
        content.delete('imageId');
        content.set('width', 4096);
        content.set('height', 4096);
        strokes.push([strokeMap('big', zigzag(100, 4096, 4096), 512)]);
      });
      await sleep(3000);
      c.notes.push(`attacker got ${codes(a.errors)}: "${firstMessage(a.errors, 'OVER_BUDGET') ?? ''}"`);
      a.close();
      await sleep(6500); // IDLE_PAUSE_MS 4 s: the session unloads
      const f = await request(c.url + api.frame(c.session.id) + `?token=${c.session.viewerToken}`, { ip: ATTACKER });
      c.notes.push(`frame.jpg after unload: ${f.status} in ${Math.round(f.ms)} ms`);
      await sleep(2000);
    },
  },
  {
    name: 'canvas',
    what: 'content 4096×4096 (an uploaded 4096² photo) with resolution 2048',
    run: async (c) => {
      const img = await upload(c, c.session, await pngOf(4096, 4096, 3));
      const a = await editor(c.url, c.session, ATTACKER);
      a.doc.transact(() => {
        const content = a.doc.getMap('content');
        content.set('imageId', img.imageId);
        content.set('width', 4096);
        content.set('height', 4096);
        a.doc.getMap('params').set('resolution', 2048);
      });
      await sleep(15_000);
      c.notes.push(`attacker got ${codes(a.errors)}: "${firstMessage(a.errors, 'OVER_BUDGET') ?? ''}"`);
      a.doc.getMap('params').set('resolution', 256);
      await sleep(1000);
      a.close();
    },
  },
  {
    name: 'images',
    what: 'eight 6300×6300 PNGs (~100 KB each, within the upload and pixel limits) as styles, at scale 4',
    run: async (c) => {
      const ids: string[] = [];
      let refused = '';
      for (let i = 0; i < 8; i++) {
        try {
          ids.push((await upload(c, c.session, await pngOf(6300, 6300, 10 + i))).imageId);
        } catch (e) {
          refused ||= (e as Error).message.slice(0, 160);
        }
      }
      c.notes.push(`${ids.length} of 8 uploads accepted${refused ? ` (then ${refused})` : ''}`);
      const a = await editor(c.url, c.session, ATTACKER);
      a.doc.transact(() => {
        const styles = a.doc.getArray<Y.Map<unknown>>('styles');
        styles.delete(0, styles.length);
        styles.push(
          ids.map((id) => {
            const m = new Y.Map<unknown>();
            m.set('imageId', id);
            m.set('weight', 1);
            m.set('scale', 4);
            return m;
          }),
        );
      });
      await sleep(15_000);
      c.notes.push(`attacker got ${codes(a.errors)}: "${firstMessage(a.errors, 'OVER_BUDGET') ?? ''}"`);
      a.close();
    },
  },
  {
    name: 'doc-bloat',
    what: 'unknown params keys with 3.5 MB and 1.9 MB strings until refused, a viewer GET /history, then 20 viewer sockets each sending one 3-byte step1',
    run: async (c) => {
      const a = await editor(c.url, c.session, ATTACKER);
      const params = a.doc.getMap('params');
      params.set('junk-big', 'x'.repeat(3_500_000));
      for (let i = 0; i < 24; i++) {
        params.set(`junk-${i}`, String.fromCharCode(97 + (i % 26)).repeat(1_900_000));
        await sleep(300);
      }
      await sleep(2000);
      c.notes.push(`attacker got ${codes(a.errors)}: "${firstMessage(a.errors, 'OVER_BUDGET') ?? ''}"`);
      const h = await request(c.url + api.history(c.session.id), { ip: ATTACKER, headers: { Authorization: `Bearer ${c.session.viewerToken}` } });
      const viewers = await Promise.all(Array.from({ length: 20 }, () => rawSocket(c.url, c.session.id, c.session.viewerToken, ATTACKER)));
      let answered = 0;
      let answerBytes = 0;
      for (const v of viewers) {
        v.on('y:sync', (m: Uint8Array) => ((answered++), (answerBytes += m.byteLength)));
        v.emit('y:sync', new Uint8Array([0, 1, 0]));
      }
      await sleep(5000);
      c.notes.push(`GET /history ${h.status} in ${Math.round(h.ms)} ms; 20 step1 → ${answered} answers of ${Math.round(answerBytes / answered || 0)} bytes`);
      for (const v of viewers) v.close();
      a.close();
    },
  },
  {
    name: 'exports',
    what: 'four 2048 px GIF exports from a viewer token, then an honest 64 px PNG export of the bystander session',
    run: async (c) => {
      const statuses: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await request(c.url + api.exportTimelapse(c.session.id), { method: 'POST', ip: ATTACKER, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${c.session.viewerToken}` }, body: JSON.stringify({ format: 'gif', size: 2048 }) });
        statuses.push(String(r.status));
      }
      const t0 = performance.now();
      const by = (c as Ctx & { bystander: CreateSessionResponse }).bystander;
      const r = await request(c.url + api.exportTimelapse(by.id), { method: 'POST', ip: BYSTANDER, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${by.viewerToken}` }, body: JSON.stringify({ format: 'png', size: 64 }) });
      let honest = 'not accepted';
      if (r.status === 202) {
        for (let i = 0; i < 600; i++) {
          const st = await request(c.url + r.body.statusUrl, { ip: BYSTANDER });
          if (st.body.state === 'done' || st.body.state === 'error') {
            honest = `${st.body.state} after ${Math.round(performance.now() - t0)} ms`;
            break;
          }
          await sleep(100);
        }
      } else honest = `${r.status} ${JSON.stringify(r.body).slice(0, 120)}`;
      c.notes.push(`GIF exports answered ${statuses.join(', ')}; the honest 64 px PNG export: ${honest}`);
      await sleep(8000);
    },
  },
  {
    name: 'streams',
    what: '1000 stream.mjpg connections to one session',
    run: async (c) => {
      let ok = 0;
      let refused = 0;
      const reqs: http.ClientRequest[] = [];
      const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
      await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise<void>((resolve) => {
            const req = http.get(c.url + api.stream(c.session.id) + `?token=${c.session.viewerToken}`, { agent, headers: xff(ATTACKER) }, (res) => {
              if (res.statusCode === 200) ok++;
              else refused++;
              res.resume();
              resolve();
            });
            req.on('error', () => (refused++, resolve()));
            reqs.push(req);
          }),
        ),
      );
      c.notes.push(`${ok} streams accepted, ${refused} refused`);
      await sleep(12_000);
      for (const r of reqs) r.destroy();
    },
  },
  {
    name: 'small',
    what: 'awareness flood (8 × 16 KiB states every 25 ms), a forged awareness id with a huge clock, malformed percent-encoding, a Host header pointing elsewhere, X-Forwarded-For on sockets',
    run: async (c) => {
      const { encodeAwarenessUpdate, Awareness } = await import('y-protocols/awareness');
      const v = await rawSocket(c.url, c.session.id, c.session.viewerToken, ATTACKER);
      const doc = new Y.Doc();
      const aw = new Awareness(doc);
      aw.setLocalState({ user: { name: 'x'.repeat(16 * 1024), color: '#ff0000' } });
      const flood = setInterval(() => v.connected && v.emit('y:awareness', encodeAwarenessUpdate(aw, [doc.clientID])), 25);
      await sleep(5000);
      clearInterval(flood);
      const floodCodes = codes(v.errors);
      v.close();
      // Forgery: take the bystander viewer's presence id.
      const by = (c as Ctx & { bystander: CreateSessionResponse }).bystander;
      const { connectClient } = await import('../server/testing/index.ts');
      const honest = await connectClient({ url: c.url, session: by.id, token: by.viewerToken, name: 'honest', headers: xff(BYSTANDER) });
      honest.awareness.setLocalState({ user: { name: 'honest', color: '#00ff00' } });
      await sleep(300);
      const forger = await rawSocket(c.url, by.id, by.viewerToken, ATTACKER);
      const fdoc = new Y.Doc();
      fdoc.clientID = honest.doc.clientID;
      const faw = new Awareness(fdoc);
      faw.setLocalState({ user: { name: 'forged', color: '#000000' } });
      (faw.meta.get(fdoc.clientID) as { clock: number }).clock = 2 ** 30;
      forger.emit('y:awareness', encodeAwarenessUpdate(faw, [fdoc.clientID]));
      await sleep(800);
      const forged = codes(forger.errors);
      forger.close();
      honest.close();
      // The image route with a malformed escape, which api.image() would percent-encode into a good one.
      const bad = await request(c.url + api.image('%').replace('%25', '%E0%A4%A'), { ip: ATTACKER });
      const host = await request(c.url + api.sessions, { method: 'POST', headers: { Host: 'attacker.example' }, ip: ATTACKER });
      c.notes.push(
        `awareness flood → ${floodCodes}; forged id → ${forged}; bad %-encoding → ${bad.status}; Host: attacker.example → editorUrl ${String(host.body?.editorUrl ?? host.status).split('?')[0]}`,
      );
    },
  },
  {
    name: 'forks',
    what: '100 forks with one editor token as fast as possible, then one MJPEG stream per fork',
    run: async (c) => {
      const made: CreateSessionResponse[] = [];
      let refused = 0;
      let lastRefusal = '';
      for (let i = 0; i < 100; i++) {
        const r = await request(c.url + api.fork(c.session.id), { method: 'POST', ip: ATTACKER, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${c.session.editorToken}` }, body: JSON.stringify({ t: Date.now() }) });
        if (r.status === 201) made.push(r.body);
        else (refused++, (lastRefusal = `${r.status} ${r.body?.error?.code}: ${r.body?.error?.message}`));
      }
      const streams: http.ClientRequest[] = [];
      for (const f of made) {
        const req = http.get(c.url + api.stream(f.id) + `?token=${f.viewerToken}`, { headers: xff(ATTACKER) }, (res) => res.resume());
        req.on('error', () => {});
        streams.push(req);
      }
      c.notes.push(`${made.length} forks made, ${refused} refused (${lastRefusal.slice(0, 140)})`);
      await sleep(15_000);
      for (const s of streams) s.destroy();
    },
  },
];

// ─── run ────────────────────────────────────────────────────────────────────────────────────────

interface Row {
  name: string;
  what: string;
  healthzMaxMs: number;
  baseline: number;
  during: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  loopMax: number;
  notes: string[];
}

/** Runs the attacks, or a child side; resolves to whether this process should stay up (the children do). */
async function main(): Promise<'stay' | 'done'> {
  const usage = 'npm run attack -- [--engine real|fake] [--only strokes,canvas,…] [--max-minutes 10] [--write]';
  const { values: args } = readArgs(
    {
      engine: { type: 'string' },
      only: { type: 'string' },
      'max-minutes': { type: 'string' },
      write: { type: 'boolean' },
      // the child sides (forked by this script)
      serve: { type: 'boolean' },
      probe: { type: 'string' },
    },
    usage,
  );
  const engine = args.engine ?? 'real';
  if (engine !== 'real' && engine !== 'fake') exitWithUsage(`--engine is real or fake, got '${engine}'`, usage);
  if (args.serve) {
    await serve(engine);
    return 'stay';
  }
  if (args.probe) {
    probeMain(args.probe);
    return 'stay';
  }
  const only = args.only?.split(',');
  const maxMinutes = numberArg(args['max-minutes'], 'max-minutes') ?? 10;
  const deadline = Date.now() + maxMinutes * 60_000;
  const started = new Date();
  console.error(`[attack] starting the server (engine ${engine}) …`);
  const server = await startServer(engine);
  const rows: Row[] = [];
  const probe = new HealthProbe(server.url);
  try {
    const { b: bystander, s: bySession } = await Bystander.start(server.url);
    const rssStart = (await server.sample(10_000))!.rss;
    for (const attack of ATTACKS) {
      if (only && !only.includes(attack.name)) continue;
      if (Date.now() > deadline) {
        console.error(`[attack] time is up (--max-minutes ${maxMinutes}); skipping ${attack.name}`);
        continue;
      }
      console.error(`[attack] ${attack.name}: ${attack.what}`);
      // A fresh attacker session, running honestly (default document) during the baseline.
      const session = await newSession(server.url, ATTACKER);
      const keep = await rawSocket(server.url, session.id, session.viewerToken, ATTACKER);
      await sleep(3000);
      const b0 = performance.now();
      await sleep(6000);
      const baseline = bystander.stepsPerSec(b0, performance.now());
      const before = (await server.sample(10_000))!;
      const ctx = { url: server.url, server, session, notes: [], bystander: bySession } as Ctx & { bystander: CreateSessionResponse };
      await probe.take(); // starts a fresh maximum
      let peak = before.rss;
      let loopMax = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const s = await server.sample(5000);
          if (s) (peak = Math.max(peak, s.rss)), (loopMax = Math.max(loopMax, s.loopMax));
          await sleep(250);
        }
      })();
      const t0 = performance.now();
      try {
        await Promise.race([attack.run(ctx), sleep(90_000).then(() => ctx.notes.push('(attack stopped at its 90 s deadline)'))]);
      } catch (e) {
        ctx.notes.push(`attack error: ${(e as Error).message}`);
      }
      const during = bystander.stepsPerSec(t0, performance.now());
      keep.close();
      const healthzMaxMs = await probe.take();
      sampling = false;
      await sampler;
      // After: the attacker's extra sessions unload (IDLE_PAUSE_MS 4 s) and the caches settle.
      await sleep(8000);
      const after = (await server.sample(10_000))!;
      rows.push({ name: attack.name, what: attack.what, healthzMaxMs, baseline, during, rssBefore: before.rss, rssPeak: peak, rssAfter: after.rss, loopMax, notes: ctx.notes });
      const r = rows.at(-1)!;
      console.error(
        `[attack] ${attack.name}: healthz max ${Math.round(healthzMaxMs)} ms, bystander ${r.baseline.toFixed(2)} → ${r.during.toFixed(2)} steps/s, RSS ${(r.rssBefore / MB).toFixed(0)} / ${(r.rssPeak / MB).toFixed(0)} / ${(r.rssAfter / MB).toFixed(0)} MB; ${ctx.notes.join('; ')}`,
      );
    }
    const table = report(rows, engine, server.backend, started, rssStart);
    console.log(table);
    if (args.write) writeResults(table);
  } finally {
    probe.stop();
    await server.stop();
  }
  return 'done';
}

function report(rows: Row[], engine: string, backend: string, started: Date, rssStart: number): string {
  const pct = (r: Row) => (r.baseline > 0 ? `${Math.round((100 * r.during) / r.baseline)} %` : 'n/a');
  const ok = (r: Row) => {
    const fails: string[] = [];
    if (r.healthzMaxMs > 250) fails.push('healthz');
    if (r.baseline > 0 && r.during < 0.8 * r.baseline) fails.push('steps/s');
    if (r.rssPeak > 2048 * MB) fails.push('RSS');
    return fails.length ? `no (${fails.join(', ')})` : 'yes';
  };
  const command = `npm run attack -- ${process.argv.slice(2).filter((a) => a !== '--write').join(' ')}`.trim();
  return [
    `Run ${started.toISOString()}: \`${command}\` — engine ${engine} (backend ${backend}), ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} shared with other jobs; server RSS at the start ${(rssStart / MB).toFixed(0)} MB.`,
    '',
    '| attack | /healthz max | bystander steps/s: baseline → during (kept) | server event-loop max | RSS before / peak / after | goal met? | what the attacker got |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| **${r.name}**: ${r.what} | ${Math.round(r.healthzMaxMs)} ms | ${r.baseline.toFixed(2)} → ${r.during.toFixed(2)} (${pct(r)}) | ${Math.round(r.loopMax)} ms | ${(r.rssBefore / MB).toFixed(0)} / ${(r.rssPeak / MB).toFixed(0)} / ${(r.rssAfter / MB).toFixed(0)} MB | ${ok(r)} | ${r.notes.join('; ').replace(/\|/g, '\\|')} |`,
    ),
    '',
  ].join('\n');
}

function writeResults(table: string): void {
  const file = path.join(repoRoot, 'docs', 'RELIABILITY.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const open = '<!-- results:attack -->';
  const close = '<!-- /results:attack -->';
  const block = `${open}\n${table}\n${close}`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  writeFileSync(file, a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + close.length) : `${text.trimEnd()}\n\n${block}\n`);
  console.error('[attack] wrote the table to docs/RELIABILITY.md');
}

if ((await main()) === 'done') process.exit(0);
