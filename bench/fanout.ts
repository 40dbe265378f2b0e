/**
 * `npm run bench:fanout` — fan-out cost: how much V viewers receiving a session's frames slow its
 * optimization. Goal (performance issue): 200 viewers at 10 frames/s of 512 px JPEG slow the
 * optimization by less than 5%.
 *
 *   npm run bench:fanout -- [--viewers 200] [--duration-s 20] [--rounds 2] [--settle-s 3] [--size 512]
 *                           [--backend wasm] [--model mobilenet_v2|tiny] [--frame-rate 10]
 *                           [--out docs/BENCHMARKS.md] [--no-write]
 *
 * A real server (port 0, real engine worker) runs one session at --size px; an editor client in
 * this process records every frame, and the optimization's speed in a window is the step rate
 * between the first and last frame inside it (both ends are step completions). Phases alternate
 * baseline (0 viewers) / loaded (V viewers), each --duration-s after --settle-s of settling, for
 * --rounds rounds, so drift of a noisy shared machine hits both alike. The viewers live in a child
 * process (bench/fanout-viewers.ts) that acknowledges frames without decoding them; its CPU time
 * (process.cpuUsage) is reported next to the server process's, because on a small machine it
 * competes with the engine for the same cores.
 *
 * Frames are rate-limited in the engine worker: at most FRAME_RATE (default 10, at most 60) per
 * session, and at most one per step, so a viewer gets min(FRAME_RATE, steps/s) frames per second.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../server/engine/api.ts';
import { api } from '../shared/protocol.ts';
import type { FromViewers, ToViewers, ViewerStats } from './fanout-viewers.ts';
import { writeSection } from './engine.ts';
import { numberArg, readArgs } from '../scripts/cli-args.ts';
import { machineLine, runIfMain, sleep, startLiveServer, stepRate } from './live.ts';

export interface FanoutOptions {
  viewers: number;
  durationS: number;
  settleS: number;
  rounds: number;
  size: number;
  backend: BackendName;
  model: string;
  frameRate: number;
}

export const DEFAULT_FANOUT: FanoutOptions = { viewers: 200, durationS: 20, settleS: 3, rounds: 2, size: 512, backend: 'wasm', model: 'mobilenet_v2', frameRate: 10 };

export interface FanoutPhase {
  kind: 'baseline' | 'loaded';
  round: number;
  viewers: number;
  stepsPerSec: number;
  steps: number;
  seconds: number;
  /** Frames per second each viewer received (mean over viewers). */
  viewerFps: number;
  /** Frame image bytes per second the server sent (all clients, from /metrics). */
  bytesOutPerSec: number;
  /** CPU of the server process (main thread, engine worker, the editor client), % of one core. */
  serverCpu: number;
  /** CPU of the viewers' process, % of one core. */
  viewersCpu: number;
  /** Event-loop utilization of the server's main thread (sockets, frame relay; not the engine), %. */
  mainElu: number;
}

export interface FanoutResult {
  options: FanoutOptions;
  backend: string;
  model: string;
  frameSize: string;
  meanFrameBytes: number;
  phases: FanoutPhase[];
  machine: string;
}

class Viewers {
  private proc: ChildProcess;
  private waiting: { type: FromViewers['type']; resolve: (m: FromViewers) => void; reject: (e: Error) => void } | null = null;

  constructor() {
    this.proc = fork(fileURLToPath(new URL('./fanout-viewers.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: FromViewers) => {
      const w = this.waiting;
      if (!w) return;
      this.waiting = null;
      if (m.type === 'error') w.reject(new Error(m.message));
      else if (m.type !== w.type) w.reject(new Error(`viewers answered ${m.type}, expected ${w.type}`));
      else w.resolve(m);
    });
    this.proc.on('exit', (code) => this.waiting?.reject(new Error(`the viewers' process exited (code ${code})`)));
  }

  request<T extends FromViewers>(m: ToViewers, answer: T['type']): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting = { type: answer, resolve: resolve as (m: FromViewers) => void, reject };
      this.proc.send(m);
    });
  }

  close(): void {
    if (this.proc.connected) this.proc.send({ type: 'exit' } satisfies ToViewers);
  }
}

async function frameCounters(url: string): Promise<{ frames: number; bytes: number }> {
  const text = await (await fetch(url + api.metrics)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { frames: value('atelier_frames_sent_total'), bytes: value('atelier_frame_bytes_sent_total') };
}

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;

export async function runFanoutBench(opts: Partial<FanoutOptions> = {}): Promise<FanoutResult> {
  const o = { ...DEFAULT_FANOUT, ...opts };
  if (!(o.viewers >= 1) || !(o.durationS > 0) || !(o.rounds >= 1)) throw new Error('fanout bench: need --viewers ≥ 1, --duration-s > 0, --rounds ≥ 1');
  const live = await startLiveServer({ backend: o.backend, model: o.model, resolution: o.size, frameRate: o.frameRate, maxClients: o.viewers + 8, warmupSteps: 3 });
  const viewers = new Viewers();
  try {
    const phases: FanoutPhase[] = [];
    // B L B L … B: every loaded phase sits between two baselines, so a slow drift of the machine's
    // load (other processes) cancels out of its comparison.
    const plan: { round: number; kind: 'baseline' | 'loaded' }[] = [];
    for (let round = 1; round <= o.rounds; round++) plan.push({ round, kind: 'baseline' }, { round, kind: 'loaded' });
    plan.push({ round: o.rounds + 1, kind: 'baseline' });
    for (const { round, kind } of plan) {
      const n = kind === 'loaded' ? o.viewers : 0;
      if (n) {
        const c = await viewers.request<{ type: 'connected'; count: number; ms: number }>(
          { type: 'connect', url: live.server.url, session: live.session.id, token: live.session.viewerToken, count: n },
          'connected',
        );
        if (c.count !== n) throw new Error(`only ${c.count} of ${n} viewers connected`);
      }
      await sleep(o.settleS * 1000);
      const snapshot = async () => ({
        v: await viewers.request<ViewerStats>({ type: 'stats' }, 'stats'),
        m: await frameCounters(live.server.url),
        t: performance.now(),
        cpu: process.cpuUsage(),
        elu: performance.eventLoopUtilization(),
      });
      const before = await snapshot();
      await sleep(o.durationS * 1000);
      const after = await snapshot();
      const s = (after.t - before.t) / 1000;
      const rate = stepRate(live.seen, before.t, after.t);
      if (n && after.v.connected !== n) throw new Error(`${n - after.v.connected} viewers were disconnected during the loaded phase`);
      phases.push({
        kind,
        round,
        viewers: n,
        stepsPerSec: rate.perSec,
        steps: rate.steps,
        seconds: rate.seconds,
        viewerFps: n ? (after.v.frames - before.v.frames) / n / s : 0,
        bytesOutPerSec: (after.m.bytes - before.m.bytes) / s,
        serverCpu: ((cpuMs(after.cpu) - cpuMs(before.cpu)) / (s * 1000)) * 100,
        viewersCpu: ((cpuMs(after.v.cpu) - cpuMs(before.v.cpu)) / (s * 1000)) * 100,
        mainElu: performance.eventLoopUtilization(after.elu, before.elu).utilization * 100,
      });
      console.error(`fanout: round ${round} ${kind} (${n} viewers): ${rate.perSec.toFixed(3)} steps/s over ${rate.steps} steps`);
      if (n) await viewers.request({ type: 'disconnect' }, 'disconnected');
    }
    const last = live.seen[live.seen.length - 1];
    const atSize = live.seen.filter((f) => f.w === last.w && f.h === last.h);
    return {
      options: o,
      backend: live.backend,
      model: live.model,
      frameSize: `${last.w}×${last.h}`,
      meanFrameBytes: atSize.reduce((a, f) => a + f.bytes, 0) / atSize.length,
      phases,
      machine: await machineLine(),
    };
  } finally {
    viewers.close();
    await live.close();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const pct = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '—');
const kb = (x: number) => `${(x / 1024).toFixed(0)} KiB/s`;

/** The docs/BENCHMARKS.md section for `r`. */
export function fanoutSection(r: FanoutResult): string {
  const o = r.options;
  const base = r.phases.filter((p) => p.kind === 'baseline');
  const loaded = r.phases.filter((p) => p.kind === 'loaded');
  // Each loaded phase against the mean of the baselines just before and after it.
  const perRound = loaded.map((p) => {
    const around = base.filter((b) => b.round === p.round || b.round === p.round + 1).map((b) => b.stepsPerSec);
    return (1 - p.stepsPerSec / mean(around)) * 100;
  });
  const slowdown = mean(perRound);
  const baseSps = base.map((p) => p.stepsPerSec);
  const spread = ((Math.max(...baseSps) - Math.min(...baseSps)) / mean(baseSps)) * 100;
  const fps = mean(loaded.map((p) => p.viewerFps));
  // Main-thread cost of fan-out per frame sent: extra busy time ÷ extra frames.
  const busyMs = (ps: FanoutPhase[]) => mean(ps.map((p) => p.mainElu * 10)); // ms busy per s
  const framesPerSec = (ps: FanoutPhase[]) => mean(ps.map((p) => p.viewerFps * p.viewers));
  const msPerFrame = (busyMs(loaded) - busyMs(base)) / framesPerSec(loaded);
  const viewersCpu = mean(loaded.map((p) => p.viewersCpu));
  const verdict =
    Math.abs(slowdown) <= spread
      ? `within the noise of this run (the baselines alone differ by ${spread.toFixed(0)}%): inconclusive against the 5% goal`
      : `goal < 5%: ${slowdown < 5 ? 'met' : 'not met'} (baselines differ by ${spread.toFixed(0)}%)`;
  const lines = [
    '## Fan-out: viewers vs. optimization speed (`npm run bench:fanout`)',
    '',
    `Real server, real engine worker (${r.backend}, ${r.model}, ${o.size} px → frames ${r.frameSize}, JPEG quality 80, mean ${(r.meanFrameBytes / 1024).toFixed(1)} KiB; FRAME_RATE ${o.frameRate}). ` +
      `Phases alternate 0 viewers / ${o.viewers} viewers, ${o.durationS} s each after ${o.settleS} s settling, ${o.rounds} round${o.rounds === 1 ? '' : 's'} and a closing baseline; ` +
      "steps/s from an editor's frames (exact step completions at both ends of each window). " +
      'Viewers are bare socket.io connections in a child process that ack every frame without decoding it. ' +
      `MAX_CLIENTS_PER_SESSION and MAX_SOCKETS_PER_IP set to ${o.viewers + 8} and ${o.viewers + 24} for the run (defaults 256 and 256). ${r.machine}.`,
    '',
    '| round | viewers | steps/s | steps in window | frames/s per viewer | frame bytes out | server process CPU | server main thread busy | viewers process CPU |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.phases.map(
      (p) => `| ${p.round} | ${p.viewers} | ${p.stepsPerSec.toFixed(3)} | ${p.steps} | ${p.viewers ? f2(p.viewerFps) : '—'} | ${kb(p.bytesOutPerSec)} | ${pct(p.serverCpu)} | ${pct(p.mainElu)} | ${pct(p.viewersCpu)} |`,
    ),
    '',
    `**Slowdown with ${o.viewers} viewers: ${slowdown.toFixed(1)}%** (each loaded phase against the mean of the baselines before and after it: ${perRound.map((x) => `${x.toFixed(1)}%`).join(', ')}); ` +
      `${verdict}. Viewers got ${f2(fps)} frames/s each` +
      (fps < o.frameRate * 0.9
        ? `, not the goal's ${o.frameRate}: frames are limited to one per step and a step takes ${(1000 / mean(baseSps)).toFixed(0)} ms here, so this is ${((fps / o.frameRate) * 100).toFixed(0)}% of the goal's fan-out load.`
        : '.'),
    '',
    `Fan-out's own CPU cost, which does not depend on the machine's other load as much: the server's main thread was busy ${Number.isFinite(msPerFrame) ? msPerFrame.toFixed(3) : '—'} ms more per frame sent ` +
      `(${busyMs(base).toFixed(0)} → ${busyMs(loaded).toFixed(0)} ms per second at ${framesPerSec(loaded).toFixed(0)} frames/s), and the viewers' process used ${pct(viewersCpu)} of a core. ` +
      `At ${o.viewers} viewers × ${o.frameRate} frames/s (the goal's rate with 200 viewers) that is about ${Number.isFinite(msPerFrame) ? ((msPerFrame * o.viewers * o.frameRate) / 10).toFixed(0) : '—'}% of one core on the main thread (a linear extrapolation), off the engine's thread but on the same cores.`,
    '',
    'CPU is % of one core (this machine has ' +
      `${r.machine.split(' ')[0]} cores). "Server process" is the server's main thread, the engine worker thread and the editor client together; ` +
      '"main thread busy" is the event-loop utilization of the main thread alone, where sockets and the frame relay run (the engine has its own thread). ' +
      "The viewers' process, and anything else running on the machine, compete with the engine for the same cores: compare rounds, and read a slowdown here as an upper bound on the server's own fan-out cost.",
  ];
  return lines.join('\n');
}

const FANOUT_USAGE =
  'npm run bench:fanout -- [--viewers 200] [--duration-s 20] [--rounds 2] [--settle-s 3] [--size 512] [--backend wasm] [--model mobilenet_v2|tiny] [--frame-rate 10] [--out docs/BENCHMARKS.md] [--no-write]';

function readFanoutArgs(argv: readonly string[]) {
  return readArgs(
    {
      viewers: { type: 'string' },
      'duration-s': { type: 'string' },
      'settle-s': { type: 'string' },
      rounds: { type: 'string' },
      size: { type: 'string' },
      backend: { type: 'string' },
      model: { type: 'string' },
      'frame-rate': { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean' },
    },
    FANOUT_USAGE,
    { argv },
  ).values;
}

function optionsFromArgv(argv: readonly string[]): Partial<FanoutOptions> {
  const a = readFanoutArgs(argv);
  const o: Partial<FanoutOptions> = {
    viewers: numberArg(a.viewers, 'viewers'),
    durationS: numberArg(a['duration-s'], 'duration-s'),
    settleS: numberArg(a['settle-s'], 'settle-s'),
    rounds: numberArg(a.rounds, 'rounds'),
    size: numberArg(a.size, 'size'),
    backend: a.backend as BackendName | undefined,
    model: a.model,
    frameRate: numberArg(a['frame-rate'], 'frame-rate'),
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<FanoutOptions>;
}

export { optionsFromArgv as fanoutOptionsFromArgv };

/** Standalone run: measures, prints the section, writes it unless --no-write. `argv`: after the script. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const r = await runFanoutBench(optionsFromArgv(argv));
  const section = fanoutSection(r);
  console.log(section);
  const a = readFanoutArgs(argv);
  if (!a['no-write']) {
    const out = a.out ?? 'docs/BENCHMARKS.md';
    writeSection(out, 'fanout', section);
    console.log(`wrote ${out}`);
  }
}

runIfMain(import.meta.url, () => main());
