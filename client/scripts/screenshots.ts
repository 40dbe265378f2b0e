/**
 * Refreshes docs/screenshots/{start,editor,projector}.png from a real run, and checks on the way
 * that two browsers really co-edit: two editor pages (Ana and Bo) paint, pick styles and move
 * their cursors; a projector page shows the stream. Fails (exit 1) if a check fails.
 *
 *   node --import tsx client/scripts/screenshots.ts [--url http://localhost:3000] [--real-engine] [--no-build] [--out dir]
 *
 * Without --url it builds the client, starts the server on a free port with a temporary data
 * dir (fake engine unless --real-engine), and stops it at the end. Needs /usr/bin/chromium
 * (`apt-get install -y chromium`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readArgs } from '../../scripts/cli-args.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const { values: args } = readArgs(
  { url: { type: 'string' }, 'real-engine': { type: 'boolean' }, 'no-build': { type: 'boolean' }, out: { type: 'string' } },
  'node --import tsx client/scripts/screenshots.ts [--url http://localhost:3000] [--real-engine] [--no-build] [--out dir]',
);
const outDir = path.resolve(root, args.out ?? 'docs/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const failures: string[] = [];

const t0 = Date.now();
function check(ok: boolean, what: string): void {
  console.log(`${ok ? '  ok ' : 'FAIL '} ${what}  [${((Date.now() - t0) / 1000).toFixed(1)}s]`);
  if (!ok) failures.push(what);
}

async function startServer(): Promise<{ url: string; proc: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-shots-'));
  const port = 3100 + Math.floor(Math.random() * 800);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ATELIER_FAKE_ENGINE: args['real-engine'] ? '0' : '1', ATELIER_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, proc, dataDir };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill();
  throw new Error('the server did not come up');
}

/** Waits until the page's debug hook reports something (see editor-page.ts `window.atelier`). */
// Predicates are functions, not strings: the server's CSP forbids eval, and string predicates need it.
async function waitFor<A>(page: Page, fn: (arg: A) => unknown, what: string, timeout = 30_000, arg?: A): Promise<void> {
  try {
    await page.waitForFunction(fn as (arg: unknown) => unknown, arg, { timeout, polling: 250 });
  } catch (err) {
    console.error(`  (${(err as Error).message.split('\n')[0]})`);
    const state = await page
      .evaluate(() => {
        const a = (window as any).atelier;
        return a ? { conn: a.conn.state, socket: a.conn.socket.connected, role: a.conn.role, synced: a.conn.provider.synced, lastError: a.conn.lastError } : 'no window.atelier';
      })
      .catch((e) => String(e));
    throw new Error(`timed out waiting for ${what}; page state ${JSON.stringify(state)}`);
  }
}

async function drawStroke(page: Page, pts: Array<[number, number]>): Promise<void> {
  const box = (await page.locator('.canvas-stage canvas').boundingBox())!;
  const at = (p: [number, number]) => [box.x + p[0] * box.width, box.y + p[1] * box.height] as const;
  await page.mouse.move(...at(pts[0]));
  await page.mouse.down();
  for (const p of pts.slice(1)) await page.mouse.move(...at(p), { steps: 2 });
  await page.mouse.up();
}

const wave = (y: number, x0 = 0.12, x1 = 0.88, amp = 0.05, n = 10): Array<[number, number]> =>
  Array.from({ length: n }, (_, i) => [x0 + ((x1 - x0) * i) / (n - 1), y + Math.sin(i / 1.7) * amp]);

async function main(): Promise<void> {
  if (!args['no-build'] && !args.url) {
    const b = spawnSync('npm', ['run', 'build:client:test'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('client build failed');
  }
  const server = args.url ? null : await startServer();
  const base = args.url ?? server!.url;
  mkdirSync(outDir, { recursive: true });
  let browser: Browser | null = null;
  const pages: Page[] = [];
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-swiftshader'],
    });
    const viewport = { width: 1600, height: 960 };
    const ctxA = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const ctxB = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    for (const [ctx, name] of [[ctxA, 'Ana'], [ctxB, 'Bo']] as const) {
      await ctx.addInitScript((n) => localStorage.setItem('atelier.name', n), name);
    }
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    pages.push(a, b);
    for (const [p, n] of [[a, 'A'], [b, 'B']] as const) {
      p.on('pageerror', (e) => failures.push(`${n} page error: ${e.message}`));
      p.on('console', (m) => m.type() === 'error' && console.log(`  [${n} console] ${m.text()}`));
    }

    // Start page → new session.
    await a.goto(base + '/');
    await a.getByRole('button', { name: 'New session' }).click();
    await a.waitForURL(/\/s\/[^/]+\?token=/);
    const editorUrl = a.url();
    await waitFor(a, () => (window as any).atelier?.conn.canEdit && (window as any).atelier.conn.provider.synced, 'A to sync as editor');
    check(true, 'A created a session from the start page and synced as editor');

    await b.goto(editorUrl);
    await waitFor(b, () => (window as any).atelier?.conn.canEdit && (window as any).atelier.conn.provider.synced, 'B to sync as editor');

    // Content photo: upload through the file picker, then a built-in photo.
    await a.locator('.content-bar input[type=file]').setInputFiles(path.join(root, 'assets/content/rocket.jpg'));
    await waitFor(b, () => (window as any).atelier.sdoc.getContent().width === 640, "B to see A's uploaded content photo");
    check(true, 'an uploaded content photo reaches the other editor');
    await a.getByRole('button', { name: 'Chelsea the cat' }).click();
    await waitFor(b, () => (window as any).atelier.sdoc.getContent().width === 451, 'B to see the content photo');
    check(true, "B sees A's content photo choice");
    const before = await a.evaluate(() => (window as any).atelier.sdoc.getStyles().length);
    await a.locator('.gallery .thumb:not(.on)').first().click();
    await waitFor(b, (n: number) => (window as any).atelier.sdoc.getStyles().length === n, "B to see A's style", 30_000, before + 1);
    await b.locator('.gallery .thumb:not(.on)').last().click();
    await waitFor(a, (n: number) => (window as any).atelier.sdoc.getStyles().length === n, 'both styles', 30_000, before + 2);
    check(true, 'styles picked by both are in both documents');
    await b.locator('.styles-panel input[type=file]').setInputFiles(path.join(root, 'assets/content/coffee.png'));
    await waitFor(a, (n: number) => (window as any).atelier.sdoc.getStyles().length === n, "B's uploaded style", 30_000, before + 3);
    check(true, 'an uploaded style image is added for everyone');
    await a.locator('.style-row .icon-btn').last().click();
    await waitFor(b, (n: number) => (window as any).atelier.sdoc.getStyles().length === n, 'style removal', 30_000, before + 2);
    await a.locator('#style-0-weight').fill('2.5');
    await a.locator('#style-0-weight').dispatchEvent('change');
    // The typed box, not the slider (#param-styleWeight is the log slider's position).
    await a.getByLabel('Style weight value').fill('2');
    await a.getByLabel('Style weight value').dispatchEvent('change');
    await waitFor(b, () => (window as any).atelier.sdoc.getStyles()[0]?.weight === 2.5, 'B to see the style weight');

    // Painting: A and B each draw.
    await a.getByRole('button', { name: /Brush/ }).click();
    await a.locator('input[aria-label="Brush color"]').fill('#ff3b30');
    await drawStroke(a, wave(0.3));
    await b.locator('input[aria-label="Brush color"]').fill('#2f7bff');
    await b.locator('input[aria-label="Brush size"]').fill('20');
    await drawStroke(b, wave(0.72, 0.15, 0.85, 0.07));
    await drawStroke(b, [[0.6, 0.4], [0.7, 0.55], [0.8, 0.45], [0.86, 0.5]]);
    await waitFor(a, () => (window as any).atelier.sdoc.getStrokes().length === 3 && (window as any).atelier.sdoc.getStrokes().every((s: any) => s.points.length > 4), 'A to see all 3 strokes');
    const counts = await Promise.all([a, b].map((p) => p.evaluate(() => (window as any).atelier.sdoc.getStrokes().length)));
    check(counts[0] === 3 && counts[1] === 3, `both pages hold the 3 strokes (A ${counts[0]}, B ${counts[1]})`);

    // Eraser: A erases across B's lower stroke (paint removed, photo revealed).
    await a.keyboard.press('e');
    await a.locator('input[aria-label="Brush size"]').fill('28');
    await drawStroke(a, [[0.3, 0.62], [0.36, 0.78]]);
    await a.keyboard.press('b');
    await waitFor(b, () => (window as any).atelier.sdoc.getStrokes().some((s: any) => s.tool === 'eraser'), "A's eraser stroke at B");
    check(true, "E picks the eraser and A's eraser stroke reaches B");
    await a.keyboard.press('Control+z');
    await waitFor(b, () => (window as any).atelier.sdoc.getStrokes().length === 3, 'eraser undo');

    // Per-user undo: A undoes its own stroke only... then redoes it.
    await a.keyboard.press('Control+z');
    await waitFor(b, () => (window as any).atelier.sdoc.getStrokes().length === 2, 'A undo to reach B');
    const authors = await b.evaluate(() => (window as any).atelier.sdoc.getStrokes().map((s: any) => s.author));
    check(authors.every((x: string) => x === 'Bo'), `A's Ctrl+Z removed only A's stroke (left: ${authors.join(', ')})`);
    await a.keyboard.press('Control+Shift+z');
    await waitFor(b, () => (window as any).atelier.sdoc.getStrokes().length === 3, 'A redo to reach B');
    check(true, 'redo brought it back for everyone');

    // Space pauses and resumes for everyone.
    await a.locator('body').click({ position: { x: 5, y: 5 } });
    const wasRunning = await b.evaluate(() => (window as any).atelier.sdoc.getParam('running'));
    await a.keyboard.press(' ');
    await waitFor(b, (r: boolean) => (window as any).atelier.sdoc.getParam('running') === !r, 'Space to toggle running', 30_000, wasRunning);
    await a.keyboard.press(' ');
    await waitFor(b, (r: boolean) => (window as any).atelier.sdoc.getParam('running') === r, 'Space to toggle back', 30_000, wasRunning);
    check(true, 'Space pauses and resumes the optimization for everyone');

    // Offline edit on B survives a reconnect.
    const wasOffline = await b.evaluate(() => {
      const at = (window as any).atelier;
      at.conn.socket.io.engine.close();
      const offline = !at.conn.provider.connected;
      at.sdoc.setParam('tvWeight', 1.5);
      return offline;
    });
    await waitFor(a, () => (window as any).atelier.sdoc.getParam('tvWeight') === 1.5, "B's offline edit to arrive after reconnect", 20_000);
    check(wasOffline, "B's edit made while disconnected arrived after the automatic reconnect");

    // Cursors: B hovers over the canvas.
    const boxB = (await b.locator('.canvas-stage canvas').boundingBox())!;
    await b.mouse.move(boxB.x + boxB.width * 0.4, boxB.y + boxB.height * 0.5);
    await b.mouse.move(boxB.x + boxB.width * 0.42, boxB.y + boxB.height * 0.52, { steps: 3 });
    await waitFor(a, () => [...(window as any).atelier.conn.awareness.getStates().values()].some((s: any) => s.user?.name === 'Bo' && s.cursor), "B's cursor at A");
    check(true, "A sees B's live cursor");

    // Frames.
    await waitFor(a, () => (window as any).atelier.output.hasFrame, 'a frame on A', 20_000);
    check(true, 'A displays streamed frames');
    const [dl] = await Promise.all([a.waitForEvent('download'), a.getByRole('button', { name: /PNG/ }).click()]);
    const png = await dl.createReadStream().then(async (st) => {
      const chunks: Buffer[] = [];
      for await (const c of st) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    });
    check(dl.suggestedFilename().endsWith('.png') && png.subarray(1, 4).toString() === 'PNG', `PNG download (${dl.suggestedFilename()}, ${png.length} bytes)`);
    await a.locator('.split-slider').fill('380');
    await a.locator('.split-slider').dispatchEvent('input');
    const boxA = (await a.locator('.canvas-stage canvas').boundingBox())!;
    await a.mouse.move(boxA.x + boxA.width * 0.62, boxA.y + boxA.height * 0.45);
    // The real engine restarts on edits and needs a moment to show the painted strokes.
    await a.waitForTimeout(args['real-engine'] ? 12_000 : 1500);
    const feed = await a.locator('.feed li').allInnerTexts();
    check(feed.some((t) => t.includes('Bo')), `activity feed names Bo (${feed.slice(0, 3).join(' | ').replace(/\n/g, ' ')})`);
    await a.screenshot({ path: path.join(outDir, 'editor.png') });
    console.log('  wrote editor.png');

    // Viewer: read-only.
    const viewerPath = await a.evaluate((id) => localStorage.getItem(`atelier.viewer.${id}`), new URL(editorUrl).pathname.split('/')[2]);
    if (viewerPath) {
      const v = await ctxB.newPage();
      await v.goto(base + viewerPath.replace('/view', ''));
      await waitFor(v, () => (window as any).atelier?.conn.status && (window as any).atelier.conn.provider.synced, 'viewer sync');
      const ro = await v.evaluate(() => ({
        canEdit: (window as any).atelier.conn.canEdit,
        disabled: (document.querySelector('#param-styleWeight') as HTMLInputElement).disabled,
        strokes: (window as any).atelier.sdoc.getStrokes().length,
      }));
      check(!ro.canEdit && ro.disabled && ro.strokes === 3, `viewer token in the editor is read-only and sees the doc (${JSON.stringify(ro)})`);
      await v.close();
    }

    // Touch: a tablet-like page paints with a tap (pointer events with pointerType 'touch').
    const ctxT = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true });
    const t = await ctxT.newPage();
    await t.goto(editorUrl);
    await waitFor(t, () => (window as any).atelier?.conn.canEdit && (window as any).atelier.conn.provider.synced, 'touch page sync', 60_000);
    const boxT = (await t.locator('.canvas-stage canvas').boundingBox())!;
    const strokesBefore = await t.evaluate(() => (window as any).atelier.sdoc.getStrokes().length);
    await t.touchscreen.tap(boxT.x + boxT.width / 2, boxT.y + boxT.height / 2);
    await waitFor(a, (n: number) => (window as any).atelier.sdoc.getStrokes().length === n, 'the touch stroke at A', 30_000, strokesBefore + 1);
    check(true, 'a touch tap paints a dot that reaches the other editors');
    await t.keyboard.press('Control+z');
    await waitFor(a, (n: number) => (window as any).atelier.sdoc.getStrokes().length === n, 'touch undo', 30_000, strokesBefore);
    await ctxT.close();

    // Projector with overlay.
    const proj = await ctxB.newPage();
    await proj.setViewportSize({ width: 1280, height: 720 });
    const projPath = new URL(editorUrl).pathname + '/view' + new URL(editorUrl).search + '&overlay=1';
    await proj.goto(base + projPath);
    await waitFor(proj, () => (window as any).atelier?.stage.latest !== null && (window as any).atelier?.stage.latest !== undefined, 'a frame on the projector', 20_000);
    await proj.waitForTimeout(800);
    await proj.screenshot({ path: path.join(outDir, 'projector.png') });
    console.log('  wrote projector.png');
    check(true, 'projector shows frames with the join overlay');

    // Start page with the recent list.
    await a.goto(base + '/');
    await a.locator('.recent li a').first().waitFor();
    await a.setViewportSize({ width: 1280, height: 800 });
    await a.screenshot({ path: path.join(outDir, 'start.png') });
    console.log('  wrote start.png');
  } catch (e) {
    console.error(e);
    // Leave evidence: what each page looked like when it failed.
    const dir = mkdtempSync(path.join(tmpdir(), 'atelier-shots-fail-'));
    for (const [i, p] of pages.entries()) await p.screenshot({ path: path.join(dir, `page${i}.png`) }).catch(() => {});
    console.error(`failure screenshots in ${dir}`);
    throw e;
  } finally {
    await browser?.close();
    if (server) {
      server.proc.kill('SIGTERM');
      await new Promise((r) => server.proc.once('exit', r));
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  }
  if (failures.length) {
    console.error(`\n${failures.length} check(s) failed:\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  console.log(`\nscreenshots in ${path.relative(root, outDir)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
