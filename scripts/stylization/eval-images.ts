/**
 * Held-out images for judging stylization: photos and paintings that are not in assets/ (so a
 * setup tuned on the sample pairs is also seen on pictures it was not tuned on).
 *
 * Source: Debian's `gcompris-qt-data` package (GCompris, the educational suite), which ships
 * public-domain paintings as puzzle pieces (activity "paintings", reproductions from Nicolas
 * Pioch's WebMuseum, GPL-3+ per its README) and photos of monuments and animals (activities
 * "explore_*", from Wikimedia Commons). The .deb comes from this machine's own apt sources
 * (`apt-get download`), its Qt resource bundles are unpacked here and the paintings reassembled
 * from their pieces' positions. Nothing is committed: the images land in .cache/eval-images/.
 *
 *   node --import tsx scripts/stylization/eval-images.ts      # prints the folder
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';

export const EVAL_DIR = path.resolve('.cache/eval-images');

/** Paintings (GCompris board names) and photos (resource paths) used as held-out pairs. */
export const EVAL_PAINTINGS = ['GreatWave', 'kandinky', 'gogh_auvert', 'renoir-moulin_de_la_galette', 'HokusaiBridge', 'PieterBruegel', 'cassat_summertime'];
export const EVAL_PHOTOS: Record<string, string> = {
  giraffe: 'explore_world_animals/resource/animals/giraffe.webp',
  hedgehog: 'explore_world_animals/resource/animals/hedgehog.webp',
  chambord: 'explore_monuments/resource/france/chateaudeChambord.webp',
  petra: 'explore_monuments/resource/wonders/petra.webp',
  cow: 'explore_farm_animals/resource/animals/cow.webp',
  pontdugard: 'explore_monuments/resource/france/pontduGard.webp',
};

/** Files of a Qt binary resource bundle (.rcc, format versions 1–3, zlib-compressed entries). */
export function unpackRcc(bytes: Buffer): Map<string, Buffer> {
  if (bytes.toString('latin1', 0, 4) !== 'qres') throw new Error('not a Qt resource file');
  const version = bytes.readUInt32BE(4);
  const tree = bytes.readUInt32BE(8);
  const data = bytes.readUInt32BE(12);
  const names = bytes.readUInt32BE(16);
  const nodeSize = version >= 2 ? 22 : 14;
  const out = new Map<string, Buffer>();
  const nameAt = (offset: number) => {
    const len = bytes.readUInt16BE(names + offset);
    return bytes.subarray(names + offset + 6, names + offset + 6 + len * 2).swap16().toString('utf16le');
  };
  const walk = (index: number, prefix: string) => {
    const o = tree + index * nodeSize;
    const flags = bytes.readUInt16BE(o + 4);
    const name = index === 0 ? '' : nameAt(bytes.readUInt32BE(o));
    const here = prefix ? `${prefix}/${name}` : name;
    if (flags & 2) {
      const count = bytes.readUInt32BE(o + 6);
      const first = bytes.readUInt32BE(o + 10);
      for (let k = 0; k < count; k++) walk(first + k, here);
      return;
    }
    const offset = data + bytes.readUInt32BE(o + 10);
    let body = bytes.subarray(offset + 4, offset + 4 + bytes.readUInt32BE(offset));
    if (flags & 1) body = inflateSync(body.subarray(4));
    if (flags & 4) throw new Error(`${here}: zstd-compressed resources are not supported`);
    out.set(here, Buffer.from(body));
  };
  walk(0, '');
  return out;
}

/** The package's share/gcompris-qt/rcc folder, downloaded and unpacked into .cache once. */
function gcomprisRcc(): string {
  const work = path.resolve('.cache/gcompris');
  const rcc = path.join(work, 'root/usr/share/gcompris-qt/rcc');
  if (existsSync(rcc)) return rcc;
  mkdirSync(work, { recursive: true });
  execFileSync('apt-get', ['download', 'gcompris-qt-data'], { cwd: work, stdio: 'inherit' });
  const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download gcompris-qt-data produced no .deb');
  execFileSync('dpkg-deb', ['-x', path.join(work, deb), path.join(work, 'root')], { stdio: 'inherit' });
  return rcc;
}

/** Reassembles one painting from its puzzle pieces (board QML: piece centres as fractions of the board). */
async function assemblePainting(files: Map<string, Buffer>, board: string): Promise<Buffer> {
  const qml = files.get(board)!.toString('utf8');
  const boardW = Number(/"width":\s*(\d+)/.exec(qml)![1]);
  const boardH = Number(/"height":\s*(\d+)/.exec(qml)![1]);
  const re = /"pixmapfile"\s*:\s*"image\/([^"]+\.webp)",\s*"x"\s*:\s*"([\d.]+)",\s*"y"\s*:\s*"([\d.]+)"/g;
  const dir = path.dirname(path.dirname(board));
  const pieces: { input: Buffer; left: number; top: number; w: number; h: number }[] = [];
  for (let m = re.exec(qml); m; m = re.exec(qml)) {
    const input = files.get(`${dir}/image/${m[1]}`)!;
    const { width = 0, height = 0 } = await sharp(input).metadata();
    pieces.push({ input, left: Math.round(Number(m[2]) * boardW - width / 2), top: Math.round(Number(m[3]) * boardH - height / 2), w: width, h: height });
  }
  const x0 = Math.min(...pieces.map((p) => p.left));
  const y0 = Math.min(...pieces.map((p) => p.top));
  const width = Math.max(...pieces.map((p) => p.left + p.w)) - x0;
  const height = Math.max(...pieces.map((p) => p.top + p.h)) - y0;
  return sharp({ create: { width, height, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 1 } } })
    .composite(pieces.map((p) => ({ input: p.input, left: p.left - x0, top: p.top - y0 })))
    .flatten({ background: '#ffffff' })
    .png()
    .toBuffer();
}

/** Makes sure every held-out image is in {@link EVAL_DIR}; returns the folder. */
export async function ensureEvalImages(): Promise<string> {
  const wanted = [...EVAL_PAINTINGS, ...Object.keys(EVAL_PHOTOS)].map((n) => path.join(EVAL_DIR, `${n}.png`));
  if (wanted.every(existsSync)) return EVAL_DIR;
  mkdirSync(EVAL_DIR, { recursive: true });
  const rcc = gcomprisRcc();
  const paintings = unpackRcc(readFileSync(path.join(rcc, 'paintings.rcc')));
  for (const [file, board] of [...paintings].filter(([f]) => /\/board\/board\d+_0\.qml$/.test(f))) {
    const first = /"pixmapfile"\s*:\s*"image\/([^"]+\.webp)",\s*"x"/.exec(board.toString('utf8'));
    const stem = first?.[1].replace(/[-_][a-e]?\d\.webp$/, '');
    if (stem && EVAL_PAINTINGS.includes(stem)) await sharp(await assemblePainting(paintings, file)).toFile(path.join(EVAL_DIR, `${stem}.png`));
  }
  const bundles = new Map<string, Map<string, Buffer>>();
  for (const [name, rel] of Object.entries(EVAL_PHOTOS)) {
    const activity = rel.split('/')[0];
    if (!bundles.has(activity)) bundles.set(activity, unpackRcc(readFileSync(path.join(rcc, `${activity}.rcc`))));
    const key = [...bundles.get(activity)!.keys()].find((k) => k.endsWith(`/${rel}`));
    if (!key) throw new Error(`${rel} is not in ${activity}.rcc`);
    await sharp(bundles.get(activity)!.get(key)!).flatten({ background: '#ffffff' }).png().toFile(path.join(EVAL_DIR, `${name}.png`));
  }
  return EVAL_DIR;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await ensureEvalImages());
