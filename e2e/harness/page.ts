/**
 * Page-level helpers for the e2e scenarios: waiting on the pages' debug hooks
 * (`window.atelier`, `window.atelierReplay`), drawing with the real mouse, and pixel checks on
 * screenshots (decoded with sharp) — so a test asserts what a person would see, not only state.
 */
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { containBox, scaleBox } from './pixels.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The editor/projector debug handle (see client/src/editor/editor-page.ts). */
export type AtelierHandle = any;

/**
 * Waits until `fn(arg)` is truthy in the page. Predicates are functions, not strings: the
 * server's CSP forbids eval. On timeout the error says what was awaited and the connection state.
 */
export async function waitInPage<A>(page: Page, what: string, fn: (arg: A) => unknown, arg?: A, timeout = 30_000): Promise<void> {
  try {
    await page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout, polling: 100 });
  } catch (err) {
    const state = await page
      .evaluate(() => {
        const a = (window as any).atelier;
        return a
          ? { conn: a.conn.state, socket: a.conn.socket.connected, role: a.conn.role, synced: a.conn.provider.synced, lastError: a.conn.lastError, strokes: a.conn.doc.getArray('strokes').length }
          : 'no window.atelier';
      })
      .catch((e: Error) => e.message);
    throw new Error(`timed out waiting for ${what}; page state ${JSON.stringify(state)} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Opens `path` and waits until the page is synced with the server (as editor unless `role`). */
export async function openSynced(page: Page, url: string, role: 'editor' | 'viewer' = 'editor'): Promise<void> {
  await page.goto(url);
  await waitInPage(
    page,
    `${role} page to sync`,
    (r: string) => {
      const a = (window as any).atelier;
      return a?.conn.provider.synced && a.conn.role === r;
    },
    role,
    60_000, // a fresh page next to three busy ones (software GL) may take long on a loaded machine
  );
}

/** Counts every frame the page's connection receives, into `window.__e2eFrames`. */
export async function recordFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    w.__e2eFrames = [];
    w.atelier.conn.frames.on(({ frame }: any) => w.__e2eFrames.push({ iter: frame.iter, loss: frame.losses.total }));
  });
}

/** Frames recorded by {@link recordFrames} so far. */
export function recordedFrames(page: Page): Promise<Array<{ iter: number; loss: number }>> {
  return page.evaluate(() => (window as any).__e2eFrames as Array<{ iter: number; loss: number }>);
}

/** Drags the real mouse along `pts` (fractions of the content canvas's box). */
export async function drawStroke(page: Page, pts: Array<[number, number]>): Promise<void> {
  const box = await page.locator('.canvas-stage canvas').boundingBox();
  if (!box) throw new Error('the content canvas is not visible');
  const at = (p: [number, number]) => [box.x + p[0] * box.width, box.y + p[1] * box.height] as const;
  await page.mouse.move(...at(pts[0]));
  await page.mouse.down();
  // Few, coarse moves: every move is a round trip to a renderer that is slow under software GL.
  for (const p of pts.slice(1)) await page.mouse.move(...at(p), { steps: 2 });
  await page.mouse.up();
}

/** A horizontal line of points at height `y`, from x0 to x1 (fractions). */
export const line = (y: number, x0 = 0.15, x1 = 0.85, n = 6): Array<[number, number]> =>
  Array.from({ length: n }, (_, i) => [x0 + ((x1 - x0) * i) / (n - 1), y]);

async function rgb(png: Buffer): Promise<{ data: Buffer; channels: number; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels, width: info.width, height: info.height };
}

/** How many pixels of the PNG are within `tolerance` (per channel) of `color` ('#rrggbb'). */
export async function countColorPixels(png: Buffer, color: string, tolerance = 40): Promise<number> {
  const want = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  const { data, channels } = await rgb(png);
  let n = 0;
  for (let i = 0; i < data.length; i += channels) {
    if (Math.abs(data[i] - want[0]) <= tolerance && Math.abs(data[i + 1] - want[1]) <= tolerance && Math.abs(data[i + 2] - want[2]) <= tolerance) n++;
  }
  return n;
}

/** Mean absolute difference per channel (0…255) between two same-sized PNGs. */
export async function meanPixelDiff(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([rgb(a), rgb(b)]);
  if (x.width !== y.width || x.height !== y.height) throw new Error(`screenshots differ in size (${x.width}x${x.height} vs ${y.width}x${y.height})`);
  let sum = 0;
  for (let i = 0; i < x.data.length; i++) sum += Math.abs(x.data[i] - y.data[i]);
  return sum / x.data.length;
}

/** Mean of all channels (0…255): a black screen is ~0. */
export async function meanBrightness(png: Buffer): Promise<number> {
  const { data } = await rgb(png);
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  return sum / data.length;
}

/** A frame as a page received it: arrival time (page clock, ms), iteration, size and JPEG bytes. */
export interface RecordedFrame {
  t: number;
  iter: number;
  w: number;
  h: number;
  jpeg: Buffer;
}

/**
 * Keeps every frame the page's connection receives, with its bytes and arrival time, in
 * `window.__e2eFrameBytes`, and the page time of marks (`pointerdown`/`pointerup`, local changes of the content
 * photo and of `params.restart`) in `window.__e2eMarks`, so checks can ask "which frames arrived
 * within 2 s of that change" on the page's own clock.
 */
export async function recordFrameBytes(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    w.__e2eFrameBytes = [];
    w.__e2eMarks = [];
    w.atelier.conn.frames.on(({ frame }: any) => w.__e2eFrameBytes.push({ t: performance.now(), iter: frame.iter, w: frame.w, h: frame.h, data: frame.data }));
    window.addEventListener('pointerdown', () => w.__e2eMarks.push({ what: 'pointerdown', t: performance.now() }), true);
    window.addEventListener('pointerup', () => w.__e2eMarks.push({ what: 'pointerup', t: performance.now() }), true);
    const sdoc = w.atelier.sdoc;
    sdoc.content.observe((ev: any) => {
      if (ev.keysChanged.has('imageId')) w.__e2eMarks.push({ what: 'content-photo', t: performance.now() });
    });
    sdoc.params.observe((ev: any) => {
      if (ev.keysChanged.has('restart')) w.__e2eMarks.push({ what: 'restart', t: performance.now() });
    });
  });
}

/** The page clock now (ms). */
export const pageNow = (page: Page): Promise<number> => page.evaluate(() => performance.now());

/** The page time of the newest mark `what` (see {@link recordFrameBytes}), or null. */
export function lastMark(page: Page, what: 'pointerdown' | 'pointerup' | 'content-photo' | 'restart'): Promise<number | null> {
  return page.evaluate((wh) => {
    const m = ((window as any).__e2eMarks as Array<{ what: string; t: number }>).filter((x) => x.what === wh).at(-1);
    return m ? m.t : null;
  }, what);
}

/** Frames recorded by {@link recordFrameBytes} that arrived in [from, to] (page clock), with their JPEG bytes. */
export async function framesBetween(page: Page, from: number, to = Infinity): Promise<RecordedFrame[]> {
  const list = await page.evaluate(
    ([a, b]) =>
      ((window as any).__e2eFrameBytes as Array<{ t: number; iter: number; w: number; h: number; data: Uint8Array }>)
        .filter((f) => f.t >= a && f.t <= b)
        .map((f) => {
          let bin = '';
          for (let i = 0; i < f.data.length; i += 0x8000) bin += String.fromCharCode(...f.data.subarray(i, i + 0x8000));
          return { t: f.t, iter: f.iter, w: f.w, h: f.h, b64: btoa(bin) };
        }),
    [from, to === Infinity ? Number.MAX_VALUE : to] as const,
  );
  return list.map((f) => ({ t: f.t, iter: f.iter, w: f.w, h: f.h, jpeg: Buffer.from(f.b64, 'base64') }));
}

/** The newest recorded frame that arrived before page time `t`. */
export async function lastFrameBefore(page: Page, t: number): Promise<RecordedFrame | null> {
  const idx = await page.evaluate((tt) => ((window as any).__e2eFrameBytes as Array<{ t: number }>).filter((f) => f.t < tt).length - 1, t);
  if (idx < 0) return null;
  const all = await page.evaluate((i) => (window as any).__e2eFrameBytes[i].t as number, idx);
  return (await framesBetween(page, all, all))[0] ?? null;
}

/** Padding around the output frame in the studio's output panel, in CSS pixels (client SPEC C92). */
export const OUTPUT_PAD = 8;

/** The output canvas as the person sees it, cropped to the frame's rectangle and resized to w×h (PNG). */
export async function outputAsFrame(page: Page, w: number, h: number): Promise<Buffer> {
  const loc = page.locator('.output-stage canvas');
  const box = (await loc.boundingBox())!;
  const png = await loc.screenshot();
  const { width } = await sharp(png).metadata();
  const r = scaleBox(containBox(w, h, box.width, box.height, OUTPUT_PAD), width! / box.width);
  const crop = { left: Math.round(r.x0), top: Math.round(r.y0), width: Math.round(r.x1 - r.x0), height: Math.round(r.y1 - r.y0) };
  return sharp(png).extract(crop).resize(w, h, { fit: 'fill' }).png().toBuffer();
}
