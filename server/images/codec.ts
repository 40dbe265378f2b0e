/**
 * Image decoding and encoding between files/bytes and the engine's {@link RgbImage}, via sharp.
 * Shared by the CLI and the server so both read images the same way (EXIF orientation applied,
 * alpha flattened onto white, 8-bit sRGB).
 */
import sharp from 'sharp';
import type { RgbImage } from '../engine/api.ts';

export type EncodeMime = 'image/png' | 'image/jpeg' | 'image/webp';

/** Decodes PNG/JPEG/WebP bytes to RGB. Throws sharp's error for undecodable input. */
export async function decodeImage(bytes: Uint8Array | Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { failOn: 'error' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Where {@link decodeImageTo} puts the decoded pixels: exactly width×height (`fill`, the content
 * canvas), or a long side of at most `maxSide` with the aspect kept and never enlarged (styles).
 */
export type DecodeTarget = { width: number; height: number } | { maxSide: number };

/**
 * Decodes and resizes in one sharp pipeline, so the full-size pixels never reach the JS heap (and,
 * for JPEG and WebP, libvips shrinks while decoding). Same colour handling as {@link decodeImage}.
 */
export async function decodeImageTo(bytes: Uint8Array | Buffer, target: DecodeTarget): Promise<RgbImage> {
  let s = sharp(bytes, { failOn: 'error' }).rotate();
  s =
    'maxSide' in target
      ? s.resize({ width: target.maxSide, height: target.maxSide, fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      : s.resize(target.width, target.height, { fit: 'fill', kernel: 'lanczos3' });
  const { data, info } = await s.flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Encodes RGB pixels; `quality` (1..100) applies to JPEG and WebP. */
export async function encodeImage(img: RgbImage, mime: EncodeMime, quality = 85): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  if (mime === 'image/png') return s.png().toBuffer();
  if (mime === 'image/webp') return s.webp({ quality }).toBuffer();
  return s.jpeg({ quality, mozjpeg: false }).toBuffer();
}

export async function readImageFile(file: string): Promise<RgbImage> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`cannot read image ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return await decodeImage(bytes);
  } catch (e) {
    throw new Error(`cannot decode image ${file}: ${(e as Error).message}`);
  }
}
