/**
 * Yjs sync and awareness over any message transport (socket.io in the app, an in-memory pipe in
 * tests). It speaks stock y-protocols, so it carries no DOM or socket code and is unit tested.
 *
 * Rules (client/SPEC.md C20–C26):
 * - On every connect the provider sends its own sync step 1, so after a reconnect the server
 *   replies with whatever was missed, and answers the server's step 1 with step 2, which carries
 *   edits made while offline. Updates made while disconnected are therefore not queued: the
 *   step-1/step-2 exchange on the next connect delivers them exactly once.
 * - Local doc updates (any origin but this provider) are sent as `update` messages; remote
 *   messages are applied with the provider as transaction origin so they are never echoed back.
 * - Read-only (viewer) providers never send document content: they request the doc (step 1)
 *   but do not answer step 1 and do not forward local updates.
 * - Awareness: the full local state goes out on connect and each local change afterwards;
 *   when the connection drops, every remote presence is removed (they are unknown now).
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';

/** What the provider needs from a connection. */
export interface SyncTransport {
  sendSync(message: Uint8Array): void;
  sendAwareness(message: Uint8Array): void;
}

export interface SyncProviderOptions {
  /** Viewers: never send document content. */
  readOnly?: boolean;
}

type SyncedListener = (synced: boolean) => void;

export class SyncProvider {
  readonly doc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  private readonly transport: SyncTransport;
  private connectedFlag = false;
  private syncedFlag = false;
  private readOnlyFlag: boolean;
  private readonly syncedListeners = new Set<SyncedListener>();
  private readonly onDocUpdate: (update: Uint8Array, origin: unknown) => void;
  private readonly onAwarenessUpdate: (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => void;

  constructor(doc: Y.Doc, awareness: awarenessProtocol.Awareness, transport: SyncTransport, opts: SyncProviderOptions = {}) {
    this.doc = doc;
    this.awareness = awareness;
    this.transport = transport;
    this.readOnlyFlag = opts.readOnly ?? false;
    this.onDocUpdate = (update, origin) => {
      if (origin === this || !this.connectedFlag || this.readOnlyFlag) return;
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, update);
      this.transport.sendSync(encoding.toUint8Array(enc));
    };
    this.onAwarenessUpdate = ({ added, updated, removed }, origin) => {
      if (origin === this || !this.connectedFlag) return;
      const changed = added.concat(updated, removed).filter((c) => c === this.doc.clientID);
      if (!changed.length) return;
      this.transport.sendAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
    };
    doc.on('update', this.onDocUpdate);
    awareness.on('update', this.onAwarenessUpdate);
  }

  get connected(): boolean {
    return this.connectedFlag;
  }
  /** True once the server's step 2 arrived on the current connection. */
  get synced(): boolean {
    return this.syncedFlag;
  }
  get readOnly(): boolean {
    return this.readOnlyFlag;
  }
  /** Role can change after the handshake (status tells the real role); editors start sending. */
  setReadOnly(readOnly: boolean): void {
    const wasReadOnly = this.readOnlyFlag;
    this.readOnlyFlag = readOnly;
    // Becoming an editor mid-connection: send the whole local state once (Yjs applies duplicates
    // idempotently), so anything written while read-only is not silently stranded.
    if (wasReadOnly && !readOnly && this.connectedFlag && Y.encodeStateVector(this.doc).length > 1) {
      const enc = encoding.createEncoder();
      syncProtocol.writeUpdate(enc, Y.encodeStateAsUpdate(this.doc));
      this.transport.sendSync(encoding.toUint8Array(enc));
    }
  }

  onSynced(listener: SyncedListener): () => void {
    this.syncedListeners.add(listener);
    return () => this.syncedListeners.delete(listener);
  }

  /** Call when the transport (re)connects. */
  handleConnect(): void {
    this.connectedFlag = true;
    this.setSynced(false);
    this.sendStep1();
    if (this.awareness.getLocalState() !== null) {
      this.transport.sendAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]));
    }
  }

  /** Call when the transport drops. Remote presence is forgotten until the next connect. */
  handleDisconnect(): void {
    this.connectedFlag = false;
    this.setSynced(false);
    const others = [...this.awareness.getStates().keys()].filter((c) => c !== this.doc.clientID);
    if (others.length) awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
  }

  /** A `y:sync` message from the server. Malformed messages throw (the caller reports them). */
  handleSyncMessage(message: Uint8Array): void {
    const decoder = decoding.createDecoder(message);
    const encoder = encoding.createEncoder();
    const type = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
    if (type === syncProtocol.messageYjsSyncStep1) {
      if (!this.readOnlyFlag && encoding.length(encoder) > 0) this.transport.sendSync(encoding.toUint8Array(encoder));
    } else if (type === syncProtocol.messageYjsSyncStep2) {
      this.setSynced(true);
    }
  }

  /** A `y:awareness` message from the server. */
  handleAwarenessMessage(message: Uint8Array): void {
    awarenessProtocol.applyAwarenessUpdate(this.awareness, message, this);
  }

  destroy(): void {
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    this.syncedListeners.clear();
  }

  private sendStep1(): void {
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, this.doc);
    this.transport.sendSync(encoding.toUint8Array(enc));
  }

  private setSynced(value: boolean): void {
    if (this.syncedFlag === value) return;
    this.syncedFlag = value;
    for (const l of this.syncedListeners) l(value);
  }
}
