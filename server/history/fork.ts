/**
 * Forking: a new live session whose document is a session's validated state at time t and whose
 * optimization resumes from the keyframe at or before t.
 *
 * The session manager seeds every new session with the defaults; the fork then overwrites the
 * whole document in one transaction (author `fork:<source>@<t>`), so the fork's own history
 * starts with the seed, then the fork. The keyframe is stored for the new session before its
 * engine starts, so the optimization resumes from the forked image with `iter` continuing from the
 * keyframe's.
 */
import * as Y from 'yjs';
import { DOC_KEYS, type SessionState } from '../../shared/schema.ts';
import { createRegionStroke } from '../../shared/region-strokes.ts';
import { createStroke } from '../../shared/strokes.ts';
import type { CreatedSession, SessionManager } from '../session/session-manager.ts';
import type { KeyframeRecord, Storage } from '../storage/types.ts';

/** Replaces `doc`'s content with `state` in one transaction (strokes in the append-only form of shared/strokes.ts, as the client writes them). */
export function writeState(doc: Y.Doc, state: SessionState, origin: unknown): void {
  doc.transact(() => {
    const params = doc.getMap<unknown>(DOC_KEYS.params);
    for (const key of [...params.keys()]) if (!(key in state.params)) params.delete(key);
    for (const [k, v] of Object.entries(state.params)) params.set(k, v);

    const content = doc.getMap<unknown>(DOC_KEYS.content);
    for (const key of [...content.keys()]) if (!(key in state.content)) content.delete(key);
    for (const [k, v] of Object.entries(state.content)) if (v !== undefined) content.set(k, v);

    const styles = doc.getArray<Y.Map<unknown>>(DOC_KEYS.styles);
    styles.delete(0, styles.length);
    styles.push(state.styles.map((s) => toMap(s)));

    const strokes = doc.getArray<Y.Map<unknown>>(DOC_KEYS.strokes);
    strokes.delete(0, strokes.length);
    strokes.push(state.strokes.map((s) => createStroke(s)));

    const regions = doc.getArray<Y.Map<unknown>>(DOC_KEYS.regions);
    regions.delete(0, regions.length);
    regions.push(state.regions.map(createRegionStroke));
  }, origin);
}

function toMap(entry: object): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(entry)) if (v !== undefined) m.set(k, v);
  return m;
}

export interface ForkSource {
  sessionId: string;
  t: number;
  state: SessionState;
  /** The keyframe to resume from (with its bytes), if the source has one at or before t. */
  keyframe?: KeyframeRecord;
}

/**
 * Creates the fork. Rejects with what `sessions.create()` rejects with (TooManySessionsError at
 * capacity).
 */
export async function forkSession(sessions: SessionManager, storage: Storage, source: ForkSource, owner?: string): Promise<CreatedSession> {
  return sessions.create(owner, async (session) => {
    // Before the engine starts, so it resumes from this keyframe.
    if (source.keyframe) {
      const { sessionId: _from, time: _at, ...image } = source.keyframe as KeyframeRecord & { id?: number };
      delete image.id;
      const kf: KeyframeRecord = { ...image, sessionId: session.id, time: Date.now() };
      await storage.putKeyframe(kf);
      session.iter = kf.iter;
    }
    writeState(session.doc, source.state, { author: `fork:${source.sessionId}@${Math.round(source.t)}` });
  });
}
