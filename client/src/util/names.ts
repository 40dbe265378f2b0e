/**
 * Short labels for built-in images. Preset names read "Artist, Title, Year" (styles) or
 * "Subject, Author (WxH)" (content photos); chips and thumbnails have room for one part.
 */
export function shortPresetName(name: string, kind: 'style' | 'content'): string {
  const parts = name.split(',').map((p) => p.replace(/\(\d+x\d+\)/, '').trim()).filter(Boolean);
  if (!parts.length) return name;
  const pick = kind === 'style' && parts.length >= 2 ? parts[1] : parts[0];
  return pick.length > 24 ? pick.slice(0, 23) + '…' : pick;
}
