/**
 * The e2e harness: a real server process (server/main.ts, fake engine or the real default engine,
 * temp DATA_DIR, free port), the built client it serves, and headless Debian Chromium driven by
 * playwright-core.
 *
 * Why a child process and not the in-process server: scenario X8 kills the server with SIGKILL
 * and restarts it on the same port and data dir, and the browser must see a real outage.
 * Everything a stack starts is torn down by `close()` (browser, server, temp dir), also after a
 * failed test, so node:test never hangs on a leftover handle.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { spawnServer, type ChildServer } from '../../server/testing/child-server.ts';
import { createSession } from '../../server/testing/index.ts';
import type { CreateSessionResponse } from '../../shared/protocol.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Chromium flags: headless, no sandbox (root in CI), software GL, nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-swiftshader',
];

/** Debian's Chromium (`apt-get install chromium`); never a downloaded browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where scenario screenshots go (gitignored). */
export const ARTIFACTS_DIR = path.join(repoRoot, 'test-results', 'e2e');

/** Where `npm run screenshots` (ATELIER_E2E_DOCS=1) copies the documented shots. */
export const DOCS_SHOTS_DIR = path.join(repoRoot, 'docs', 'screenshots', 'e2e');

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const name of readdirSync(p)) if (name !== 'node_modules' && name !== 'dist') m = Math.max(m, newestMtime(path.join(p, name)));
  return m;
}

/**
 * Builds the client in test mode (`npm run build:client:test`: with the pages' test hooks,
 * `window.atelier`…) unless `client/dist` already is a test build (its TEST-BUILD.txt) newer than
 * every client and shared source, so the e2e files of one run share a single build. A production
 * build there (`npm start`, `npm run build:client`) has no hooks and is replaced.
 */
export function ensureClientBuilt(): void {
  const marker = path.join(repoRoot, 'client/dist/TEST-BUILD.txt');
  const built = existsSync(marker) && existsSync(path.join(repoRoot, 'client/dist/index.html')) ? statSync(marker).mtimeMs : 0;
  const sources = Math.max(
    newestMtime(path.join(repoRoot, 'client/src')),
    newestMtime(path.join(repoRoot, 'client/index.html')),
    newestMtime(path.join(repoRoot, 'client/vite.config.ts')),
    newestMtime(path.join(repoRoot, 'shared')),
  );
  if (built > sources) return;
  const r = spawnSync('npm', ['run', 'build:client:test'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build:client:test failed:\n${r.stderr}`);
}

export interface DeviceOptions {
  deviceScaleFactor?: number;
  /** Phone emulation: meta viewport honoured, touch events, mobile user agent behaviour. */
  isMobile?: boolean;
  hasTouch?: boolean;
}

/** Viewports the HiDPI scenarios use (CSS pixels). */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export interface Stack {
  /** Base URL of the running server, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  dataDir: string;
  browser: Browser;
  server: ChildServer;
  /**
   * A page in its own browser context (own localStorage), with this display name. `viewport`
   * is in CSS pixels (default 1280×800); `device` sets the device pixel ratio (default 1) and
   * a phone's touch/mobile emulation.
   */
  newPage(name: string, viewport?: { width: number; height: number }, device?: DeviceOptions): Promise<Page>;
  /** POST /api/sessions. */
  createSession(): Promise<CreateSessionResponse>;
  /** Saves a screenshot into test-results/e2e/<label>/ (and docs/screenshots/e2e/ when `doc`). */
  shot(page: Page, name: string, opts?: { doc?: boolean }): Promise<Buffer>;
  /** SIGKILLs the server (no graceful shutdown). */
  killServer(): Promise<void>;
  /** Starts the server again on the same port and DATA_DIR. */
  restartServer(): Promise<void>;
  /** Page errors collected so far ("<name>: message"). */
  pageErrors: string[];
  close(): Promise<void>;
}

export interface StackOptions {
  /**
   * `fake` (default): the in-process fake engine, fast and deterministic. `real`: the engine
   * `npm start` runs — the embedded default model (mobilenet_v2) on the wasm backend, no GPU and
   * no download (README "Models"); first frames after ~10 s of model loading on 2 cores.
   */
  engine?: 'fake' | 'real';
}

/** Server variables that select the real default engine (see {@link StackOptions}). */
export const REAL_ENGINE_ENV = { ATELIER_FAKE_ENGINE: '0', ENGINE_BACKEND: 'wasm', MODEL: 'mobilenet_v2' } as const;

/**
 * Builds the client if needed, starts the server and Chromium. `env` adds server variables
 * (e.g. KEYFRAME_INTERVAL_MS). Call `close()` in an `after` hook.
 */
export async function startStack(label: string, env: Record<string, string> = {}, opts: StackOptions = {}): Promise<Stack> {
  ensureClientBuilt();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-e2e-'));
  // 5 frames/s instead of 10: software-rendered WebGL in several pages is the costliest part.
  const serverEnv = { DATA_DIR: dataDir, FRAME_RATE: '5', ...(opts.engine === 'real' ? REAL_ENGINE_ENV : {}), ...env };
  let server: ChildServer;
  try {
    server = await spawnServer(serverEnv);
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = Number(new URL(server.url).port);
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  } catch (e) {
    await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const shotsDir = path.join(ARTIFACTS_DIR, label);
  mkdirSync(shotsDir, { recursive: true });
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const previousLogs: string[] = [];
  const stack: Stack = {
    url: server.url,
    port,
    dataDir,
    browser,
    server,
    pageErrors,
    async newPage(name, viewport = VIEWPORTS.desktop, device = {}) {
      const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, acceptDownloads: true, ...device });
      contexts.push(ctx);
      await ctx.addInitScript((n) => localStorage.setItem('atelier.name', n), name);
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
      page.setDefaultTimeout(20_000);
      return page;
    },
    createSession: () => createSession(stack.url),
    async shot(page, name, opts = {}) {
      const file = path.join(shotsDir, `${name}.png`);
      const buf = await page.screenshot({ path: file });
      if (opts.doc && process.env.ATELIER_E2E_DOCS === '1') {
        mkdirSync(DOCS_SHOTS_DIR, { recursive: true });
        // Palette PNG: a third of the size, so the committed set stays well under 3 MB.
        await sharp(buf).png({ palette: true, quality: 85, compressionLevel: 9 }).toFile(path.join(DOCS_SHOTS_DIR, `${name}.png`));
      }
      return buf;
    },
    async killServer() {
      await stack.server.kill('SIGKILL');
    },
    async restartServer() {
      previousLogs.push(stack.server.stderr());
      stack.server = await spawnServer(serverEnv, ['--port', String(port)]);
    },
    async close() {
      // The server's log is an artifact: the first thing to read when a scenario failed.
      try {
        writeFileSync(path.join(shotsDir, 'server.log'), [...previousLogs, stack.server.stderr()].join('\n--- restart ---\n'));
      } catch {
        /* the folder may be gone; the log is a courtesy */
      }
      // Best effort, each step on its own: a failure in one must not leave the others running.
      await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10_000))]).catch(() => {});
      await stack.server.kill('SIGKILL').catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}
