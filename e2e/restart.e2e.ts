/**
 * e2e scenario X8 (e2e/SPEC.md): the server process is killed with SIGKILL and started again on
 * the same port and DATA_DIR; both editor pages show "reconnecting", then "connected", and end
 * with the same document as the server, edits included; editing works again afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse } from '../shared/protocol.ts';
import { startStack, type Stack } from './harness/stack.ts';
import { drawStroke, line, openSynced, waitInPage } from './harness/page.ts';
import { readServerDoc, waitForServerDoc } from './harness/server-doc.ts';
import { pageDocJson, recordConnectionStates } from './harness/doc-json.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('server crash and restart with browsers attached', { timeout: 240_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;
  let ana: Page;
  let bo: Page;

  before(async () => {
    stack = await startStack('restart');
    s = await stack.createSession();
    ana = await stack.newPage('Ana');
    bo = await stack.newPage('Bo');
    for (const p of [ana, bo]) await openSynced(p, `${stack.url}/s/${s.id}?token=${s.editorToken}`);
  });
  after(async () => {
    await stack?.close();
  });

  test('X8: after kill -9 and a restart on the same port and data the clients reconnect with the state intact', async () => {
    await ana.locator('input[aria-label="Brush color"]').fill('#ff00ff');
    await drawStroke(ana, line(0.4));
    await bo.evaluate(() => (window as any).atelier.sdoc.setParam('tvWeight', 42));
    const before = await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the edits on the server', (d) => d.strokes.length === 1 && d.params.tvWeight === 42);
    for (const p of [ana, bo]) await recordConnectionStates(p);

    await stack.killServer();
    for (const p of [ana, bo]) await waitInPage(p, 'the badge to say reconnecting', () => document.querySelector('.conn')?.getAttribute('data-state') === 'reconnecting');
    // C91: the engine state no longer claims what the server last said.
    for (const p of [ana, bo]) {
      assert.equal(await p.locator('.engine-state').getAttribute('data-state'), 'disconnected');
      assert.match((await p.locator('.transport .stat').nth(1).textContent()) ?? '', /^— steps\/s$/);
    }
    await stack.shot(ana, 'x8-reconnecting', { doc: true });

    await stack.restartServer();
    for (const p of [ana, bo]) {
      await waitInPage(p, 'the badge to say connected again', () => document.querySelector('.conn')?.getAttribute('data-state') === 'connected', undefined, 40_000);
      await waitInPage(p, 'the resync', () => (window as any).atelier.conn.provider.synced && (window as any).atelier.conn.role === 'editor');
      const states = await p.evaluate(() => (window as any).__e2eStates as string[]);
      assert.deepEqual(states, ['connected', 'reconnecting', 'connected']);
      await waitInPage(p, 'a fresh engine state from the server', () => document.querySelector('.engine-state')?.getAttribute('data-state') !== 'disconnected');
    }
    const server = await readServerDoc(stack.url, s.id, s.viewerToken);
    assert.deepEqual(server, before, 'the server reloaded the same document');
    assert.deepEqual(await pageDocJson(ana), server);
    assert.deepEqual(await pageDocJson(bo), server);

    // Editing works again, in both directions.
    await drawStroke(bo, line(0.6));
    await waitInPage(ana, "Bo's new stroke at Ana", () => (window as any).atelier.sdoc.getStrokes().length === 2);
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the new stroke on the server', (d) => d.strokes.length === 2);
    await stack.shot(ana, 'x8-reconnected', { doc: true });
    assert.deepEqual(stack.pageErrors, []);
  });
});
