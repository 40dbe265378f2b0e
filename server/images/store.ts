/**
 * Content-addressed image store over {@link Storage}: an image's id is the sha256 of its bytes
 * (hex), so the same upload twice is stored once and ids are safe in URLs. Keeps a small cache of
 * decoded pixels because the session layer decodes the same few images over and over.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageId } from '../../shared/schema.ts';
import type { PresetImage } from '../../shared/protocol.ts';
import type { RgbImage } from '../engine/api.ts';
import type { ImageRecord, Storage } from '../storage/types.ts';
import { decodeImage } from './codec.ts';
import { validateImage, type AcceptedMime, type ImageLimits } from './validate.ts';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True when `id` has the image-id shape (64 lowercase hex): reject anything else before a lookup. */
export function isImageId(id: string): boolean {
  return ImageId.safeParse(id).success;
}

const DECODED_CACHE_SIZE = 16;

export class ImageStore {
  private decoded = new Map<string, Promise<RgbImage>>();
  private presetList: PresetImage[] = [];
  private presetFiles = new Map<string, PresetImage>();

  constructor(private storage: Storage) {}

  /** Stores already validated bytes; returns the image id. */
  put(bytes: Buffer, mime: AcceptedMime, width: number, height: number): string {
    const id = sha256Hex(bytes);
    this.storage.putImage({ id, mime, width, height, bytes, createdAt: Date.now() });
    return id;
  }

  get(id: string): ImageRecord | undefined {
    return isImageId(id) ? this.storage.getImage(id) : undefined;
  }

  has(id: string): boolean {
    return isImageId(id) && this.storage.hasImage(id);
  }

  /** Decoded RGB pixels of a stored image (cached, most recent {@link DECODED_CACHE_SIZE}). */
  decode(id: string): Promise<RgbImage> {
    const hit = this.decoded.get(id);
    if (hit) {
      this.decoded.delete(id);
      this.decoded.set(id, hit);
      return hit;
    }
    const rec = this.get(id);
    if (!rec) return Promise.reject(new Error(`unknown image ${id}`));
    const p = decodeImage(rec.bytes);
    p.catch(() => this.decoded.delete(id));
    this.decoded.set(id, p);
    while (this.decoded.size > DECODED_CACHE_SIZE) this.decoded.delete(this.decoded.keys().next().value as string);
    return p;
  }

  /**
   * Loads every image under `assetsDir/{content,style}` into the store, with names and credits
   * from the table in `assetsDir/README.md`. Idempotent; call once at startup.
   */
  async seedPresets(assetsDir: string, limits: ImageLimits): Promise<PresetImage[]> {
    const credits = await readCredits(path.join(assetsDir, 'README.md'));
    const { readdir } = await import('node:fs/promises');
    const out: PresetImage[] = [];
    for (const kind of ['content', 'style'] as const) {
      let files: string[] = [];
      try {
        files = (await readdir(path.join(assetsDir, kind))).sort();
      } catch {
        continue;
      }
      for (const file of files) {
        const mime = file.endsWith('.png') ? 'image/png' : /\.jpe?g$/.test(file) ? 'image/jpeg' : file.endsWith('.webp') ? 'image/webp' : undefined;
        if (!mime) continue;
        const bytes = await readFile(path.join(assetsDir, kind, file));
        const v = await validateImage(bytes, mime, { maxBytes: Math.max(limits.maxBytes, bytes.length), maxPixels: Math.max(limits.maxPixels, 1e8) });
        const imageId = this.put(bytes, v.mime, v.width, v.height);
        const credit = credits.get(`${kind}/${file}`);
        const preset: PresetImage = {
          imageId,
          name: credit?.name ?? file.replace(/\.[a-z]+$/, '').replace(/[-_]/g, ' '),
          kind,
          width: v.width,
          height: v.height,
          credit: credit?.credit ?? '',
        };
        out.push(preset);
        this.presetFiles.set(`${kind}/${file}`, preset);
      }
    }
    this.presetList = out;
    return out;
  }

  get presets(): readonly PresetImage[] {
    return this.presetList;
  }

  /** The preset seeded from `relPath` (e.g. `style/starry_night.jpg`). */
  presetByFile(relPath: string): PresetImage | undefined {
    return this.presetFiles.get(relPath);
  }
}

/** Parses the `| file | what | licence |` table of assets/README.md. */
async function readCredits(readme: string): Promise<Map<string, { name: string; credit: string }>> {
  const map = new Map<string, { name: string; credit: string }>();
  let text = '';
  try {
    text = await readFile(readme, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !/\.(png|jpe?g|webp)$/i.test(cells[1])) continue;
    map.set(cells[1], { name: cells[2], credit: `${cells[2]} — ${cells[3]}` });
  }
  return map;
}
