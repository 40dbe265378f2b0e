import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { DEFAULT_PARAMS, type RegionStroke } from '../../shared/schema.ts';
import { ErrorCode, api, type ErrorPayload, type PresetsResponse } from '../../shared/protocol.ts';
import { appendRegionStrokePoints, createRegionStroke, regionStrokePoints } from '../../shared/region-strokes.ts';
import { DocValidator, seedDocument, type TransactionResult } from './doc-state.ts';
import { RegionMaskBuilder } from './region-masks.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestClient, type TestServer } from '../testing/index.ts';
import { RecordingEngineHost } from '../testing/recording-engine-host.ts';

const IMG = 'a'.repeat(64);
const IMG2 = 'b'.repeat(64);
const content = { background: '#ffffff', width: 100, height: 80 };

function setup() {
  const doc = new Y.Doc();
  const v = new DocValidator(doc, (id) => id === IMG || id === IMG2);
  const log: (TransactionResult & { origin: unknown })[] = [];
  doc.on('afterTransaction', (tr: Y.Transaction) => log.push({ origin: tr.origin, ...v.onTransaction(tr) }));
  seedDocument(doc, { params: DEFAULT_PARAMS, styles: [{ imageId: IMG, weight: 1, scale: 1 }], content });
  return { doc, v, log, regions: doc.getArray<unknown>('regions') };
}

const region = (over: Partial<RegionStroke> = {}): RegionStroke => ({ id: 'r1', author: 'Ana', tool: 'brush', style: IMG2, size: 20, points: [10, 10, 40, 10], ...over });

describe('region strokes in the document (S34)', () => {
  test('S34: region strokes are validated field by field; a bad edit keeps the last valid version and names its path', () => {
    const { doc, v, log, regions } = setup();
    const m = createRegionStroke(region());
    doc.transact(() => regions.push([m]), 'ana');
    assert.deepEqual(log.at(-1)!.errors, []);
    assert.equal(log.at(-1)!.changes.regions, true);
    assert.equal(log.at(-1)!.changes.canvas, false, 'a region stroke is not content');
    assert.deepEqual(v.state().regions.map((r) => r.points), [[10, 10, 40, 10]]);
    doc.transact(() => appendRegionStrokePoints(m, [60, 20]), 'ana');
    assert.equal(v.state().regions[0].points.length, 6, 'a growing stroke');
    for (const [key, bad, path] of [
      ['size', -3, 'regions[0].size'],
      ['tool', 'spray', 'regions[0].tool'],
      ['style', 'nothex', 'regions[0].style'],
      ['points', [1, 2, NaN, 4], 'regions[0].points[2]'],
      ['points', [1, 2, 3], 'regions[0].points'],
    ] as const) {
      // points: a copy of the numbers (the append-only Y.Array, once replaced, cannot be set back)
      const good = key === 'points' ? regionStrokePoints(m) : m.get(key);
      doc.transact(() => m.set(key, bad), 'bo');
      const last = log.at(-1)!;
      assert.equal(last.origin, 'bo');
      assert.equal(last.errors[0]?.code, ErrorCode.InvalidValue, `${key}=${JSON.stringify(bad)}`);
      assert.equal(last.errors[0].path, path);
      assert.equal(v.state().regions[0].points.length, 6, 'the engine keeps the last valid version');
      assert.equal(v.state().regions[0].size, 20);
      doc.transact(() => m.set(key, good), 'bo');
      assert.deepEqual(log.at(-1)!.errors, []);
    }
  });

  test('S34: a style brush needs a stored style image; an eraser needs none; a never-valid stroke is left out; unknown fields are dropped', () => {
    const { doc, v, log, regions } = setup();
    doc.transact(() => regions.push([createRegionStroke(region({ style: undefined }))]), 'ana');
    assert.equal(log.at(-1)!.errors[0].path, 'regions[0].style');
    assert.match(log.at(-1)!.errors[0].message, /needs the style/);
    doc.transact(() => regions.push([createRegionStroke(region({ id: 'r2', style: 'c'.repeat(64) }))]), 'ana');
    assert.equal(log.at(-1)!.errors[0].path, 'regions[1].style');
    assert.match(log.at(-1)!.errors[0].message, /no image c+ is stored/);
    doc.transact(() => regions.push([createRegionStroke(region({ id: 'r3', tool: 'eraser', style: undefined }))]), 'ana');
    assert.deepEqual(log.at(-1)!.errors, []);
    assert.deepEqual(v.state().regions.map((r) => r.id), ['r3']);
    const withExtra = createRegionStroke(region({ id: 'r4' }));
    withExtra.set('colour', '#ff0000');
    doc.transact(() => regions.push([withExtra]), 'ana');
    assert.deepEqual(log.at(-1)!.unknown.map(([, key]) => key), ['colour']);
  });

  test('S34: at most MAX_REGION_STYLES styles are painted at once; the strokes of a ninth are left out and reported', () => {
    const doc = new Y.Doc();
    const ids = Array.from({ length: 9 }, (_, i) => String(i).repeat(64));
    const v = new DocValidator(doc, (id) => ids.includes(id));
    const errors: ErrorPayload[] = [];
    doc.on('afterTransaction', (tr: Y.Transaction) => errors.push(...v.onTransaction(tr).errors));
    seedDocument(doc, { params: DEFAULT_PARAMS, styles: [], content });
    doc.transact(() => doc.getArray('regions').push(ids.map((style, i) => createRegionStroke(region({ id: `s${i}`, style })))), 'ana');
    assert.equal(v.state().regions.length, 8);
    assert.equal(errors.at(-1)?.path, 'regions[8].style');
  });
});

describe('region masks (S34)', () => {
  test('S34: later strokes cover earlier ones like paint, an eraser gives the area back, masks never add up past 255', async () => {
    const b = new RegionMaskBuilder();
    const strokes = [
      region({ id: 'a', style: IMG, size: 30, points: [0, 40, 100, 40] }), // a band across
      region({ id: 'b', style: IMG2, size: 20, points: [50, 0, 50, 80] }), // a column over it
      region({ id: 'e', tool: 'eraser', style: undefined, size: 10, points: [10, 40, 12, 40] }), // a hole in the band
    ];
    const built = (await b.build(content, strokes))!;
    assert.deepEqual(built.map((r) => r.style), [IMG, IMG2]);
    const [a, c] = built.map((r) => r.mask);
    assert.deepEqual([a.width, a.height], [100, 80]);
    const at = (m: typeof a, x: number, y: number) => m.data[y * m.width + x];
    assert.equal(at(a, 80, 40), 255, 'the band');
    assert.equal(at(a, 80, 10), 0);
    assert.equal(at(c, 50, 40), 255, 'the column covers the band');
    assert.equal(at(a, 50, 40), 0, 'and takes its area');
    assert.equal(at(c, 50, 5), 255);
    assert.equal(at(a, 11, 40), 0, 'erased');
    for (let i = 0; i < a.data.length; i++) assert.ok(a.data[i] + c.data[i] <= 256, `pixel ${i}: ${a.data[i]} + ${c.data[i]}`);
    // erase all of the column: its style is no longer painted
    const erased = (await b.build(content, [...strokes, region({ id: 'x', tool: 'eraser', style: undefined, size: 40, points: [50, -10, 50, 90] })]))!;
    assert.deepEqual(erased.map((r) => r.style), [IMG]);
  });

  test('S34, S25: masks are made at the working size; four styles use two canvases', async () => {
    const b = new RegionMaskBuilder();
    const ids = ['1', '2', '3', '4'].map((d) => d.repeat(64));
    const built = (await b.build({ ...content, width: 400, height: 320 }, ids.map((style, i) => region({ id: `s${i}`, style, points: [40 + 100 * i, 100, 40 + 100 * i, 200] })), 100))!;
    assert.deepEqual(built.map((r) => r.style), ids);
    for (const r of built) assert.deepEqual([r.mask.width, r.mask.height], [100, 80]);
    assert.equal(built[3].mask.data[40 * 100 + 85], 255);
  });
});

describe('region strokes reach the engine (S34)', () => {
  let server: TestServer | null = null;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    server = null;
  });

  test('S34: a region stroke reaches the engine as a mask with its decoded style, never as content', async () => {
    const host = new RecordingEngineHost();
    server = await startTestServer({ idlePauseMs: 5000 }, { engineHost: host });
    const s = await createSession(server.url);
    const c = await connectClient({ url: server.url, session: s.id, token: s.editorToken });
    clients.push(c);
    await waitFor(() => host.opens.length === 1, 10_000, 'the engine');
    const presets = (await (await fetch(server.url + api.presets)).json()) as PresetsResponse;
    const scream = presets.images.find((p) => /scream/i.test(p.name))!;
    const contentUpdates = () => host.updates.filter((u) => u.content).length;
    await new Promise((r) => setTimeout(r, 300));
    const before = contentUpdates();
    // chelsea is 451x300: the left half of the photo, painted with a 150 px brush
    c.doc.transact(() => c.doc.getArray('regions').push([createRegionStroke(region({ style: scream.imageId, size: 150, points: [60, 0, 60, 300, 150, 300, 150, 0] }))]));
    const got = await waitFor(() => host.updates.find((u) => u.regions?.length), 10_000, 'regions at the engine');
    const [r] = got!.regions!;
    assert.deepEqual([r.mask.width, r.mask.height], [256, 170], 'the working size');
    assert.equal(r.mask.data[85 * 256 + 40], 255, 'painted on the left');
    assert.equal(r.mask.data[85 * 256 + 220], 0, 'not on the right');
    assert.ok(r.image.width > 0 && r.image.data.length === r.image.width * r.image.height * 3, 'the style decoded');
    assert.equal(r.scale, 1);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(contentUpdates(), before, 'the content was not repainted');
    // erased: the engine gets no region
    c.doc.transact(() => c.doc.getArray('regions').push([createRegionStroke(region({ id: 'e', tool: 'eraser', style: undefined, size: 400, points: [0, 150, 451, 150] }))]));
    await waitFor(() => host.updates.at(-1)?.regions?.length === 0, 10_000, 'no regions after erasing');
    // a bad value from the client: the writer is told, the engine keeps the last valid regions
    const n = host.updates.length;
    c.doc.transact(() => c.doc.getArray('regions').push([createRegionStroke(region({ id: 'bad', style: 'f'.repeat(64) }))]));
    await waitFor(() => c.errors.some((e) => e.path === 'regions[2].style' && e.code === ErrorCode.InvalidValue), 5000, 'INVALID_VALUE');
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(host.updates.slice(n).every((u) => !u.regions), 'nothing new reached the engine');
  });
});
