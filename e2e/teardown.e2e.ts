/**
 * e2e scenario X25 (e2e/SPEC.md): the editor page mounts, unmounts and mounts again without
 * leaking. An init script counts, from before the page's first script, the listeners on `window`
 * and `document` (removed ones, and those removed through an AbortSignal, subtracted), the
 * intervals and the open WebSockets; the server's `atelier_clients` gauge counts its sockets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse } from '../shared/protocol.ts';
import { startStack, type Stack } from './harness/stack.ts';
import { openSynced, waitInPage } from './harness/page.ts';
import { waitForServerDoc } from './harness/server-doc.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Census {
  /** "window:keydown" → how many listeners of that type are registered now. */
  listeners: Record<string, number>;
  intervals: number;
  sockets: number;
  canvases: number;
}

/**
 * Installed before any page script: keeps the live listeners, intervals and WebSockets. Plain
 * JavaScript in a string: a function passed from here would be serialised after tsx's transform,
 * which adds helpers (`__name`) that do not exist in the page.
 */
const CENSUS_SCRIPT = `(() => {
  const live = new Map();
  const keyOf = (target) => (target === window ? 'window' : 'document');
  const capture = (o) => (typeof o === 'boolean' ? o : !!(o && o.capture));
  for (const target of [window, document]) {
    const add = target.addEventListener.bind(target);
    const remove = target.removeEventListener.bind(target);
    target.addEventListener = (type, fn, opts) => {
      add(type, fn, opts);
      // once: gone after it fires (not counted); an aborted signal: never added
      if (!fn || (typeof opts === 'object' && opts && (opts.once || (opts.signal && opts.signal.aborted)))) return;
      const k = keyOf(target) + ':' + type + (capture(opts) ? ' (capture)' : '');
      let set = live.get(k);
      if (!set) live.set(k, (set = new Set()));
      set.add(fn);
      if (typeof opts === 'object' && opts && opts.signal) opts.signal.addEventListener('abort', () => set.delete(fn), { once: true });
    };
    target.removeEventListener = (type, fn, opts) => {
      remove(type, fn, opts);
      const set = live.get(keyOf(target) + ':' + type + (capture(opts) ? ' (capture)' : ''));
      if (set) set.delete(fn);
    };
  }
  const intervals = new Set();
  const setI = window.setInterval.bind(window);
  const clearI = window.clearInterval.bind(window);
  window.setInterval = (...a) => { const id = setI(...a); intervals.add(id); return id; };
  window.clearInterval = (id) => { intervals.delete(id); clearI(id); };
  const sockets = new Set();
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...a) {
      super(...a);
      sockets.add(this);
      this.addEventListener('close', () => sockets.delete(this));
    }
  };
  window.__census = () => {
    const listeners = {};
    for (const [k, set] of live) if (set.size) listeners[k] = set.size;
    return {
      listeners,
      intervals: intervals.size,
      sockets: [...sockets].filter((s) => s.readyState === WS.OPEN || s.readyState === WS.CONNECTING).length,
      canvases: document.querySelectorAll('canvas').length,
    };
  };
})();`;

describe('editor teardown in a real browser', { timeout: 180_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;
  let page: Page;

  before(async () => {
    stack = await startStack('teardown');
    s = await stack.createSession();
  });
  after(async () => {
    await stack?.close();
  });

  /** The server's connected sockets (all sessions), from /metrics. */
  const serverClients = async (): Promise<number> => {
    const text = await (await fetch(`${stack.url}/metrics`)).text();
    const m = /^atelier_clients(?:\{[^}]*\})? (\d+)/m.exec(text);
    assert.ok(m, 'atelier_clients in /metrics');
    return Number(m[1]);
  };
  const waitForServerClients = async (n: number) => {
    for (let i = 0; i < 200 && (await serverClients()) !== n; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await serverClients(), n, `the server counts ${n} sockets`);
  };
  const census = () => page.evaluate(() => (window as any).__census() as Census);
  const unmount = () => page.evaluate(() => (window as any).atelierApp.unmount());
  const mountAgain = async () => {
    await page.evaluate(() => void (window as any).atelierApp.mount());
    await waitInPage(page, 'the editor to sync again', () => {
      const a = (window as any).atelier;
      return a?.conn.provider.synced && a.conn.role === 'editor';
    });
  };

  test('X25: mount, unmount, mount again: no listener, interval, socket or canvas is left behind', async () => {
    page = await stack.newPage('Ana');
    await page.addInitScript({ content: CENSUS_SCRIPT });
    await openSynced(page, `${stack.url}/s/${s.id}?token=${s.editorToken}`);
    await waitForServerClients(1);
    const mounted1 = await census();
    assert.equal(mounted1.sockets, 1, JSON.stringify(mounted1));
    assert.ok(mounted1.canvases >= 2, 'the content canvas and the output view');
    assert.ok(mounted1.listeners['window:keydown'] >= 1, JSON.stringify(mounted1.listeners));

    await unmount();
    await waitForServerClients(0);
    const unmounted1 = await census();
    assert.equal(unmounted1.sockets, 0, 'the socket is closed');
    assert.equal(unmounted1.canvases, 0, 'the Pixi canvases are gone');
    assert.equal(await page.evaluate(() => (window as any).atelier), undefined, 'the test hook is removed');
    const seen = `mounted ${JSON.stringify(mounted1.listeners)}, unmounted ${JSON.stringify(unmounted1.listeners)}`;
    // The page's own window listeners go; libraries' module-level ones (engine.io's unload and
    // offline handlers, Pixi's event system) stay once per page, not once per mount (below).
    for (const type of ['window:keydown', 'window:online']) assert.equal(unmounted1.listeners[type], undefined, `${type} is removed: ${seen}`);
    for (const type of ['window:pagehide', 'window:offline', 'window:resize']) assert.ok((unmounted1.listeners[type] ?? 0) < mounted1.listeners[type], `${type}: ${seen}`);
    assert.ok(unmounted1.intervals < mounted1.intervals, `the editor's intervals are cleared (${mounted1.intervals} → ${unmounted1.intervals})`);

    await mountAgain();
    await waitForServerClients(1);
    const mounted2 = await census();
    assert.deepEqual(mounted2, mounted1, 'a second mount holds exactly what the first did');
    // The remounted editor works: an edit reaches the server's document through the new socket.
    await page.evaluate(() => (window as any).atelier.sdoc.setParam('seed', 4242));
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the seed from the remounted editor', (d) => d.params.seed === 4242);

    await unmount();
    await waitForServerClients(0);
    assert.deepEqual(await census(), unmounted1, 'a second unmount leaves what the first did');
    assert.deepEqual(stack.pageErrors, []);
  });
});
