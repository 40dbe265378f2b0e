/**
 * `render --from-session ID [--at T]`: re-renders a stored session offline, at a larger size.
 *
 * Reads the SQLite store read-only (safe next to a running server), rebuilds the validated
 * document at time T with the history timeline (exactly what the live engine saw), paints the
 * strokes onto the content with the server's own canvas builder, and turns the session's params
 * into engine params the way the engine worker does, with `resolution` = `--size`. By default the
 * optimization starts from the session's keyframe at or before T (upscaled), so the result looks
 * like the session did; `--init content|noise` starts from scratch instead.
 */
import type { RgbImage, StyleInput, StyleRegion, TransferParams } from '../engine/api.ts';
import type { ModelName, SessionState } from '../../shared/schema.ts';
import { decodeImage } from '../images/codec.ts';
import { ImageStore } from '../images/store.ts';
import { HistoryService } from '../history/history-service.ts';
import { CanvasBuilder } from '../session/canvas-builder.ts';
import { RegionMaskBuilder } from '../session/region-masks.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import type { CliModel, RenderOptions } from './args.ts';
import { toTransferParams } from '../worker/transfer-params.ts';

/** Thrown for a missing data dir, an unknown session and the like (exit code 2). */
export class SessionSourceError extends Error {
  override name = 'SessionSourceError';
}

export interface SessionRenderInputs {
  sessionId: string;
  /** The time the state was taken at (ms since epoch). */
  at: number;
  /** Updates applied to reach it. */
  updates: number;
  state: SessionState;
  content: RgbImage;
  styles: StyleInput[];
  /** The painted regions (S34): their styles and masks at the content's full size. */
  regions: StyleRegion[];
  /** Engine params from the session's params, at `size`. */
  params: TransferParams;
  /** The session's keyframe at or before `at`, decoded, when there is one. */
  keyframe?: { iter: number; image: RgbImage };
}

/** `--at` accepts ms since the epoch or an ISO-8601 date/time. */
export function parseAt(v: string): number {
  const n = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new SessionSourceError(`--at must be ms since the epoch or an ISO date/time, got '${v}'`);
  return n;
}

/**
 * Loads what the engine needs to re-render `sessionId` at time `at` (default: the latest state)
 * from `<dataDir>/atelier.db`, opened read-only.
 */
export async function loadSessionRender(dataDir: string, sessionId: string, options: { at?: number; size: number; fromKeyframe?: boolean }): Promise<SessionRenderInputs> {
  let storage: SqliteStorage;
  try {
    // In-process: a command-line tool has no event loop to keep free.
    storage = await SqliteStorage.open(dataDir, { readonly: true, inProcess: true });
  } catch (e) {
    throw new SessionSourceError(`cannot open ${dataDir}/atelier.db read-only: ${(e as Error).message}`);
  }
  try {
    const record = await storage.getSession(sessionId);
    if (!record) throw new SessionSourceError(`no session '${sessionId}' in ${dataDir}/atelier.db`);
    const images = new ImageStore(storage);
    const history = new HistoryService(storage, images);
    const at = options.at ?? Number.MAX_SAFE_INTEGER;
    const { body, state, keyframe } = await history.stateAt(sessionId, at);
    if (body.updates === 0) throw new SessionSourceError(`session '${sessionId}' has no document at ${new Date(Math.min(at, 8.64e15)).toISOString()} (it was created ${new Date(record.createdAt).toISOString()})`);
    const builder = new CanvasBuilder(images);
    const content = (await builder.build(state.content, state.strokes))!;
    const styles = await builder.styles(state.styles);
    const painted = (await new RegionMaskBuilder().build(state.content, state.regions))!;
    const regions = await Promise.all(
      painted.map(async (r) => ({ image: await images.decode(r.style), scale: state.styles.find((s) => s.imageId === r.style)?.scale ?? 1, mask: r.mask })),
    );
    let kf: SessionRenderInputs['keyframe'];
    if (keyframe && options.fromKeyframe !== false) {
      const rec = await history.keyframe(sessionId, keyframe.id);
      if (rec) kf = { iter: rec.iter, image: await decodeImage(rec.data) };
    }
    if (!styles.length && !regions.length) throw new SessionSourceError(`session '${sessionId}' has no valid style at that time; there is nothing to transfer`);
    const lastEdit = (await history.timeline(sessionId)).edits[body.updates - 1]?.time ?? record.createdAt;
    history.close();
    return {
      sessionId,
      at: options.at ?? lastEdit,
      updates: body.updates,
      state,
      content,
      styles,
      regions,
      params: toTransferParams(state.params, options.size, !!kf),
      keyframe: kf,
    };
  } finally {
    await storage.close();
  }
}

/** What `render` needs from a session, given its parsed options (`--from-session` set). */
export interface SessionRenderJob {
  content: RgbImage;
  styles: StyleInput[];
  regions: StyleRegion[];
  initImage?: RgbImage;
  params: TransferParams;
  model: CliModel | ModelName;
  /** One line for stderr: which state is rendered. */
  summary: string;
}

export async function sessionRenderJob(o: RenderOptions): Promise<SessionRenderJob> {
  if (!o.fromSession) throw new SessionSourceError('--from-session is not set');
  const fromKeyframe = o.init === undefined || o.init === 'image';
  const src = await loadSessionRender(o.dataDir, o.fromSession, { at: o.at === undefined ? undefined : parseAt(o.at), size: o.size, fromKeyframe });
  const params = o.init && o.init !== 'image' ? { ...src.params, init: o.init } : src.params;
  const kf = src.keyframe ? `from its keyframe at iteration ${src.keyframe.iter}` : `from ${params.init}`;
  return {
    content: src.content,
    styles: src.styles,
    regions: src.regions,
    initImage: src.keyframe?.image,
    params,
    model: o.model ?? src.state.params.model,
    summary: `session ${src.sessionId} at ${new Date(src.at).toISOString()} (${src.updates} updates, ${src.state.strokes.length} strokes, ${src.styles.length} styles, ${src.regions.length} painted regions), ${kf}`,
  };
}
