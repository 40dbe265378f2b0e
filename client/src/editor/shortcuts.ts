/**
 * Keyboard shortcuts of the editor, as a pure key → action mapping (tested without a DOM):
 * Ctrl/Cmd+Z undo, Shift+Ctrl/Cmd+Z or Ctrl/Cmd+Y redo, B brush, E eraser, S style brush,
 * Shift+S style eraser, R show/hide the style regions, [ and ] brush size, Space run/pause.
 * Single-key shortcuts are ignored while typing in a form field.
 */
export type ShortcutAction = 'undo' | 'redo' | 'brush' | 'eraser' | 'style' | 'style-eraser' | 'toggle-regions' | 'size-down' | 'size-up' | 'toggle-run';

export interface KeyInfo {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  /** The event target is a text field, select or other control that wants the keys itself. */
  inField: boolean;
}

export function shortcutFor(k: KeyInfo): ShortcutAction | null {
  const mod = k.ctrlKey || k.metaKey;
  const key = k.key.length === 1 ? k.key.toLowerCase() : k.key;
  if (mod && !k.altKey) {
    if (key === 'z') return k.shiftKey ? 'redo' : 'undo';
    if (key === 'y' && !k.shiftKey) return 'redo';
    return null;
  }
  if (k.inField || k.altKey) return null;
  switch (key) {
    case 'b':
      return 'brush';
    case 'e':
      return 'eraser';
    case 's':
      return k.shiftKey ? 'style-eraser' : 'style';
    case 'r':
      return 'toggle-regions';
    case '[':
      return 'size-down';
    case ']':
      return 'size-up';
    case ' ':
      return 'toggle-run';
    default:
      return null;
  }
}

/** Brush sizes step geometrically so [ and ] feel the same at 2 px and at 200 px. */
export function stepBrushSize(size: number, dir: 1 | -1, min = 1, max = 256): number {
  const next = dir > 0 ? Math.max(size + 1, Math.round(size * 1.25)) : Math.min(size - 1, Math.round(size / 1.25));
  return Math.min(max, Math.max(min, next));
}
