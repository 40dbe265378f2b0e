/**
 * Timelapse exports from a session's archived keyframes, as background jobs: animated WebP or GIF
 * (sharp: frames resized to one size and stacked vertically as one raw image with `pageHeight`),
 * MP4 (only where `ffmpeg` is on PATH) or the final image as PNG.
 *
 * Jobs run one at a time (they are memory- and CPU-heavy and the optimization shares the
 * machine), live in memory for {@link EXPORT_TTL_MS} after they finish, and are addressed by an
 * unguessable id: whoever started one (with a session token) may poll and download it by id alone.
 * Frames are capped at {@link MAX_EXPORT_FRAMES} and {@link MAX_EXPORT_PIXELS} in all (evenly
 * sampled over the session) so a long session cannot exhaust memory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { api, EXPORT_FORMATS, type ExportFormat, type ExportStatus } from '../../shared/protocol.ts';
import type { KeyframeMeta, KeyframeRecord } from '../storage/types.ts';
import { createLogger } from '../log.ts';

const log = createLogger('export');

export const MAX_EXPORT_FRAMES = 300;
export const MAX_EXPORT_PIXELS = 40_000_000;
export const EXPORT_TTL_MS = 15 * 60_000;
const MAX_JOBS_KEPT = 64;

/** Where a job reads frames from. */
export interface FrameSource {
  list(): KeyframeMeta[];
  get(id: number): KeyframeRecord | undefined;
}

export interface ExportOptions {
  format: ExportFormat;
  fps: number;
  /** Long side in pixels; undefined = the largest keyframe's. */
  size?: number;
}

/** A request that cannot be served (bad option, nothing to export, no ffmpeg). */
export class ExportRequestError extends Error {
  override name = 'ExportRequestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses and checks a request body. */
export function parseExportRequest(body: unknown): ExportOptions {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(b.format)) {
    throw new ExportRequestError(400, `format must be one of ${EXPORT_FORMATS.join(', ')} (got ${JSON.stringify(b.format) ?? 'nothing'})`);
  }
  const fps = b.fps === undefined ? 8 : b.fps;
  if (typeof fps !== 'number' || !Number.isFinite(fps) || fps < 1 || fps > 60) throw new ExportRequestError(400, `fps must be a number from 1 to 60 (got ${JSON.stringify(fps)})`);
  const size = b.size;
  if (size !== undefined && (typeof size !== 'number' || !Number.isInteger(size) || size < 16 || size > 2048)) {
    throw new ExportRequestError(400, `size must be an integer from 16 to 2048 (got ${JSON.stringify(size)})`);
  }
  return { format: b.format as ExportFormat, fps, size: size as number | undefined };
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

interface Job {
  status: ExportStatus;
  sessionId: string;
  file?: { bytes: Buffer; mime: string; name: string };
  finishedAt?: number;
}

const MIME: Record<ExportFormat, string> = { webp: 'image/webp', gif: 'image/gif', mp4: 'video/mp4', png: 'image/png' };

export class ExportJobs {
  private jobs = new Map<string, Job>();
  private queue: (() => Promise<void>)[] = [];
  private running: Promise<void> | null = null;

  /** Checks the request and queues the job; throws {@link ExportRequestError} when it cannot run. */
  start(sessionId: string, source: FrameSource, options: ExportOptions): ExportStatus {
    const frames = source.list();
    if (!frames.length) throw new ExportRequestError(409, 'this session has no keyframes yet; let the optimization run a few seconds first');
    if (options.format === 'mp4' && !onPath('ffmpeg')) {
      throw new ExportRequestError(422, 'mp4 export needs ffmpeg on the server\'s PATH, which this server lacks; export webp or gif instead');
    }
    this.prune();
    const jobId = randomBytes(16).toString('base64url');
    const job: Job = { sessionId, status: { jobId, format: options.format, state: 'queued', progress: 0, frames: 0 } };
    this.jobs.set(jobId, job);
    this.queue.push(() => this.run(job, frames, source, options));
    this.pump();
    return { ...job.status };
  }

  status(jobId: string): ExportStatus | undefined {
    const job = this.jobs.get(jobId);
    return job ? { ...job.status } : undefined;
  }

  file(jobId: string): Job['file'] {
    return this.jobs.get(jobId)?.file;
  }

  /** Resolves when every queued job has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private pump(): void {
    if (this.running) return;
    const next = this.queue.shift();
    if (!next) return;
    this.running = next().finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, job] of this.jobs) if (job.finishedAt && now - job.finishedAt > EXPORT_TTL_MS) this.jobs.delete(id);
    const finished = [...this.jobs].filter(([, j]) => j.finishedAt);
    while (this.jobs.size > MAX_JOBS_KEPT && finished.length) this.jobs.delete(finished.shift()![0]);
  }

  private async run(job: Job, all: KeyframeMeta[], source: FrameSource, o: ExportOptions): Promise<void> {
    const st = job.status;
    st.state = 'running';
    try {
      const last = all[all.length - 1];
      const longSide = o.size ?? Math.max(...all.map((k) => Math.max(k.width, k.height)));
      const scale = longSide / Math.max(last.width, last.height);
      let width = Math.max(1, Math.round(last.width * scale));
      let height = Math.max(1, Math.round(last.height * scale));
      if (o.format === 'mp4') {
        width += width % 2; // yuv420p needs even sides
        height += height % 2;
      }
      const metas = o.format === 'png' ? [last] : sampleEvenly(all, Math.min(MAX_EXPORT_FRAMES, Math.max(1, Math.floor(MAX_EXPORT_PIXELS / (width * height)))));
      st.frames = metas.length;
      const raw: Buffer[] = [];
      for (const [i, meta] of metas.entries()) {
        const rec = source.get(meta.id);
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
      job.file = { bytes, mime: MIME[o.format], name: `${job.sessionId}-timelapse.${o.format}` };
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
