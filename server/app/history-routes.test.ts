import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import * as Y from 'yjs';
import { createRegionStroke } from '../../shared/region-strokes.ts';
import {
  api,
  type CreateSessionResponse,
  type ExportAccepted,
  type ExportStatus,
  type HistoryResponse,
  type HistoryStateResponse,
} from '../../shared/protocol.ts';
import { connectClient, createSession, startTestServer, waitFor, type TestServer } from '../testing/index.ts';
import { canonicalJson } from '../history/timeline.ts';

function addStroke(doc: Y.Doc, id: string, author: string, points: number[]): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  doc.transact(() => {
    for (const [k, v] of Object.entries({ id, author, tool: 'brush', color: '#00ff00', size: 12, opacity: 0.8, points })) m.set(k, v);
    doc.getArray('strokes').push([m]);
  });
  return m;
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function getJson<T>(url: string, token?: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { headers: token ? auth(token) : {} });
  return { status: res.status, body: (await res.json()) as T };
}

async function postJson<T>(url: string, token: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { method: 'POST', headers: { ...auth(token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * A recorded session: two editors (ana, bo) change a param, draw and grow a stroke, with pauses
 * so keyframes fall between edits. Returns the times between the edits.
 */
async function record(server: TestServer): Promise<{ s: CreateSessionResponse; marks: number[] }> {
  const s = await createSession(server.url);
  const a = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'ana' });
  const b = await connectClient({ url: server.url, session: s.id, token: s.editorToken, name: 'bo' });
  const marks: number[] = [];
  const pause = async () => {
    const kfs = async () => (await server.storage.loadUpdates(s.id)).length && historyKeyframes(server, s.id);
    const n = await kfs();
    await waitFor(async () => (await kfs()) > n, 5000, 'a new keyframe');
    marks.push(Date.now());
    await new Promise((r) => setTimeout(r, 5));
  };
  await pause();
  a.doc.getMap('params').set('styleWeight', 7);
  await pause();
  const stroke = addStroke(b.doc, 'bo-1', 'bo', [10, 10, 60, 40]);
  // S34: a style brush stroke is history too (in the state at t, in forks)
  const style = String((a.doc.getArray('styles').get(0) as Y.Map<unknown>).get('imageId'));
  a.doc.transact(() => a.doc.getArray('regions').push([createRegionStroke({ id: 'ana-r1', author: 'ana', tool: 'brush', style, size: 80, points: [50, 150, 200, 150] })]));
  await waitFor(() => a.doc.getArray('strokes').length === 1);
  await pause();
  b.doc.transact(() => stroke.set('points', [10, 10, 60, 40, 120, 90]));
  a.doc.getMap('params').set('styleWeight', -5); // invalid: the last valid value (7) stays
  await pause();
  a.close();
  b.close();
  return { s, marks };
}

async function historyKeyframes(server: TestServer, id: string): Promise<number> {
  return (await server.storage.listKeyframes(id)).length;
}

describe('history REST', () => {
  test('H1, H3: history lists described edits with authors, keyframes and losses; state at t; replay works after a restart on the same DATA_DIR', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'atelier-history-'));
    try {
      let server = await startTestServer({ dataDir, keyframeIntervalMs: 120 });
      let recorded;
      let before: HistoryResponse;
      const states: string[] = [];
      try {
        recorded = await record(server);
        const { s, marks } = recorded;
        const h = await getJson<HistoryResponse>(server.url + api.history(s.id), s.viewerToken);
        assert.equal(h.status, 200);
        before = h.body;
        const edits = h.body.edits;
        assert.equal(edits[0].author, 'server', 'the seed comes first');
        const sw = edits.slice(1).filter((e) => e.changes.some((c) => c.kind === 'param' && c.key === 'styleWeight'));
        assert.deepEqual(sw.map((e) => e.changes.find((c) => c.kind === 'param' && c.key === 'styleWeight')), [
          { kind: 'param', key: 'styleWeight', from: 1, to: 7 },
          { kind: 'param', key: 'styleWeight', from: 7, to: -5 },
        ]);
        assert.match(sw[0].author, /^ana#/);
        assert.ok(edits.some((e) => /^bo#/.test(e.author) && e.changes.some((c) => c.kind === 'stroke-added' && c.id === 'bo-1' && c.author === 'bo')));
        assert.ok(edits.some((e) => e.changes.some((c) => c.kind === 'stroke-updated' && c.id === 'bo-1' && c.points === 3)));
        assert.ok(edits.some((e) => /^ana#/.test(e.author) && e.changes.some((c) => c.kind === 'region-added' && c.id === 'ana-r1' && c.tool === 'brush' && c.style)));
        assert.ok(h.body.keyframes.length >= 4, `keyframes: ${h.body.keyframes.length}`);
        assert.ok(h.body.losses.length >= h.body.keyframes.length);
        assert.ok(h.body.start <= edits[0].time && h.body.end >= edits.at(-1)!.time);

        const img = await fetch(server.url + h.body.keyframes[0].url + `?token=${s.viewerToken}`);
        assert.equal(img.status, 200);
        assert.equal(img.headers.get('content-type'), 'image/jpeg');
        assert.equal((await sharp(Buffer.from(await img.arrayBuffer())).metadata()).format, 'jpeg');

        for (const t of marks) {
          const st = await getJson<HistoryStateResponse>(server.url + api.historyState(s.id, t), s.editorToken);
          assert.equal(st.status, 200);
          assert.ok(st.body.keyframe && st.body.keyframe.time <= t);
          states.push(canonicalJson(st.body));
        }
        const parsed = states.map((x) => JSON.parse(x) as HistoryStateResponse);
        assert.equal(parsed[0].state.params.styleWeight, 1);
        assert.equal(parsed[1].state.params.styleWeight, 7);
        assert.equal(parsed[2].state.strokes[0].points.length, 4, 'the stroke as it was then');
        assert.equal(parsed[1].state.regions.length, 0);
        assert.deepEqual(parsed[2].state.regions.map((r) => [r.id, r.points.length]), [['ana-r1', 4]], 'the region stroke in the state at t');
        assert.equal(parsed[3].state.strokes[0].points.length, 6);
        assert.equal(parsed[3].state.params.styleWeight, 7, 'an invalid value never enters the state');
        assert.ok(parsed[3].state.content.imageId, 'the seeded content photo is part of the state');

        assert.equal((await getJson(server.url + api.history(s.id))).status, 401);
        assert.equal((await getJson(server.url + api.history(s.id), 'wrong')).status, 401);
        assert.equal((await getJson(server.url + api.history('nosuchsession'), s.editorToken)).status, 404);
        assert.equal((await getJson(server.url + `/api/sessions/${s.id}/history/state?t=soon`, s.editorToken)).status, 400);
        assert.equal((await fetch(server.url + api.keyframe(s.id, 999999) + `?token=${s.viewerToken}`)).status, 404);
      } finally {
        await server.close();
      }

      server = await startTestServer({ dataDir, keyframeIntervalMs: 120 });
      try {
        const { s, marks } = recorded;
        const h = await getJson<HistoryResponse>(server.url + api.history(s.id), s.viewerToken);
        assert.deepEqual(h.body.edits, before.edits, 'the same timeline after a restart');
        // The engine kept running (idle grace period) and stored more on close: the old ones are a prefix.
        assert.deepEqual(h.body.keyframes.slice(0, before.keyframes.length), before.keyframes);
        for (const [i, t] of marks.entries()) {
          const st = await getJson<HistoryStateResponse>(server.url + api.historyState(s.id, t), s.viewerToken);
          assert.equal(canonicalJson(st.body), states[i], `state at mark ${i} after the restart`);
        }
        assert.equal(server.sessions.loaded().length, 0, 'reading history loads no live session');
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('H4: fork (editor token) starts a live session from exactly the state and keyframe at t', async () => {
    const server = await startTestServer({ keyframeIntervalMs: 120 });
    try {
      const { s, marks } = await record(server);
      const t = marks[2];
      const at = (await getJson<HistoryStateResponse>(server.url + api.historyState(s.id, t), s.editorToken)).body;
      assert.equal((await postJson(server.url + api.fork(s.id), s.viewerToken, { t })).status, 403, 'viewers cannot fork');
      assert.equal((await postJson(server.url + api.fork(s.id), s.editorToken, { t: 'x' })).status, 400);
      const res = await postJson<CreateSessionResponse>(server.url + api.fork(s.id), s.editorToken, { t });
      assert.equal(res.status, 201);
      const fork = res.body;
      assert.notEqual(fork.id, s.id);
      assert.match(fork.editorUrl, new RegExp(`/s/${fork.id}\\?token=`));
      const live = (await server.sessions.get(fork.id))!;
      assert.equal(canonicalJson(live.validator.state()), canonicalJson(at.state), 'the fork document equals the state at t');
      assert.equal(live.validator.state().regions.length, 1, 'with its region stroke');
      const kf = (await server.storage.latestKeyframe(fork.id))!;
      const source = await fetch(server.url + at.keyframe!.url + `?token=${s.viewerToken}`);
      assert.equal(kf.iter, at.keyframe!.iter);
      assert.deepEqual(kf.data, Buffer.from(await source.arrayBuffer()), 'the fork resumes from that keyframe image');
      const c = await connectClient({ url: server.url, session: fork.id, token: fork.editorToken, name: 'cy' });
      await waitFor(() => c.frames.length > 0, 5000, 'a frame of the fork');
      assert.ok(c.frames[0].iter >= kf.iter, `iterations continue from the keyframe (${c.frames[0].iter} >= ${kf.iter})`);
      assert.equal(canonicalJson(live.validator.state()), canonicalJson(at.state));
      const fh = await getJson<HistoryResponse>(server.url + api.history(fork.id), fork.viewerToken);
      assert.ok(fh.body.edits.some((e) => e.author === `fork:${s.id}@${t}`), 'the fork transaction is attributed');
      c.close();
    } finally {
      await server.close();
    }
  });

  test('H5: export: animated WebP and GIF timelapses (pages > 1), PNG final image, clear 4xx for bad requests', async () => {
    const server = await startTestServer({ keyframeIntervalMs: 100 });
    try {
      const s = await createSession(server.url);
      const c = await connectClient({ url: server.url, session: s.id, token: s.viewerToken, name: 'v' });
      await waitFor(async () => (await historyKeyframes(server, s.id)) >= 3, 5000, 'three keyframes');
      c.close();
      const run = async (body: object) => {
        const res = await postJson<ExportAccepted>(server.url + api.exportTimelapse(s.id), s.viewerToken, body);
        assert.equal(res.status, 202);
        const st: ExportStatus = await waitFor(async (): Promise<ExportStatus | null> => {
          const r = await getJson<ExportStatus>(server.url + res.body.statusUrl);
          return r.body.state === 'done' || r.body.state === 'error' ? r.body : null;
        }, 10_000, 'the export') as ExportStatus;
        assert.equal(st.state, 'done', st.message);
        assert.equal(st.progress, 1);
        const file = await fetch(server.url + st.url!);
        assert.equal(file.status, 200);
        return { st, bytes: Buffer.from(await file.arrayBuffer()), type: file.headers.get('content-type') };
      };
      const webp = await run({ format: 'webp', fps: 12, size: 96 });
      const wm = await sharp(webp.bytes, { animated: true }).metadata();
      assert.equal(wm.format, 'webp');
      assert.ok((wm.pages ?? 1) > 1, `webp pages ${wm.pages}`);
      assert.equal(Math.max(wm.width!, wm.pageHeight!), 96);
      assert.equal(webp.type, 'image/webp');
      const gif = await run({ format: 'gif', size: 64 });
      const gm = await sharp(gif.bytes, { animated: true }).metadata();
      assert.equal(gm.format, 'gif');
      assert.ok((gm.pages ?? 1) > 1, `gif pages ${gm.pages}`);
      const png = await run({ format: 'png', size: 64 });
      const pm = await sharp(png.bytes).metadata();
      assert.equal(pm.format, 'png');
      assert.equal(Math.max(pm.width!, pm.height!), 64);

      const bad = await postJson<{ error: { code: string; message: string } }>(server.url + api.exportTimelapse(s.id), s.viewerToken, { format: 'avi' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /format must be one of/);
      assert.equal((await postJson(server.url + api.exportTimelapse(s.id), s.viewerToken, { format: 'gif', fps: 0 })).status, 400);
      const mp4 = await postJson<{ error: { message: string } }>(server.url + api.exportTimelapse(s.id), s.viewerToken, { format: 'mp4' });
      if (mp4.status !== 202) {
        assert.equal(mp4.status, 422);
        assert.match(mp4.body.error.message, /ffmpeg/);
      }
      assert.equal((await getJson(server.url + api.exportJob('nope'))).status, 404);
    } finally {
      await server.close();
    }
  });
});
