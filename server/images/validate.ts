/**
 * Gatekeeper for uploaded images. Order matters: cheap checks first, and the pixel count is read
 * from the header (sharp metadata) BEFORE any decode, so a decompression bomb (a tiny PNG that
 * declares 100k×100k pixels) is refused without allocating its pixels. Then the image is fully
 * decoded once (with sharp's own limitInputPixels as a second fence) so a truncated or corrupt
 * file is refused at upload, not later inside the engine.
 */
import sharp, { type Metadata } from 'sharp';
import { ACCEPTED_IMAGE_TYPES, ErrorCode } from '../../shared/protocol.ts';

export type AcceptedMime = (typeof ACCEPTED_IMAGE_TYPES)[number];

/** A refused upload, with the HTTP status and error code to answer with. */
export class ImageRejection extends Error {
  override name = 'ImageRejection';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
  /**
   * Called with the header's pixel count before the full decode (which costs CPU in proportion):
   * returns an error message to refuse with 429 RATE_LIMITED, or null (UPLOAD_PIXELS_PER_MIN, S25).
   */
  admitDecode?: (pixels: number) => string | null | Promise<string | null>;
}

export interface ValidatedImage {
  mime: AcceptedMime;
  /** Size after EXIF orientation, i.e. as the engine will see it. */
  width: number;
  height: number;
}

const FORMAT_TO_MIME: Record<string, AcceptedMime> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** `image/PNG; charset=x` → `image/png`, or undefined when not on the allow-list. */
export function normaliseImageType(contentType: string | undefined): AcceptedMime | undefined {
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return (ACCEPTED_IMAGE_TYPES as readonly string[]).includes(base) ? (base as AcceptedMime) : undefined;
}

/**
 * Checks `bytes` claimed to be `contentType`. Resolves with the verified type and size, or rejects
 * with an {@link ImageRejection}: 415 for a type off the allow-list or not matching the bytes,
 * 413 for too many bytes or pixels, 400 for undecodable data.
 */
export async function validateImage(bytes: Buffer, contentType: string | undefined, limits: ImageLimits): Promise<ValidatedImage> {
  const claimed = normaliseImageType(contentType);
  if (!claimed) {
    throw new ImageRejection(
      415,
      ErrorCode.UnsupportedMediaType,
      `Content-Type '${contentType ?? ''}' is not accepted; send one of ${ACCEPTED_IMAGE_TYPES.join(', ')}`,
    );
  }
  if (bytes.length === 0) throw new ImageRejection(400, ErrorCode.ImageDecodeFailed, 'the request body is empty');
  if (bytes.length > limits.maxBytes) {
    throw new ImageRejection(413, ErrorCode.PayloadTooLarge, `image is ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch (e) {
    throw new ImageRejection(400, ErrorCode.ImageDecodeFailed, `not a readable image: ${(e as Error).message}`);
  }
  const sniffed = meta.format ? FORMAT_TO_MIME[meta.format] : undefined;
  if (!sniffed) {
    throw new ImageRejection(415, ErrorCode.UnsupportedMediaType, `the data is ${meta.format ?? 'of an unknown format'}, not ${claimed}`);
  }
  if (sniffed !== claimed) {
    throw new ImageRejection(415, ErrorCode.UnsupportedMediaType, `Content-Type says ${claimed} but the data is ${sniffed}`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (!(w > 0 && h > 0)) throw new ImageRejection(400, ErrorCode.ImageDecodeFailed, 'the image header declares no size');
  if (w * h > limits.maxPixels) {
    throw new ImageRejection(413, ErrorCode.ImageTooLarge, `image is ${w}x${h} = ${w * h} pixels; the limit is ${limits.maxPixels}`);
  }
  const refused = await limits.admitDecode?.(w * h);
  if (refused) throw new ImageRejection(429, ErrorCode.RateLimited, refused);
  try {
    const { info } = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'truncated' })
      .rotate()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { mime: sniffed, width: info.width, height: info.height };
  } catch (e) {
    throw new ImageRejection(400, ErrorCode.ImageDecodeFailed, `the image cannot be decoded: ${(e as Error).message}`);
  }
}
