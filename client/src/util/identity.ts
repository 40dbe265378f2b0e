/**
 * Who "I" am in presence and strokes: a display name remembered in localStorage (a friendly
 * random one on first visit) and a colour derived from it.
 */
import { colorForName } from './color.ts';

const NAME_KEY = 'atelier.name';
const ADJECTIVES = ['Amber', 'Cobalt', 'Ochre', 'Umber', 'Vermilion', 'Indigo', 'Sienna', 'Teal', 'Violet', 'Sage'];
const NOUNS = ['Fox', 'Heron', 'Otter', 'Lynx', 'Finch', 'Hare', 'Wren', 'Moth', 'Newt', 'Crane'];

export function randomName(rand: () => number = Math.random): string {
  return `${ADJECTIVES[Math.floor(rand() * ADJECTIVES.length)]} ${NOUNS[Math.floor(rand() * NOUNS.length)]}`;
}

export function getMyName(): string {
  try {
    const stored = localStorage.getItem(NAME_KEY)?.trim();
    if (stored) return stored.slice(0, 64);
    const name = randomName();
    localStorage.setItem(NAME_KEY, name);
    return name;
  } catch {
    return randomName();
  }
}

export function setMyName(name: string): string {
  const n = name.trim().slice(0, 64) || randomName();
  try {
    localStorage.setItem(NAME_KEY, n);
  } catch {
    /* private mode: name lasts for this page only */
  }
  return n;
}

export function myUser(): { name: string; color: string } {
  const name = getMyName();
  return { name, color: colorForName(name) };
}
