/**
 * Content-addressed image store over {@link Storage}: an image's id is the sha256 of its bytes
 * (hex), so the same upload twice is stored once and ids are safe in URLs. Keeps a cache of
 * decoded pixels because the session layer decodes the same few images over and over; the cache is
 * bounded by bytes (S25: `DECODED_CACHE_BYTES`), and images are decoded at the size they are used
 * at (the content canvas, a style's working size), never at their full stored size.
 *
 * Validation asks "is this image stored, and how big is it?" synchronously, inside a Yjs
 * transaction (S8), while storage answers asynchronously (S30). So the store *knows* images: every
 * image it stored, seeded or found stays known (id → size; images are immutable and never deleted,
 * so a known image stays true), and whoever applies a document update first {@link prefetch}es the
 * image ids the update mentions ({@link imageIdsIn}) — one query for the unknown ones — so `has`
 * and `dims` answer from memory without ever waiting for the database.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageId } from '../../shared/schema.ts';
import type { PresetImage } from '../../shared/protocol.ts';
import type { RgbImage } from '../engine/api.ts';
import * as Y from 'yjs';
import type { ImageRecord, Storage } from '../storage/types.ts';
import { decodeImage, decodeImageTo, type DecodeTarget } from './codec.ts';
import { validateImage, type AcceptedMime, type ImageLimits } from './validate.ts';
import { CONFIG_DEFAULTS } from '../config.ts';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** True when `id` has the image-id shape (64 lowercase hex): reject anything else before a lookup. */
export function isImageId(id: string): boolean {
  return ImageId.safeParse(id).success;
}

/** Default byte budget of the decoded-pixel cache (config DECODED_CACHE_BYTES). */
export const DEFAULT_DECODED_CACHE_BYTES = CONFIG_DEFAULTS.decodedCacheBytes;
/**
 * Images known at once (id → size, ~150 bytes each). Beyond it the oldest are forgotten; a
 * forgotten id is looked up again by the next update that names it.
 */
const KNOWN_IMAGES = 200_000;
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;

/**
 * The image ids (64 lowercase hex) a Yjs update writes: string values of map entries and array
 * items (a style's or the content's `imageId`). Decoding an update is cheap next to applying it.
 */
export function imageIdsIn(update: Uint8Array): string[] {
  const out = new Set<string>();
  const visit = (v: unknown) => {
    if (typeof v === 'string') {
      if (v.length === 64 && IMAGE_ID_RE.test(v)) out.add(v);
    } else if (Array.isArray(v)) v.forEach(visit);
  };
  for (const struct of Y.decodeUpdate(update).structs) {
    const content = (struct as { content?: { getContent(): unknown[] } }).content;
    if (content && !(content instanceof Y.ContentType) && !(content instanceof Y.ContentDeleted)) visit(content.getContent());
  }
  return [...out];
}

interface CacheEntry {
  image: Promise<RgbImage>;
  /** width×height×3 of the target (known before decoding). */
  bytes: number;
}

export class ImageStore {
  private decoded = new Map<string, CacheEntry>();
  private decodedBytes = 0;
  /** Images known to be stored, with their size. */
  private known = new Map<string, { width: number; height: number }>();
  private presetList: PresetImage[] = [];
  private presetFiles = new Map<string, PresetImage>();

  constructor(
    private storage: Storage,
    private readonly decodedCacheBytes = DEFAULT_DECODED_CACHE_BYTES,
  ) {}

  /** Bytes of decoded pixels the cache holds now (tests, metrics). */
  get cachedBytes(): number {
    return this.decodedBytes;
  }

  /** Stored width and height of a known image (see {@link prefetch}), or undefined. */
  dims(id: string): { width: number; height: number } | undefined {
    return this.known.get(id);
  }

  private remember(id: string, width: number, height: number): void {
    if (this.known.has(id)) return;
    this.known.set(id, { width, height });
    if (this.known.size > KNOWN_IMAGES) this.known.delete(this.known.keys().next().value as string);
  }

  /** Stores already validated bytes; returns the image id. */
  async put(bytes: Buffer, mime: AcceptedMime, width: number, height: number): Promise<string> {
    const id = sha256Hex(bytes);
    await this.storage.putImage({ id, mime, width, height, bytes, createdAt: Date.now() });
    this.remember(id, width, height);
    return id;
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    if (!isImageId(id)) return undefined;
    const rec = await this.storage.getImage(id);
    if (rec) this.remember(id, rec.width, rec.height);
    return rec;
  }

  /** Whether `id` is a known stored image (synchronous: call {@link prefetch} for ids an update brings). */
  has(id: string): boolean {
    return this.known.has(id);
  }

  /** Looks up the ids not known yet (one storage query) so {@link has} and {@link dims} can answer them. */
  async prefetch(ids: Iterable<string>): Promise<void> {
    const unknown = [...new Set(ids)].filter((id) => isImageId(id) && !this.known.has(id));
    if (!unknown.length) return;
    for (const info of await this.storage.imageInfo(unknown)) this.remember(info.id, info.width, info.height);
  }

  /** Whether some of `ids` are not known yet (then {@link prefetch} them before validating). */
  needsPrefetch(ids: readonly string[]): boolean {
    return ids.some((id) => !this.known.has(id));
  }

  /**
   * Decoded RGB pixels of a stored image, resized in the decoder to `target` (default: full size,
   * for the CLI). Cached by id and target, least recently used first out once the cache holds
   * more than its byte budget; an entry larger than the whole budget is decoded but not kept.
   */
  decode(id: string, target?: DecodeTarget): Promise<RgbImage> {
    const key = !target ? `${id}|full` : 'maxSide' in target ? `${id}|max${target.maxSide}` : `${id}|${target.width}x${target.height}`;
    const hit = this.decoded.get(key);
    if (hit) {
      this.decoded.delete(key);
      this.decoded.set(key, hit);
      return hit.image;
    }
    const dims = this.known.get(id);
    if (!dims) {
      return this.prefetch([id]).then(() => {
        if (!this.known.has(id)) throw new Error(`unknown image ${id}`);
        return this.decode(id, target);
      });
    }
    const size = !target
      ? dims
      : 'maxSide' in target
        ? fitInside(dims.width, dims.height, target.maxSide)
        : target;
    const bytes = size.width * size.height * 3;
    const image = this.storage.getImage(id).then((rec) => {
      if (!rec) throw new Error(`unknown image ${id}`);
      return target ? decodeImageTo(rec.bytes, target) : decodeImage(rec.bytes);
    });
    if (bytes > this.decodedCacheBytes) return image;
    const entry: CacheEntry = { image, bytes };
    image.catch(() => this.drop(key, entry));
    this.decoded.set(key, entry);
    this.decodedBytes += bytes;
    while (this.decodedBytes > this.decodedCacheBytes && this.decoded.size > 1) {
      const oldest = this.decoded.keys().next().value as string;
      this.drop(oldest, this.decoded.get(oldest)!);
    }
    return image;
  }

  private drop(key: string, entry: CacheEntry): void {
    if (this.decoded.get(key) !== entry) return;
    this.decoded.delete(key);
    this.decodedBytes -= entry.bytes;
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
        const imageId = await this.put(bytes, v.mime, v.width, v.height);
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

/** Size of a w×h image resized to fit a maxSide square without enlarging (as sharp's `inside`). */
export function fitInside(width: number, height: number, maxSide: number): { width: number; height: number } {
  const s = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
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
