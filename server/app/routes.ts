/**
 * REST routes (express 5). JSON everywhere; every non-2xx answer is an {@link ErrorResponse}.
 * Tokens come as `Authorization: Bearer …` or, for media URLs that an `<img>`, OBS or VLC opens,
 * as `?token=`.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import {
  ErrorCode,
  ROUTES,
  api,
  type CreateSessionResponse,
  type ErrorPayload,
  type PresetsResponse,
  type Role,
  type UploadImageResponse,
} from '../../shared/protocol.ts';
import type { Config } from '../config.ts';
import type { ImageStore } from '../images/store.ts';
import { ImageRejection, normaliseImageType, validateImage } from '../images/validate.ts';
import type { Session } from '../session/session.ts';
import { TooManySessionsError, type SessionManager } from '../session/session-manager.ts';
import type { ServerMetrics } from './metrics.ts';
import { createLogger } from '../log.ts';
import { AccessDenied, authorizeAccess, requestToken } from '../session/access.ts';
import { perIpLimit } from './http-guards.ts';
import type { AddressRateLimit } from '../limits/shared-rate-limit.ts';
import { addressFullMessage, type ConnectionCounter } from '../limits/client-address.ts';

const log = createLogger('http');

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorPayload['code'],
    message: string,
  ) {
    super(message);
  }
}

export function sendError(res: Response, status: number, code: ErrorPayload['code'], message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** `value` (a body or query) checked with a shared schema; otherwise a 400 naming the first problem. */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, ErrorCode.BadRequest, parsed.error.issues[0].message);
  return parsed.data;
}

/** The session token of a request (Bearer header or `?token=`). */
export const tokenOf = (req: Request): string | undefined => requestToken(req.get('authorization'), req.query.token);

export interface RouteDeps {
  config: Config;
  /** Session creations and forks per client address (SESSION_CREATES_PER_MIN). */
  creations: AddressRateLimit;
  /** Uploads per client address (UPLOADS_PER_MIN) and their decoded pixels (UPLOAD_PIXELS_PER_MIN): cluster-wide with Redis (S33). */
  uploads: AddressRateLimit;
  uploadPixels: AddressRateLimit;
  /** Sockets and media streams per client address (MAX_SOCKETS_PER_IP). */
  connections: ConnectionCounter;
  /** Absolute base URL of links (PUBLIC_URL, or http://localhost:PORT). */
  publicUrl: () => string;
  sessions: SessionManager;
  images: ImageStore;
  metrics: ServerMetrics;
  backend: () => string;
}

/** The live session the request's token opens with at least role `need` (session/access.ts). */
async function authorize(deps: RouteDeps, req: Request, need: Role): Promise<Session> {
  const { session } = await authorizeAccess((id, token) => deps.sessions.authorize(id, token), String(req.params.id ?? ''), tokenOf(req), need);
  return session;
}

const boundary = 'atelierframe';

export function apiRouter(deps: RouteDeps): express.Router {
  const r = express.Router();

  r.get(ROUTES.health, (_req, res) => {
    res.json({ ok: true, backend: deps.backend(), sessions: deps.sessions.loaded().length });
  });

  r.get(ROUTES.metrics, async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  r.post(ROUTES.sessions, perIpLimit('new sessions and forks', deps.config.sessionCreatesPerMin, deps.creations), async (req, res) => {
    try {
      const { session, editorToken, viewerToken } = await deps.sessions.create(req.ip);
      res.status(201).json(createdBody(deps.publicUrl(), session.id, editorToken, viewerToken));
    } catch (e) {
      if (e instanceof TooManySessionsError) return sendError(res, 503, ErrorCode.TooManySessions, e.message);
      throw e;
    }
  });

  r.post(ROUTES.images, perIpLimit('uploads', deps.config.uploadsPerMin, deps.uploads), async (req, res) => {
    await authorize(deps, req, 'editor');
    const type = req.get('content-type');
    if (!normaliseImageType(type)) {
      req.resume();
      throw new ImageRejection(415, ErrorCode.UnsupportedMediaType, `Content-Type '${type ?? ''}' is not accepted; send image/png, image/jpeg or image/webp`);
    }
    const declared = Number(req.get('content-length') ?? NaN);
    if (declared > deps.config.maxUploadBytes) {
      throw new HttpError(413, ErrorCode.PayloadTooLarge, `image is ${declared} bytes; the limit is ${deps.config.maxUploadBytes}`);
    }
    const bytes = await readBody(req, res, deps.config.maxUploadBytes);
    const address = req.ip ?? 'unknown';
    const v = await validateImage(bytes, type, {
      maxBytes: deps.config.maxUploadBytes,
      maxPixels: deps.config.maxImagePixels,
      // S25: checking an upload decodes it whole; its pixels are a CPU cost, budgeted per address.
      admitDecode: async (px) => {
        const v = await deps.uploadPixels.take(address, px);
        return v.ok ? null : `this image has ${px} pixels; your address may upload ${deps.config.uploadPixelsPerMin} pixels per minute (UPLOAD_PIXELS_PER_MIN): retry in ${v.retryAfterSec} s`;
      },
    });
    const imageId = await deps.images.put(bytes, v.mime, v.width, v.height);
    const body: UploadImageResponse = { imageId, width: v.width, height: v.height };
    res.status(201).json(body);
  });

  r.get(ROUTES.image, async (req, res) => {
    const rec = await deps.images.get(String(req.params.imageId));
    if (!rec) throw new HttpError(404, ErrorCode.NotFound, 'no such image (ids are 64 lowercase hex characters)');
    res.set({
      'Content-Type': rec.mime,
      'Content-Length': String(rec.bytes.length),
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'",
    });
    res.end(rec.bytes);
  });

  r.get(ROUTES.presets, (_req, res) => {
    const body: PresetsResponse = { images: [...deps.images.presets] };
    res.json(body);
  });

  r.get(ROUTES.frame, async (req, res) => {
    const session = await authorize(deps, req, 'viewer');
    session.wake();
    const f = session.latestFrame;
    if (!f) {
      res.set('Retry-After', '1');
      throw new HttpError(503, ErrorCode.NotFound, 'no frame yet; the optimization is starting, retry in a moment');
    }
    deps.metrics.frameSent(f.data.byteLength);
    res.set({ 'Content-Type': f.mime, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'X-Atelier-Iter': String(f.iter) });
    res.end(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  });

  r.get(ROUTES.stream, async (req, res) => {
    // R2/S17: a stream is a long-lived connection like a socket: same per-address and per-session
    // limits. A flood from a full address is refused before express (http-guards.ts
    // refuseStreamFlood); the limits are answered here, not thrown, to keep express's error
    // handling out of a flood's path.
    const address = req.ip ?? 'unknown';
    const session = await authorize(deps, req, 'viewer');
    if (session.watcherCount >= deps.config.maxClientsPerSession) {
      return sendError(res, 503, ErrorCode.TooManyClients, `session '${session.id}' already has its maximum of ${deps.config.maxClientsPerSession} clients and streams (MAX_CLIENTS_PER_SESSION)`);
    }
    const releaseSlot = deps.connections.acquire(address);
    if (!releaseSlot) {
      return sendError(res, 429, ErrorCode.TooManyClients, addressFullMessage(deps.connections.maxPerAddress));
    }
    const releaseWatch = session.attach('stream', address);
    const release = () => {
      releaseWatch();
      releaseSlot();
    };
    res.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`,
      'Cache-Control': 'no-store',
      Connection: 'close',
      'X-Content-Type-Options': 'nosniff',
    });
    let lastSent = 0;
    let draining = false;
    let pending: ReturnType<typeof frameOf> | null = null;
    const minGap = 1000 / deps.config.frameRate;
    let timer: NodeJS.Timeout | null = null;
    const write = (part: Buffer) => {
      lastSent = Date.now();
      deps.metrics.frameSent(part.length);
      if (!res.write(part)) {
        draining = true;
        res.once('drain', () => {
          draining = false;
          flush();
        });
      }
    };
    const flush = () => {
      if (!pending || draining || timer) return;
      const wait = lastSent + minGap - Date.now();
      if (wait > 0) {
        timer = setTimeout(() => {
          timer = null;
          flush();
        }, wait);
        return;
      }
      const p = pending;
      pending = null;
      write(p);
    };
    const offer = (f: NonNullable<Session['latestFrame']>) => {
      pending = frameOf(f);
      flush();
    };
    const unsubscribe = session.subscribe({ frame: offer });
    if (session.latestFrame) offer(session.latestFrame);
    const stop = () => {
      unsubscribe();
      release();
      if (timer) clearTimeout(timer);
    };
    res.on('close', stop);
  });

  r.use(ROUTES.apiPrefix, (req) => {
    throw new HttpError(404, ErrorCode.NotFound, `no route ${req.method} ${req.path}`);
  });

  return r;
}

/** The 201 body of a new session or fork, its links built from the configured public URL (never the Host header). */
export function createdBody(base: string, id: string, editorToken: string, viewerToken: string): CreateSessionResponse {
  return {
    id,
    editorToken,
    viewerToken,
    editorUrl: base + api.editorPage(id, editorToken),
    viewerUrl: base + api.projectorPage(id, viewerToken),
  };
}

/** Multipart parts by frame: built once per frame however many streams send it. */
const parts = new WeakMap<object, Buffer>();

function frameOf(f: NonNullable<Session['latestFrame']>): Buffer {
  let part = parts.get(f);
  if (!part) parts.set(f, (part = buildPart(f)));
  return part;
}

function buildPart(f: NonNullable<Session['latestFrame']>): Buffer {
  const head = Buffer.from(`--${boundary}\r\nContent-Type: ${f.mime}\r\nContent-Length: ${f.data.byteLength}\r\nX-Atelier-Iter: ${f.iter}\r\n\r\n`);
  return Buffer.concat([head, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), Buffer.from('\r\n')]);
}

/**
 * Reads an upload's body with express.raw (body-parser), refusing (413) past `limit` bytes. Run
 * after the Content-Length check, which answers a declared oversize body at once (body-parser
 * would first read the whole declared body off the socket). Bodies are taken as sent
 * (`inflate: false`: a Content-Encoding other than identity is 415).
 */
function readBody(req: Request, res: Response, limit: number): Promise<Buffer> {
  const parse = express.raw({ type: () => true, limit, inflate: false });
  return new Promise((resolve, reject) => {
    parse(req, res, (err?: unknown) => {
      if (!err) return resolve(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      const e = err as { type?: string; status?: number; message?: string };
      if (e.type === 'entity.too.large') return reject(new HttpError(413, ErrorCode.PayloadTooLarge, `image is over the limit of ${limit} bytes`));
      if (e.type === 'encoding.unsupported') return reject(new HttpError(415, ErrorCode.UnsupportedMediaType, 'send the image uncompressed (no Content-Encoding)'));
      reject(err);
    });
  });
}

/** Final error handler: known errors → their status; anything else → 500 without details. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError || err instanceof ImageRejection || err instanceof AccessDenied) return sendError(res, err.status, err.code, err.message);
  if (err instanceof URIError) return sendError(res, 400, ErrorCode.BadRequest, 'the request has malformed percent-encoding');
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.parse.failed') return sendError(res, 400, ErrorCode.BadRequest, 'the body is not valid JSON');
  if (e.status === 413) return sendError(res, 413, ErrorCode.PayloadTooLarge, 'the body is too large');
  log.error('request failed', { method: req.method, path: req.path, error: e.message });
  sendError(res, 500, ErrorCode.Internal, 'internal error');
}
