/**
 * One socket of a session, from its connection to its disconnect: the greeting (status, step1 for
 * editors, awareness, the latest frame), the `y:sync` and `y:awareness` handlers behind the message
 * guard and rate limits (R1, R2), roles (S7), document budgets (S27) and presence ownership (S9).
 * attachRealtime (socket-server.ts) authenticates the handshake and makes one Connection per socket;
 * the session's {@link SessionRoom} fans out to all of them.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { AWARENESS_LIMITS, ErrorCode, type ErrorPayload, type Role } from '../../shared/protocol.ts';
import { createLogger } from '../log.ts';
import type { GroupCommit } from '../storage/group-commit.ts';
import type { Session } from '../session/session.ts';
import { TokenBucket } from '../limits/rate-limit.ts';
import type { FrameChannel } from './frame-channel.ts';
import {
  MAX_AWARENESS_ENTRIES,
  STEP1_COST,
  SYNC_STEP1,
  SocketGuard,
  checkStateVector,
  checkUpdate,
  inspectAwarenessUpdate,
  parseSyncMessage,
  type Admission,
  type SocketLimits,
} from './message-guard.ts';
import { ClientOrigin, statusFor, type SessionRoom } from './session-room.ts';
import type { AtelierSocket } from './socket-types.ts';

const log = createLogger('realtime');

/** After an editor's update was dropped by a rate limit, ask it for a resync this much later. */
const RESYNC_AFTER_DROP_MS = 1000;

/** What every connection of one realtime server shares. */
export interface ConnectionOptions {
  limits: SocketLimits;
  commits: GroupCommit;
  /** Largest document update accepted (DOC_MAX_UPDATE_BYTES, S27). */
  docMaxUpdateBytes: number;
  /** Stored document bytes per session (SESSION_MAX_DOC_BYTES, S27). */
  sessionMaxDocBytes: number;
}

export class Connection {
  readonly origin: ClientOrigin;
  private readonly role: Role;
  private readonly channel: FrameChannel;
  private readonly release: () => void;
  private readonly guard: SocketGuard;
  /** S9: presence has its own, tighter rate (AWARENESS_LIMITS): it is fanned out to every listener. */
  private readonly awarenessRate = new TokenBucket(AWARENESS_LIMITS.burst, AWARENESS_LIMITS.ratePerSec);
  private lastAwarenessNotice = -Infinity;
  private resyncTimer: NodeJS.Timeout | null = null;
  /** The last of this socket's updates waiting for an image lookup (S30), or null when none waits. */
  private applying: Promise<void> | null = null;

  /**
   * Joins `room` (which must be `session`'s), attaches to the session as a watcher, greets the
   * client and handles its messages until it disconnects; then leaves the room and calls `closed`.
   */
  constructor(
    private readonly socket: AtelierSocket,
    private readonly session: Session,
    private readonly room: SessionRoom,
    private readonly opts: ConnectionOptions,
    closed: (c: Connection) => void,
  ) {
    this.role = socket.data.role;
    this.origin = new ClientOrigin(socket, socket.data.name);
    this.channel = room.add(this.origin);
    void socket.join(session.id);
    this.release = session.attach('socket', socket.data.address);
    this.guard = new SocketGuard(opts.limits);
    socket.onAny((event: unknown) => {
      if (event !== 'y:sync' && event !== 'y:awareness') this.refuse(this.guard.reject(ErrorCode.BadMessage, `unknown event '${String(event).slice(0, 40)}'`));
    });
    this.greet();
    socket.on('y:sync', (raw: unknown) => this.onSync(raw));
    socket.on('y:awareness', (raw: unknown) => this.onAwareness(raw));
    socket.on('disconnect', () => {
      if (this.resyncTimer) clearTimeout(this.resyncTimer);
      closed(this);
      this.release();
      socket.data.releaseSlot();
    });
  }

  /** Status, then sync step1 to an editor (its offline edits come back as step2), presence, the latest frame. */
  private greet(): void {
    const { socket, session } = this;
    socket.emit('status', statusFor(session, this.role, socket.data.viewerToken));
    if (this.role === 'editor') {
      const enc = encoding.createEncoder();
      syncProtocol.writeSyncStep1(enc, session.doc);
      socket.emit('y:sync', encoding.toUint8Array(enc));
    }
    if (session.awareness.getStates().size) {
      socket.emit('y:awareness', awarenessProtocol.encodeAwarenessUpdate(session.awareness, [...session.awareness.getStates().keys()]));
    }
    if (session.latestFrame) this.channel.offer(session.latestFrame);
  }

  private sendError(e: ErrorPayload): void {
    this.socket.emit('error', e);
  }

  private refuse(a: Admission): void {
    if (a.ok) return;
    if (a.error) this.sendError(a.error);
    if (a.disconnect) this.socket.disconnect(true);
  }

  /** An editor's update was dropped: ask for its missing edits (step1 → its step2) a bit later. */
  private scheduleResync(): void {
    if (this.role !== 'editor' || this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      if (this.socket.disconnected || this.session.isClosed) return;
      const enc = encoding.createEncoder();
      syncProtocol.writeSyncStep1(enc, this.session.doc);
      this.socket.emit('y:sync', encoding.toUint8Array(enc));
    }, RESYNC_AFTER_DROP_MS);
    this.resyncTimer.unref();
  }

  private async onSync(raw: unknown): Promise<void> {
    const { socket, session, guard, role } = this;
    // Guard first (binary, size, rate), then the message's structure, then a full decode of the
    // update, so nothing malformed reaches Y.applyUpdate (y-protocols would half-apply and log it).
    const first = raw instanceof Uint8Array || raw instanceof ArrayBuffer ? new Uint8Array(raw)[0] : undefined;
    const admitted = guard.admit('y:sync', raw, first === SYNC_STEP1 ? STEP1_COST : 1);
    if (!admitted.ok) {
      if (admitted.rateLimited && first !== SYNC_STEP1) this.scheduleResync();
      return this.refuse(admitted);
    }
    if (session.isClosed) return;
    const msg = parseSyncMessage(admitted.bytes);
    if (typeof msg === 'string') return this.refuse(guard.reject(ErrorCode.BadMessage, msg));
    if (msg.type === SYNC_STEP1) {
      const bad = checkStateVector(msg.payload);
      if (bad) return this.refuse(guard.reject(ErrorCode.BadMessage, bad));
      // R2: a step1 costs its answer's bytes; one that arrives while the socket's byte bucket
      // is spent is refused before the (whole-document) answer is built.
      if (guard.bytesAvailable <= 0) {
        return this.sendError({ code: ErrorCode.RateLimited, message: `too many document requests: each costs the document's size against ${this.opts.limits.byteRate} bytes/s per connection; retry later` });
      }
      // Charged now (not after the commit wait below), so a burst of step1s cannot all pass the check.
      guard.chargeAnswer(session.encodeStateAsUpdate(msg.payload).length + 8);
      // Answer with durable state only: wait until the updates queued before it are committed (S6).
      await this.opts.commits.durable();
      if (session.isClosed || socket.disconnected) return;
    } else {
      if (role === 'editor' && msg.payload.length > this.opts.docMaxUpdateBytes) {
        return this.sendError({ code: ErrorCode.OverBudget, message: `a document update of ${msg.payload.length} bytes is over the limit of ${this.opts.docMaxUpdateBytes} (DOC_MAX_UPDATE_BYTES); it was dropped` });
      }
      // S30: a socket's updates are applied in the order they came. One that names images this
      // process does not know yet waits for their lookup, and the ones after it wait behind it.
      const payload = msg.payload;
      const wait = role === 'editor' ? session.imagesKnown(payload) : null;
      if (!wait && !this.applying) return this.applyUpdate(payload);
      const queued = (this.applying ?? Promise.resolve()).then(() => wait).then(() => this.applyUpdate(payload));
      this.applying = queued;
      void queued.finally(() => {
        if (this.applying === queued) this.applying = null;
      });
      return;
    }
    try {
      const update = session.encodeStateAsUpdate(msg.payload);
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, syncProtocol.messageYjsSyncStep2);
      encoding.writeVarUint8Array(enc, update);
      socket.emit('y:sync', encoding.toUint8Array(enc));
    } catch (e) {
      log.warn('bad sync message', { session: session.id, error: (e as Error).message });
      this.refuse(guard.reject(ErrorCode.BadMessage, `could not answer the sync message: ${(e as Error).message}`));
    }
  }

  /** Checks an update against the document as it is now and applies it (R1, S7, S27). */
  private applyUpdate(payload: Uint8Array): void {
    const { socket, session, guard } = this;
    if (session.isClosed || socket.disconnected) return;
    const { error, empty } = checkUpdate(payload, this.role === 'editor' ? session.doc : undefined);
    if (error) return this.refuse(guard.reject(ErrorCode.BadMessage, error));
    if (this.role !== 'editor') {
      if (!empty) this.sendError({ code: ErrorCode.ReadOnly, message: 'this is a view-only connection; the change was dropped' });
      return;
    }
    const max = this.opts.sessionMaxDocBytes;
    if (!empty && session.docBytes + payload.length > max) {
      this.sendError({
        code: ErrorCode.OverBudget,
        message: `this session's document has reached its budget of ${max} stored bytes (SESSION_MAX_DOC_BYTES); the change was dropped — fork the session to go on from its current state`,
      });
      return;
    }
    try {
      // Applied here rather than via y-protocols, which would swallow (and console.error) a throw.
      Y.applyUpdate(session.doc, payload, this.origin);
    } catch (e) {
      log.warn('bad sync message', { session: session.id, error: (e as Error).message });
      this.refuse(guard.reject(ErrorCode.BadMessage, `could not apply the sync message: ${(e as Error).message}`));
    }
  }

  private onAwareness(raw: unknown): void {
    const { socket, session, guard, origin } = this;
    const admitted = guard.admit('y:awareness', raw);
    if (!admitted.ok) return this.refuse(admitted);
    if (session.isClosed) return;
    if (!this.awarenessRate.take()) {
      const t = Date.now();
      if (t - this.lastAwarenessNotice >= 1000) {
        this.lastAwarenessNotice = t;
        const disconnect = guard.strike();
        this.sendError({ code: ErrorCode.RateLimited, message: `too many awareness messages: at most ${AWARENESS_LIMITS.ratePerSec}/s per connection; dropped${disconnect ? '; disconnecting' : ''}` });
        if (disconnect) socket.disconnect(true);
      }
      return;
    }
    const ids = inspectAwarenessUpdate(admitted.bytes);
    if (typeof ids === 'string') return this.refuse(guard.reject(ErrorCode.BadMessage, ids));
    // S9: an awareness id belongs to the socket that published it first.
    for (const id of ids) {
      const owner = this.room.awarenessOwners.get(id);
      if (owner && !origin.mayTakeOver(owner)) {
        return this.refuse(guard.reject(ErrorCode.BadMessage, `awareness id ${id} belongs to another connection`));
      }
    }
    const fresh = ids.filter((id) => !origin.awarenessClients.has(id));
    if (origin.awarenessClients.size + fresh.length > MAX_AWARENESS_ENTRIES) {
      return this.refuse(guard.reject(ErrorCode.BadMessage, `a connection may publish at most ${MAX_AWARENESS_ENTRIES} awareness states`));
    }
    try {
      awarenessProtocol.applyAwarenessUpdate(session.awareness, admitted.bytes, origin);
    } catch (e) {
      this.refuse(guard.reject(ErrorCode.BadMessage, `could not apply the awareness update: ${(e as Error).message}`));
    }
  }
}
