/**
 * Cheap admission checks for socket messages, run before any Yjs code touches a payload.
 *
 * Every `y:sync` / `y:awareness` message passes {@link SocketGuard.admit}: it must be binary, at
 * most `maxMessageBytes`, structurally a y-protocols message (checked by reading a few varints,
 * never by building Yjs structures), and within the socket's token buckets for messages and bytes.
 * A message that fails is dropped with an `error` (BAD_MESSAGE, PAYLOAD_TOO_LARGE, RATE_LIMITED).
 *
 * Policy for misbehaving sockets (see docs/RELIABILITY.md): each bad message is a strike; strikes
 * are forgiven at one per `strikeForgiveSec`; a socket that collects `maxBadMessages` strikes
 * faster than that is disconnected. Rate-limited messages are dropped and answered with at most one
 * RATE_LIMITED error per second, and each such notice is also a strike, so a socket that floods
 * without pause is disconnected after `maxBadMessages` seconds while an honest burst only loses a
 * few messages (which the realtime layer recovers by asking the editor for a resync).
 */
import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { AWARENESS_LIMITS, ErrorCode, type ErrorPayload } from '../../shared/protocol.ts';
import { AwarenessState } from '../../shared/schema.ts';
import { TokenBucket, type Clock } from '../limits/rate-limit.ts';

/** y-protocols sync message types. */
export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;

/** Per-socket limits; see `server/config.ts` for their defaults. */
export interface SocketLimits {
  /** Sustained messages per second per socket. */
  msgRate: number;
  /** Burst of messages per socket. */
  msgBurst: number;
  /** Sustained payload bytes per second per socket. */
  byteRate: number;
  /** Burst of payload bytes per socket (at least maxMessageBytes). */
  byteBurst: number;
  /** Largest single message accepted. */
  maxMessageBytes: number;
  /** Strikes (bad or rate-limited messages) a socket may collect before it is disconnected; 0 = never. */
  maxBadMessages: number;
  /** One strike is forgiven every this many seconds. */
  strikeForgiveSec: number;
}

/** A sync step1 is answered with the whole document: it costs this many messages. */
export const STEP1_COST = 10;

/** Most awareness entries one message may carry (a browser tab publishes one). */
export const MAX_AWARENESS_ENTRIES = AWARENESS_LIMITS.maxEntries;
/** Largest awareness state (JSON) accepted per entry. */
export const MAX_AWARENESS_STATE_BYTES = AWARENESS_LIMITS.maxStateBytes;
/** Awareness messages are small: one message is at most this many bytes. */
export const MAX_AWARENESS_MESSAGE_BYTES = MAX_AWARENESS_ENTRIES * (MAX_AWARENESS_STATE_BYTES + 16) + 8;
/** Strict presence schema: the fields the studio publishes and nothing else. */
const PresenceState = AwarenessState.strict();

export type Admission =
  | { ok: true; bytes: Uint8Array }
  | {
      ok: false;
      /** The error for the client, or null when it was already told recently (rate limits). */
      error: ErrorPayload | null;
      /** The socket used up its strikes: disconnect it. */
      disconnect: boolean;
      /** Dropped by a rate limit (the message itself may have been fine). */
      rateLimited?: boolean;
    };

/** A y-protocols sync message, split without decoding its Yjs payload. */
export interface SyncMessage {
  type: typeof SYNC_STEP1 | typeof SYNC_STEP2 | typeof SYNC_UPDATE;
  /** State vector (step1) or update (step2/update). */
  payload: Uint8Array;
}

/** Normalises a socket.io binary payload (Buffer in Node, ArrayBuffer from browsers); null otherwise. */
export function toBytes(msg: unknown): Uint8Array | null {
  if (msg instanceof Uint8Array) return msg;
  if (msg instanceof ArrayBuffer) return new Uint8Array(msg);
  return null;
}

/**
 * Splits a sync message into type and payload; returns an explanation instead when it is not
 * exactly `varuint type ∈ {0,1,2}` followed by one length-prefixed byte array and nothing else.
 */
export function parseSyncMessage(bytes: Uint8Array): SyncMessage | string {
  try {
    const d = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(d);
    if (type !== SYNC_STEP1 && type !== SYNC_STEP2 && type !== SYNC_UPDATE) return `unknown sync message type ${type}`;
    const len = decoding.readVarUint(d);
    if (len !== bytes.length - d.pos) return `sync message length ${len} does not match its ${bytes.length - d.pos} payload bytes`;
    return { type, payload: bytes.subarray(d.pos) };
  } catch (e) {
    return `unreadable sync message: ${(e as Error).message}`;
  }
}

/**
 * Fully decodes a Yjs update (structs and delete set) without applying it, so a corrupt one is
 * refused as a whole instead of being half-applied. With `doc`, also refuses updates that could
 * not be integrated completely: a gap in a client's clock (the update starts after what the
 * document has), a reference (origin, right origin, parent item) to an item the document does
 * not have and the update does not bring, an explicit skip, or a subdocument. Such updates would
 * otherwise sit in the document's pending structs forever and be sent to every new client.
 * Returns `error` null when it is fine; `empty` tells whether it carries no change at all.
 */
export function checkUpdate(update: Uint8Array, doc?: Y.Doc): { error: string | null; empty: boolean } {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (e) {
    return { error: `undecodable Yjs update: ${(e as Error).message}`, empty: false };
  }
  const { structs, ds } = decoded;
  const empty = structs.length === 0 && ds.clients.size === 0;
  if (!doc || empty) return { error: null, empty };
  /**
   * End (exclusive) of each client's clock range known after this update: the document's, read
   * per client the update names (Y.getState), where encoding and decoding the whole state vector
   * on every update was O(clients in the document): ~0.4 s of 30 s of a server's main thread in
   * the cluster load run.
   */
  const known = new Map<number, number>();
  const clock = (client: number) => known.get(client) ?? Y.getState(doc.store, client);
  for (const st of structs) {
    const client = st.id.client;
    const start = st.id.clock;
    const end = start + st.length;
    const have = clock(client);
    if (st instanceof Y.Skip) return { error: 'update with a gap (skip) in its structs', empty };
    if (start > have) return { error: `update starts at clock ${start} of client ${client}, but the document has only ${have}`, empty };
    if (end > have) known.set(client, end);
  }
  const has = (id: Y.ID | null) => id === null || id.clock < clock(id.client);
  for (const st of structs) {
    if (!(st instanceof Y.Item)) continue;
    if (!has(st.origin) || !has(st.rightOrigin) || (st.parent instanceof Y.ID && !has(st.parent))) {
      return { error: `update refers to an item the document does not have`, empty };
    }
    if (st.content instanceof Y.ContentDoc) return { error: 'subdocuments are not allowed', empty };
  }
  for (const [client, items] of ds.clients) {
    const end = clock(client);
    for (const it of items) if (it.clock + it.len > end) return { error: `update deletes items of client ${client} the document does not have`, empty };
  }
  return { error: null, empty };
}

/** Checks a state vector (the payload of step1) decodes. */
export function checkStateVector(sv: Uint8Array): string | null {
  try {
    Y.decodeStateVector(sv);
    return null;
  } catch (e) {
    return `undecodable state vector: ${(e as Error).message}`;
  }
}

/**
 * Reads the client ids of an awareness update and checks its shape, sizes and states, without
 * touching any Awareness instance: each state is `null` (removal) or a presence state matching
 * `AwarenessState` (shared/schema.ts) exactly, at most MAX_AWARENESS_STATE_BYTES of JSON (S9).
 * Returns the ids, or why the message is refused.
 */
export function inspectAwarenessUpdate(bytes: Uint8Array): number[] | string {
  if (bytes.length > MAX_AWARENESS_MESSAGE_BYTES) return `awareness message of ${bytes.length} bytes (at most ${MAX_AWARENESS_MESSAGE_BYTES})`;
  try {
    const d = decoding.createDecoder(bytes);
    const n = decoding.readVarUint(d);
    if (n > MAX_AWARENESS_ENTRIES) return `awareness update with ${n} entries (at most ${MAX_AWARENESS_ENTRIES})`;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(decoding.readVarUint(d));
      decoding.readVarUint(d); // clock
      const state = decoding.readVarString(d);
      if (state.length > MAX_AWARENESS_STATE_BYTES) return `awareness state of ${state.length} characters (at most ${MAX_AWARENESS_STATE_BYTES})`;
      const json: unknown = JSON.parse(state);
      if (json !== null) {
        const r = PresenceState.safeParse(json);
        if (!r.success) {
          const issue = r.error.issues[0];
          return `awareness state does not match the presence schema: ${issue.path.join('.') || 'state'}: ${issue.message}`;
        }
      }
    }
    if (d.pos !== bytes.length) return `awareness update has ${bytes.length - d.pos} trailing bytes`;
    return ids;
  } catch (e) {
    return `unreadable awareness update: ${(e as Error).message}`;
  }
}

/** Rate limits and strike count of one socket. */
export class SocketGuard {
  private messages: TokenBucket;
  private bytes: TokenBucket;
  private strikes: TokenBucket | null;
  private lastRateNotice = -Infinity;
  /** Messages dropped by the rate limits (for tests and metrics). */
  rateLimited = 0;
  /** Messages refused as malformed. */
  rejected = 0;

  constructor(
    readonly limits: SocketLimits,
    private now: Clock = Date.now,
  ) {
    this.messages = new TokenBucket(limits.msgBurst, limits.msgRate, now);
    this.bytes = new TokenBucket(Math.max(limits.byteBurst, limits.maxMessageBytes), limits.byteRate, now);
    this.strikes = limits.maxBadMessages > 0 ? new TokenBucket(limits.maxBadMessages, 1 / limits.strikeForgiveSec, now) : null;
  }

  /**
   * Charges an answer of `bytes` (a step1's step2) to the byte bucket, going into debt if needed
   * (the answer is sent whole); false — nothing charged — while the bucket is already empty or in
   * debt, i.e. the socket asked for more than its byte rate allows (R2: a step1 costs its answer).
   */
  chargeAnswer(bytes: number): boolean {
    if (this.bytes.available() <= 0) return false;
    this.bytes.charge(bytes);
    return true;
  }

  /** Whether the byte bucket can pay for anything now. */
  get bytesAvailable(): number {
    return this.bytes.available();
  }

  /** Records a bad message; true when the socket has used up its strikes and must go. */
  strike(): boolean {
    return this.strikes ? !this.strikes.take(1) : false;
  }

  /** A refusal of a malformed message (one strike). */
  reject(code: ErrorPayload['code'], message: string): Admission {
    this.rejected++;
    const disconnect = this.strike();
    return { ok: false, error: { code, message: disconnect ? `${message}; too many bad messages, disconnecting` : message }, disconnect };
  }

  /**
   * Admission of one message of `event`: binary, size, rate. `cost` is its price in messages
   * (a step1 costs {@link STEP1_COST}).
   */
  admit(event: string, raw: unknown, cost = 1): Admission {
    const bytes = toBytes(raw);
    if (!bytes) return this.reject(ErrorCode.BadMessage, `${event} expects a binary message, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
    if (bytes.length === 0) return this.reject(ErrorCode.BadMessage, `${event} got an empty message`);
    if (bytes.length > this.limits.maxMessageBytes) {
      return this.reject(ErrorCode.PayloadTooLarge, `${event} message of ${bytes.length} bytes is over the limit of ${this.limits.maxMessageBytes}`);
    }
    const okMsg = this.messages.available() >= cost;
    const okBytes = this.bytes.available() >= bytes.length;
    if (!okMsg || !okBytes) {
      this.rateLimited++;
      const t = this.now();
      if (t - this.lastRateNotice < 1000) return { ok: false, error: null, disconnect: false, rateLimited: true };
      this.lastRateNotice = t;
      const disconnect = this.strike();
      const what = okMsg ? `${this.limits.byteRate} bytes/s` : `${this.limits.msgRate} messages/s`;
      return {
        ok: false,
        error: { code: ErrorCode.RateLimited, message: `too many messages: the limit is ${what} per connection; messages were dropped${disconnect ? '; disconnecting' : ''}` },
        disconnect,
        rateLimited: true,
      };
    }
    this.messages.take(cost);
    this.bytes.take(bytes.length);
    return { ok: true, bytes };
  }
}
