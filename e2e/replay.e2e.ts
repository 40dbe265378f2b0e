/**
 * e2e scenarios X9–X10 (e2e/SPEC.md): a session edited in the browser is replayed — scrubbing
 * the timeline shows an earlier state — and exported as a downloaded file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse, HistoryStateResponse } from '../shared/protocol.ts';
import { startStack, type Stack } from './harness/stack.ts';
import { drawStroke, line, meanPixelDiff, openSynced, waitInPage } from './harness/page.ts';
import { waitForServerDoc } from './harness/server-doc.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
type ReplayDebug = { ready: boolean; t: number; shownSeq: number; keyframeId: number | null; edits: number };
const replayState = (p: Page) => p.evaluate(() => (window as any).atelierReplay as ReplayDebug);

describe('replay and export in a real browser', { timeout: 240_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;
  let replay: Page;

  before(async () => {
    stack = await startStack('replay', { KEYFRAME_INTERVAL_MS: '300' });
    s = await stack.createSession();
    const ana = await stack.newPage('Ana');
    await openSynced(ana, `${stack.url}/s/${s.id}?token=${s.editorToken}`);
    await ana.locator('input[aria-label="Brush color"]').fill('#ff00ff');
    await ana.locator('input[aria-label="Brush size"]').fill('24');
    for (const [i, y] of [0.3, 0.5, 0.7].entries()) {
      await drawStroke(ana, line(y));
      await waitForServerDoc(stack.url, s.id, s.editorToken, `stroke ${i + 1} on the server`, (d) => d.strokes.length === i + 1);
      await ana.waitForTimeout(400); // spread the edits over time so the timeline has room between them (keyframes every 300 ms)
    }
    await ana.close();
  });
  after(async () => {
    await stack?.close();
  });

  test('X9: scrubbing the replay timeline back shows an earlier state of the canvas', async () => {
    replay = await stack.newPage('Replayer', { width: 1400, height: 860 });
    await replay.goto(`${stack.url}/s/${s.id}/replay?token=${s.editorToken}`);
    await waitInPage(replay, 'the replay page to show a state', () => {
      const d = (window as any).atelierReplay;
      return d?.ready && d.shownSeq > 0;
    });
    // Jump to the end first (the last edit in the who-did-what list), then scrub back.
    await replay.locator('.replay-activity li').last().click();
    await waitInPage(replay, 'the last state', () => (window as any).atelierReplay.shownSeq > 0);
    const endState = await replayState(replay);
    const endCanvas = await replay.locator('.replay-canvas').screenshot();
    const atEnd = (await (await fetch(`${stack.url}/api/sessions/${s.id}/history/state?t=${endState.t}`, { headers: { authorization: `Bearer ${s.editorToken}` } })).json()) as HistoryStateResponse;
    await stack.shot(replay, 'x9-replay-end');

    const box = (await replay.locator('.replay-track').boundingBox())!;
    await replay.mouse.click(box.x + box.width * 0.03, box.y + box.height / 2);
    await waitInPage(replay, 'an earlier state to be shown', (seq: number) => (window as any).atelierReplay.shownSeq < seq, endState.shownSeq);
    const early = await replayState(replay);
    assert.ok(early.t < endState.t, `time moved back (${early.t} < ${endState.t})`);
    const atEarly = (await (await fetch(`${stack.url}/api/sessions/${s.id}/history/state?t=${early.t}`, { headers: { authorization: `Bearer ${s.editorToken}` } })).json()) as HistoryStateResponse;
    assert.ok(atEarly.state.strokes.length < atEnd.state.strokes.length, `fewer strokes then (${atEarly.state.strokes.length} < ${atEnd.state.strokes.length})`);
    await replay.waitForTimeout(300);
    const earlyCanvas = await replay.locator('.replay-canvas').screenshot();
    assert.ok((await meanPixelDiff(endCanvas, earlyCanvas)) > 0.5, 'the replay canvas shows a different picture');
    await stack.shot(replay, 'x9-replay-scrubbed', { doc: true });
  });

  test('X10: export from the replay page downloads a file', async () => {
    await replay.locator('select[aria-label="Export format"]').selectOption('png');
    await replay.getByRole('button', { name: 'Export' }).click();
    const link = replay.locator('.replay-export-state a');
    await link.waitFor({ timeout: 60_000 });
    const [download] = await Promise.all([replay.waitForEvent('download'), link.click()]);
    const chunks: Buffer[] = [];
    for await (const c of await download.createReadStream()) chunks.push(c as Buffer);
    const file = Buffer.concat(chunks);
    assert.match(download.suggestedFilename(), /\.png$/);
    assert.equal(file.subarray(1, 4).toString(), 'PNG', 'the download is a PNG');
    assert.ok(file.length > 1000, `the PNG has content (${file.length} bytes)`);
    await stack.shot(replay, 'x10-export-done');
    assert.deepEqual(stack.pageErrors, []);
  });
});
