/**
 * The document a page holds, as plain JSON, for comparing pages with each other and with the
 * server (see server-doc.ts).
 */
import type { Page } from 'playwright-core';
import type { ServerDocSnapshot } from './server-doc.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** `window.atelier.conn.doc` of an editor or projector page, top-level types as JSON. */
export function pageDocJson(page: Page): Promise<ServerDocSnapshot> {
  return page.evaluate(() => {
    const d = (window as any).atelier.conn.doc;
    return {
      params: d.getMap('params').toJSON(),
      styles: d.getArray('styles').toJSON(),
      strokes: d.getArray('strokes').toJSON(),
      regions: d.getArray('regions').toJSON(),
      content: d.getMap('content').toJSON(),
    };
  });
}

/** Records every connection state the page goes through into `window.__e2eStates`. */
export async function recordConnectionStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    w.__e2eStates = [w.atelier.conn.state];
    w.atelier.conn.stateChanged.on((s: string) => w.__e2eStates.push(s));
  });
}
