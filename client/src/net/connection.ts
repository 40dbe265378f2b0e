/**
 * One browser's link to a session: the socket.io connection, the Y.Doc and awareness it keeps
 * in sync (through {@link SyncProvider}), and the frame/status/error streams.
 *
 * - Starts read-only; becomes an editor only when the server's `status` says the role is
 *   `editor`, so a viewer token never sends writes even before the UI has locked itself.
 * - socket.io reconnects by itself; each connect re-runs the sync handshake (see SyncProvider),
 *   so edits made while offline are kept and delivered. A handshake rejected for a bad link
 *   (unknown session, wrong token) is final; other connect errors retry.
 */
import { io, type Socket } from 'socket.io-client';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import {
  SOCKET_PATH,
  PROTOCOL_VERSION,
  ErrorCode,
  type ServerToClientEvents,
  type ClientToServerEvents,
  type FramePayload,
  type StatusPayload,
  type ErrorPayload,
} from '../../../shared/protocol.ts';
import type { AwarenessState, PresenceTool } from '../../../shared/schema.ts';
import { SyncProvider } from './sync-provider.ts';
import { toUint8Array } from '../util/binary.ts';
import { Emitter } from '../util/emitter.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'failed';

export interface ConnectionOptions {
  session: string;
  token: string;
  /** Presence to publish, or null to stay invisible (the projector). */
  presence: AwarenessState | null;
}

const FATAL_CODES = new Set<string>([ErrorCode.Unauthorized, ErrorCode.Forbidden, ErrorCode.UnknownSession, ErrorCode.TooManyClients, ErrorCode.IncompatibleClient]);

export class Connection {
  readonly doc = new Y.Doc();
  readonly awareness = new Awareness(this.doc);
  readonly provider: SyncProvider;
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  readonly stateChanged = new Emitter<ConnectionState>();
  readonly statusChanged = new Emitter<StatusPayload>();
  readonly errors = new Emitter<ErrorPayload>();
  readonly frames = new Emitter<{ frame: FramePayload; ack: () => void }>();
  status: StatusPayload | null = null;
  /** The most recent error, for pages that subscribe after it happened. */
  lastError: ErrorPayload | null = null;
  private stateValue: ConnectionState = 'connecting';
  private everConnected = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onOnline = () => {
    if (!this.socket.connected && this.stateValue !== 'failed') this.socket.connect();
  };
  private readonly onOffline = () => this.setState('offline');
  private readonly onUnload = () => this.awareness.setLocalState(null);

  constructor(readonly opts: ConnectionOptions) {
    this.awareness.setLocalState(opts.presence);
    this.socket = io({
      path: SOCKET_PATH,
      // The server refuses a page of another protocol version with INCOMPATIBLE_CLIENT (S32, C27).
      auth: { session: opts.session, token: opts.token, name: opts.presence?.user.name, protocol: PROTOCOL_VERSION },
      reconnectionDelay: 500,
      reconnectionDelayMax: 4000,
    });
    this.errors.on((e) => (this.lastError = e));
    this.provider = new SyncProvider(
      this.doc,
      this.awareness,
      {
        sendSync: (m) => this.socket.emit('y:sync', m),
        sendAwareness: (m) => this.socket.emit('y:awareness', m),
      },
      { readOnly: true },
    );
    this.wire();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    window.addEventListener('pagehide', this.onUnload);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }
  get role(): 'editor' | 'viewer' | null {
    return this.status?.role ?? null;
  }
  get canEdit(): boolean {
    return this.status?.role === 'editor';
  }

  /** Publishes the tool I hold (C100: the others see a style brush's style), or none. */
  setTool(tool: PresenceTool | undefined): void {
    if (this.awareness.getLocalState() === null) return;
    this.awareness.setLocalStateField('tool', tool);
  }

  /** Publishes my cursor (content pixels) or null when the pointer left the canvas. */
  setCursor(cursor: { x: number; y: number } | null): void {
    if (this.awareness.getLocalState() === null) return;
    this.awareness.setLocalStateField('cursor', cursor);
  }

  close(): void {
    clearTimeout(this.retryTimer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    window.removeEventListener('pagehide', this.onUnload);
    this.awareness.setLocalState(null);
    this.provider.destroy();
    this.socket.disconnect();
    this.awareness.destroy();
    this.stateChanged.clear();
    this.statusChanged.clear();
    this.errors.clear();
    this.frames.clear();
    this.doc.destroy(); // and with it the observers and undo managers pages attached to it
  }

  private setState(s: ConnectionState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.stateChanged.emit(s);
  }

  private wire(): void {
    const s = this.socket;
    s.on('connect', () => {
      this.everConnected = true;
      this.setState('connected');
      this.provider.handleConnect();
    });
    s.on('disconnect', (reason) => {
      this.provider.handleDisconnect();
      if (reason === 'io client disconnect') return;
      this.setState(navigator.onLine === false ? 'offline' : 'reconnecting');
      // A server-side kick does not auto-reconnect in socket.io; we want the room back.
      if (reason === 'io server disconnect') this.retryTimer = setTimeout(() => s.connect(), 1000);
    });
    s.on('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
      const code = err.data?.code;
      if (code && FATAL_CODES.has(code)) {
        this.setState('failed');
        this.errors.emit({ code: code as ErrorCode, message: err.data?.message ?? err.message });
        return;
      }
      this.setState(navigator.onLine === false ? 'offline' : this.everConnected ? 'reconnecting' : 'connecting');
      if (!s.active) this.retryTimer = setTimeout(() => s.connect(), 2000);
    });
    s.on('y:sync', (msg) => {
      try {
        this.provider.handleSyncMessage(toUint8Array(msg));
      } catch (e) {
        this.errors.emit({ code: ErrorCode.BadMessage, message: `Could not apply a document update: ${(e as Error).message}` });
      }
    });
    s.on('y:awareness', (msg) => {
      try {
        this.provider.handleAwarenessMessage(toUint8Array(msg));
      } catch {
        /* a bad presence message only affects presence */
      }
    });
    s.on('status', (st) => {
      this.status = st;
      this.provider.setReadOnly(st.role !== 'editor');
      this.statusChanged.emit(st);
    });
    s.on('error', (e) => this.errors.emit(e));
    s.on('frame', (frame, ack) => {
      let data: Uint8Array;
      try {
        data = toUint8Array(frame.data);
      } catch {
        ack();
        return;
      }
      // Nobody displays frames yet (the page is still setting up): acknowledge so the server
      // does not count it as in flight forever.
      if (this.frames.size === 0) return ack();
      this.frames.emit({ frame: { ...frame, data }, ack });
    });
  }
}
