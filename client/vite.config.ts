/**
 * Vite build for the Atelier studio. Root is `client/`; the bundle goes to `client/dist`, which
 * the server serves (falling back to index.html for `/s/:id…` routes). Client code imports the
 * wire contract from `../../shared/*.ts`, outside the root, so the dev server is allowed to read
 * the repository root. In dev, API, socket.io (websocket) and health requests go to the server.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const clientDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(clientDir, '..');
const backend = process.env.ATELIER_BACKEND ?? 'http://localhost:3000';

export default defineConfig({
  root: clientDir,
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
});
