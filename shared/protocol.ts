/**
 * The wire protocol between the Atelier server and its clients: one module, imported by both.
 *
 * Transport is socket.io. Document sync uses y-protocols' sync and awareness messages as raw
 * binary (`y:sync`, `y:awareness`), so any client that speaks y-protocols can join. Frames are a
 * latest-wins, acknowledged channel: the server keeps at most {@link MAX_UNACKED_FRAMES} frames in
 * flight per client and always sends the newest one, so a slow client never slows the others.
 */
import { z } from 'zod';
import type { ImageId } from './schema.ts';

/**
 * Bumped on any incompatible change to events, payloads or the document layout. 2: stroke
 * `points` are append-only Y.Arrays (shared/strokes.ts); a version-1 studio could not read them.
 */
export const PROTOCOL_VERSION = 2;

/** The oldest client protocol this server still serves (server/SPEC.md S32). */
export const MIN_CLIENT_PROTOCOL = 2;

/** Whether a client speaking `protocol` may connect to this server. */
export function protocolCompatible(protocol: number): boolean {
  return protocol >= MIN_CLIENT_PROTOCOL && protocol <= PROTOCOL_VERSION;
}

/** The refusal a client of another protocol gets, naming both versions. */
export function incompatibleClientMessage(protocol: number): string {
  return protocol < PROTOCOL_VERSION
    ? `this page speaks protocol ${protocol} and the server speaks protocol ${PROTOCOL_VERSION}: the studio was updated; reload the page`
    : `this page speaks protocol ${protocol} and the server speaks protocol ${PROTOCOL_VERSION}: the server is older than this page; reload the page, or ask whoever runs the server to update it`;
}

/** Per client, frames sent and not yet acknowledged. */
export const MAX_UNACKED_FRAMES = 2;

export const ROLES = ['editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Machine-readable error codes, used by REST error bodies and the socket `error` event. */
export const ErrorCode = {
  BadRequest: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  UnknownSession: 'UNKNOWN_SESSION',
  NotFound: 'NOT_FOUND',
  ReadOnly: 'READ_ONLY',
  InvalidValue: 'INVALID_VALUE',
  BadMessage: 'BAD_MESSAGE',
  RateLimited: 'RATE_LIMITED',
  TooManySessions: 'TOO_MANY_SESSIONS',
  TooManyClients: 'TOO_MANY_CLIENTS',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  ImageTooLarge: 'IMAGE_TOO_LARGE',
  ImageDecodeFailed: 'IMAGE_DECODE_FAILED',
  EngineFailed: 'ENGINE_FAILED',
  /** A cost budget (paint, engine, images, document bytes, exports) refused the input; the message names the limit. */
  OverBudget: 'OVER_BUDGET',
  /** The client speaks another protocol version (S32); the message names both. Reload the page. */
  IncompatibleClient: 'INCOMPATIBLE_CLIENT',
  /** Storage did not answer in time (S30); the client retries. */
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Body of every non-2xx REST response, and payload of the socket `error` event. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  /** Where the bad value was, e.g. `params.styleWeight` or `strokes[3].points`. */
  path?: string;
}
export interface ErrorResponse {
  error: ErrorPayload;
}

/** socket.io handshake `auth`. */
export const HandshakeAuth = z.object({
  session: z.string().min(1).max(64),
  token: z.string().min(1).max(128),
  name: z.string().max(64).optional(),
  /**
   * The protocol version the client speaks ({@link PROTOCOL_VERSION}); refused with
   * INCOMPATIBLE_CLIENT when the server does not serve it. Optional: a stock y-protocols client that
   * does not say is served.
   */
  protocol: z.number().int().min(0).max(1_000_000).optional(),
});
export type HandshakeAuth = z.infer<typeof HandshakeAuth>;

export interface LossTerms {
  total: number;
  style: number;
  content: number;
  tv: number;
}

/** One rendered frame of a session's optimization. `data` is the encoded image (JPEG/WebP). */
export interface FramePayload {
  iter: number;
  w: number;
  h: number;
  mime: 'image/jpeg' | 'image/webp' | 'image/png';
  losses: LossTerms;
  stepsPerSec: number;
  backend: string;
  data: Uint8Array;
}

export type EngineState = 'loading' | 'running' | 'paused' | 'idle' | 'error';

/** Sent on connect and whenever the session's engine state changes. */
export interface StatusPayload {
  protocol: number;
  session: string;
  role: Role;
  state: EngineState;
  backend: string;
  model: string;
  iter: number;
  stepsPerSec: number;
  clients: number;
  message?: string;
  /**
   * Editors only: the session's view-only token, so every editor — also one who joined by link —
   * can share a view-only link or put the projector on a wall without the editor token. Absent
   * for viewers, and for sessions created before the viewer token was derived from the editor
   * token (server SPEC S3).
   */
  viewerToken?: string;
}

/** Events the server emits. */
export interface ServerToClientEvents {
  'y:sync': (msg: Uint8Array) => void;
  'y:awareness': (msg: Uint8Array) => void;
  frame: (frame: FramePayload, ack: () => void) => void;
  status: (status: StatusPayload) => void;
  error: (err: ErrorPayload) => void;
}

/** Events a client emits. */
export interface ClientToServerEvents {
  'y:sync': (msg: Uint8Array) => void;
  'y:awareness': (msg: Uint8Array) => void;
}

export const SOCKET_PATH = '/socket.io';

/**
 * Awareness (presence) limits, shared so clients throttle below them: one message carries at most
 * `maxEntries` states, each at most `maxStateBytes` of JSON matching `AwarenessState`
 * (shared/schema.ts); a connection may send `ratePerSec` messages per second (burst `burst`).
 * The studio publishes its cursor every 50 ms (20/s).
 */
export const AWARENESS_LIMITS = { maxEntries: 8, maxStateBytes: 1024, ratePerSec: 30, burst: 60 } as const;

/** `POST /api/sessions` → 201. */
export interface CreateSessionResponse {
  id: string;
  editorToken: string;
  viewerToken: string;
  editorUrl: string;
  viewerUrl: string;
}

/** `POST /api/sessions/:id/images` → 201. */
export interface UploadImageResponse {
  imageId: ImageId;
  width: number;
  height: number;
}

/** Built-in style and content images, `GET /api/presets`. */
export interface PresetImage {
  imageId: ImageId;
  name: string;
  kind: 'style' | 'content';
  width: number;
  height: number;
  credit: string;
}
export interface PresetsResponse {
  images: PresetImage[];
}

export const ACCEPTED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;

// ── History, replay, fork and export (docs/HISTORY.md) ─────────────────────────────────────────

/**
 * One change a stored document update made, found by decoding the update against the document
 * state before it. `from`/`to` are raw document values (what the writer wrote, valid or not).
 */
export type DocChange =
  | { kind: 'param'; key: string; from: unknown; to: unknown }
  | { kind: 'content'; key: string; from: unknown; to: unknown }
  | { kind: 'style-added'; index: number; imageId: string | null }
  | { kind: 'style-removed'; index: number; imageId: string | null }
  | { kind: 'style-changed'; index: number; imageId: string | null; key: string; from: unknown; to: unknown }
  | { kind: 'stroke-added'; id: string; author: string; tool: string | null; color: string | null }
  | { kind: 'stroke-removed'; id: string; author: string }
  | { kind: 'stroke-updated'; id: string; author: string; points: number }
  /** Region strokes (style brushes): `style` is the image id of the style a brush paints. */
  | { kind: 'region-added'; id: string; author: string; tool: string | null; style: string | null }
  | { kind: 'region-removed'; id: string; author: string }
  | { kind: 'region-updated'; id: string; author: string; points: number }
  | { kind: 'other'; detail: string };

/** One stored document update in the timeline. `author` is `name#socketId` or `server`. */
export interface HistoryEdit {
  seq: number;
  time: number;
  author: string;
  /** Empty when the update changed nothing visible (e.g. a no-op or a deletion of nothing). */
  changes: DocChange[];
}

/** A stored keyframe: the optimization's output image at one moment. */
export interface HistoryKeyframe {
  id: number;
  time: number;
  iter: number;
  width: number;
  height: number;
  losses: LossTerms;
  /** `GET` this (with the token) for the JPEG. */
  url: string;
}

/** One loss sample (about one a second while the optimization runs, plus every keyframe). */
export interface LossSample extends LossTerms {
  time: number;
  iter: number;
}

/** `GET /api/sessions/:id/history`. */
export interface HistoryResponse {
  session: string;
  createdAt: number;
  /** Time of the first and last event (update, keyframe or loss sample). */
  start: number;
  end: number;
  edits: HistoryEdit[];
  keyframes: HistoryKeyframe[];
  losses: LossSample[];
}

/** A validated document snapshot (see `SessionState` in shared/schema.ts), as JSON. */
export interface HistoryDocState {
  params: Record<string, unknown>;
  styles: { imageId: string; weight: number; scale: number }[];
  content: { imageId?: string; background: string; width: number; height: number };
  strokes: { id: string; author: string; tool: 'brush' | 'eraser'; color: string; size: number; opacity: number; points: number[] }[];
  regions: { id: string; author: string; tool: 'brush' | 'eraser'; style?: string; size: number; points: number[] }[];
}

/** `GET /api/sessions/:id/history/state?t=<ms>`: the document and keyframe at time t. */
export interface HistoryStateResponse {
  t: number;
  /** Seq of the last update applied (0 when none is at or before t). */
  seq: number;
  /** Number of updates applied. */
  updates: number;
  state: HistoryDocState;
  keyframe: HistoryKeyframe | null;
}

// REST request bodies and queries: checked at the boundary with these schemas (server
// app/routes.ts parseRequest), each refusal a 400 BAD_REQUEST naming the field and what it got.

/** What a refused value was, for messages: its JSON, or `nothing`. */
const got = (v: unknown): string => JSON.stringify(v) ?? 'nothing';

/** A JSON body; none, or one that is not an object, reads as `{}` so the missing field is named. */
function jsonBody<T extends z.ZodType>(schema: T) {
  return z.preprocess((body) => (body !== null && typeof body === 'object' ? body : {}), schema);
}

/** A time in ms since the epoch: a number, or a numeric string (query strings). */
export const TimeMs = z.unknown().transform((v, ctx) => {
  const t = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  ctx.addIssue({ code: 'custom', message: `t must be a time in ms since the epoch (got ${got(v)})` });
  return z.NEVER;
});

/** `GET /api/sessions/:id/history/state?t=<ms>` query. */
export const HistoryStateQuery = z.object({ t: TimeMs });

/** `POST /api/sessions/:id/fork` body (editor token) → 201 {@link CreateSessionResponse}. */
export const ForkRequest = jsonBody(z.object({ t: TimeMs }));
export type ForkRequest = z.output<typeof ForkRequest>;

export const EXPORT_FORMATS = ['webp', 'gif', 'mp4', 'png'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const fpsError = (iss: { input?: unknown }) => `fps must be a number from 1 to 60 (got ${got(iss.input)})`;
const sizeError = (iss: { input?: unknown }) => `size must be an integer from 16 to 2048 (got ${got(iss.input)})`;

const ExportFields = z.object({
  format: z.enum(EXPORT_FORMATS, { error: (iss) => `format must be one of ${EXPORT_FORMATS.join(', ')} (got ${got(iss.input)})` }),
  /** Frames per second of the timelapse. */
  fps: z.number({ error: fpsError }).min(1, { error: fpsError }).max(60, { error: fpsError }).default(8),
  /** Long side in pixels; absent: the keyframes' own size. */
  size: z.number({ error: sizeError }).int({ error: sizeError }).min(16, { error: sizeError }).max(2048, { error: sizeError }).optional(),
});
/** `POST /api/sessions/:id/export` body → 202 {@link ExportAccepted}. */
export const ExportRequest = jsonBody(ExportFields);
/** What a client sends (`fps` may be left out) … */
export type ExportRequest = z.input<typeof ExportFields>;
/** … and what the server reads, defaults applied. */
export type ExportOptions = z.output<typeof ExportFields>;

export interface ExportAccepted {
  jobId: string;
  /** `GET` this for progress ({@link ExportStatus}). */
  statusUrl: string;
}

/** `GET /api/exports/:jobId`. */
export interface ExportStatus {
  jobId: string;
  format: ExportFormat;
  state: 'queued' | 'running' | 'done' | 'error';
  progress: number;
  frames: number;
  /** When done: where to download the file. */
  url?: string;
  bytes?: number;
  message?: string;
}

/**
 * Every HTTP path of the server, in one place so server routes and client URLs cannot drift
 * apart: the server mounts these patterns (express syntax, `:name` parameters), and {@link api}
 * builds URLs from the same patterns. server/app/routes-table.test.ts checks that no other file
 * writes a path by hand.
 */
export const ROUTES = {
  /** Prefix of every REST route (the API's 404 catch-all is mounted on it). */
  apiPrefix: '/api',
  sessions: '/api/sessions',
  images: '/api/sessions/:id/images',
  image: '/api/images/:imageId',
  frame: '/api/sessions/:id/frame.jpg',
  stream: '/api/sessions/:id/stream.mjpg',
  presets: '/api/presets',
  history: '/api/sessions/:id/history',
  historyState: '/api/sessions/:id/history/state',
  keyframe: '/api/sessions/:id/keyframes/:kid.jpg',
  fork: '/api/sessions/:id/fork',
  exportTimelapse: '/api/sessions/:id/export',
  exportJob: '/api/exports/:jobId',
  exportFile: '/api/exports/:jobId/file',
  /** The client's pages: editor, projector (`/view`) and replay (`/replay`); index.html serves them all. */
  editorPage: '/s/:id',
  projectorPage: '/s/:id/view',
  replayPage: '/s/:id/replay',
  /** Every page path, for the server's index.html fallback. */
  pages: '/s/*splat',
  /** What every session page path starts with. */
  pagePrefix: '/s/',
  health: '/healthz',
  metrics: '/metrics',
  socket: SOCKET_PATH,
} as const;

/** `pattern` with each `:name` replaced by `params[name]`, percent-encoded. */
export function fillRoute(pattern: string, params: Record<string, string | number>): string {
  return pattern.replace(/:(\w+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`route ${pattern} needs :${name}`);
    return encodeURIComponent(String(v));
  });
}

/** `path` with the session token as its query (links and media URLs that cannot send a header). */
export function withToken(path: string, token: string): string {
  return `${path}?token=${encodeURIComponent(token)}`;
}

/** The header that carries the session token on REST calls (the server also reads `?token=`, {@link withToken}). */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** URL builders of {@link ROUTES}. */
export const api = {
  sessions: ROUTES.sessions,
  images: (sessionId: string) => fillRoute(ROUTES.images, { id: sessionId }),
  image: (imageId: string) => fillRoute(ROUTES.image, { imageId }),
  frame: (sessionId: string) => fillRoute(ROUTES.frame, { id: sessionId }),
  stream: (sessionId: string) => fillRoute(ROUTES.stream, { id: sessionId }),
  presets: ROUTES.presets,
  history: (sessionId: string) => fillRoute(ROUTES.history, { id: sessionId }),
  historyState: (sessionId: string, t: number) => `${fillRoute(ROUTES.historyState, { id: sessionId })}?t=${t}`,
  keyframe: (sessionId: string, keyframeId: number) => fillRoute(ROUTES.keyframe, { id: sessionId, kid: keyframeId }),
  fork: (sessionId: string) => fillRoute(ROUTES.fork, { id: sessionId }),
  exportTimelapse: (sessionId: string) => fillRoute(ROUTES.exportTimelapse, { id: sessionId }),
  exportJob: (jobId: string) => fillRoute(ROUTES.exportJob, { jobId }),
  exportFile: (jobId: string) => fillRoute(ROUTES.exportFile, { jobId }),
  editorPage: (sessionId: string, token: string) => withToken(fillRoute(ROUTES.editorPage, { id: sessionId }), token),
  projectorPage: (sessionId: string, token: string) => withToken(fillRoute(ROUTES.projectorPage, { id: sessionId }), token),
  replayPage: (sessionId: string, token: string) => withToken(fillRoute(ROUTES.replayPage, { id: sessionId }), token),
  health: ROUTES.health,
  metrics: ROUTES.metrics,
} as const;
