import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { decodeImage } from '../images/codec.ts';
import { connectClient, createSession, startTestServer, waitFor } from '../testing/index.ts';
import { parseRenderArgs, UsageError } from './args.ts';
import { loadSessionRender, parseAt } from './from-session.ts';
import { createRegionStroke } from '../../shared/region-strokes.ts';

const root = path.resolve(import.meta.dirname, '../..');

function render(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'server/cli/render.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ATELIER_LOG: 'warn' },
    timeout: 120_000,
  });
}

async function mainCapturingStderr(args: string[]): Promise<{ code: number; stderr: string }> {
  const { main } = await import('./render.ts');
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** A stored session: one red stroke across the canvas (drawn after `before`), resolution 96, then the server stops. */
async function recordSession(dataDir: string): Promise<{ id: string; before: number; created: number }> {
  const server = await startTestServer({ dataDir, keyframeIntervalMs: 100 });
  try {
    const created = Date.now();
    const s = await createSession(server.url);
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'ana' });
    await waitFor(() => server.storage.latestKeyframe(s.id), 5000, 'a keyframe');
    await new Promise((r) => setTimeout(r, 5));
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    c.doc.transact(() => {
      c.doc.getMap('params').set('resolution', 96);
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries({ id: 'r1', author: 'ana', tool: 'brush', color: '#ff0000', size: 30, opacity: 1, points: [0, 100, 400, 100] })) m.set(k, v);
      c.doc.getArray('strokes').push([m]);
      // a style brush stroke along the bottom, with the session's own style (S34)
      const style = String((c.doc.getArray('styles').get(0) as Y.Map<unknown>).get('imageId'));
      c.doc.getArray('regions').push([createRegionStroke({ id: 'g1', author: 'ana', tool: 'brush', style, size: 60, points: [0, 260, 451, 260] })]);
    });
    await waitFor(async () => (await server.storage.loadUpdates(s.id)).length >= 2, 5000, 'the stroke stored');
    c.close();
    return { id: s.id, before, created };
  } finally {
    await server.close();
  }
}

describe('render --from-session', () => {
  test('L4: loads the state at T read-only: strokes painted by the server rasterizer, session params at the requested size', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-fromsession-'));
    try {
      const { id, before } = await recordSession(dataDir);
      const latest = await loadSessionRender(dataDir, id, { size: 200 });
      assert.equal(latest.state.strokes.length, 1);
      assert.equal(latest.state.params.resolution, 96);
      assert.equal(latest.params.resolution, 200, 'resolution is the requested size');
      assert.equal(latest.params.init, 'image', 'starts from the keyframe');
      assert.ok(latest.keyframe && latest.keyframe.iter > 0);
      const px = (x: number, y: number) => [...latest.content.data.subarray((y * latest.content.width + x) * 3, (y * latest.content.width + x) * 3 + 3)];
      assert.deepEqual(px(50, 100), [255, 0, 0], 'the stroke is painted onto the content');
      assert.equal(latest.content.width, latest.state.content.width);
      const earlier = await loadSessionRender(dataDir, id, { size: 200, at: before, fromKeyframe: false });
      assert.equal(earlier.regions.length, 0);
      // S34: the style brush stroke is a region mask at the content's size, not paint on the content
      assert.equal(latest.regions.length, 1);
      const mask = latest.regions[0].mask;
      assert.deepEqual([mask.width, mask.height], [latest.content.width, latest.content.height]);
      assert.equal(mask.data[260 * mask.width + 200], 255);
      assert.equal(mask.data[100 * mask.width + 200], 0);
      assert.ok(latest.regions[0].image.width > 0);
      const at = (img: typeof latest.content, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
      assert.deepEqual(at(latest.content, 200, 260), at(earlier.content, 200, 260), 'the content under the region is the photo');
      assert.equal(earlier.state.strokes.length, 0, 'before the stroke');
      assert.notDeepEqual([...earlier.content.data.subarray((100 * earlier.content.width + 50) * 3, (100 * earlier.content.width + 50) * 3 + 3)], [255, 0, 0]);
      assert.equal(earlier.params.init, 'content');
      await assert.rejects(loadSessionRender(dataDir, 'nosuchsession1', { size: 64 }), /no session 'nosuchsession1'/);
      await assert.rejects(loadSessionRender(path.join(dataDir, 'missing'), id, { size: 64 }), /read-only/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('L4: the CLI re-renders a tiny session offline (tiny model, small size) and reports bad sources with exit code 2', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-fromsession-'));
    try {
      const { id, created } = await recordSession(dataDir);
      const out = path.join(dataDir, 'x.png');
      const r = render(['--from-session', id, '--data-dir', dataDir, '--size', '48', '--iters', '2', '--model', 'tiny', '--backend', 'cpu', '--out', out, '--json']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`session ${id} at .*1 strokes`));
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { iter: number; loss: number });
      assert.deepEqual(lines.map((l) => l.iter), [0, 1, 2]);
      const img = await decodeImage(await readFile(out));
      assert.equal(Math.max(img.width, img.height), 48);

      // Bad sources fail before any backend or model is loaded: checked in-process (a spawn costs seconds).
      const early = await mainCapturingStderr(['--from-session', id, '--at', String(created - 60_000), '--data-dir', dataDir, '--out', out, '--model', 'tiny']);
      assert.equal(early.code, 2);
      assert.match(early.stderr, /has no document at/);
      const unknown = await mainCapturingStderr(['--from-session', 'nosuchsession1', '--data-dir', dataDir, '--out', out]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no session 'nosuchsession1'/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('L4: argument rules: --at needs --from-session, no --content/--style with it, ISO or ms times', () => {
    assert.throws(() => parseRenderArgs(['--at', '5', '--content', 'a.png', '--style', 'b.jpg', '--out', 'o.png']), UsageError);
    assert.throws(() => parseRenderArgs(['--from-session', 'abcdefgh', '--content', 'a.png', '--out', 'o.png']), /drop --content/);
    assert.throws(() => parseRenderArgs(['--from-session', '../etc', '--out', 'o.png']), /session id/);
    const o = parseRenderArgs(['--from-session', 'abcdefgh', '--at', '2026-01-02T03:04:05Z', '--data-dir', '/d', '--out', 'o.png']);
    assert.ok(o !== 'help' && o.fromSession === 'abcdefgh' && o.dataDir === '/d');
    assert.equal(parseAt('2026-01-02T03:04:05Z'), Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(parseAt('1700000000000'), 1700000000000);
    assert.throws(() => parseAt('yesterday'), /--at must be/);
  });
});
