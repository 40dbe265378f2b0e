/**
 * Vite build for the Atelier studio. Root is `client/`; the bundle goes to `client/dist`, which
 * the server serves (falling back to index.html for `/s/:id…` routes). Client code imports the
 * wire contract from `../../shared/*.ts`, outside the root, so the dev server is allowed to read
 * the repository root. In dev, API, socket.io (websocket) and health requests go to the server.
 *
 * Modes: `npm run build:client` is the production build; `npm run build:client:test`
 * (`--mode test`, what the e2e suite and the screenshot scripts build) and the dev server also
 * carry the test hooks (`window.atelier`…, src/test-hooks.ts). A test build writes
 * `TEST-BUILD.txt` into the bundle so the e2e harness knows what it finds in client/dist.
 */
import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const clientDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(clientDir, '..');
const backend = process.env.ATELIER_BACKEND ?? 'http://localhost:3000';

/** Marks a test build's output (the e2e harness rebuilds when client/dist lacks it). */
const markTestBuild: Plugin = {
  name: 'atelier-mark-test-build',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'TEST-BUILD.txt', source: 'A test build: it carries the test hooks (client/src/test-hooks.ts). Not for production.\n' });
  },
};

export default defineConfig(({ command, mode }) => ({
  root: clientDir,
  define: { __ATELIER_TEST_HOOKS__: JSON.stringify(mode === 'test' || command === 'serve') },
  plugins: mode === 'test' ? [markTestBuild] : [],
  base: '/',
  publicDir: false,
  build: {
    outDir: path.join(clientDir, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 900,
  },
  server: {
    fs: { allow: [repoRoot] },
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/healthz': { target: backend, changeOrigin: true },
      '/socket.io': { target: backend, changeOrigin: true, ws: true },
    },
  },
}));
