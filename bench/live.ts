/**
 * Shared by bench/latency.ts and bench/fanout.ts: a real Atelier server (port 0, temp DATA_DIR,
 * the real engine in its worker thread — not the fake engine) with one session and an editor
 * client, optimizing at a chosen resolution. The live benchmarks measure the whole path a user
 * sees (socket.io → Yjs doc → validator → engine worker → frame channel → socket.io), so they must
 * not take shortcuts through the fake engine or direct engine calls.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BackendName } from '../server/engine/api.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../server/testing/index.ts';
import { WorkerEngineHost } from '../server/worker/worker-host.ts';
import type { CreateSessionResponse, FramePayload } from '../shared/protocol.ts';
import type { Params } from '../shared/schema.ts';

/** A frame as a client saw it: when it arrived (performance.now() of this process) and its metadata. */
export interface SeenFrame {
  t: number;
  iter: number;
  w: number;
  h: number;
  bytes: number;
  content: number;
  stepsPerSec: number;
}

export interface LiveServerOptions {
  /** tfjs backend of the engine worker (default wasm: the CPU default). */
  backend?: BackendName;
  /** Session network (default: the server default, mobilenet_v2). `tiny` forces the test network. */
  model?: string;
  /** Long side the session optimizes at (params.resolution). */
  resolution: number;
  /** FRAME_RATE: most frames per second per session (server default 10). */
  frameRate?: number;
  /** MAX_CLIENTS_PER_SESSION and MAX_SOCKETS_PER_IP (set for the run so the limits are known whatever the defaults). */
  maxClients?: number;
  /** Extra params written by the editor before the measurement starts. */
  params?: Partial<Params>;
  /** Optimizer steps to run before returning (kernels compiled, image past its first moves). */
  warmupSteps?: number;
}

export interface LiveServer {
  server: TestServer;
  session: CreateSessionResponse;
  /** Connected editor; every frame it receives is appended to `seen`. */
  editor: TestClient;
  seen: SeenFrame[];
  backend: string;
  model: string;
  close(): Promise<void>;
}

/** Records every frame `client` receives into `into` (time of arrival in this process). */
export function recordFrames(client: TestClient, into: SeenFrame[]): void {
  client.socket.on('frame', (f: FramePayload) => {
    into.push({ t: performance.now(), iter: f.iter, w: f.w, h: f.h, bytes: f.data.byteLength, content: f.losses.content, stepsPerSec: f.stepsPerSec });
  });
}

/**
 * Starts the server with the real engine worker, creates a session, connects an editor, sets the
 * resolution (and `params`) and waits until `warmupSteps` steps at that resolution have produced frames.
 */
export async function startLiveServer(o: LiveServerOptions): Promise<LiveServer> {
  process.env.ATELIER_LOG ??= 'warn';
  const frameRate = o.frameRate ?? 10;
  const maxClients = o.maxClients ?? 64;
  const forceModel = o.model === 'tiny' ? 'tiny' : undefined;
  const model = (o.model && o.model !== 'tiny' ? o.model : 'mobilenet_v2') as Params['model'];
  const engineHost = new WorkerEngineHost({ backend: o.backend ?? 'wasm', model, frameRate, frameQuality: 80, forceModel });
  const backend = await engineHost.ready;
  const server = await startTestServer(
    { fakeEngine: false, model, frameRate, maxClientsPerSession: maxClients, maxSocketsPerIp: maxClients + 16, idlePauseMs: 600_000 },
    { engineHost },
  );
  try {
    const session = await createSession(server.url);
    const editor = await connectClient({ url: server.url, session: session.id, token: session.editorToken, name: 'bench-editor' });
    const seen: SeenFrame[] = [];
    recordFrames(editor, seen);
    const params = editor.doc.getMap('params');
    editor.doc.transact(() => {
      params.set('resolution', o.resolution);
      params.set('model', model);
      for (const [k, v] of Object.entries(o.params ?? {})) params.set(k, v);
    });
    const warm = o.warmupSteps ?? 3;
    const atSize = () => seen.filter((f) => Math.max(f.w, f.h) === o.resolution);
    await waitFor(() => {
      const s = atSize();
      return s.length >= 2 && s[s.length - 1].iter - s[0].iter >= warm;
    }, 600_000, `${warm} warm-up steps at ${o.resolution} px`);
    if (editor.errors.length) throw new Error(`the server refused the bench's params: ${editor.errors.map((e) => e.message).join('; ')}`);
    return {
      server,
      session,
      editor,
      seen,
      backend,
      model: forceModel ?? model,
      close: async () => {
        editor.close();
        await server.close();
      },
    };
  } catch (e) {
    await server.close();
    throw e;
  }
}

/** The q-quantile (0..1) of `xs` by nearest rank; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);

/**
 * Steps per second between the first and the last frame seen in [from, to): both ends are step
 * completions, so the rate is exact up to frame delivery jitter (not ±1 step).
 */
export function stepRate(frames: readonly SeenFrame[], from: number, to: number): { steps: number; seconds: number; perSec: number } {
  const w = frames.filter((f) => f.t >= from && f.t < to);
  if (w.length < 2) return { steps: 0, seconds: 0, perSec: NaN };
  const steps = w[w.length - 1].iter - w[0].iter;
  const seconds = (w[w.length - 1].t - w[0].t) / 1000;
  return { steps, seconds, perSec: steps / seconds };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One line describing the machine, for the sections' headers. */
export async function machineLine(): Promise<string> {
  const os = await import('node:os');
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
}

/** Runs `main` when `moduleUrl` is the script node was started with: exit 0, or print the error and exit 1. */
export function runIfMain(moduleUrl: string, main: () => Promise<void>): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
