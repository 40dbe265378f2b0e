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

/** Bumped on any incompatible change to events or payloads. */
export const PROTOCOL_VERSION = 1;

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

/** REST paths, in one place so server routes and client fetches cannot drift apart. */
export const api = {
  sessions: '/api/sessions',
  images: (sessionId: string) => `/api/sessions/${encodeURIComponent(sessionId)}/images`,
  image: (imageId: string) => `/api/images/${encodeURIComponent(imageId)}`,
  frame: (sessionId: string) => `/api/sessions/${encodeURIComponent(sessionId)}/frame.jpg`,
  stream: (sessionId: string) => `/api/sessions/${encodeURIComponent(sessionId)}/stream.mjpg`,
  presets: '/api/presets',
  health: '/healthz',
  metrics: '/metrics',
} as const;
