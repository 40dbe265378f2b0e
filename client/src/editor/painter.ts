/**
 * The painting tools: turns pointer gestures on the content canvas into strokes in the shared
 * document. A stroke is created on pointer-down and its new points are appended (throttled to
 * PUBLISH_INTERVAL_MS) while it grows, so others watch it being drawn; the local copy is drawn
 * at full rate. Each stroke is one undo step. A stroke that reaches the schema's point limit
 * continues as a new stroke. The style brush and its eraser (C98) write region strokes
 * (`regions`) the same way: they say where a style goes and are never painted into the content.
 */
import type * as Y from 'yjs';
import type { RegionStroke, Stroke } from '../../../shared/schema.ts';
import type { SessionDoc } from '../doc/session-doc.ts';
import type { CanvasInput, ContentCanvas } from './canvas.ts';
import { StrokeRecorder } from './stroke-points.ts';

export type Tool = 'brush' | 'eraser' | 'style' | 'style-eraser';

export interface BrushSettings {
  tool: Tool;
  size: number;
  color: string;
  opacity: number;
  /** The style image the style brush paints (C98). */
  style?: string;
}

/** Whether a tool paints style regions rather than the content. */
export const isRegionTool = (t: Tool): boolean => t === 'style' || t === 'style-eraser';

export class Painter implements CanvasInput {
  brush: BrushSettings = { tool: 'brush', size: 12, color: '#e0a35b', opacity: 1 };
  enabled = false;
  private recorder: StrokeRecorder | null = null;
  private current: Y.Map<unknown> | null = null;
  private currentId = '';
  /** Whether the stroke being drawn is a region stroke (style brush or its eraser). */
  private region = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private releaseUndo: (() => void) | null = null;
  canvas: ContentCanvas | null = null;

  constructor(
    private readonly sdoc: SessionDoc,
    private readonly author: () => string,
    /** Starts one undo step for a whole stroke; returns its release. */
    private readonly holdUndo: () => () => void,
    private readonly onPresence: (p: { x: number; y: number } | null) => void,
    private readonly onError: (e: unknown) => void,
  ) {}

  get drawing(): boolean {
    return this.recorder !== null;
  }

  start(x: number, y: number): boolean {
    if (!this.enabled) return false;
    this.releaseUndo?.();
    this.releaseUndo = this.holdUndo();
    this.beginAt(x, y);
    if (this.current === null) {
      this.releaseUndo();
      this.releaseUndo = null;
    }
    return this.current !== null;
  }

  move(points: Array<{ x: number; y: number }>): void {
    if (!this.recorder) return;
    for (const p of points) {
      if (this.recorder.full) {
        // Continue seamlessly in a new stroke from the last point.
        const n = this.recorder.points.length;
        const lx = this.recorder.points[n - 2];
        const ly = this.recorder.points[n - 1];
        this.commit();
        this.beginAt(lx, ly);
        if (!this.recorder) return;
      }
      this.recorder.add(p.x, p.y);
    }
    this.onPresence(points.at(-1) ?? null);
    this.showLive();
    this.maybePublish();
  }

  end(): void {
    if (!this.recorder) return;
    this.commit();
    this.releaseUndo?.();
    this.releaseUndo = null;
  }

  hover(p: { x: number; y: number } | null): void {
    this.onPresence(p);
  }

  private beginAt(x: number, y: number): void {
    const rec = new StrokeRecorder(this.brush.size);
    rec.add(x, y);
    const b = this.brush;
    try {
      this.region = isRegionTool(b.tool);
      if (b.tool === 'style' && !b.style) throw new Error('Pick the style to paint first.');
      this.current = this.region
        ? this.sdoc.beginRegion({
            author: this.author().slice(0, 64),
            tool: b.tool === 'style' ? 'brush' : 'eraser',
            ...(b.tool === 'style' ? { style: b.style } : {}),
            size: b.size,
            points: rec.takeUnpublished(),
          })
        : this.sdoc.beginStroke({
            author: this.author().slice(0, 64),
            tool: b.tool as 'brush' | 'eraser',
            color: b.color,
            size: b.size,
            opacity: b.opacity,
            points: rec.takeUnpublished(),
          });
      this.currentId = String(this.current.get('id'));
      this.recorder = rec;
      rec.shouldPublish(performance.now());
      this.showLive();
    } catch (e) {
      this.current = null;
      this.recorder = null;
      this.onError(e);
    }
  }

  /** The stroke being drawn, shown locally at once (on the artwork, or on the region overlay). */
  private showLive(): void {
    const rec = this.recorder;
    const b = this.brush;
    if (this.region) {
      const live: RegionStroke | null = rec
        ? { id: this.currentId, author: this.author().slice(0, 64), tool: b.tool === 'style' ? 'brush' : 'eraser', style: b.style, size: b.size, points: rec.points }
        : null;
      this.canvas?.setLiveRegion(live);
    } else {
      const live: Stroke | null = rec ? { id: this.currentId, author: '', tool: b.tool as 'brush' | 'eraser', color: b.color, size: b.size, opacity: b.opacity, points: rec.points } : null;
      this.canvas?.setLiveStroke(live);
    }
  }

  private maybePublish(): void {
    if (!this.recorder || !this.current) return;
    if (this.recorder.shouldPublish(performance.now())) {
      this.publish(this.recorder.takeUnpublished());
    } else if (this.flushTimer === undefined) {
      // Make sure the last points of a pause go out even if no further event comes.
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.maybePublish();
      }, 35);
    }
  }

  private publish(points: readonly number[]): void {
    if (!this.current || !points.length) return;
    try {
      if (this.region) this.sdoc.appendRegionPoints(this.current, points);
      else this.sdoc.appendPoints(this.current, points);
    } catch (e) {
      this.onError(e);
    }
  }

  private commit(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.recorder && this.current) this.publish(this.recorder.takeUnpublished());
    this.recorder = null;
    this.current = null;
    this.showLive();
  }
}
