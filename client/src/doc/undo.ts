/**
 * Per-user undo: a Y.UndoManager over the whole session document that tracks only transactions
 * with {@link LOCAL_ORIGIN}, so Ctrl+Z undoes your own edits and never someone else's, even when
 * theirs came later. Undo/redo transactions are themselves local edits and sync like any other.
 */
import * as Y from 'yjs';
import { LOCAL_ORIGIN, type SessionDoc } from './session-doc.ts';

/** Consecutive local edits within this many ms merge into one undo step (e.g. a slider drag). */
export const UNDO_CAPTURE_MS = 600;

export function createUndoManager(sdoc: SessionDoc): Y.UndoManager {
  return new Y.UndoManager([sdoc.params, sdoc.styles, sdoc.content, sdoc.strokes, sdoc.regions], {
    trackedOrigins: new Set([LOCAL_ORIGIN]),
    captureTimeout: UNDO_CAPTURE_MS,
  });
}

/**
 * Makes everything until the returned `release()` one undo step, however long it takes (a slow
 * stroke on a busy machine may pause longer than the capture timeout between point updates).
 */
export function holdUndoGroup(undo: Y.UndoManager): () => void {
  undo.stopCapturing();
  const previous = undo.captureTimeout;
  undo.captureTimeout = Number.MAX_SAFE_INTEGER;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    undo.captureTimeout = previous;
    undo.stopCapturing();
  };
}
