/**
 * The bad-input catalogue (docs/RELIABILITY.md) items not already covered by server/app/rest.test.ts,
 * server/realtime/realtime.test.ts and server/session/*.test.ts: each hostile input gets a clear
 * error code and leaves the server and the engine's inputs intact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import * as Y from 'yjs';
import { ErrorCode, api, type ErrorResponse } from '../../shared/protocol.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import { addStroke } from '../testing/fuzz-kit.ts';

/** Rewrites the first SOF0/SOF2 frame header of a JPEG to declare `w`×`h`. */
function jpegDeclaring(jpeg: Buffer, w: number, h: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; ) {
    if (out[i] !== 0xff) throw new Error('not a marker');
    const marker = out[i + 1];
    const len = out.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(h, i + 5);
      out.writeUInt16BE(w, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

/** A PNG that is only a signature, an IHDR declaring `w`×`h` and IEND (no pixel data at all). */
function pngHeaderOnly(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const body = Buffer.concat([Buffer.from('IHDR'), ihdr]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), len, body, crc, iend]);
}

describe('bad input catalogue', () => {
  let server: TestServer;
  const clients: TestClient[] = [];
  before(async () => {
    server = await startTestServer({ maxUploadBytes: 200_000, maxImagePixels: 2_000_000, idlePauseMs: 2000 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const errorOf = async (res: Response) => ((await res.json()) as ErrorResponse).error;
  const upload = (id: string, token: string, body: Buffer | string, type: string) =>
    fetch(server.url + api.images(id), {
      method: 'POST',
      headers: { 'Content-Type': type, Authorization: `Bearer ${token}` },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });

  test('R3: images posing as others, huge declared dimensions and a wrong token are refused before any decode', async () => {
    const s = await createSession(server.url);
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#884422' } }).jpeg().toBuffer();
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).gif().toBuffer();
    const cases: [string, Buffer | string, string, number, string][] = [
      ['JPEG declaring 65500×65500', jpegDeclaring(jpeg, 65_500, 65_500), 'image/jpeg', 413, ErrorCode.ImageTooLarge],
      ['PNG header declaring 30000×30000 with no pixel data', pngHeaderOnly(30_000, 30_000), 'image/png', 400, ErrorCode.ImageDecodeFailed],
      ['HTML posing as PNG', '<!doctype html><script>alert(1)</script>', 'image/png', 400, ErrorCode.ImageDecodeFailed],
      ['SVG posing as PNG', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>', 'image/png', 415, ErrorCode.UnsupportedMediaType],
      ['GIF posing as JPEG', gif, 'image/jpeg', 415, ErrorCode.UnsupportedMediaType],
      ['text/html content type', '<p>hi</p>', 'text/html', 415, ErrorCode.UnsupportedMediaType],
      ['truncated JPEG header', jpeg.subarray(0, 100), 'image/jpeg', 400, ErrorCode.ImageDecodeFailed],
    ];
    for (const [what, body, type, status, code] of cases) {
      const res = await upload(s.id, s.editorToken, body, type);
      assert.equal(res.status, status, what);
      const err = await errorOf(res);
      assert.equal(err.code, code, what);
      assert.ok(err.message.length > 10, what);
    }
    const wrong = await upload(s.id, s.editorToken.slice(0, -2) + 'xx', jpeg, 'image/jpeg');
    assert.equal(wrong.status, 401);
    assert.equal((await errorOf(wrong)).code, ErrorCode.Unauthorized);
    assert.equal((await fetch(server.url + api.health)).status, 200);
  });

  test('R3: a body declared larger than MAX_UPLOAD_BYTES is refused from its Content-Length, before it is sent', async () => {
    const s = await createSession(server.url);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(new URL(server.url + api.images(s.id)), {
        method: 'POST',
        headers: { 'Content-Type': 'image/png', 'Content-Length': String(1024 ** 3), Authorization: `Bearer ${s.editorToken}` },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          resolve({ status: res.statusCode!, body: text });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1000));
    });
    assert.equal(status, 413);
    assert.equal((JSON.parse(body) as ErrorResponse).error.code, ErrorCode.PayloadTooLarge);
  });

  test('R3: NaN, ±Infinity, negative, huge and mistyped values written into the document are refused per field', async () => {
    const s = await createSession(server.url);
    const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'hostile' });
    const b = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'bystander' });
    clients.push(a, b);
    const session = server.sessions.loadedSession(s.id)!;
    const before = structuredClone(session.validator.state());
    const params = a.doc.getMap('params');
    const cases: [string, () => void][] = [
      ['params.styleWeight', () => params.set('styleWeight', Number.NaN)],
      ['params.contentWeight', () => params.set('contentWeight', Number.POSITIVE_INFINITY)],
      ['params.tvWeight', () => params.set('tvWeight', Number.NEGATIVE_INFINITY)],
      ['params.learningRate', () => params.set('learningRate', -5)],
      ['params.resolution', () => params.set('resolution', 1e12)],
      ['params.seed', () => params.set('seed', 'seven')],
      ['params.optimizer', () => params.set('optimizer', { evil: true })],
      ['content.width', () => a.doc.getMap('content').set('width', 1e9)],
      ['content.height', () => a.doc.getMap('content').set('height', -3)],
      ['content.background', () => a.doc.getMap('content').set('background', 'url(http://x)')],
      ['styles[0].weight', () => (a.doc.getArray('styles').get(0) as Y.Map<unknown>).set('weight', -1)],
      ['strokes[0].points', () => addStroke(a.doc, 'nan-stroke', [1, 2, Number.NaN, 4])],
      ['strokes[1].points', () => addStroke(a.doc, 'huge-stroke', Array.from({ length: 20_002 }, (_, i) => i % 100))],
      ['strokes[2].points', () => addStroke(a.doc, 'odd-stroke', [1, 2, 3])],
    ];
    for (const [path, write] of cases) {
      const seen = a.errors.length;
      write();
      await waitFor(() => a.errors.length > seen, 5000, `an error for ${path}`);
      const err = a.errors.at(-1)!;
      assert.equal(err.code, ErrorCode.InvalidValue, path);
      assert.ok(err.path === path || err.path?.startsWith(path + '['), `${err.path} for ${path}`);
    }
    const after = session.validator.state();
    assert.deepEqual(after.params, before.params, 'the engine keeps every last valid value');
    assert.deepEqual(after.content, before.content);
    assert.deepEqual(after.styles, before.styles);
    assert.deepEqual(after.strokes, [], 'never-valid strokes are left out');
    assert.deepEqual(b.errors, [], 'only the writer is told');
  });
});

