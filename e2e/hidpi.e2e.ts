/**
 * e2e scenarios X11–X12 (e2e/SPEC.md): the studio draws the artwork where it belongs at device
 * pixel ratios 1, 2 and 3, on desktop and phone viewports. Checked on screenshots taken at the
 * device's own resolution: the artwork's bounding box on the content canvas, the output and the
 * projector is the "contain" rectangle of its panel (client SPEC C92), and a stroke drawn with a
 * real mouse drag lands under the pointer's path — in the document and on the screen.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse } from '../shared/protocol.ts';
import { startStack, VIEWPORTS, type Stack } from './harness/stack.ts';
import { OUTPUT_PAD, openSynced, waitInPage } from './harness/page.ts';
import { boxError, boxWhere, containBox, decode, fmtBox, nearColor, notColor, scaleBox, type Box } from './harness/pixels.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const GREEN = '#00ff00';
const BRUSH = 32;
/** Layout constants of the studio (client SPEC C92): padding around the artwork, in CSS pixels. */
const CANVAS_PAD = 12;
const CANVAS_BG = '#15161a';
const OUTPUT_BG = '#0d0e11';
/** How far (CSS pixels) a drawn edge may be from where it should be: borders and antialiasing. */
const TOLERANCE_CSS = 3;

/**
 * DPR 1 and 2 on a desktop, 2 and 3 on a phone (where 3 is common). Desktop at DPR 3 (a
 * 3840×2400 software-rendered page) cost 22 s per run and adds nothing the phone at 3 does not
 * check: the layout code has no per-viewport branch.
 */
const COMBOS = [
  { name: 'desktop-dpr1', viewport: VIEWPORTS.desktop, dpr: 1, phone: false, projector: false },
  { name: 'desktop-dpr2', viewport: VIEWPORTS.desktop, dpr: 2, phone: false, projector: true },
  { name: 'phone-dpr2', viewport: VIEWPORTS.phone, dpr: 2, phone: true, projector: false },
  { name: 'phone-dpr3', viewport: VIEWPORTS.phone, dpr: 3, phone: true, projector: true },
] as const;

describe('HiDPI: where the artwork is drawn', { timeout: 420_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;

  before(async () => {
    stack = await startStack('hidpi');
    s = await stack.createSession();
  });
  after(async () => {
    await stack?.close();
  });

  /** Screenshot of `selector`'s element at device resolution, and its CSS box and scale. */
  async function shootElement(page: Page, selector: string) {
    const loc = page.locator(selector);
    await loc.scrollIntoViewIfNeeded();
    const box = (await loc.boundingBox())!;
    const png = await loc.screenshot();
    const img = await decode(png);
    return { box, img, scale: img.width / box.width };
  }

  function assertBox(what: string, actual: Box | null, expected: Box, scale: number): void {
    assert.ok(actual, `${what}: nothing drawn`);
    const err = boxError(actual!, expected) / scale;
    assert.ok(err <= TOLERANCE_CSS, `${what}: drawn at ${fmtBox(actual)}, expected ${fmtBox(expected)} (device px; off by ${err.toFixed(1)} CSS px)`);
  }

  for (const combo of COMBOS) {
    test(`X11: ${combo.name}: the content canvas and the output fill their panels; a mouse stroke lands under the pointer`, async () => {
      const page = await stack.newPage(`Ana ${combo.name}`, combo.viewport, { deviceScaleFactor: combo.dpr, isMobile: combo.phone, hasTouch: combo.phone });
      try {
        await openSynced(page, `${stack.url}/s/${s.id}?token=${s.editorToken}`);
        assert.equal(await page.evaluate(() => window.devicePixelRatio), combo.dpr);
        await page.evaluate(() => (window as any).atelier.sdoc.clearStrokes());
        const content = await page.evaluate(() => (window as any).atelier.sdoc.getContent() as { width: number; height: number });
        await waitInPage(page, 'the content photo drawn', () => {
          const c = document.querySelector('.canvas-stage canvas') as HTMLCanvasElement | null;
          return c && c.width > 0;
        });
        await page.waitForTimeout(300); // the photo texture's first render

        // 1. The artwork on the content canvas: centred, filling the panel (contain, 12 px pad).
        const cv = await shootElement(page, '.canvas-stage canvas');
        const artCss = containBox(content.width, content.height, cv.box.width, cv.box.height, CANVAS_PAD);
        assertBox('artwork on the content canvas', boxWhere(cv.img, notColor(CANVAS_BG, 24)), scaleBox(artCss, cv.scale), cv.scale);

        // 2. A stroke drawn with the real mouse from 20 % to 80 % of the artwork's width.
        await page.locator('input[aria-label="Brush color"]').fill(GREEN);
        await page.locator('input[aria-label="Brush size"]').fill(String(BRUSH));
        const k = (artCss.x1 - artCss.x0) / content.width; // CSS px per content px
        const from = { x: 0.2 * content.width, y: 0.5 * content.height };
        const to = { x: 0.8 * content.width, y: 0.5 * content.height };
        const client = (p: { x: number; y: number }) => [cv.box.x + artCss.x0 + p.x * k, cv.box.y + artCss.y0 + p.y * k] as const;
        await page.mouse.move(...client(from));
        await page.mouse.down();
        await page.mouse.move(...client({ x: 0.5 * content.width, y: from.y }), { steps: 3 });
        await page.mouse.move(...client(to), { steps: 3 });
        await page.mouse.up();
        await page.mouse.move(1, 1); // hide the brush preview before the screenshot
        await waitInPage(page, 'the stroke in the document', () => (window as any).atelier.sdoc.getStrokes().length === 1);
        const pts = await page.evaluate(() => (window as any).atelier.sdoc.getStrokes()[0].points as number[]);
        const first = { x: pts[0], y: pts[1] };
        const last = { x: pts.at(-2)!, y: pts.at(-1)! };
        const tolContent = TOLERANCE_CSS / k;
        for (const [name, got, want] of [['start', first, from], ['end', last, to]] as const) {
          assert.ok(
            Math.abs(got.x - want.x) <= tolContent && Math.abs(got.y - want.y) <= tolContent,
            `stroke ${name} in content pixels: (${got.x.toFixed(1)}, ${got.y.toFixed(1)}), pointer was at (${want.x.toFixed(1)}, ${want.y.toFixed(1)})`,
          );
        }
        await page.waitForTimeout(200);
        const cv2 = await shootElement(page, '.canvas-stage canvas');
        const r = BRUSH / 2;
        const strokeCss: Box = { x0: artCss.x0 + (from.x - r) * k, y0: artCss.y0 + (from.y - r) * k, x1: artCss.x0 + (to.x + r) * k, y1: artCss.y0 + (to.y + r) * k };
        assertBox('the green stroke on the content canvas', boxWhere(cv2.img, nearColor(GREEN, 90)), scaleBox(strokeCss, cv2.scale), cv2.scale);

        // 3. The output: the frame fitted into its panel (contain, 8 px pad).
        await waitInPage(page, 'a frame in the output', () => (window as any).atelier.output.hasFrame);
        const frame = await page.evaluate(() => (window as any).atelier.output.frameSize as { w: number; h: number });
        await page.waitForTimeout(300);
        const out = await shootElement(page, '.output-stage canvas');
        const outCss = containBox(frame.w, frame.h, out.box.width, out.box.height, OUTPUT_PAD);
        assertBox('the frame in the output', boxWhere(out.img, notColor(OUTPUT_BG, 24)), scaleBox(outCss, out.scale), out.scale);
        await stack.shot(page, `x11-editor-${combo.name}`, { doc: combo.name === 'phone-dpr2' });
        assert.deepEqual(stack.pageErrors, []);
      } finally {
        await page.context().close();
      }
    });
  }

  for (const combo of COMBOS.filter((c) => c.projector)) {
    test(`X12: ${combo.name}: the projector fills the screen with the frame`, async () => {
      const page = await stack.newPage(`Wall ${combo.name}`, combo.viewport, { deviceScaleFactor: combo.dpr, isMobile: combo.phone, hasTouch: combo.phone });
      try {
        await page.goto(`${stack.url}/s/${s.id}/view?token=${s.viewerToken}`);
        await waitInPage(page, 'a frame on the projector', () => (window as any).atelier?.stage.latest);
        const frame = await page.evaluate(() => {
          const b = (window as any).atelier.stage.latest as ImageBitmap;
          return { w: b.width, h: b.height };
        });
        await page.waitForTimeout(600); // cross-fade
        const img = await decode(await page.screenshot());
        const scale = img.width / combo.viewport.width;
        const expected = scaleBox(containBox(frame.w, frame.h, combo.viewport.width, combo.viewport.height), scale);
        assertBox('the frame on the projector', boxWhere(img, notColor('#000000', 24)), expected, scale);
        await stack.shot(page, `x12-projector-${combo.name}`);
        assert.deepEqual(stack.pageErrors, []);
      } finally {
        await page.context().close();
      }
    });
  }
});
