/**
 * One live session: its Yjs document, awareness, validation fence and the engine's inputs, composed
 * with its engine lifecycle (engine-lifecycle.ts) and its keyframe recorder (keyframe-recorder.ts).
 *
 * Flow of a client edit: the realtime layer applies a y-protocols message to {@link Session.doc}
 * with the client as transaction origin → `update` is queued in the group commit → once durable,
 * `durableUpdate` listeners relay it to the other clients. In the same transaction's aftermath the
 * {@link DocValidator} checks the touched values; bad ones go back to the origin as errors, good
 * ones re-target the engine (params directly, styles/canvas after decoding / rasterizing).
 *
 * Engine lifecycle (engine-lifecycle.ts): the engine exists while someone is attached (a socket or
 * an MJPEG stream) and for `idlePauseMs` after the last one leaves; then a keyframe is stored and
 * the engine disposed. Reattaching reopens it from the latest keyframe, as after a server restart.
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import { ErrorCode, type EngineState, type ErrorPayload, type FramePayload } from '../../shared/protocol.ts';
import type { ContentEntry, Params, StyleEntry } from '../../shared/schema.ts';
import type { RgbImage, StyleInput, StyleRegion } from '../engine/api.ts';
import { imageIdsIn, type ImageStore } from '../images/store.ts';
import { createLogger, type Logger } from '../log.ts';
import type { GroupCommit } from '../storage/group-commit.ts';
import type { SessionRecord, Storage, StoredUpdate } from '../storage/types.ts';
import { DOC_KEYS } from '../../shared/schema.ts';
import { migrateStrokePoints } from '../../shared/strokes.ts';
import { CanvasBuilder, Coalescer, styleDecodeSide } from './canvas-builder.ts';
import { admitResolution, admitStyles } from './admission.ts';
import { RegionMaskBuilder, regionStyles } from './region-masks.ts';
import { DEFAULT_PAINT_BUDGET, DocValidator, seedDocument, type PaintBudget } from './doc-state.ts';
import { CONFIG_DEFAULTS } from '../config.ts';
import type { EngineHost } from './engine-host.ts';
import { EngineLifecycle } from './engine-lifecycle.ts';
import { KeyframeRecorder } from './keyframe-recorder.ts';

/** Transaction origin of updates replayed from storage (not persisted again, not relayed). */
export const STORAGE_ORIGIN = Symbol('storage');
/**
 * Transaction origin of updates another server process already stored and relayed (server/cluster):
 * applied to this process's doc only, neither stored nor relayed again.
 */
export const REMOTE_ORIGIN = Symbol('remote');
/** Transaction origin of stored updates this process missed (cluster catch-up): relayed, not stored again. */
export const CATCHUP_ORIGIN = Symbol('catchup');

/**
 * Cluster hooks (server/cluster/session-cluster.ts). Absent in a single process, where the process
 * always owns its sessions' engines. With them, a session runs its engine only while this process
 * holds the session's engine lease ({@link Session.grantEngine}); otherwise it relays the owner's
 * frames and state ({@link Session.applyRemoteFrame}).
 */
export interface SessionCluster {
  /** The session came alive in this process (created or loaded): relay it between processes. */
  opened(session: Session): void;
  /** The session wants an engine: acquire its lease (now, or once the owner's expires), then `grantEngine`. */
  wantEngine(session: Session): void;
  /** The session needs no engine any more (suspended, closed): give the lease back if held. */
  releaseEngine(session: Session): void;
  /** The session was closed in this process. */
  closed(session: Session): void;
}

/** What the realtime layer uses as transaction origin: anything with an `author`. */
export interface UpdateOrigin {
  author: string;
}

/** The per-session budgets (server/SPEC.md S24–S27; values from server/config.ts). */
export interface SessionBudgets {
  paint: PaintBudget;
  /** Paint work per second: after a repaint of cost C the next waits C / this (PAINT_COST_PER_SEC). */
  paintCostPerSec: number;
  /** Style pixels at the size the engine uses them (SESSION_MAX_STYLE_PIXELS). */
  maxStylePixels: number;
  /** Estimated ms of one engine step (ENGINE_MAX_STEP_MS). */
  engineMaxStepMs: number;
  /** Pixels of one engine step (ENGINE_MAX_STEP_PIXELS). */
  engineMaxStepPixels: number;
  /** Stored document bytes (SESSION_MAX_DOC_BYTES). */
  maxDocBytes: number;
}

/** The configuration's defaults (server/config.ts declares each once). */
export const DEFAULT_SESSION_BUDGETS: SessionBudgets = {
  paint: DEFAULT_PAINT_BUDGET,
  paintCostPerSec: CONFIG_DEFAULTS.paintCostPerSec,
  maxStylePixels: CONFIG_DEFAULTS.sessionMaxStylePixels,
  engineMaxStepMs: CONFIG_DEFAULTS.engineMaxStepMs,
  engineMaxStepPixels: CONFIG_DEFAULTS.engineMaxStepPixels,
  maxDocBytes: CONFIG_DEFAULTS.sessionMaxDocBytes,
};

export interface SessionDeps {
  /** Budgets; defaults to {@link DEFAULT_SESSION_BUDGETS}. */
  budgets?: SessionBudgets;
  storage: Storage;
  commits: GroupCommit;
  images: ImageStore;
  engineHost: EngineHost;
  idlePauseMs: number;
  keyframeIntervalMs: number;
  /** Called when the session has been idle long enough to be dropped from memory. */
  onIdle?: (session: Session) => void;
  metrics?: { step(): void };
  /** Several processes share sessions (REDIS_URL): engine ownership by lease. */
  cluster?: SessionCluster;
}

export interface SessionListener {
  /** `update` is durable; relay it to everyone but `origin`. */
  durableUpdate?(update: Uint8Array, origin: unknown): void;
  frame?(frame: FramePayload): void;
  status?(): void;
  /** Values written by `origin` failed validation. */
  invalid?(origin: unknown, errors: ErrorPayload[]): void;
}

export interface InitialDocument {
  params: Params;
  styles: StyleEntry[];
  content: ContentEntry;
}

/** Live strokes re-rasterize the content and re-target the engine at most this often. */
const CANVAS_MIN_INTERVAL_MS = 250;

function authorOf(origin: unknown): string {
  if (typeof origin === 'object' && origin !== null && typeof (origin as UpdateOrigin).author === 'string') return (origin as UpdateOrigin).author;
  return 'server';
}

export class Session {
  readonly id: string;
  readonly doc = new Y.Doc();
  readonly awareness: awarenessProtocol.Awareness;
  readonly validator: DocValidator;
  private log: Logger;
  private listeners = new Set<SessionListener>();
  private canvas: CanvasBuilder;
  private builtStyles: StyleInput[] | null = null;
  private readonly budgets: SessionBudgets;
  /** Styles admitted by the style-pixel budget (S25), in document order. */
  private admittedStyles: StyleEntry[] = [];
  /** Styles painted into regions that the style-pixel budget admitted (S25, S34), by image id. */
  private admittedRegionStyles = new Set<string>();
  private regionMasks = new RegionMaskBuilder();
  private builtRegions: StyleRegion[] | null = null;
  private regionsJob: Coalescer;
  /** The resolution the engine runs at: params.resolution, lowered to what ENGINE_MAX_STEP_MS admits (S26). */
  private engineResolution = 0;
  /** Bytes of all stored updates of this session (S27). */
  docBytes = 0;
  /** Whole-document answer to an empty state vector (a new client's step1), until the next update. */
  private fullStateCache: Uint8Array | null = null;
  /** Client address that created or first used the session: its engine's scheduling group (S26). */
  owner: string | undefined;
  private builtCanvas: RgbImage | null = null;
  private stylesJob: Coalescer;
  private canvasJob: Coalescer;
  /** When the engine runs, its state, frames and lease (S12, S35). */
  private readonly lifecycle: EngineLifecycle;
  /** Keyframes of the latest frame (S13). */
  private readonly keyframes: KeyframeRecorder;
  /** Updates from other processes and catch-ups, applied in order (an image lookup may delay one). */
  private applyChain: Promise<void> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly record: SessionRecord,
    private deps: SessionDeps,
  ) {
    this.id = record.id;
    this.log = createLogger(`session:${record.id.slice(0, 6)}`);
    this.awareness = new awarenessProtocol.Awareness(this.doc);
    this.awareness.setLocalState(null);
    this.budgets = deps.budgets ?? DEFAULT_SESSION_BUDGETS;
    this.validator = new DocValidator(this.doc, (id) => deps.images.has(id), this.budgets.paint);
    this.canvas = new CanvasBuilder(deps.images);
    this.stylesJob = new Coalescer(() => this.rebuildStyles());
    this.canvasJob = new Coalescer(() => this.rebuildCanvas(), CANVAS_MIN_INTERVAL_MS, () => (this.canvas.lastPaintCost / this.budgets.paintCostPerSec) * 1000);
    this.regionsJob = new Coalescer(() => this.rebuildRegions(), CANVAS_MIN_INTERVAL_MS, () => (this.regionMasks.lastPaintCost / this.budgets.paintCostPerSec) * 1000);
    this.doc.on('update', (update: Uint8Array, origin: unknown) => this.onUpdate(update, origin));
    this.doc.on('afterTransaction', (tr: Y.Transaction) => this.onTransaction(tr));
    this.keyframes = new KeyframeRecorder({
      sessionId: this.id,
      storage: deps.storage,
      log: this.log,
      intervalMs: deps.keyframeIntervalMs,
      latest: () => this.lifecycle.latestFrame,
      mayWrite: () => !this.closed && this.lifecycle.ownsEngine,
      fencingToken: () => this.lifecycle.fencingToken,
      leaseLost: () => this.lifecycle.revokeEngine(),
    });
    const cluster = deps.cluster;
    this.lifecycle = new EngineLifecycle({
      sessionId: this.id,
      log: this.log,
      storage: deps.storage,
      engineHost: deps.engineHost,
      idlePauseMs: deps.idlePauseMs,
      metrics: deps.metrics,
      keyframes: this.keyframes,
      lease: cluster && { want: () => cluster.wantEngine(this), release: () => cluster.releaseEngine(this) },
      buildInputs: () =>
        Promise.all([this.builtStyles ? null : this.stylesJob.run(), this.builtCanvas ? null : this.canvasJob.run(), this.builtRegions ? null : this.regionsJob.run()]),
      inputs: () => (this.builtCanvas && this.builtStyles && this.builtRegions ? { content: this.builtCanvas, styles: this.builtStyles, regions: this.builtRegions } : null),
      params: () => this.engineParams(),
      group: () => this.owner ?? this.id,
      isClosed: () => this.closed,
      catchUp: () => this.catchUp(),
      status: () => this.emit('status'),
      frame: (f) => this.emit('frame', f),
      idle: () => this.deps.onIdle?.(this),
    });
    deps.cluster?.opened(this);
  }

  /**
   * Starts the engine without attaching anyone (a new session, a frame.jpg request): it runs for
   * the idle grace period unless someone attaches.
   */
  wake(): void {
    this.lifecycle.wake();
  }

  /** A brand-new session: writes `init` as the first update; resolves once it is durable. */
  static async create(record: SessionRecord, deps: SessionDeps, init: InitialDocument, owner?: string): Promise<Session> {
    await deps.storage.createSession(record);
    const s = new Session(record, deps);
    s.owner = owner;
    seedDocument(s.doc, init);
    await deps.commits.flush();
    return s;
  }

  /**
   * Rebuilds a stored session by replaying its updates in order, one transaction each (after
   * looking up the images they name, so validation answers from memory), then turns strokes that
   * older clients stored as plain point arrays into the append-only form (S29), as one update.
   */
  static async load(record: SessionRecord, deps: SessionDeps): Promise<Session> {
    const [updates, kf] = await Promise.all([deps.storage.loadUpdates(record.id), deps.storage.latestKeyframe(record.id)]);
    await deps.images.prefetch(updates.flatMap((u) => imageIdsIn(u.update)));
    const s = new Session(record, deps);
    for (const u of updates) {
      s.docBytes += u.update.byteLength;
      Y.applyUpdate(s.doc, u.update, STORAGE_ORIGIN);
    }
    if (kf) {
      s.iter = kf.iter;
      s.keyframes.resumedFrom(kf);
    }
    s.migrateStrokes();
    return s;
  }

  /** S29: plain-array strokes (older clients) become append-only Y.Arrays, in one server transaction. */
  private migrateStrokes(): void {
    const strokes = this.doc.getArray(DOC_KEYS.strokes);
    if (!strokes.toArray().some((e) => e instanceof Y.Map && Array.isArray(e.get('points')))) return;
    this.doc.transact(() => {
      for (const e of strokes.toArray()) migrateStrokePoints(e);
    }, 'server');
  }

  /**
   * Runs `apply` after the updates queued before it, once the images `updates` name are known
   * (S30: validation never waits for storage inside a transaction).
   */
  private enqueueApply(updates: readonly Uint8Array[], apply: () => void): Promise<void> {
    const ids = updates.flatMap((u) => imageIdsIn(u));
    const run = () => {
      if (!this.closed) apply();
    };
    this.applyChain = this.applyChain.then(async () => {
      if (this.deps.images.needsPrefetch(ids)) await this.deps.images.prefetch(ids).catch((e) => this.log.warn('image lookup failed', { error: (e as Error).message }));
      run();
    });
    return this.applyChain;
  }

  subscribe(l: SessionListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit<K extends keyof SessionListener>(k: K, ...args: Parameters<NonNullable<SessionListener[K]>>): void {
    for (const l of this.listeners) {
      try {
        (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
      } catch (e) {
        this.log.error(`listener ${k} failed`, { error: (e as Error).message });
      }
    }
  }

  private onUpdate(update: Uint8Array, origin: unknown): void {
    this.fullStateCache = null;
    if (origin === STORAGE_ORIGIN) return;
    this.docBytes += update.byteLength;
    if (origin === REMOTE_ORIGIN) return;
    if (origin === CATCHUP_ORIGIN) return this.emit('durableUpdate', update, origin);
    this.deps.commits.append({ sessionId: this.id, update, author: authorOf(origin), time: Date.now() }, (err) => {
      if (err) {
        this.log.error('could not store an update; not relaying it', { error: err.message });
        this.emit('invalid', origin, [{ code: ErrorCode.Internal, message: 'the server could not store this change' }]);
        return;
      }
      this.emit('durableUpdate', update, origin);
    });
  }

  private onTransaction(tr: Y.Transaction): void {
    const before = this.validator.state();
    const { changes, errors, unknown } = this.validator.onTransaction(tr);
    const fromClient = tr.origin !== STORAGE_ORIGIN && tr.origin !== REMOTE_ORIGIN;
    const after = this.validator.state();
    const resized = before.params.resolution !== after.params.resolution;
    // The masks follow the canvas's working size (content size, resolution).
    const reframed = resized || before.content.width !== after.content.width || before.content.height !== after.content.height;
    if (changes.params || changes.canvas) errors.push(...this.admitEngine(before.params.resolution !== after.params.resolution || before.params.model !== after.params.model));
    if (changes.styles || changes.regions || resized) errors.push(...this.admitStyles());
    if (errors.length && fromClient) this.emit('invalid', tr.origin, errors);
    // S27: unknown keys are answered and then removed from the document (never kept: they would
    // be stored, relayed and re-encoded forever). Removed in the next microtask, by the server.
    if (unknown.length && fromClient && tr.origin !== CATCHUP_ORIGIN) queueMicrotask(() => this.dropUnknown(unknown));
    if (changes.params) this.onParamsChanged();
    if (changes.styles || resized) void this.stylesJob.run().catch((e) => this.fail(e));
    if (changes.canvas) void this.canvasJob.run().catch((e) => this.fail(e));
    if (changes.regions || reframed || (changes.styles && after.regions.length)) void this.regionsJob.run().catch((e) => this.fail(e));
  }

  private dropUnknown(unknown: readonly (readonly [Y.Map<unknown>, string])[]): void {
    if (this.closed) return;
    this.doc.transact(() => {
      for (const [map, key] of unknown) if (map.doc === this.doc && map.has(key)) map.delete(key);
    }, 'server');
  }

  /**
   * S25: the styles that fit SESSION_MAX_STYLE_PIXELS at the engine's resolution (admission.ts):
   * the global styles in document order, then the styles painted into regions (S34) with what is left.
   */
  private admitStyles(): ErrorPayload[] {
    const { styles, regions } = this.validator.state();
    const resolution = this.engineParams().resolution;
    const dims = (id: string) => this.deps.images.dims(id);
    const r = admitStyles(styles, resolution, dims, this.budgets.maxStylePixels);
    this.admittedStyles = r.admitted;
    const painted = regionStyles(regions).map((imageId) => ({ imageId, weight: 1, scale: this.regionScale(imageId) }));
    const p = admitStyles(painted, resolution, dims, this.budgets.maxStylePixels - r.pixels, (i) => `regions (style ${painted[i].imageId.slice(0, 12)}…)`);
    this.admittedRegionStyles = new Set(p.admitted.map((s) => s.imageId));
    return [...r.errors, ...p.errors];
  }

  /** S34: a painted style is used at the scale its image has among the styles, else 1. */
  private regionScale(imageId: string): number {
    return this.validator.state().styles.find((s) => s.imageId === imageId)?.scale ?? 1;
  }

  /** S26: the resolution one step fits ENGINE_MAX_STEP_MS and ENGINE_MAX_STEP_PIXELS at (admission.ts); `report` = tell the writer. */
  private admitEngine(report: boolean): ErrorPayload[] {
    const { params, content } = this.validator.state();
    const host = this.deps.engineHost;
    const r = admitResolution(params, content, host.estimateStepMs?.bind(host), this.budgets.engineMaxStepMs, this.backend, this.budgets.engineMaxStepPixels);
    this.engineResolution = r.resolution;
    return report && r.error ? [r.error] : [];
  }

  /** The params the engine gets: the validated ones with the admitted resolution. */
  private engineParams(): Params {
    const params = this.validator.state().params;
    if (!this.engineResolution) this.admitEngine(false);
    return this.engineResolution < params.resolution ? { ...params, resolution: this.engineResolution } : params;
  }

  /** The answer to a step1 with `stateVector` (cached for the empty one, which every new client sends). */
  encodeStateAsUpdate(stateVector: Uint8Array): Uint8Array {
    if (stateVector.length <= 1) return (this.fullStateCache ??= Y.encodeStateAsUpdate(this.doc));
    return Y.encodeStateAsUpdate(this.doc, stateVector);
  }

  private onParamsChanged(): void {
    this.lifecycle.paramsChanged();
  }

  private async rebuildStyles(): Promise<void> {
    if (this.closed) return; // a rebuild queued before close() must not touch closed storage
    if (!this.admittedStyles.length && this.validator.state().styles.length) this.admitStyles();
    const styles = await this.canvas.styles(this.admittedStyles, this.engineParams().resolution);
    if (this.closed) return;
    this.builtStyles = styles;
    this.lifecycle.update({ styles });
  }

  private async rebuildCanvas(): Promise<void> {
    if (this.closed) return;
    const { content, strokes } = this.validator.state();
    // At the resolution the engine runs at (S26), which may be below params.resolution.
    const canvas = await this.canvas.build(content, strokes, this.engineParams().resolution, () => this.closed);
    if (!canvas || this.closed) return;
    this.builtCanvas = canvas;
    this.lifecycle.update({ content: canvas });
  }

  /** S34: the region strokes as masks per admitted style, with the styles decoded, to the engine. */
  private async rebuildRegions(): Promise<void> {
    if (this.closed) return;
    const { content, regions } = this.validator.state();
    const resolution = this.engineParams().resolution;
    const built = await this.regionMasks.build(content, regions, resolution, () => this.closed);
    if (!built || this.closed) return;
    const inputs = await Promise.all(
      built
        .filter((b) => this.admittedRegionStyles.has(b.style))
        .map(async (b) => {
          const scale = this.regionScale(b.style);
          return { image: await this.deps.images.decode(b.style, { maxSide: styleDecodeSide(scale, resolution) }), scale, mask: b.mask };
        }),
    );
    if (this.closed) return;
    this.builtRegions = inputs;
    this.lifecycle.update({ regions: inputs });
  }

  private fail(e: unknown): void {
    this.lifecycle.fail(e);
  }

  get state(): EngineState {
    return this.lifecycle.state;
  }
  get message(): string | undefined {
    return this.lifecycle.message;
  }
  get clientCount(): number {
    return this.lifecycle.clientCount;
  }
  /** Sockets and media streams attached (MAX_CLIENTS_PER_SESSION counts both). */
  get watcherCount(): number {
    return this.lifecycle.watcherCount;
  }
  get backend(): string {
    return this.lifecycle.backend;
  }
  get running(): boolean {
    return this.lifecycle.running;
  }
  /** Latest frame (JPEG), served to new clients and to frame.jpg / stream.mjpg. */
  get latestFrame(): FramePayload | null {
    return this.lifecycle.latestFrame;
  }
  get iter(): number {
    return this.lifecycle.iter;
  }
  /** Set where a session starts from a keyframe (load, fork) before its engine runs. */
  set iter(iter: number) {
    this.lifecycle.iter = iter;
  }
  get stepsPerSec(): number {
    return this.lifecycle.stepsPerSec;
  }

  /**
   * Marks someone as watching (a socket or an MJPEG stream): starts or resumes the engine.
   * Returns the matching release function (idempotent).
   */
  attach(kind: 'socket' | 'stream', address?: string): () => void {
    if (this.closed) throw new Error('session is closed');
    this.owner ??= address;
    return this.lifecycle.attach(kind);
  }

  /**
   * Stores the latest frame as a keyframe when the image changed since the last one. At most one
   * write is in flight; resolves when it is stored (or failed: a keyframe is never worth an error).
   */
  saveKeyframe(): Promise<void> {
    return this.keyframes.save();
  }

  /**
   * Stores a keyframe, frees the engine and everything else, and resolves once the updates
   * queued before it and the keyframe are durable (or the storage gave up on them).
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const keyframe = this.saveKeyframe();
    this.closed = true;
    this.keyframes.stop();
    this.lifecycle.stop();
    this.deps.cluster?.closed(this);
    this.awareness.destroy();
    this.listeners.clear();
    this.closing = Promise.all([this.deps.commits.flush(), keyframe]).then(() => {
      this.doc.destroy();
    });
    return this.closing;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // --- cluster (several processes; see server/cluster) ---

  /** Whether this process runs the session's engine: always in one process, with the lease in a cluster. */
  get ownsEngine(): boolean {
    return this.lifecycle.ownsEngine;
  }

  /** Whether the session wants an engine now (someone attached, or woken within the grace period). */
  get wantsEngine(): boolean {
    return this.lifecycle.wantsEngine;
  }

  /**
   * This process now holds the engine lease with `fencingToken`: catch up on stored updates it may
   * have missed (a dead owner's last ones) and start the engine from the latest keyframe.
   */
  grantEngine(fencingToken: number): void {
    this.lifecycle.grantEngine(fencingToken);
  }

  /**
   * Applies stored updates this process has not seen (written by others while it was not yet or no
   * longer subscribed to the cluster bus, or by an owner that died before publishing). Known ones
   * are no-ops; new ones are relayed to the clients, not stored again.
   */
  async catchUp(): Promise<void> {
    if (this.closed) return;
    const updates: StoredUpdate[] = await this.deps.storage.loadUpdates(this.id);
    await this.enqueueApply(
      updates.map((u) => u.update),
      () => {
        for (const u of updates) Y.applyUpdate(this.doc, u.update, CATCHUP_ORIGIN);
      },
    );
  }

  /** The lease was lost (expired, or a newer owner's fencing token): stop the engine here. */
  revokeEngine(): void {
    this.lifecycle.revokeEngine();
  }

  /**
   * S30: null when every image `update` names is known to the image store, else a promise that
   * resolves once they were looked up — apply the update after it, so validation answers from memory.
   */
  imagesKnown(update: Uint8Array): Promise<void> | null {
    let ids: string[];
    try {
      ids = imageIdsIn(update);
    } catch {
      return null; // not decodable: the integration check refuses it
    }
    if (!this.deps.images.needsPrefetch(ids)) return null;
    return this.deps.images.prefetch(ids).catch((e) => this.log.warn('image lookup failed', { error: (e as Error).message }));
  }

  /** An update another process stored and relayed: apply it here (in arrival order), without storing or relaying. */
  applyRemoteUpdate(update: Uint8Array): Promise<void> {
    return this.enqueueApply([update], () => Y.applyUpdate(this.doc, update, REMOTE_ORIGIN));
  }

  /** A frame of the owning process: relay it to this process's clients (ignored by the owner). */
  applyRemoteFrame(frame: FramePayload): void {
    this.lifecycle.applyRemoteFrame(frame);
  }

  /** The owner's engine state, mirrored on the other processes. */
  applyRemoteState(state: EngineState, message?: string): void {
    this.lifecycle.applyRemoteState(state, message);
  }
}
