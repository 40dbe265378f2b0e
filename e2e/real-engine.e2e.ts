/**
 * e2e scenarios X14–X16 (e2e/SPEC.md) on the real default engine (mobilenet_v2 on wasm, the one
 * `npm start` runs): what a person does reaches the picture. A thick stroke shows in the output
 * under it within 2 s; a new content photo replaces the old one's layout within 2 s; reset shows
 * the start image within 2 s. Measured on decoded frames (the `frame` event's JPEG, page clock
 * from the change to the frame's arrival) and on the output canvas as shown at device pixel
 * ratio 1 (Ana) and 2 (Bo).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse } from '../shared/protocol.ts';
import { repoRoot, startStack, type Stack } from './harness/stack.ts';
import { framesBetween, lastFrameBefore, lastMark, openSynced, outputAsFrame, pageNow, recordFrameBytes, waitInPage, type RecordedFrame } from './harness/page.ts';
import { waitForServerDoc } from './harness/server-doc.ts';
import { PARAM_RANGES } from '../shared/param-ranges.ts';
import { containBox, correlation, decode, decodeResized, hexRgb, luminance, meanAbsDiff, meanColor, type Box } from './harness/pixels.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The issue's bound: a change is visible in the output within this long (page clock). */
const WITHIN_MS = 2000;
const BLUE = '#0000ff';
/** Brush size in content pixels: a thick bar (the content photo is 451×300). */
const BRUSH = 60;
/** Side of the luminance grid the layout correlation is computed on. */
const GRID = 32;
const NEW_PHOTO = path.join(repoRoot, 'assets/content/rocket.jpg');
const VIEWPORT = { width: 960, height: 640 };

const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

describe('the real engine: strokes, new photos and reset reach the picture', { timeout: 300_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;
  let ana: Page; // DPR 1
  let bo: Page; // DPR 2
  let content = { width: 0, height: 0 };

  before(async () => {
    stack = await startStack('real-engine', {}, { engine: 'real' });
    s = await stack.createSession();
    // Smaller than the usual desktop viewport: every frame is re-rendered in both pages with
    // software WebGL, on the same 2 cores as the engine (at 1280×800 and DPR 2 that rendering
    // delayed frames by more than a second on a loaded machine).
    ana = await stack.newPage('Ana', VIEWPORT, { deviceScaleFactor: 1 });
    bo = await stack.newPage('Bo', VIEWPORT, { deviceScaleFactor: 2 });
    for (const p of [ana, bo]) {
      await openSynced(p, `${stack.url}/s/${s.id}?token=${s.editorToken}`);
      await recordFrameBytes(p);
    }
    // The model loads on first use (~10 s on 2 cores) and the first steps are slow (wasm
    // compilation, first allocations): wait for a steady stream before timing anything.
    for (const p of [ana, bo]) await waitInPage(p, 'frames from the real engine', () => (window as any).__e2eFrameBytes.length >= 8, undefined, 120_000);
    content = await ana.evaluate(() => (window as any).atelier.sdoc.getContent());
  });
  after(async () => {
    await stack?.close();
  });

  /** Waits until `WITHIN_MS` after page time `t0` has passed, then returns the frames of that window. */
  async function framesWithin(page: Page, t0: number): Promise<RecordedFrame[]> {
    const wait = t0 + WITHIN_MS + 50 - (await pageNow(page));
    if (wait > 0) await page.waitForTimeout(wait);
    return framesBetween(page, t0, t0 + WITHIN_MS);
  }

  /** The inner part of the stroke's band in frame pixels (away from its ends and feathered edges). */
  function bandIn(w: number, h: number): Box {
    const k = w / content.width;
    return { x0: 0.3 * content.width * k, x1: 0.7 * content.width * k, y0: (0.5 * content.height - BRUSH / 4) * k, y1: (0.5 * content.height + BRUSH / 4) * k };
  }

  test('X14: a thick stroke shows in the output under it within 2 s (DPR 1 and 2)', async (t: TestContext) => {
    await ana.locator('input[aria-label="Brush color"]').fill(BLUE);
    await ana.locator('input[aria-label="Brush size"]').fill(String(BRUSH));
    const canvas = ana.locator('.canvas-stage canvas');
    const box = (await canvas.boundingBox())!;
    const art = containBox(content.width, content.height, box.width, box.height, 12);
    const k = (art.x1 - art.x0) / content.width;
    const at = (fx: number) => [box.x + art.x0 + fx * content.width * k, box.y + art.y0 + 0.5 * content.height * k] as const;
    await ana.mouse.move(...at(0.15));
    await ana.mouse.down();
    for (const fx of [0.35, 0.55, 0.85]) await ana.mouse.move(...at(fx), { steps: 2 });
    await ana.mouse.up();
    const t0 = (await lastMark(ana, 'pointerup'))!;
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the stroke on the server', (d) => d.strokes.length === 1);

    // The stroke is synced (and written into the image) while it is drawn, so frames before the
    // pointer is released may show it already: compare with the last frame before it went down.
    const before = (await lastFrameBefore(ana, (await lastMark(ana, 'pointerdown'))!))!;
    const beforeRaw = await decode(before.jpeg);
    const beforeBand = meanColor(beforeRaw, bandIn(beforeRaw.width, beforeRaw.height));
    const blue = hexRgb(BLUE);
    const frames = await framesWithin(ana, t0);
    const measured = await Promise.all(
      frames.map(async (f) => {
        const raw = await decode(f.jpeg);
        return { f, band: meanColor(raw, bandIn(raw.width, raw.height)) };
      }),
    );
    const d0 = dist(beforeBand, blue);
    t.diagnostic(`band before: rgb(${beforeBand.map(Math.round)}) (distance to blue ${d0.toFixed(0)}); frames within ${WITHIN_MS} ms: ${measured.map((m) => `+${Math.round(m.f.t - t0)}ms iter ${m.f.iter} d=${dist(m.band, blue).toFixed(0)}`).join(', ')}`);
    const hit = measured.find((m) => dist(m.band, blue) <= 0.5 * d0);
    assert.ok(frames.length > 0, `no frame arrived within ${WITHIN_MS} ms of the stroke`);
    assert.ok(hit, `no frame within ${WITHIN_MS} ms shows the stroke: the band under it stays rgb(${measured.at(-1)?.band.map(Math.round)}), distance to blue ${dist(measured.at(-1)!.band, blue).toFixed(0)} (before ${d0.toFixed(0)}; wanted ≤ ${(0.5 * d0).toFixed(0)})`);

    // What the people see: the output canvas at DPR 1 (Ana) and 2 (Bo).
    for (const [name, page] of [['Ana (DPR 1)', ana], ['Bo (DPR 2)', bo]] as const) {
      const shown = await decode(await outputAsFrame(page, before.w, before.h));
      const band = meanColor(shown, bandIn(shown.width, shown.height));
      t.diagnostic(`${name}: output canvas band rgb(${band.map(Math.round)}), distance to blue ${dist(band, blue).toFixed(0)}`);
      assert.ok(dist(band, blue) <= 0.6 * d0, `${name}'s output canvas does not show the stroke (band rgb(${band.map(Math.round)}))`);
    }
    await stack.shot(bo, 'x14-stroke-dpr2');
  });

  test('X15: a new content photo replaces the old one in the output within 2 s (DPR 1 and 2)', async (t: TestContext) => {
    await ana.getByRole('button', { name: 'Clear' }).click();
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the strokes cleared', (d) => d.strokes.length === 0);
    const oldId = await ana.evaluate(() => (window as any).atelier.sdoc.getContent().imageId as string);
    const oldPhoto = Buffer.from(await (await fetch(`${stack.url}/api/images/${oldId}`)).arrayBuffer());
    const newPhoto = readFileSync(NEW_PHOTO);
    const lumOf = async (img: Buffer) => luminance(await decodeResized(img, GRID, GRID));
    const [lOld, lNew] = await Promise.all([lumOf(oldPhoto), lumOf(newPhoto)]);
    t.diagnostic(`layout correlation of the two photos: ${correlation(lOld, lNew).toFixed(2)}`);

    const uploaded = ana.waitForResponse((r) => r.request().method() === 'POST' && /\/images$/.test(new URL(r.url()).pathname));
    await ana.locator('.content-bar input[type=file]').setInputFiles(NEW_PHOTO);
    assert.equal((await uploaded).status(), 201);
    await waitInPage(ana, 'the new photo in the document', (id: string) => (window as any).atelier.sdoc.getContent().imageId !== id, oldId);
    const t0 = (await lastMark(ana, 'content-photo'))!;
    const frames = await framesWithin(ana, t0);
    const scored = await Promise.all(
      frames.map(async (f) => {
        const l = await lumOf(f.jpeg);
        return { f, old: correlation(l, lOld), now: correlation(l, lNew) };
      }),
    );
    t.diagnostic(`frames within ${WITHIN_MS} ms: ${scored.map((x) => `+${Math.round(x.f.t - t0)}ms ${x.f.w}x${x.f.h} corr old ${x.old.toFixed(2)} new ${x.now.toFixed(2)}`).join(', ')}`);
    assert.ok(frames.length > 0, `no frame arrived within ${WITHIN_MS} ms of the new photo`);
    const follows = (x: { old: number; now: number }) => x.now >= 0.6 && x.now - x.old >= 0.3;
    const hit = scored.find(follows);
    const last = scored.at(-1)!;
    assert.ok(hit, `no frame within ${WITHIN_MS} ms follows the new photo: the last one correlates ${last.old.toFixed(2)} with the old photo and ${last.now.toFixed(2)} with the new one (wanted ≥ 0.6 and 0.3 above the old)`);

    for (const [name, page] of [['Ana (DPR 1)', ana], ['Bo (DPR 2)', bo]] as const) {
      const shown = await lumOf(await outputAsFrame(page, hit!.f.w, hit!.f.h));
      const x = { old: correlation(shown, lOld), now: correlation(shown, lNew) };
      t.diagnostic(`${name}: output canvas correlates ${x.old.toFixed(2)} with the old photo, ${x.now.toFixed(2)} with the new`);
      assert.ok(follows(x), `${name}'s output canvas does not show the new photo's layout (old ${x.old.toFixed(2)}, new ${x.now.toFixed(2)})`);
    }
    await stack.shot(bo, 'x15-new-photo-dpr2');
  });

  test('X16: reset shows the start image (the content photo) within 2 s (DPR 1 and 2)', async (t: TestContext) => {
    // Move the image well away from the start image first, so "back at the start" is unmistakable:
    // 3 s at the top learning rate (coloured noise within a few steps), then the default again
    // (the first steps after the reset move pixels by about the learning rate).
    // The move is awaited on the frames (not a fixed time): on a loaded machine steps are slow.
    const { w, h } = (await lastFrameBefore(ana, await pageNow(ana)))!;
    const imageId = await ana.evaluate(() => (window as any).atelier.sdoc.getContent().imageId as string);
    const photo = Buffer.from(await (await fetch(`${stack.url}/api/images/${imageId}`)).arrayBuffer());
    const start = await decodeResized(photo, w, h);
    const lr = await ana.evaluate(() => (window as any).atelier.sdoc.getParam('learningRate') as number);
    await ana.evaluate((v) => (window as any).atelier.sdoc.setParam('learningRate', v), PARAM_RANGES.learningRate.max);
    for (let waited = 0; waited < 60_000; waited += 500) {
      await ana.waitForTimeout(500);
      const last = (await lastFrameBefore(ana, await pageNow(ana)))!;
      if (last.w === w && last.h === h && meanAbsDiff(await decodeResized(last.jpeg, w, h), start) >= 25) break;
    }
    await ana.evaluate((v) => (window as any).atelier.sdoc.setParam('learningRate', v), lr);
    await ana.waitForTimeout(1000);
    await ana.getByRole('button', { name: /Reset/ }).click();
    await waitInPage(ana, 'the restart in the document', () => (window as any).atelier.sdoc.getParam('restart') > 0);
    const t0 = (await lastMark(ana, 'restart'))!;
    const before = (await lastFrameBefore(ana, t0))!;
    const dBefore = meanAbsDiff(await decodeResized(before.jpeg, w, h), start);
    assert.ok(dBefore >= 20, `the image had not moved away from the start image before the reset (mean difference ${dBefore.toFixed(1)})`);
    // Both pages' canvases are watched during the same window as the frames: the optimization goes
    // on after the reset (~11 steps/s), so a canvas looked at only after the window may already
    // have moved on toward the painting (it did under the full suite's load: 49.7 vs 46.8 allowed).
    const canvasBest = (page: Page) =>
      (async () => {
        let best = Infinity;
        do {
          best = Math.min(best, meanAbsDiff(await decode(await outputAsFrame(page, w, h)), start));
          if (best < 0.7 * dBefore) break;
        } while ((await pageNow(ana)) < t0 + WITHIN_MS); // t0 is on Ana's page clock
        return best;
      })();
    const canvases = [['Ana (DPR 1)', canvasBest(ana)], ['Bo (DPR 2)', canvasBest(bo)]] as const;
    const frames = await framesWithin(ana, t0);
    const scored = await Promise.all(frames.map(async (f) => ({ f, d: meanAbsDiff(await decodeResized(f.jpeg, w, h), start) })));
    t.diagnostic(`difference to the start image before reset: ${dBefore.toFixed(1)} (iter ${before.iter}); frames within ${WITHIN_MS} ms: ${scored.map((x) => `+${Math.round(x.f.t - t0)}ms iter ${x.f.iter} d=${x.d.toFixed(1)}`).join(', ')}`);
    assert.ok(frames.length > 0, `no frame arrived within ${WITHIN_MS} ms of the reset`);
    // JPEG at quality 80, the server's own resize and a few Adam steps at lr 0.02 keep the first
    // frames 5–8 levels off (measured: 5.2 at iter 1, 6.5 at iter 2).
    const limit = Math.max(9, 0.4 * dBefore);
    const hit = scored.find((x) => x.d <= limit);
    assert.ok(hit, `no frame within ${WITHIN_MS} ms is the start image: mean difference ${Math.min(...scored.map((x) => x.d)).toFixed(1)} at best, ${dBefore.toFixed(1)} before the reset (wanted ≤ ${limit.toFixed(1)})`);

    for (const [name, watched] of canvases) {
      const d = await watched;
      t.diagnostic(`${name}: output canvas differs ${d.toFixed(1)} from the start image at best within ${WITHIN_MS} ms`);
      assert.ok(d < 0.7 * dBefore, `${name}'s output canvas was not back at the start image within ${WITHIN_MS} ms of the reset (difference ${d.toFixed(1)} at best, ${dBefore.toFixed(1)} before the reset)`);
    }
    await stack.shot(bo, 'x16-reset-dpr2');
    assert.deepEqual(stack.pageErrors, []);
  });
});
