/**
 * One session's fan-out, shared by all its sockets: one subscription to the session relays durable
 * updates (batched per group commit, S5/S6), awareness (S9), status (S11) and frames (S10, through
 * one FrameChannel per socket). Each socket's edits carry its {@link ClientOrigin}.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { MAX_UNACKED_FRAMES, PROTOCOL_VERSION, type FramePayload, type Role, type StatusPayload } from '../../shared/protocol.ts';
import { REMOTE_ORIGIN, type Session, type UpdateOrigin } from '../session/session.ts';
import { FrameChannel } from './frame-channel.ts';
import type { AtelierServer, AtelierSocket } from './socket-types.ts';

/**
 * What the realtime layer counts. app/metrics.ts's ServerMetrics provides it; declared here so the
 * transport does not import the composition root (app/ → realtime/, never back).
 */
export interface RealtimeMetrics {
  frameSent(bytes: number): void;
  framesDropped: { inc(n: number): void };
}

/** How long a frame may stay unacknowledged before its slot is reclaimed (lost acks, not slowness). */
const FRAME_ACK_TIMEOUT_MS = 30_000;

/** Transaction origin of a socket's edits. */
export class ClientOrigin implements UpdateOrigin {
  readonly author: string;
  /** Awareness client ids this socket has published (removed when it disconnects). */
  readonly awarenessClients = new Set<number>();
  constructor(
    readonly socket: AtelierSocket,
    readonly name: string,
  ) {
    this.author = `${name || 'anonymous'}#${socket.id}`;
  }

  /**
   * Whether this socket may take over awareness id(s) published by `owner` (S9): the owner is
   * gone, or it is the same tab reconnecting — same client address, handshake name and role —
   * before the old socket timed out.
   */
  mayTakeOver(owner: ClientOrigin): boolean {
    if (owner === this || owner.socket.disconnected) return true;
    const a = this.socket.data, b = owner.socket.data;
    return a.address === b.address && a.role === b.role && this.name === owner.name;
  }
}

/** Per-session fan-out: one subscription to the session however many sockets it has. */
export class SessionRoom {
  readonly origins = new Map<string, ClientOrigin>();
  /** Awareness client id → the socket that claimed it (S9). */
  readonly awarenessOwners = new Map<number, ClientOrigin>();
  readonly channels = new Map<string, FrameChannel>();
  private unsubscribe: () => void;
  private onAwareness: (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => void;

  constructor(
    readonly session: Session,
    private io: AtelierServer,
    private metrics?: RealtimeMetrics,
  ) {
    this.unsubscribe = session.subscribe({
      durableUpdate: (update, origin) => {
        this.pending.push({ update, from: origin instanceof ClientOrigin ? origin : null });
        // A committed batch calls this once per update, synchronously: relay them together.
        if (!this.relayTimer) this.relayTimer = setImmediate(() => this.relay());
      },
      frame: (frame) => {
        for (const ch of this.channels.values()) ch.offer(frame);
      },
      status: () => {
        for (const o of this.origins.values()) o.socket.emit('status', statusFor(session, o.socket.data.role, o.socket.data.viewerToken));
      },
      invalid: (origin, errors) => {
        if (!(origin instanceof ClientOrigin) || !this.origins.has(origin.socket.id)) return;
        for (const e of errors) origin.socket.emit('error', e);
      },
    });
    this.onAwareness = ({ added, updated, removed }, origin) => {
      // Another process's change (server/cluster): that process relayed it to every socket already.
      if (origin === REMOTE_ORIGIN) return;
      const changed = [...added, ...updated, ...removed];
      if (origin instanceof ClientOrigin) {
        for (const id of [...added, ...updated]) {
          const prev = this.awarenessOwners.get(id);
          if (prev && prev !== origin) prev.awarenessClients.delete(id);
          this.awarenessOwners.set(id, origin);
          origin.awarenessClients.add(id);
        }
        for (const id of removed) {
          origin.awarenessClients.delete(id);
          if (this.awarenessOwners.get(id) === origin) this.awarenessOwners.delete(id);
        }
      }
      const msg = awarenessProtocol.encodeAwarenessUpdate(session.awareness, changed);
      const target = this.io.to(session.id);
      (origin instanceof ClientOrigin ? target.except(origin.socket.id) : target).emit('y:awareness', msg);
    };
    session.awareness.on('update', this.onAwareness);
  }

  /** Durable updates waiting for the next relay (S5: batched, at most one message per socket per interval). */
  private pending: { update: Uint8Array; from: ClientOrigin | null }[] = [];
  private relayTimer: NodeJS.Immediate | null = null;

  /**
   * Relays the durable updates of one group commit (a 16 ms window, S6) as one merged update per socket: everyone
   * gets all of them, except that a socket whose own updates are in the batch gets the others'
   * (never its own, S5). With 20 editors painting at 20 Hz that is ~60 messages/s per socket
   * instead of 400 — the socket writes, not the Yjs work, were the relay's cost.
   */
  private relay(): void {
    this.relayTimer = null;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length || this.session.isClosed) return;
    const message = (updates: Uint8Array[]) => {
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates));
      return encoding.toUint8Array(enc);
    };
    const senders = new Set<ClientOrigin>();
    for (const b of batch) if (b.from) senders.add(b.from);
    const target = this.io.to(this.session.id);
    (senders.size ? target.except([...senders].map((o) => o.socket.id)) : target).emit('y:sync', message(batch.map((b) => b.update)));
    for (const sender of senders) {
      const others = batch.filter((b) => b.from !== sender).map((b) => b.update);
      if (others.length && sender.socket.connected) sender.socket.emit('y:sync', message(others));
    }
  }

  add(origin: ClientOrigin): FrameChannel {
    const socket = origin.socket;
    this.origins.set(socket.id, origin);
    const channel = new FrameChannel((frame: FramePayload, acked) => {
      this.metrics?.frameSent(frame.data.byteLength);
      // Own (unref'd) timer rather than socket.timeout(): a pending ack must not keep the process alive.
      const reclaim = setTimeout(acked, FRAME_ACK_TIMEOUT_MS);
      reclaim.unref();
      socket.emit('frame', frame, () => {
        clearTimeout(reclaim);
        acked();
      });
    }, MAX_UNACKED_FRAMES);
    this.channels.set(socket.id, channel);
    return channel;
  }

  remove(origin: ClientOrigin): void {
    this.origins.delete(origin.socket.id);
    const ch = this.channels.get(origin.socket.id);
    if (ch) this.metrics?.framesDropped.inc(ch.dropped);
    ch?.close();
    this.channels.delete(origin.socket.id);
    const owned = [...origin.awarenessClients].filter((id) => this.awarenessOwners.get(id) === origin);
    for (const id of owned) this.awarenessOwners.delete(id);
    if (owned.length && !this.session.isClosed) awarenessProtocol.removeAwarenessStates(this.session.awareness, owned, 'disconnect');
  }

  get empty(): boolean {
    return this.origins.size === 0;
  }

  dispose(): void {
    if (this.relayTimer) clearImmediate(this.relayTimer);
    this.relay();
    this.unsubscribe();
    this.session.awareness.off('update', this.onAwareness);
  }
}

/** The status a socket of `role` sees; `viewerToken` goes to editors only. */
export function statusFor(session: Session, role: Role, viewerToken?: string): StatusPayload {
  return {
    protocol: PROTOCOL_VERSION,
    session: session.id,
    role,
    ...(role === 'editor' && viewerToken ? { viewerToken } : {}),
    state: session.state,
    backend: session.backend,
    model: session.validator.state().params.model,
    iter: session.iter,
    stepsPerSec: session.stepsPerSec,
    clients: session.clientCount,
    ...(session.message ? { message: session.message } : {}),
  };
}
