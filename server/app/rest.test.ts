import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import http from 'node:http';
import sharp from 'sharp';
import { ErrorCode, api, type ErrorResponse, type PresetsResponse, type UploadImageResponse } from '../../shared/protocol.ts';
import { createSession, startTestServer, waitFor, type TestServer } from '../testing/index.ts';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A small PNG whose header declares 100000×100000 pixels (a decompression bomb). */
function bombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const idat = deflateSync(Buffer.alloc(300_001 * 20)); // a few rows of zeros
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('REST API', () => {
  let server: TestServer;
  let dist: string;
  before(async () => {
    dist = mkdtempSync(path.join(tmpdir(), 'atelier-dist-'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>atelier client</title>');
    server = await startTestServer({ maxUploadBytes: 200_000, maxImagePixels: 2_000_000, idlePauseMs: 300 }, { clientDist: dist });
  });
  after(async () => {
    await server.close();
    rmSync(dist, { recursive: true, force: true });
  });

  const upload = (id: string, token: string | undefined, body: Buffer | string, type: string) =>
    fetch(server.url + api.images(id), {
      method: 'POST',
      headers: { 'Content-Type': type, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });
  const errorOf = async (res: Response) => ((await res.json()) as ErrorResponse).error;

  test('S2: POST /api/sessions creates a session with distinct tokens (random editor token, derived viewer token, S3) and absolute URLs', async () => {
    const s = await createSession(server.url);
    assert.match(s.id, /^[A-Za-z0-9_-]{8,}$/);
    assert.notEqual(s.editorToken, s.viewerToken);
    assert.ok(Buffer.from(s.editorToken, 'base64url').length >= 16, 'at least 128 bits');
    assert.equal(s.editorUrl, `${server.url}/s/${s.id}?token=${s.editorToken}`.replace('127.0.0.1', new URL(s.editorUrl).hostname));
    assert.ok(s.viewerUrl.endsWith(`/s/${s.id}/view?token=${s.viewerToken}`));
    assert.ok(s.viewerUrl.startsWith('http://'));
  });

  test('S14: an editor uploads a PNG, gets its sha256 id and size, and it is served back with its verified type', async () => {
    const s = await createSession(server.url);
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toBuffer();
    const res = await upload(s.id, s.editorToken, png, 'image/png');
    assert.equal(res.status, 201);
    const body = (await res.json()) as UploadImageResponse;
    assert.match(body.imageId, /^[a-f0-9]{64}$/);
    assert.deepEqual([body.width, body.height], [40, 30]);
    const got = await fetch(server.url + api.image(body.imageId));
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), png);
  });

  test('S14: uploads need the editor token', async () => {
    const s = await createSession(server.url);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    assert.equal((await upload(s.id, undefined, png, 'image/png')).status, 401);
    const r = await upload(s.id, s.viewerToken, png, 'image/png');
    assert.equal(r.status, 403);
    assert.equal((await errorOf(r)).code, ErrorCode.Forbidden);
    assert.equal((await upload('nosuchsession', s.editorToken, png, 'image/png')).status, 404);
  });

  test('S14: hostile uploads are refused with the right status and code', async () => {
    const s = await createSession(server.url);
    const jpeg = readFileSync(new URL('../../assets/style/starry_night.jpg', import.meta.url));
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    const cases: [string, Buffer | string, string, number, string][] = [
      ['decompression bomb', bombPng(), 'image/png', 413, ErrorCode.ImageTooLarge],
      ['truncated JPEG', jpeg.subarray(0, 20_000), 'image/jpeg', 400, ErrorCode.ImageDecodeFailed],
      ['text posing as PNG', 'hello, I am definitely a PNG', 'image/png', 400, ErrorCode.ImageDecodeFailed],
      ['wrong content type', png, 'text/plain', 415, ErrorCode.UnsupportedMediaType],
      ['PNG sent as JPEG', png, 'image/jpeg', 415, ErrorCode.UnsupportedMediaType],
      ['SVG', '<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml', 415, ErrorCode.UnsupportedMediaType],
      ['oversize body', Buffer.concat([png, Buffer.alloc(300_000)]), 'image/png', 413, ErrorCode.PayloadTooLarge],
      ['empty body', Buffer.alloc(0), 'image/png', 400, ErrorCode.ImageDecodeFailed],
    ];
    for (const [what, body, type, status, code] of cases) {
      const res = await upload(s.id, s.editorToken, body, type);
      assert.equal(res.status, status, what);
      const err = await errorOf(res);
      assert.equal(err.code, code, what);
      assert.ok(err.message.length > 5, what);
    }
  });

  test('S14: a streamed (chunked) body past the upload limit is 413, and a compressed one 415', async () => {
    const s = await createSession(server.url);
    const post = (headers: Record<string, string>, chunks: Buffer[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(new URL(server.url + api.images(s.id)), {
          method: 'POST',
          headers: { 'Content-Type': 'image/png', Authorization: `Bearer ${s.editorToken}`, ...headers },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        for (const c of chunks) req.write(c);
        req.end();
      });
    const big = await post({ 'Transfer-Encoding': 'chunked' }, Array.from({ length: 5 }, () => Buffer.alloc(50_000)));
    assert.equal(big.status, 413);
    const err = (JSON.parse(big.body) as ErrorResponse).error;
    assert.equal(err.code, ErrorCode.PayloadTooLarge);
    assert.match(err.message, /over the limit of 200000 bytes/);
    const gz = await post({ 'Content-Encoding': 'gzip' }, [Buffer.alloc(100)]);
    assert.equal(gz.status, 415);
    assert.equal((JSON.parse(gz.body) as ErrorResponse).error.code, ErrorCode.UnsupportedMediaType);
  });

  test('S15: image ids are validated; traversal attempts are 404', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'A'.repeat(64), 'abc', 'f'.repeat(63) + 'g']) {
      const res = await fetch(server.url + '/api/images/' + id);
      assert.equal(res.status, 404, id);
      assert.equal((await errorOf(res)).code, ErrorCode.NotFound);
    }
  });

  test('S16: presets list the built-in images with names and credits, and they can be fetched', async () => {
    const res = await fetch(server.url + api.presets);
    const body = (await res.json()) as PresetsResponse;
    assert.ok(body.images.length >= 8);
    const starry = body.images.find((i) => i.name.includes('Starry Night'));
    assert.ok(starry);
    assert.equal(starry.kind, 'style');
    assert.match(starry.credit, /public domain/);
    const img = await fetch(server.url + api.image(starry.imageId));
    assert.equal(img.headers.get('content-type'), 'image/jpeg');
  });

  test('S17: frame.jpg serves the latest frame with ?token= or Bearer, and refuses without a token', async () => {
    const s = await createSession(server.url);
    assert.equal((await fetch(server.url + api.frame(s.id))).status, 401);
    assert.equal((await fetch(server.url + api.frame(s.id) + '?token=wrong')).status, 401);
    const res = await waitFor(async () => {
      const r = await fetch(server.url + api.frame(s.id) + '?token=' + s.viewerToken);
      if (r.status === 200) return r;
      await r.arrayBuffer();
      return null;
    }, 5000, 'a frame');
    assert.ok(res);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(bytes[0], 0xff);
    assert.equal(bytes[1], 0xd8);
    const bearer = await fetch(server.url + api.frame(s.id), { headers: { Authorization: `Bearer ${s.editorToken}` } });
    assert.equal(bearer.status, 200);
    await bearer.arrayBuffer();
  });

  test('S17: stream.mjpg is a multipart/x-mixed-replace stream of JPEG parts', async () => {
    const s = await createSession(server.url);
    const url = new URL(server.url + api.stream(s.id) + '?token=' + s.viewerToken);
    const { type, parts } = await new Promise<{ type: string; parts: number }>((resolve, reject) => {
      const req = http.get(url, (res) => {
        let buf = Buffer.alloc(0);
        res.on('data', (c: Buffer) => {
          buf = Buffer.concat([buf, c]);
          const n = buf.toString('latin1').split('--atelierframe\r\nContent-Type: image/jpeg').length - 1;
          if (n >= 3) {
            req.destroy();
            resolve({ type: String(res.headers['content-type']), parts: n });
          }
        });
      });
      req.on('error', reject);
    });
    assert.match(type, /^multipart\/x-mixed-replace; boundary=atelierframe$/);
    assert.ok(parts >= 3);
  });

  test('S18: healthz and metrics report the server state', async () => {
    const h = await fetch(server.url + api.health);
    assert.deepEqual(((await h.json()) as { ok: boolean }).ok, true);
    const m = await (await fetch(server.url + api.metrics)).text();
    for (const name of ['atelier_sessions', 'atelier_clients', 'atelier_steps_per_second', 'atelier_frames_sent_total', 'atelier_frame_bytes_sent_total']) {
      assert.match(m, new RegExp(`^${name} `, 'm'), name);
    }
    assert.match(m, /atelier_engine_info\{backend="fake"\} 1/);
  });

  test('S22: the built client is served, with index.html for /s/:id routes', async () => {
    for (const p of ['/', '/s/abc', '/s/abc/view']) {
      const res = await fetch(server.url + p);
      assert.equal(res.status, 200, p);
      assert.match(await res.text(), /atelier client/, p);
    }
    const missing = await fetch(server.url + '/api/nothing');
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, ErrorCode.NotFound);
  });
});

describe('server shutdown', () => {
  test('S17: closing the server ends open MJPEG streams', async () => {
    const server = await startTestServer({ idlePauseMs: 300 });
    const s = await createSession(server.url);
    // Wrapped in an object: resolving with a bare promise would wait for it.
    const { ended } = await new Promise<{ ended: Promise<void> }>((resolve, reject) => {
      const req = http.get(new URL(server.url + api.stream(s.id) + '?token=' + s.viewerToken), (res) => {
        const done = new Promise<void>((r) => {
          res.on('close', () => r());
          res.on('error', () => r());
        });
        res.once('data', () => resolve({ ended: done }));
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no stream data')), 5000).unref();
    });
    await server.close();
    await ended;
  });
});

describe('REST without a built client', () => {
  test('S22: the page says to run npm run build:client', async () => {
    const server = await startTestServer({}, { clientDist: path.join(tmpdir(), 'atelier-no-such-dist') });
    try {
      const res = await fetch(server.url + '/s/whatever');
      assert.match(await res.text(), /npm run build:client/);
    } finally {
      await server.close();
    }
  });
});
