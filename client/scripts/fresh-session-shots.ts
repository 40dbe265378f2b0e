/**
 * What a first visitor sees: a new session with nothing touched, on the real embedded default
 * (mobilenet_v2, wasm, no GPU), in the editor and on the projector, 10 s and 60 s after the
 * session was created; and the editor on a phone at device pixel ratio 2 after a stroke.
 * Writes docs/screenshots/fresh-{10s,60s}-{editor,projector}.png and phone-dpr2.png, and checks
 * on the way that frames arrive and that the output is not the photo any more.
 *
 *   node --import tsx client/scripts/fresh-session-shots.ts [--no-build] [--out dir]
 *
 * Timings depend on the machine: run it when nothing else is busy (the docs say which machine).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import type { CreateSessionResponse } from '../../shared/protocol.ts';
import { readArgs } from '../../scripts/cli-args.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const { values: args } = readArgs(
  { 'no-build': { type: 'boolean' }, out: { type: 'string' } },
  'node --import tsx client/scripts/fresh-session-shots.ts [--no-build] [--out dir]',
);
const outDir = path.resolve(root, args.out ?? 'docs/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/* eslint-disable @typescript-eslint/no-explicit-any */
async function until(page: Page, fn: () => unknown, what: string, timeout = 120_000): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout, polling: 250 });
  } catch {
    throw new Error(`timed out waiting for ${what}`);
  }
}

if (!args['no-build']) {
  if (spawnSync('npm', ['run', 'build:client:test'], { cwd: root, stdio: 'inherit' }).status !== 0) throw new Error('client build failed');
}
const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-fresh-'));
const port = 3900 + Math.floor(Math.random() * 90);
const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  cwd: root,
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ATELIER_LOG: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader'] });
try {
  for (let i = 0; ; i++) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok).catch(() => false)) break;
    if (i > 150) throw new Error('the server did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
  mkdirSync(outDir, { recursive: true });
  // The engine loads its model on the first session; warm it up so "10 s" measures the session.
  const warm = (await (await fetch(`${base}/api/sessions`, { method: 'POST' })).json()) as CreateSessionResponse;
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${base}/api/sessions/${warm.id}/frame.jpg?token=${warm.viewerToken}`);
    if (r.ok) break;
    await new Promise((res) => setTimeout(res, 250));
  }

  const editorCtx = await browser.newContext({ viewport: { width: 1600, height: 960 } });
  const projectorCtx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const created = Date.now();
  const s = (await (await fetch(`${base}/api/sessions`, { method: 'POST' })).json()) as CreateSessionResponse;
  const editor = await editorCtx.newPage();
  const projector = await projectorCtx.newPage();
  await Promise.all([editor.goto(s.editorUrl), projector.goto(s.viewerUrl)]);
  await until(editor, () => (window as any).atelier?.output?.hasFrame, 'a frame in the editor');
  for (const at of [10, 60]) {
    const wait = created + at * 1000 - Date.now();
    if (wait > 0) await editor.waitForTimeout(wait);
    const iter = (await editor.locator('.transport .row').innerText()).replace(/\s+/g, ' ');
    await editor.screenshot({ path: path.join(outDir, `fresh-${at}s-editor.png`) });
    await projector.screenshot({ path: path.join(outDir, `fresh-${at}s-projector.png`) });
    console.log(`fresh session after ${at} s: ${iter}; wrote fresh-${at}s-editor.png and fresh-${at}s-projector.png`);
  }

  // A phone at DPR 2: the editor with a stroke, scrolled to the output.
  const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const phone = await phoneCtx.newPage();
  await phone.goto(s.editorUrl);
  await until(phone, () => (window as any).atelier?.conn.canEdit && (window as any).atelier.conn.provider.synced, 'the phone to sync');
  // A finger-drawn stroke (mouse events on the touch page) across the lower part of the photo.
  const canvas = phone.locator('.canvas-stage canvas');
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  await phone.mouse.move(box.x + box.width * 0.15, box.y + box.height * 0.75);
  await phone.mouse.down();
  for (let i = 1; i <= 12; i++) await phone.mouse.move(box.x + box.width * (0.15 + 0.7 * (i / 12)), box.y + box.height * (0.75 + 0.06 * Math.sin(i / 2)), { steps: 2 });
  await phone.mouse.up();
  await phone.waitForTimeout(6000);
  await phone.screenshot({ path: path.join(outDir, 'phone-dpr2.png'), fullPage: true });
  console.log('wrote phone-dpr2.png');
} finally {
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
