/**
 * Timelapse exports from a session's archived keyframes, as background jobs: animated WebP or GIF
 * (sharp: frames resized to one size and stacked vertically as one raw image with `pageHeight`),
 * MP4 (only where `ffmpeg` is on PATH) or the final image as PNG.
 *
 * Budgets (S28): jobs are memory- and CPU-heavy and the optimization shares the machine, so at
 * most `concurrency` run at once, and one client address never holds all of them (with two or
 * more slots, one is always left for the others); queued plus running jobs are capped per
 * session, per address and in all, and a job's frames are capped at {@link MAX_EXPORT_FRAMES}
 * and `maxPixels` in all (evenly sampled over the session). Finished files are written to
 * `dir` (on disk, not held in memory), kept {@link EXPORT_TTL_MS} and addressed by an unguessable
 * id: whoever started one (with a session token) may poll and download it by id alone.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { api, ExportRequest, type ExportFormat, type ExportOptions, type ExportStatus } from '../../shared/protocol.ts';
import type { KeyframeMeta, KeyframeRecord } from '../storage/types.ts';
import { createLogger } from '../log.ts';
import { CONFIG_DEFAULTS, type Config } from '../config.ts';
import { LocalRateLimit, type AddressRateLimit } from '../limits/shared-rate-limit.ts';

const log = createLogger('export');

export const MAX_EXPORT_FRAMES = 300;
export const EXPORT_TTL_MS = 15 * 60_000;
const MAX_JOBS_KEPT = 64;

/** Where a job reads frames from. */
export interface FrameSource {
  list(): KeyframeMeta[];
  /** One keyframe with its bytes (read from storage as the job runs). */
  get(id: number): KeyframeRecord | undefined | Promise<KeyframeRecord | undefined>;
}

/** A validated export request (shared/protocol.ts ExportRequest): format, fps, and the long side (undefined = the largest keyframe's). */
export type { ExportOptions };

/** A request that cannot be served (bad option, nothing to export, no ffmpeg). */
export class ExportRequestError extends Error {
  override name = 'ExportRequestError';
  constructor(
    readonly status: number,
    message: string,
    /** Error code for the answer (BAD_REQUEST unless a budget refused it). */
    readonly code: 'BAD_REQUEST' | 'RATE_LIMITED' = 'BAD_REQUEST',
  ) {
    super(message);
  }
}

export interface ExportLimits {
  /** Where finished files are written (emptied at start). */
  dir: string;
  maxPerSession: number;
  maxPerAddress: number;
  maxJobs: number;
  concurrency: number;
  maxPixels: number;
  /** Export pixels (frames × width × height) per minute per client address. */
  pixelsPerMin: number;
}

/** The export limits a configuration sets (EXPORT_* settings). */
export function exportLimits(
  c: Pick<Config, 'exportMaxJobsPerSession' | 'exportMaxJobsPerIp' | 'exportMaxJobs' | 'exportConcurrency' | 'exportMaxPixels' | 'exportPixelsPerMin'>,
): Omit<ExportLimits, 'dir'> {
  return {
    maxPerSession: c.exportMaxJobsPerSession,
    maxPerAddress: c.exportMaxJobsPerIp,
    maxJobs: c.exportMaxJobs,
    concurrency: c.exportConcurrency,
    maxPixels: c.exportMaxPixels,
    pixelsPerMin: c.exportPixelsPerMin,
  };
}

/** The configuration's defaults (EXPORT_MAX_PIXELS: 16 M decoded pixels = 48 MB of RGB per job). */
export const DEFAULT_EXPORT_LIMITS: Omit<ExportLimits, 'dir'> = exportLimits(CONFIG_DEFAULTS);

/** Parses and checks a request body with the shared ExportRequest schema. */
export function parseExportRequest(body: unknown): ExportOptions {
  const parsed = ExportRequest.safeParse(body);
  if (!parsed.success) throw new ExportRequestError(400, parsed.error.issues[0].message);
  return parsed.data;
}

/** Whether an executable `name` is on PATH. */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, name)));
}

/** Evenly samples at most `max` items, always keeping the first and the last. */
export function sampleEvenly<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  if (max <= 1) return items.slice(-1);
  return Array.from({ length: max }, (_, i) => items[Math.round((i * (items.length - 1)) / (max - 1))]);
}

/** Size and frames an export will encode (the same computation as the job itself). */
export function planExport(all: readonly KeyframeMeta[], o: ExportOptions, maxPixels: number): { width: number; height: number; metas: KeyframeMeta[]; pixels: number } {
  const last = all[all.length - 1];
  const longSide = o.size ?? Math.max(...all.map((k) => Math.max(k.width, k.height)));
  const scale = longSide / Math.max(last.width, last.height);
  let width = Math.max(1, Math.round(last.width * scale));
  let height = Math.max(1, Math.round(last.height * scale));
  if (o.format === 'mp4') {
    width += width % 2; // yuv420p needs even sides
    height += height % 2;
  }
  const metas = o.format === 'png' ? [last] : sampleEvenly(all, Math.min(MAX_EXPORT_FRAMES, Math.max(1, Math.floor(maxPixels / (width * height)))));
  return { width, height, metas, pixels: metas.length * width * height };
}

interface Job {
  status: ExportStatus;
  sessionId: string;
  address: string;
  file?: ExportFile;
  finishedAt?: number;
  run: () => Promise<void>;
}

/** A finished export on disk. */
export interface ExportFile {
  path: string;
  bytes: number;
  mime: string;
  name: string;
}

const MIME: Record<ExportFormat, string> = { webp: 'image/webp', gif: 'image/gif', mp4: 'video/mp4', png: 'image/png' };

export class ExportJobs {
  private jobs = new Map<string, Job>();
  private queue: Job[] = [];
  private running = new Set<Job>();
  private idleWaiters: (() => void)[] = [];
  readonly limits: ExportLimits;
  private pixelRate: AddressRateLimit;

  /** `pixelRate`: EXPORT_PIXELS_PER_MIN per address, cluster-wide with Redis (S33); in-process by default. */
  constructor(limits: Partial<ExportLimits> = {}, pixelRate?: AddressRateLimit) {
    this.limits = { ...DEFAULT_EXPORT_LIMITS, dir: limits.dir ?? path.join(tmpdir(), `atelier-exports-${process.pid}`), ...limits };
    const perMin = this.limits.pixelsPerMin;
    this.pixelRate = pixelRate ?? new LocalRateLimit(Math.max(perMin, this.limits.maxPixels), perMin);
    rmSync(this.limits.dir, { recursive: true, force: true });
    mkdirSync(this.limits.dir, { recursive: true });
  }

  private active(pred: (j: Job) => boolean): number {
    let n = 0;
    for (const j of [...this.queue, ...this.running]) if (pred(j)) n++;
    return n;
  }

  /** Checks the request and queues the job; rejects with {@link ExportRequestError} when it cannot run. */
  async start(sessionId: string, source: FrameSource, options: ExportOptions, address = 'unknown'): Promise<ExportStatus> {
    const frames = source.list();
    if (!frames.length) throw new ExportRequestError(409, 'this session has no keyframes yet; let the optimization run a few seconds first');
    if (options.format === 'mp4' && !onPath('ffmpeg')) {
      throw new ExportRequestError(422, 'mp4 export needs ffmpeg on the server\'s PATH, which this server lacks; export webp or gif instead');
    }
    const L = this.limits;
    const busy = (n: number, limit: number, what: string, name: string) => {
      if (n >= limit) throw new ExportRequestError(429, `${what} already has ${n} exports queued or running, the most allowed (${name}); wait for one to finish`, 'RATE_LIMITED');
    };
    const checkCaps = () => {
      busy(this.active((j) => j.sessionId === sessionId), L.maxPerSession, 'this session', 'EXPORT_MAX_JOBS_PER_SESSION');
      busy(this.active((j) => j.address === address), L.maxPerAddress, 'your address', 'EXPORT_MAX_JOBS_PER_IP');
      busy(this.queue.length + this.running.size, L.maxJobs, 'the server', 'EXPORT_MAX_JOBS');
    };
    checkCaps();
    const plan = planExport(frames, options, L.maxPixels);
    const verdict = await this.pixelRate.take(address, plan.pixels);
    if (!verdict.ok) {
      throw new ExportRequestError(
        429,
        `this export would encode ${plan.pixels} pixels; your address may export ${L.pixelsPerMin} pixels per minute (EXPORT_PIXELS_PER_MIN): retry in ${verdict.retryAfterSec} s or ask for a smaller size`,
        'RATE_LIMITED',
      );
    }
    checkCaps(); // again: other requests may have queued jobs while the rate was checked
    this.prune();
    const jobId = randomBytes(16).toString('base64url');
    const job: Job = {
      sessionId,
      address,
      status: { jobId, format: options.format, state: 'queued', progress: 0, frames: 0 },
      run: () => this.run(job, frames, source, options),
    };
    this.jobs.set(jobId, job);
    this.queue.push(job);
    this.pump();
    return { ...job.status };
  }

  status(jobId: string): ExportStatus | undefined {
    const job = this.jobs.get(jobId);
    return job ? { ...job.status } : undefined;
  }

  file(jobId: string): ExportFile | undefined {
    return this.jobs.get(jobId)?.file;
  }

  /** Resolves when every queued job has finished (tests, shutdown). */
  async idle(): Promise<void> {
    if (!this.queue.length && !this.running.size) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Starts queued jobs while slots are free, oldest first, skipping an address that already runs
   * `concurrency − 1` jobs (so with two or more slots one is always left for someone else).
   */
  private pump(): void {
    const perAddress = Math.max(1, this.limits.concurrency - 1);
    while (this.running.size < this.limits.concurrency) {
      const i = this.queue.findIndex((j) => [...this.running].filter((r) => r.address === j.address).length < perAddress);
      if (i < 0) break;
      const [job] = this.queue.splice(i, 1);
      this.running.add(job);
      void job.run().finally(() => {
        this.running.delete(job);
        this.pump();
        if (!this.queue.length && !this.running.size) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private prune(): void {
    const now = Date.now();
    const forget = (id: string) => {
      const f = this.jobs.get(id)?.file;
      if (f) rmSync(f.path, { force: true });
      this.jobs.delete(id);
    };
    for (const [id, job] of this.jobs) if (job.finishedAt && now - job.finishedAt > EXPORT_TTL_MS) forget(id);
    const finished = [...this.jobs].filter(([, j]) => j.finishedAt);
    while (this.jobs.size > MAX_JOBS_KEPT && finished.length) forget(finished.shift()![0]);
  }

  /** Removes every file (shutdown). */
  close(): void {
    rmSync(this.limits.dir, { recursive: true, force: true });
  }

  private async run(job: Job, all: KeyframeMeta[], source: FrameSource, o: ExportOptions): Promise<void> {
    const st = job.status;
    st.state = 'running';
    try {
      const { width, height, metas } = planExport(all, o, this.limits.maxPixels);
      st.frames = metas.length;
      const raw: Buffer[] = [];
      for (const [i, meta] of metas.entries()) {
        const rec = await source.get(meta.id);
        if (!rec) continue;
        const { data } = await sharp(rec.data)
          .resize(width, height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        raw.push(data);
        st.progress = 0.8 * ((i + 1) / metas.length);
      }
      if (!raw.length) throw new Error('the keyframes could not be read');
      st.frames = raw.length;
      const bytes = await encode(o, raw, width, height);
      raw.length = 0;
      const file = path.join(this.limits.dir, `${st.jobId}.${o.format}`);
      await writeFile(file, bytes);
      job.file = { path: file, bytes: bytes.length, mime: MIME[o.format], name: `${job.sessionId}-timelapse.${o.format}` };
      st.state = 'done';
      st.progress = 1;
      st.bytes = bytes.length;
      st.url = api.exportFile(st.jobId);
    } catch (e) {
      st.state = 'error';
      st.message = (e as Error).message;
      log.warn('export failed', { job: st.jobId, error: st.message });
    } finally {
      job.finishedAt = Date.now();
    }
  }
}

async function encode(o: ExportOptions, frames: Buffer[], width: number, height: number): Promise<Buffer> {
  const delay = Math.round(1000 / o.fps);
  if (o.format === 'png') return sharp(frames[0], { raw: { width, height, channels: 3 } }).png().toBuffer();
  if (o.format === 'mp4') return encodeMp4(frames, width, height, o.fps);
  const stacked = sharp(Buffer.concat(frames), { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } });
  const delays = frames.map(() => delay);
  return o.format === 'webp' ? stacked.webp({ loop: 0, delay: delays, quality: 80 }).toBuffer() : stacked.gif({ loop: 0, delay: delays }).toBuffer();
}

/** Pipes raw RGB frames through ffmpeg (H.264, yuv420p, faststart) via a temp file. */
async function encodeMp4(frames: Buffer[], width: number, height: number, fps: number): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-export-'));
  const out = path.join(dir, 'out.mp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const ff = spawn('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-',
        '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', out], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      ff.stderr.on('data', (d: Buffer) => (err += d.toString()).length > 4000 && (err = err.slice(-4000)));
      ff.on('error', reject);
      ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${err.trim()}`))));
      ff.stdin.on('error', () => {});
      for (const f of frames) ff.stdin.write(f);
      ff.stdin.end();
    });
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
