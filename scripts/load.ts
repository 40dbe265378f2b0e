/**
 * Load and soak runs against a local server that this script starts itself (127.0.0.1, port 0,
 * temp DATA_DIR) in a child process, so the server's CPU and memory are measured apart from the
 * load generator's.
 *
 *   npm run load -- [--editors 50] [--viewers 200] [--duration 60] [--engine fake|real] [--sessions 1]
 *                   [--interval 50] [--write] [--pg-latency MS [--processes 2]]
 *   npm run soak -- [--duration 600] [--editors 5] [--viewers 20] [--sample 10] [--engine fake|real] [--write]
 *
 * Editors paint: every `--interval` ms each editor appends one point to its current stroke (a
 * Y.Array that grows while drawing, as the client does) and starts a new stroke every 40 points.
 * Viewers only receive and acknowledge frames. Latency is editor → other editor: the time from an
 * editor appending a point to a probe editor seeing it (same process, same clock). With
 * `--engine real` the server runs the real engine in its worker thread on the tiny network (cpu).
 *
 * `--pg-latency MS` runs the cluster setup instead (issue 19): `--processes` server processes (default
 * 2) sharing a redis-server and a PostgreSQL that sits behind a TCP proxy adding MS of round trip
 * (scripts/load-cluster.ts). Sessions are created round-robin on the processes and each session's
 * clients are spread over all of them, so relays and frames cross processes through Redis;
 * event-loop delay is reported per process.
 *
 * Everything is bounded (editors ≤ 1000, viewers ≤ 5000, duration ≤ 24 h) and the run stops by
 * itself; Ctrl-C stops it early and still kills the server. `--write` puts the result table into
 * docs/RELIABILITY.md (between `<!-- results:… -->` markers) together with the exact command.
 *
 * Internally `--serve` is the child side: it starts the server and answers `sample` requests
 * over the IPC channel with process.cpuUsage()/memoryUsage().
 */
import { ServerChild } from './server-child.ts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as Y from 'yjs';
import { io as ioClient, type Socket } from 'socket.io-client';
import { SOCKET_PATH, api, type FramePayload } from '../shared/protocol.ts';
import { startLoadServices, type LoadServices } from './load-cluster.ts';
import { exitWithUsage, readArgs } from './cli-args.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Options {
  mode: 'load' | 'soak';
  editors: number;
  viewers: number;
  durationSec: number;
  engine: 'fake' | 'real';
  sessions: number;
  intervalMs: number;
  sampleSec: number;
  write: boolean;
  /** Round trip added to PostgreSQL (cluster setup), or null: one process on SQLite. */
  pgLatency: number | null;
  processes: number;
}

const USAGE = 'npm run load|soak -- [--editors N] [--viewers N] [--duration S] [--engine fake|real] [--sessions N] [--interval MS] [--sample S] [--write] [--pg-latency MS [--processes N]]';

function readOptions(argv: string[]): Options & { serve: boolean } {
  const { values: a } = readArgs(
    {
      soak: { type: 'boolean' },
      serve: { type: 'boolean' },
      write: { type: 'boolean' },
      editors: { type: 'string' },
      viewers: { type: 'string' },
      duration: { type: 'string' },
      sessions: { type: 'string' },
      interval: { type: 'string' },
      'pg-latency': { type: 'string' },
      processes: { type: 'string' },
      sample: { type: 'string' },
      engine: { type: 'string' },
    },
    USAGE,
    { argv },
  );
  const soak = a.soak ?? false;
  /** `--name`'s number in [min, max], or `fallback` when absent. */
  const num = <F extends number | null>(name: keyof typeof a, min: number, max: number, fallback: F): number | F => {
    const v = a[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isFinite(n) || n < min || n > max) exitWithUsage(`--${name} needs a number in [${min}, ${max}], got '${String(v)}'`, USAGE);
    return n;
  };
  if (a.engine !== undefined && a.engine !== 'fake' && a.engine !== 'real') exitWithUsage(`--engine is fake or real, got '${a.engine}'`, USAGE);
  const pgLatency = num('pg-latency', 0, 10_000, null);
  const processes = num('processes', 1, 8, null);
  if (processes !== null && pgLatency === null) exitWithUsage('--processes needs --pg-latency (the processes share Redis and PostgreSQL)', USAGE);
  return {
    mode: soak ? 'soak' : 'load',
    editors: Math.round(num('editors', 1, 1000, soak ? 5 : 50)),
    viewers: Math.round(num('viewers', 0, 5000, soak ? 20 : 200)),
    durationSec: num('duration', 1, 24 * 3600, soak ? 600 : 60),
    engine: (a.engine ?? 'fake') as 'fake' | 'real',
    sessions: Math.round(num('sessions', 1, 100, 1)),
    intervalMs: num('interval', 5, 10_000, 50),
    sampleSec: num('sample', 1, 3600, 10),
    write: a.write ?? false,
    serve: a.serve ?? false,
    pgLatency,
    processes: processes === null ? (pgLatency === null ? 1 : 2) : Math.round(processes),
  };
}

// ---------------------------------------------------------------------------------------------
// Child side: the server.

interface Sample {
  t: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  rss: number;
  heapUsed: number;
  external: number;
  clients: number;
  /** Event-loop delay since the previous sample, ms (p99 and max). */
  loopP99: number;
  loopMax: number;
  /** Engine backend now (`pending` until the real engine's worker is ready). */
  backend: string;
  /** Live tensors in the engine worker (real engine), as of its latest frame. */
  tensors?: number;
}

async function serve(engine: 'fake' | 'real'): Promise<void> {
  const { startTestServer } = await import('../server/testing/index.ts');
  const server = await startTestServer(
    {
      maxClientsPerSession: 10_000,
      maxSocketsPerIp: 100_000,
      sessionCreatesPerMin: 10_000,
      idlePauseMs: 60_000,
      // Cluster setup (--pg-latency): REDIS_URL, DATABASE_URL, INSTANCE_ID from the parent.
      ...(JSON.parse(process.env.ATELIER_LOAD_SERVER ?? '{}') as Record<string, string>),
    },
    { tinyEngine: engine === 'real' },
  );
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const sample = (): Sample => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const loopP99 = loop.percentile(99) / 1e6;
    const loopMax = loop.max / 1e6;
    loop.reset();
    return {
      backend: server.engineHost.backend,
      tensors: server.engineHost.tensorCount,
      loopP99,
      loopMax,
      t: performance.now(),
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      clients: server.sessions.loaded().reduce((n, s) => n + s.clientCount, 0),
    };
  };
  process.on('message', (m: { type: string }) => {
    if (m.type === 'sample') process.send!({ type: 'sample', sample: sample() });
    if (m.type === 'stop') void server.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
  process.send!({ type: 'ready', url: server.url, backend: server.engineHost.backend });
}

// ---------------------------------------------------------------------------------------------
// Parent side: the load.

/** The server child of this script (scripts/server-child.ts), with the load run's sample. */
type LoadServer = ServerChild<Sample>;

function startServer(engine: 'fake' | 'real', overrides: Record<string, string> = {}): Promise<LoadServer> {
  return ServerChild.start<Sample>({
    script: fileURLToPath(import.meta.url),
    args: ['--serve', '--engine', engine],
    cwd: repoRoot,
    // LOAD_SERVER_NODE_ARGS="--cpu-prof" profiles the server (a .cpuprofile lands in the repo root).
    nodeArgsVar: 'LOAD_SERVER_NODE_ARGS',
    env: { ...process.env, ATELIER_LOG: process.env.ATELIER_LOG ?? 'warn', ATELIER_LOAD_SERVER: JSON.stringify(overrides) },
    startTimeoutMs: 120_000,
    stopTimeoutMs: 10_000,
  });
}

async function createSession(url: string): Promise<{ id: string; editorToken: string; viewerToken: string }> {
  const res = await fetch(url + api.sessions, { method: 'POST' });
  if (res.status !== 201) throw new Error(`POST /api/sessions → ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; editorToken: string; viewerToken: string };
}

const POINTS_PER_STROKE = 40;

/** An editor: a Y.Doc kept in sync over y-protocols, painting strokes point by point. */
class Editor {
  private stroke: Y.Array<number> | null = null;
  private strokeId = '';
  private points = 0;
  private strokes = 0;
  constructor(
    readonly index: number,
    readonly client: { doc: Y.Doc; close(): void; errors: unknown[]; socket: Socket },
    private sent: Map<string, number>,
  ) {}

  get doc(): Y.Doc {
    return this.client.doc;
  }

  paint(): void {
    if (!this.stroke || this.points >= POINTS_PER_STROKE) {
      this.strokeId = `e${this.index}-${this.strokes++}`;
      this.points = 0;
      const m = new Y.Map<unknown>();
      this.stroke = new Y.Array<number>();
      const x = (this.index * 37) % 500;
      const y = (this.strokes * 13) % 500;
      this.doc.transact(() => {
        m.set('id', this.strokeId);
        m.set('author', `load${this.index}`);
        m.set('tool', 'brush');
        m.set('color', '#336699');
        m.set('size', 6);
        m.set('opacity', 1);
        this.stroke!.push([x, y]);
        m.set('points', this.stroke);
        this.doc.getArray('strokes').push([m]);
      });
      this.points = 1;
      this.sent.set(`${this.strokeId}:2`, performance.now());
      return;
    }
    this.points++;
    const len = this.stroke.length + 2;
    this.sent.set(`${this.strokeId}:${len}`, performance.now());
    this.stroke.push([(this.index * 37 + this.points * 3) % 500, (this.strokes * 13 + this.points) % 500]);
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

const MB = 1024 * 1024;
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function run(o: Options): Promise<void> {
  const { connectClient } = await import('../server/testing/index.ts');
  const started = new Date();
  let services: LoadServices | null = null;
  let servers: LoadServer[];
  if (o.pgLatency !== null) {
    console.error(`[load] starting redis-server, PostgreSQL + ${o.pgLatency} ms proxy and ${o.processes} servers (engine ${o.engine}) …`);
    const svc = (services = await startLoadServices(o.pgLatency));
    servers = await Promise.all(
      Array.from({ length: o.processes }, (_, i) => startServer(o.engine, { redisUrl: svc.redisUrl, databaseUrl: svc.databaseUrl, instanceId: `load-${i + 1}` })),
    );
  } else {
    console.error(`[load] starting the server (engine ${o.engine}) …`);
    servers = [await startServer(o.engine)];
  }
  const server = servers[0];
  /** The process a client connects to: a session's clients are spread over every process. */
  const serverFor = (i: number) => servers[Math.floor(i / o.sessions) % servers.length];
  const sampleAll = (timeoutMs: number) => Promise.all(servers.map((x) => x.sample(timeoutMs)));
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.error('[load] interrupted: stopping');
  };
  process.on('SIGINT', onSignal);
  const timers: NodeJS.Timeout[] = [];
  const editors: Editor[] = [];
  const viewers: { socket: Socket; frames: number; dropped: boolean }[] = [];
  try {
    const sessions = await Promise.all(Array.from({ length: o.sessions }, (_, i) => createSession(servers[i % servers.length].url)));
    const sent = sessions.map(() => new Map<string, number>());
    const latencies: number[] = [];
    console.error(`[load] connecting ${o.editors} editors and ${o.viewers} viewers to ${o.sessions} session(s) at ${servers.map((x) => x.url).join(', ')}`);
    for (let i = 0; i < o.editors; i++) {
      const si = i % o.sessions;
      const c = await connectClient({ url: serverFor(i).url, session: sessions[si].id, token: sessions[si].editorToken, name: `load${i}` });
      editors.push(new Editor(i, c, sent[si]));
    }
    // Probes: the first two editors of each session measure when others' points arrive.
    editors.forEach((e, i) => {
      if (i >= 2 * o.sessions) return;
      const map = sent[i % o.sessions];
      const strokes = e.doc.getArray('strokes');
      const own = `e${e.index}-`;
      const record = (id: unknown, len: number, now: number) => {
        if (typeof id !== 'string' || id.startsWith(own)) return;
        const t = map.get(`${id}:${len}`);
        if (t !== undefined) latencies.push(now - t);
      };
      strokes.observeDeep((events) => {
        const now = performance.now();
        for (const ev of events) {
          if (ev.target === strokes) {
            // A new stroke: a Y.Map arriving with its first point.
            for (const item of ev.changes.added) {
              for (const m of item.content.getContent()) {
                if (m instanceof Y.Map) record(m.get('id'), (m.get('points') as Y.Array<number> | undefined)?.length ?? 0, now);
              }
            }
          } else if (ev.target instanceof Y.Array && ev.target.parent instanceof Y.Map) {
            record(ev.target.parent.get('id'), ev.target.length, now);
          }
        }
      });
    });
    for (let i = 0; i < o.viewers; i++) {
      const si = i % o.sessions;
      const socket = ioClient(serverFor(i).url, {
        path: SOCKET_PATH,
        auth: { session: sessions[si].id, token: sessions[si].viewerToken, name: `viewer${i}` },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const v = { socket, frames: 0, dropped: false };
      socket.on('disconnect', () => (v.dropped = true));
      socket.on('frame', (_f: FramePayload, ack: () => void) => {
        v.frames++;
        ack();
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      viewers.push(v);
    }
    console.error(`[load] connected; running for ${o.durationSec} s`);
    const genLoop = monitorEventLoopDelay({ resolution: 10 });
    const genCpu0 = process.cpuUsage();
    const first = await sampleAll(30_000);
    genLoop.enable();
    if (first.some((x) => !x)) throw new Error('a server does not answer');
    const perProcess = first.map((x) => [x!]);
    const s0 = first[0]!;
    const framesAtStart = viewers.map((v) => v.frames);
    latencies.length = 0;
    const samples: Sample[] = perProcess[0];
    let updatesSent = 0;
    let unanswered = 0;
    // Stagger editors over the interval so their writes do not all land in the same tick.
    editors.forEach((e, i) => {
      const start = setTimeout(() => {
        timers.push(
          setInterval(() => {
            e.paint();
            updatesSent++;
          }, o.intervalMs),
        );
      }, (i * o.intervalMs) / editors.length);
      timers.push(start);
    });
    const deadline = Date.now() + o.durationSec * 1000;
    while (Date.now() < deadline && !stopping) {
      await new Promise((r) => setTimeout(r, Math.min(o.sampleSec * 1000, deadline - Date.now())));
      const all = await sampleAll(Math.max(1000, Math.min(5000, deadline - Date.now())));
      all.forEach((x, i) => (x ? perProcess[i].push(x) : unanswered++));
      const s = all[0];
      if (!s) continue;
      console.error(
        `[load] t=${fmt((s.t - s0.t) / 1000, 0)} s  rss ${fmt(s.rss / MB)} MB  heap ${fmt(s.heapUsed / MB)} MB  updates ${updatesSent}  latency samples ${latencies.length}`,
      );
    }
    // Stop painting, then take the last sample (waiting for a saturated server to answer).
    for (const t of timers) clearInterval(t);
    (await sampleAll(30_000)).forEach((x, i) => (x ? perProcess[i].push(x) : unanswered++));
    const s1 = samples.at(-1)!;
    const genCpu = process.cpuUsage(genCpu0);
    genLoop.disable();
    const serverLoopP99 = Math.max(...samples.slice(1).map((x) => x.loopP99));
    const serverLoopMax = Math.max(...samples.slice(1).map((x) => x.loopMax));
    const wallSec = (s1.t - s0.t) / 1000;
    const cpuPct = ((s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs) / (s1.t - s0.t)) * 100;
    const sorted = latencies.slice().sort((a, b) => a - b);
    const frames = viewers.map((v, i) => v.frames - framesAtStart[i]);
    const fps = frames.map((f) => f / wallSec).sort((a, b) => a - b);
    const errors = editors.reduce((n, e) => n + e.client.errors.length, 0);
    const mins = samples.map((s) => (s.t - s0.t) / 60_000);
    const heapSlope = slope(mins, samples.map((s) => s.heapUsed / MB));
    const rssSlope = slope(mins, samples.map((s) => s.rss / MB));
    const rows: [string, string][] = [
      ['machine', `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, shared with other jobs (noisy)`],
      ['engine', `${o.engine} (backend ${s1.backend})`],
      ['editors / viewers / sessions', `${o.editors} / ${o.viewers} / ${o.sessions}`],
      ['duration', `${fmt(wallSec, 0)} s`],
      ['editor updates sent', `${updatesSent} (${fmt(updatesSent / wallSec, 0)}/s, one point every ${o.intervalMs} ms per editor)`],
      ['update latency editor → editor p50 / p99 / max', `${fmt(percentile(sorted, 50))} / ${fmt(percentile(sorted, 99))} / ${fmt(sorted.at(-1) ?? NaN)} ms (${sorted.length} samples)`],
      ['frames per viewer: mean / min / max', `${fmt(fps.reduce((a, b) => a + b, 0) / (fps.length || 1), 2)} / ${fmt(fps[0] ?? NaN, 2)} / ${fmt(fps.at(-1) ?? NaN, 2)} per s`],
      ['server CPU (user+system, 100% = one core)', `${fmt(cpuPct, 0)} %`],
      ['server event-loop delay: worst per-sample p99 / max', `${fmt(serverLoopP99)} / ${fmt(serverLoopMax)} ms`],
      ['load generator CPU / event-loop delay p99', `${fmt(((genCpu.user + genCpu.system) / 1000 / (s1.t - s0.t)) * 100, 0)} % / ${fmt(genLoop.percentile(99) / 1e6)} ms`],
      ['server RSS start → end', `${fmt(s0.rss / MB)} → ${fmt(s1.rss / MB)} MB`],
      ['server heap used start → end', `${fmt(s0.heapUsed / MB)} → ${fmt(s1.heapUsed / MB)} MB`],
      ['errors sent to editors', String(errors)],
      ['viewers dropped (slow consumers) / editors disconnected', `${viewers.filter((v) => v.dropped).length} / ${editors.filter((e) => !e.client.socket.connected).length}`],
      ['server samples not answered within 5 s (saturated)', String(unanswered)],
      ['engine tensors start → end', o.engine === 'real' ? `${s0.tensors ?? 'n/a'} → ${s1.tensors ?? 'n/a'}` : 'n/a (fake engine)'],
    ];
    if (services) {
      // The rows above that say "server" are process 1's; the rows added here are every process's.
      for (const r of rows) if (/^server (CPU|event-loop|RSS|heap)/.test(r[0])) r[0] = r[0].replace(/^server /, 'process 1 ');
      rows.splice(1, 0, ['setup', `${servers.length} server processes, ${services.describe}`]);
      perProcess.forEach((ps, i) => {
        const [a, z] = [ps[0], ps.at(-1)!];
        const cpu = ((z.cpuUserMs + z.cpuSystemMs - a.cpuUserMs - a.cpuSystemMs) / (z.t - a.t)) * 100;
        const p99 = Math.max(...ps.slice(1).map((x) => x.loopP99));
        const max = Math.max(...ps.slice(1).map((x) => x.loopMax));
        rows.push([`process ${i + 1}: event-loop delay worst per-sample p99 / max, CPU, RSS end`, `${fmt(p99)} / ${fmt(max)} ms, ${fmt(cpu, 0)} %, ${fmt(z.rss / MB)} MB`]);
      });
    }
    if (o.mode === 'soak') {
      rows.push(
        ['samples', `${samples.length}, every ${o.sampleSec} s`],
        ['heap slope', `${fmt(heapSlope, 2)} MB/min`],
        ['RSS slope', `${fmt(rssSlope, 2)} MB/min`],
        ['flat?', flatness(heapSlope, rssSlope)],
        ['heap samples (MB)', samples.map((s) => fmt(s.heapUsed / MB, 0)).join(' ')],
        ['engine tensor samples', o.engine === 'real' ? samples.map((s) => s.tensors ?? '-').join(' ') : 'n/a (fake engine)'],
      );
    }
    const command = `npm run ${o.mode} -- ${process.argv.slice(2).filter((a) => a !== '--soak' && a !== '--write').join(' ')}`.trim();
    const table = [
      `Run ${started.toISOString()}: \`${command}\``,
      '',
      '| measure | value |',
      '| --- | --- |',
      ...rows.map(([k, v]) => `| ${k} | ${v} |`),
      '',
    ].join('\n');
    console.log(table);
    if (o.write) writeResults(`${o.mode}:${o.engine}:${o.editors}x${o.viewers}${o.sessions > 1 ? `:s${o.sessions}` : ''}${services ? `:pg${o.pgLatency}x${servers.length}` : ''}`, table);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const e of editors) e.client.close();
    for (const v of viewers) v.socket.close();
    await Promise.all(servers.map((x) => x.stop()));
    await services?.stop();
    process.off('SIGINT', onSignal);
  }
}

/** Verdict on memory slopes (MB/min): JS heap within ±1, RSS within ±2 counts as flat. */
function flatness(heapSlope: number, rssSlope: number): string {
  const heapFlat = Math.abs(heapSlope) < 1;
  const rssFlat = Math.abs(rssSlope) < 2;
  if (heapFlat && rssFlat) return 'yes: |heap slope| < 1 MB/min and |RSS slope| < 2 MB/min';
  if (heapFlat) return 'JS heap flat; RSS grows (native memory: sharp/libvips cache, SQLite, allocator; a longer run shows whether it levels off)';
  return 'NO: the JS heap grows (the document grows too: strokes are never deleted in this run)';
}

/** Replaces (or appends) the block between `<!-- results:KEY -->` and `<!-- /results:KEY -->`. */
function writeResults(key: string, table: string): void {
  const file = path.join(repoRoot, 'docs', 'RELIABILITY.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Reliability\n';
  const open = `<!-- results:${key} -->`;
  const close = `<!-- /results:${key} -->`;
  const block = `${open}\n${table}\n${close}`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + close.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
  console.error(`[load] wrote the table to ${path.relative(repoRoot, file)} (${open})`);
}

const opts = readOptions(process.argv.slice(2));
if (opts.serve) {
  await serve(opts.engine);
} else {
  await run(opts);
  process.exit(0);
}
