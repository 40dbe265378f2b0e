/**
 * Colours for people. Each participant gets a stable, readable colour derived from their name,
 * so the same person keeps their colour across reloads without any coordination.
 */
const PALETTE = [
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45',
  '#fabed4', '#469990', '#dcbeff', '#9a6324', '#ffe119', '#800000', '#aaffc3', '#000075',
] as const;

/** FNV-1a hash of a string, used to pick palette entries deterministically. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A stable `#rrggbb` colour for a participant name. */
export function colorForName(name: string): string {
  return PALETTE[hashString(name) % PALETTE.length];
}

/** `#rrggbb` → 0xrrggbb for PixiJS; invalid input gives the fallback. */
export function hexToNumber(hex: string, fallback = 0xffffff): number {
  return /^#[0-9a-fA-F]{6}$/.test(hex) ? parseInt(hex.slice(1), 16) : fallback;
}

/** Black or white, whichever reads better on the given background. */
export function contrastText(hex: string): '#000000' | '#ffffff' {
  const n = hexToNumber(hex, 0);
  const r = (n >> 16) & 255;
  const g = (n >> 8) & 255;
  const b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000000' : '#ffffff';
}
