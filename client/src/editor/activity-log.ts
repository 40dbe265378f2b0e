/**
 * The activity feed of the editor, wired to the document and awareness: who did what (C40–C43).
 * A change is attributed to "You" (local edits and undo/redo), to the remote client whose clock
 * advanced, or — for a deletion, which advances no clock — to the client whose awareness claims
 * the removal. The remover's claim usually arrives first (awareness is sent while the doc update
 * is still being encoded); when it comes later the line written as "Someone" is renamed, within
 * CLAIM_WAIT_MS.
 */
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { ActivityFeed, RemovalClaims, RemovalTracker, authorsOf, changesFromEvents, claimFor, type ActivityItem, type Change } from '../doc/activity.ts';

/** How long a "Someone removed …" line waits for its remover's claim. */
const CLAIM_WAIT_MS = 3000;

type RootName = 'params' | 'styles' | 'content' | 'strokes' | 'regions';

export interface ActivityLogDeps {
  roots: { params: Y.Map<unknown>; styles: Y.Array<Y.Map<unknown>>; content: Y.Map<unknown>; strokes: Y.Array<Y.Map<unknown>>; regions: Y.Array<Y.Map<unknown>> };
  awareness: Awareness;
  /** Whether a transaction is this person's (local edit, undo/redo). */
  isLocal(tr: Y.Transaction): boolean;
  /** Whether a transaction is the initial load or a resync (not news). */
  isLoad(tr: Y.Transaction): boolean;
  /** A client's display name, if known. */
  nameOf(clientId: number): string | undefined;
  /** The lines changed (newest first). */
  changed(items: readonly ActivityItem[]): void;
}

export class ActivityLog {
  readonly feed = new ActivityFeed();
  private readonly tracker: RemovalTracker;
  private readonly claims = new RemovalClaims();
  private claimsSent = 0;
  private pending: Array<{ item: ActivityItem; change: Change; removed: string[]; at: number }> = [];

  constructor(private readonly deps: ActivityLogDeps) {
    this.tracker = new RemovalTracker(deps.roots);
    deps.awareness.on('change', () => this.onAwareness());
    this.claims.update(deps.awareness.getStates(), Date.now());
  }

  /** Call from each root's `observeDeep`. */
  observe(which: RootName, events: Y.YEvent<Y.AbstractType<unknown>>[], tr: Y.Transaction): void {
    // The tracker follows every change, news or not, so its "before" is always current.
    const removed = which === 'strokes' || which === 'styles' || which === 'regions' ? this.tracker.next() : [];
    const local = this.deps.isLocal(tr);
    if (local && removed.length) this.deps.awareness.setLocalStateField('removed', claimFor(++this.claimsSent, removed));
    if (this.deps.isLoad(tr)) return;
    const changes = changesFromEvents(events, this.deps.roots);
    if (!changes.length) return;
    let actor: string | undefined = local ? 'You' : undefined;
    for (const c of local ? [] : authorsOf(tr)) {
      actor = this.deps.nameOf(c);
      if (actor) break;
    }
    const now = Date.now();
    let claimed = false;
    if (!actor && removed.length) {
      const client = this.claims.claimant(removed, this.deps.awareness.clientID);
      actor = client === null ? undefined : this.deps.nameOf(client);
      claimed = !!actor;
    }
    for (const c of changes) {
      const item = this.feed.add(actor ?? 'Someone', c, now);
      if (!actor && !claimed && removed.length) this.pending.push({ item, change: c, removed, at: now });
    }
    this.deps.changed(this.feed.items);
  }

  private onAwareness(): void {
    const now = Date.now();
    this.claims.update(this.deps.awareness.getStates(), now);
    if (!this.pending.length) return;
    let renamed = false;
    this.pending = this.pending.filter((p) => {
      if (now - p.at > CLAIM_WAIT_MS) return false;
      const client = this.claims.claimant(p.removed, this.deps.awareness.clientID);
      const name = client === null ? undefined : this.deps.nameOf(client);
      if (!name) return true;
      renamed = this.feed.rename(p.item, name, p.change) || renamed;
      return false;
    });
    if (renamed) this.deps.changed(this.feed.items);
  }
}
