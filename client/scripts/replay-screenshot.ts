/**
 * Records a small collaborative session (three people draw, change params and add a style, with
 * the fake engine storing keyframes), opens its replay page in headless Chromium, scrubs to the
 * middle and writes docs/screenshots/replay.png. Checks on the way that the page shows the state
 * and keyframe of the moment it is at. Exit 1 if a check fails.
 *
 *   node --import tsx client/scripts/replay-screenshot.ts [--no-build] [--out docs/screenshots/replay.png]
 *
 * Builds the client into a temporary folder (not client/dist) and runs the server in-process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { chromium } from 'playwright-core';
import { connectClient, createSession, startTestServer, type TestClient } from '../../server/testing/index.ts';
import { readArgs } from '../../scripts/cli-args.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const { values: args } = readArgs(
  { 'no-build': { type: 'boolean' }, out: { type: 'string' } },
  'node --import tsx client/scripts/replay-screenshot.ts [--no-build] [--out docs/screenshots/replay.png]',
);
const outFile = path.resolve(root, args.out ?? 'docs/screenshots/replay.png');
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? '  ok ' : 'FAIL '} ${what}`);
  if (!ok) failures.push(what);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Draws a stroke the way the editor does: created with two points, then its points replaced as it grows. */
async function draw(c: TestClient, author: string, id: string, color: string, size: number, path: [number, number][], tool: 'brush' | 'eraser' = 'brush'): Promise<void> {
  const m = new Y.Map<unknown>();
  c.doc.transact(() => {
    for (const [k, v] of Object.entries({ id, author, tool, color, size, opacity: 0.9, points: path.slice(0, 1).flat() })) m.set(k, v);
    c.doc.getArray('strokes').push([m]);
  });
  for (let i = 2; i <= path.length; i++) {
    await sleep(40);
    c.doc.transact(() => m.set('points', path.slice(0, i).flat()));
  }
}

/** A wavy line across the canvas. */
function wave(x0: number, x1: number, y: number, amp: number, n = 14): [number, number][] {
  return Array.from({ length: n }, (_, i) => [x0 + ((x1 - x0) * i) / (n - 1), y + amp * Math.sin(i / 2)] as [number, number]);
}

async function main(): Promise<void> {
  const dist = mkdtempSync(path.join(tmpdir(), 'atelier-replay-dist-'));
  if (!args['no-build']) {
    const b = spawnSync('npx', ['vite', 'build', '--config', 'client/vite.config.ts', '--mode', 'test', '--outDir', dist, '--emptyOutDir'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('client build failed');
  }
  const server = await startTestServer({ keyframeIntervalMs: 300 }, { clientDist: args['no-build'] ? undefined : dist });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-swiftshader'],
  });
  try {
    const s = await createSession(server.url);
    const ana = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'Amber Fox' });
    const bo = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'Cobalt Heron' });
    const cy = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'Teal Wren' });
    await sleep(1200);
    await draw(ana, 'Amber Fox', 'a1', '#e6194b', 14, wave(40, 420, 70, 18));
    await sleep(700);
    bo.doc.getMap('params').set('styleWeight', 4);
    await sleep(500);
    await draw(bo, 'Cobalt Heron', 'b1', '#4363d8', 22, wave(60, 400, 190, 30));
    await sleep(600);
    const presets = (await (await fetch(server.url + '/api/presets')).json()) as { images: { imageId: string; kind: string; name: string }[] };
    const wave2 = presets.images.find((p) => p.kind === 'style' && !/starry/i.test(p.name));
    if (wave2) {
      cy.doc.transact(() => {
        const m = new Y.Map<unknown>();
        m.set('imageId', wave2.imageId);
        m.set('weight', 0.6);
        m.set('scale', 1);
        cy.doc.getArray('styles').push([m]);
      });
    }
    await sleep(600);
    await draw(cy, 'Teal Wren', 'c1', '#3cb44b', 10, wave(120, 330, 250, 12, 10));
    await sleep(500);
    ana.doc.getMap('params').set('tvWeight', 12);
    await sleep(600);
    await draw(ana, 'Amber Fox', 'a2', '#ffffff', 30, wave(230, 330, 75, 6, 8), 'eraser');
    await sleep(1200);
    for (const c of [ana, bo, cy]) c.close();

    const page = await (await browser.newContext({ viewport: { width: 1600, height: 960 }, deviceScaleFactor: 1 })).newPage();
    page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
    await page.goto(`${server.url}/s/${s.id}/replay?token=${s.editorToken}`);
    await page.waitForFunction(() => {
      const d = (window as unknown as { atelierReplay?: { ready: boolean; shownSeq: number } }).atelierReplay;
      return !!d && d.ready && d.shownSeq > 0;
    }, undefined, { timeout: 20_000 });
    const edits = await page.evaluate(() => (window as unknown as { atelierReplay: { edits: number } }).atelierReplay.edits);
    check(Number(edits) > 20, `the timeline lists the recorded updates (${edits})`);
    check((await page.locator('.replay-activity li').count()) >= 6, 'who-did-what lists the edits, grouped');
    // Jump to Teal Wren's stroke via the activity list, then scrub with the track.
    await page.locator('.replay-activity li', { hasText: 'Teal Wren' }).last().click();
    await sleep(500);
    const box = (await page.locator('.replay-track').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.74, box.y + box.height - 8);
    await sleep(800);
    // End on the eraser edit, so the picture shows an erased stroke with the photo intact beneath.
    await page.locator('.replay-activity li', { hasText: 'erased' }).last().click();
    await sleep(800);
    const st = await page.evaluate(() => (window as unknown as { atelierReplay: { t: number; shownSeq: number; keyframeId: number | null } }).atelierReplay);
    check(st.keyframeId !== null, 'the output shows the keyframe of that moment');
    check(await page.locator('.replay-output').evaluate((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0), 'the keyframe image loaded');
    mkdirSync(path.dirname(outFile), { recursive: true });
    await page.screenshot({ path: outFile });
    console.log(`wrote ${path.relative(root, outFile)}`);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dist, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`${failures.length} check(s) failed:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
