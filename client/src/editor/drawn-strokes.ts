/**
 * One Pixi Graphics per committed stroke, in document order, redrawn only when the stroke's
 * signature (what its drawing depends on) changes: a document update re-draws the stroke that
 * grew, not the hundreds that did not. Shared by the artwork's paint strokes (artwork-layer.ts)
 * and the style-region overlay (region-overlay.ts), which differ only in how a stroke is drawn.
 */
import { Graphics } from 'pixi.js';

export class DrawnStrokes<T extends { id: string }> {
  private drawn = new Map<string, { g: Graphics; sig: string }>();
  private order: string[] = [];

  constructor(
    private readonly signature: (stroke: T) => string,
    private readonly draw: (g: Graphics, stroke: T) => void,
  ) {}

  /**
   * Brings the set to `strokes` (without the one whose id is `skipId`: the live stroke, drawn
   * apart). Returns whether anything a render would show changed: a stroke drawn anew, added,
   * removed or reordered.
   */
  update(strokes: readonly T[], skipId?: string): boolean {
    const next = new Map<string, { g: Graphics; sig: string }>();
    const order: string[] = [];
    let changed = false;
    for (const s of strokes) {
      if (s.id === skipId) continue;
      const sig = this.signature(s);
      const d = this.drawn.get(s.id) ?? { g: new Graphics(), sig: '' };
      if (d.sig !== sig) {
        this.draw(d.g.clear(), s);
        d.sig = sig;
        changed = true;
      }
      next.set(s.id, d);
      order.push(s.id);
    }
    for (const [id, d] of this.drawn) {
      if (!next.has(id)) {
        d.g.destroy();
        changed = true;
      }
    }
    if (order.length !== this.order.length || order.some((id, i) => id !== this.order[i])) changed = true;
    this.drawn = next;
    this.order = order;
    return changed;
  }

  /** The strokes' graphics, earliest first (later strokes paint over earlier ones). */
  graphics(): Graphics[] {
    return this.order.map((id) => this.drawn.get(id)!.g);
  }

  destroy(): void {
    for (const d of this.drawn.values()) d.g.destroy();
    this.drawn.clear();
    this.order = [];
  }
}
