import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import sharp from 'sharp';
import { api } from '../../shared/protocol.ts';
import { hashToken, tokenMatches } from '../session/session-manager.ts';
import { connectClient, createSession, startTestServer, waitFor } from '../testing/index.ts';

/** Raw GET that does not normalise `..` (fetch/URL would). */
function rawGet(url: string, rawPath: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('security', () => {
  test('R4: no token appears in the log during a session\'s whole life, even at debug level', async () => {
    const captured: string[] = [];
    const origErr = process.stderr.write.bind(process.stderr);
    const origOut = process.stdout.write.bind(process.stdout);
    const level = process.env.ATELIER_LOG;
    process.env.ATELIER_LOG = 'debug';
    const capture = (chunk: unknown) => {
      captured.push(String(chunk));
      return true;
    };
    process.stderr.write = capture as typeof process.stderr.write;
    process.stdout.write = capture as typeof process.stdout.write;
    let tokens: string[] = [];
    try {
      const server = await startTestServer({ idlePauseMs: 200, keyframeIntervalMs: 100 });
      try {
        const s = await createSession(server.url);
        tokens = [s.editorToken, s.viewerToken];
        const editor = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'ed' });
        const viewer = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'vi' });
        await assert.rejects(connectClient({ url: server.url, session: s.id, token: s.editorToken + 'x' }));
        editor.doc.getMap('params').set('styleWeight', Number.NaN);
        viewer.doc.getMap('params').set('seed', 9);
        (editor.socket as unknown as { emit(e: string, v: unknown): void }).emit('y:sync', 'garbage');
        await waitFor(() => editor.errors.length >= 2 && viewer.errors.length >= 1);
        await waitFor(async () => (await fetch(`${server.url}${api.frame(s.id)}?token=${s.viewerToken}`)).status === 200);
        await fetch(`${server.url}${api.frame(s.id)}`, { headers: { Authorization: `Bearer ${s.editorToken}` } });
        await fetch(`${server.url}${api.frame(s.id)}?token=${s.editorToken}x`);
        await fetch(`${server.url}/s/${s.id}?token=${s.editorToken}`);
        await fetch(`${server.url}/s/${s.id}/view?token=${s.viewerToken}&x=1`);
        const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
        await fetch(server.url + api.images(s.id), { method: 'POST', headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}` }, body: new Uint8Array(png) });
        await fetch(server.url + api.images(s.id) + `?token=${s.editorToken}`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x' });
        editor.close();
        viewer.close();
        await new Promise((r) => setTimeout(r, 400)); // idle → keyframe → unload
      } finally {
        await server.close();
      }
    } finally {
      process.stderr.write = origErr;
      process.stdout.write = origOut;
      if (level === undefined) delete process.env.ATELIER_LOG;
      else process.env.ATELIER_LOG = level;
    }
    const log = captured.join('');
    assert.ok(tokens.length === 2);
    for (const t of tokens) assert.ok(!log.includes(t), `a token leaked into the log:\n${log.split('\n').find((l) => l.includes(t))}`);
    assert.match(log, /\?token=\[redacted\]/, 'the request log ran and redacted');
  });

  test('R4: tokens are compared as equal-length sha256 digests, whatever their length or content', () => {
    const stored = hashToken('right-token');
    for (const t of ['', 'r', 'right-toke', 'right-token ', 'x'.repeat(10_000), '\u0000', 'right-token'.toUpperCase()]) {
      assert.equal(tokenMatches(t, stored), false, JSON.stringify(t.slice(0, 20)));
    }
    assert.equal(tokenMatches('right-token', stored), true);
  });

  test('R4: pages carry a self-only CSP and security headers; uploads are served only as their verified type', async () => {
    const dist = mkdtempSync(path.join(tmpdir(), 'atelier-csp-'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>atelier client</title>');
    const server = await startTestServer({}, { clientDist: dist });
    try {
      for (const p of ['/', '/s/abcdefgh', '/s/abcdefgh/view']) {
        const res = await fetch(server.url + p);
        await res.text();
        const csp = res.headers.get('content-security-policy') ?? '';
        assert.match(csp, /default-src 'self'/, p);
        assert.match(csp, /frame-ancestors 'none'/, p);
        assert.doesNotMatch(csp, /https?:|\*/, `${p}: no external origin`);
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer', 'page URLs carry tokens: no Referer');
      }
      const api404 = await fetch(server.url + '/api/nope');
      assert.equal(api404.headers.get('x-content-type-options'), 'nosniff');
      const s = await createSession(server.url);
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer();
      const up = await fetch(server.url + api.images(s.id), { method: 'POST', headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}` }, body: new Uint8Array(png) });
      const { imageId } = (await up.json()) as { imageId: string };
      const img = await fetch(server.url + api.image(imageId), { headers: { Accept: 'text/html' } });
      await img.arrayBuffer();
      assert.equal(img.headers.get('content-type'), 'image/png');
      assert.equal(img.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(img.headers.get('content-security-policy'), "default-src 'none'", 'the image CSP is not replaced by the page CSP');
    } finally {
      await server.close();
      rmSync(dist, { recursive: true, force: true });
    }
  });

  test('R4: image ids and static paths cannot traverse out of their folders', async () => {
    const dist = mkdtempSync(path.join(tmpdir(), 'atelier-trav-'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>atelier client</title>');
    const server = await startTestServer({}, { clientDist: dist });
    try {
      const imagePaths = [
        '/api/images/..%2F..%2Fpackage.json',
        '/api/images/..%2f..%2fpackage.json',
        '/api/images/%2e%2e%2f%2e%2e%2fpackage.json',
        '/api/images/..%252F..%252Fpackage.json',
        '/api/images/..%5C..%5Cpackage.json',
        '/api/images/' + 'a'.repeat(64) + '%00',
        '/api/images/' + 'a'.repeat(63) + '/',
      ];
      for (const p of imagePaths) {
        const res = await rawGet(server.url, p);
        assert.equal(res.status, 404, p);
        assert.doesNotMatch(res.body, /"name": "atelier"/, p);
      }
      for (const p of ['/..%2Fpackage.json', '/%2e%2e/package.json', '/../package.json', '/s/..%2F..%2Fpackage.json', '/assets/..%2F..%2F..%2Fpackage.json']) {
        const res = await rawGet(server.url, p);
        assert.doesNotMatch(res.body, /"name": "atelier"/, p);
        assert.ok(res.status === 404 || res.status === 400 || /atelier client/.test(res.body), `${p}: ${res.status}`);
      }
    } finally {
      await server.close();
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
