/**
 * e2e scenarios X13 and X17–X22 (e2e/SPEC.md): the smaller things people hit, each checked the
 * way a person meets it — the replay at phone width and with the keyboard, the view-only studio,
 * view-only links and the projector's join QR, a wrong link, number boxes, the join box, and who
 * undid a stroke. Fake engine.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CreateSessionResponse } from '../shared/protocol.ts';
import { PARAM_RANGES } from '../shared/param-ranges.ts';
import { startStack, VIEWPORTS, type Stack } from './harness/stack.ts';
import { drawStroke, line, openSynced, waitInPage } from './harness/page.ts';
import { readServerDoc, waitForServerDoc } from './harness/server-doc.ts';
import { boxError, boxWhere, containBox, decode, fmtBox, notColor, scaleBox } from './harness/pixels.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
describe('studio details in a real browser', { timeout: 300_000 }, () => {
  let stack: Stack;
  let s: CreateSessionResponse;
  let ana: Page;
  const editorUrl = () => `${stack.url}/s/${s.id}?token=${s.editorToken}`;

  before(async () => {
    stack = await startStack('details', { KEYFRAME_INTERVAL_MS: '300' });
    s = await stack.createSession();
    ana = await stack.newPage('Ana');
    await openSynced(ana, editorUrl());
  });
  after(async () => {
    await stack?.close();
  });

  /** A page closed after `fn`, also when it fails. */
  async function withPage<T>(name: string, fn: (p: Page) => Promise<T>, viewport?: { width: number; height: number }, device?: Parameters<Stack['newPage']>[2]): Promise<T> {
    const p = await stack.newPage(name, viewport, device);
    try {
      return await fn(p);
    } finally {
      await p.context().close();
    }
  }

  test('X22: another editor\'s undo reads "<name> removed a stroke" in the activity feed', async () => {
    await withPage('Bo', async (bo) => {
      await openSynced(bo, editorUrl());
      await waitInPage(bo, "Ana's presence at Bo", () => [...(window as any).atelier.conn.awareness.getStates().values()].some((st: any) => st?.user?.name === 'Ana'));
      const n0 = (await readServerDoc(stack.url, s.id, s.viewerToken)).strokes.length;
      await drawStroke(ana, line(0.3));
      await waitInPage(bo, "Ana's stroke at Bo", (n: number) => (window as any).atelier.sdoc.getStrokes().length === n + 1, n0);
      await ana.locator('.session-id').click();
      await ana.keyboard.press('Control+z');
      await waitInPage(bo, 'the undo at Bo', (n: number) => (window as any).atelier.sdoc.getStrokes().length === n, n0);
      await waitInPage(bo, 'the feed line naming Ana', () => [...document.querySelectorAll('.feed li')].some((li) => /Ana removed a stroke/.test(li.textContent ?? '')), undefined, 10_000);
      const lines = await bo.locator('.feed li').allTextContents();
      assert.ok(!lines.some((l) => /Someone/.test(l)), `no "Someone" lines: ${lines.join(' | ')}`);
      await stack.shot(bo, 'x22-bo-feed');
    });
  });

  test('X20: number boxes revert rejected text with a note and clamp values beyond the slider', async () => {
    const box = (key: string) => ana.locator(`#param-${key}`).locator('xpath=..').locator('input.num');
    const note = (key: string) => ana.locator(`#param-${key}`).locator('xpath=..').locator('.field-note');
    const before = await ana.evaluate(() => (window as any).atelier.sdoc.getParam('styleWeight'));
    for (const typed of ['abc', '-5']) {
      await box('styleWeight').fill(typed);
      await box('styleWeight').press('Enter');
      assert.equal(Number(await box('styleWeight').inputValue()), before, `"${typed}" is not left in the box`);
      assert.match((await note('styleWeight').textContent()) ?? '', /not a number|cannot be negative/);
      assert.equal(await note('styleWeight').isVisible(), true);
    }
    await box('styleWeight').fill('1e10');
    await box('styleWeight').press('Enter');
    const max = PARAM_RANGES.styleWeight.max;
    assert.equal(Number(await box('styleWeight').inputValue()), max);
    assert.match((await note('styleWeight').textContent()) ?? '', new RegExp(`goes up to ${max}`));
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'the clamped style weight', (d) => d.params.styleWeight === max);
    const seedBefore = await ana.evaluate(() => (window as any).atelier.sdoc.getParam('seed'));
    await ana.locator('#param-seed').fill('-5');
    await ana.locator('#param-seed').press('Enter');
    assert.equal(await ana.locator('#param-seed').inputValue(), String(seedBefore));
    await ana.locator('#param-seed').scrollIntoViewIfNeeded();
    await stack.shot(ana, 'x20-number-notes');
    assert.equal((await readServerDoc(stack.url, s.id, s.viewerToken)).params.seed, seedBefore);
  });

  test('X17: in the view-only studio the content presets and "Upload style…" are disabled and do nothing', async () => {
    await withPage('Vera', async (v) => {
      await openSynced(v, `${stack.url}/s/${s.id}?token=${s.viewerToken}`, 'viewer');
      await waitInPage(v, 'the content presets', () => document.querySelectorAll('.content-presets button').length > 0);
      const presets = v.locator('.content-presets button');
      for (let i = 0; i < (await presets.count()); i++) assert.equal(await presets.nth(i).isDisabled(), true, 'content preset disabled');
      assert.equal(await v.getByRole('button', { name: 'Upload style…' }).isDisabled(), true);
      assert.equal(await v.getByRole('button', { name: 'Upload photo…' }).isDisabled(), true);
      const content = (await readServerDoc(stack.url, s.id, s.viewerToken)).content;
      await presets.last().click({ force: true });
      await v.waitForTimeout(300);
      assert.deepEqual((await readServerDoc(stack.url, s.id, s.viewerToken)).content, content, 'a click changes nothing');
      await stack.shot(v, 'x17-view-only');
    });
  });

  test('X18: a co-editor who joined by link can copy the view-only link; the projector shows the view-only QR by default', async () => {
    await withPage('Bo', async (bo) => {
      await bo.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.url });
      await openSynced(bo, editorUrl()); // Bo never created the session: nothing in his localStorage
      assert.equal(await bo.evaluate((id) => localStorage.getItem(`atelier.viewer.${id}`), s.id), null);
      const copy = bo.getByRole('button', { name: 'Copy view-only link' });
      await copy.waitFor();
      await copy.click();
      const copied = await bo.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied, `${stack.url}/s/${s.id}?token=${s.viewerToken}`);
      const projectorHref = await bo.getByRole('link', { name: 'Projector ↗' }).getAttribute('href');
      assert.equal(projectorHref, `/s/${s.id}/view?token=${s.viewerToken}`, 'the projector gets the view-only token');
    });
    const joinState = (p: Page) =>
      p.evaluate(() => ({
        url: document.querySelector('.join-url')?.textContent,
        view: document.querySelector('.join-choice button:first-child')?.getAttribute('aria-pressed'),
        edit: document.querySelector('.join-choice button:last-child')?.getAttribute('aria-pressed'),
        editDisabled: (document.querySelector('.join-choice button:last-child') as HTMLButtonElement).disabled,
      }));
    const viewLink = `${stack.url}/s/${s.id}?token=${s.viewerToken}`;
    await withPage('Wall', async (wall) => {
      await wall.goto(`${stack.url}/s/${s.id}/view?token=${s.viewerToken}&overlay=1`);
      await waitInPage(wall, 'the join link', () => !!document.querySelector('.join-url')?.textContent);
      assert.deepEqual(await joinState(wall), { url: viewLink, view: 'true', edit: 'false', editDisabled: true });
    });
    await withPage('Wall2', async (wall) => {
      // Someone put the editor link on the wall on purpose: still view-only until they choose.
      await wall.goto(`${stack.url}/s/${s.id}/view?token=${s.editorToken}&overlay=1`);
      await waitInPage(wall, 'the join link', () => !!document.querySelector('.join-url')?.textContent);
      assert.deepEqual(await joinState(wall), { url: viewLink, view: 'true', edit: 'false', editDisabled: false });
      await wall.getByRole('button', { name: 'Join as editor' }).click();
      assert.deepEqual(await joinState(wall), { url: `${stack.url}/s/${s.id}?token=${s.editorToken}`, view: 'false', edit: 'true', editDisabled: false });
      await stack.shot(wall, 'x18-projector-join-as-editor');
    });
  });

  test('X19: a wrong token shows a lasting error screen that says what to do', async () => {
    await withPage('Eve', async (p) => {
      await p.goto(`${stack.url}/s/${s.id}?token=not-the-token`);
      const screen = p.locator('.message-page.fatal');
      await screen.waitFor({ timeout: 20_000 });
      assert.equal(await screen.getAttribute('data-code'), 'UNAUTHORIZED');
      assert.match((await screen.textContent()) ?? '', /access token is not valid.*whole link/s);
      await p.waitForTimeout(6500); // longer than any toast
      assert.equal(await screen.isVisible(), true, 'the screen stays');
      assert.equal(await p.getByRole('link', { name: 'Go to the start page' }).isVisible(), true);
      assert.equal(await p.locator('.canvas-stage').count(), 0, 'no empty studio behind it');
      await stack.shot(p, 'x19-wrong-token');
      await p.goto(`${stack.url}/s/${s.id}/replay?token=not-the-token`);
      await p.locator('.message-page.fatal').waitFor();
    });
  });

  test('X21: the join box accepts "hey join me: <link>" and a link without host', async () => {
    await withPage('Jo', async (p) => {
      for (const text of [`hey join me: <${stack.url}/s/${s.id}?token=${s.viewerToken}>`, `/s/${s.id}?token=${s.viewerToken}`]) {
        await p.goto(`${stack.url}/`);
        await p.locator('#join').fill(text);
        await p.getByRole('button', { name: 'Join' }).click();
        await p.waitForURL(`${stack.url}/s/${s.id}?token=${s.viewerToken}`);
      }
    });
  });

  test('X13: the replay page does not overlap at phone width and its timeline answers the keyboard', async () => {
    // An edit to step to, and keyframes after it (every 300 ms here).
    const n0 = (await readServerDoc(stack.url, s.id, s.viewerToken)).strokes.length;
    await drawStroke(ana, line(0.6));
    await waitForServerDoc(stack.url, s.id, s.viewerToken, 'a stroke for the replay', (d) => d.strokes.length === n0 + 1);
    await ana.waitForTimeout(700);
    await withPage(
      'Rae',
      async (p) => {
        await p.goto(`${stack.url}/s/${s.id}/replay?token=${s.editorToken}`);
        await waitInPage(p, 'the replay page', () => (window as any).atelierReplay?.ready && (window as any).atelierReplay.shownSeq > 0);
        await p.waitForTimeout(300);
        const problems = await p.evaluate(() => {
          const out: string[] = [];
          if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push(`page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);
          const blocks = [...document.querySelectorAll('.replay > header, .replay-transport, .replay-stage, .replay-box')] as HTMLElement[];
          for (const b of blocks) if (b.scrollHeight > b.clientHeight + 1) out.push(`${b.className || b.tagName}: content ${b.scrollHeight}px in ${b.clientHeight}px`);
          const rects = blocks.map((b) => ({ name: b.className || b.tagName, r: b.getBoundingClientRect() }));
          for (let i = 0; i < rects.length; i++)
            for (let j = i + 1; j < rects.length; j++) {
              const a = rects[i].r;
              const c = rects[j].r;
              if (a.left < c.right - 1 && c.left < a.right - 1 && a.top < c.bottom - 1 && c.top < a.bottom - 1) out.push(`${rects[i].name} overlaps ${rects[j].name}`);
            }
          return out;
        });
        await stack.shot(p, 'x13-replay-phone', { doc: true });
        assert.deepEqual(problems, []);

        // The replay canvas (intrinsic content pixels, CSS object-fit) at DPR 3: drawn where it belongs.
        const content = (await readServerDoc(stack.url, s.id, s.viewerToken)).content as { width: number; height: number };
        const el = p.locator('.replay-canvas');
        const box = (await el.boundingBox())!;
        const img = await decode(await el.screenshot());
        const k = img.width / box.width;
        const want = scaleBox(containBox(content.width, content.height, box.width, box.height), k);
        const got = boxWhere(img, notColor('#0c0d10', 24));
        assert.ok(got && boxError(got, want) / k <= 3, `replay canvas drawn at ${fmtBox(got)}, expected ${fmtBox(want)}`);

        const track = p.locator('.replay-track');
        assert.equal(await track.getAttribute('role'), 'slider');
        await track.focus();
        const t = () => p.evaluate(() => (window as any).atelierReplay.t as number);
        await p.keyboard.press('Home');
        const start = await t();
        assert.equal(await track.getAttribute('aria-valuenow'), '0');
        await p.keyboard.press('End');
        const end = await t();
        assert.ok(end > start, `End moves to the end (${start} → ${end})`);
        assert.equal(Number(await track.getAttribute('aria-valuenow')), Math.round(end - start));
        await p.keyboard.press('ArrowLeft');
        const back = await t();
        assert.ok(back < end && back > start, `ArrowLeft goes back one activity line (${back})`);
        await p.keyboard.press('ArrowRight');
        assert.ok((await t()) > back, 'ArrowRight goes forward');
        assert.match((await track.getAttribute('aria-valuetext')) ?? '', /\d:\d\d of \d:\d\d/);
      },
      VIEWPORTS.phone,
      { deviceScaleFactor: 3, isMobile: true, hasTouch: true },
    );
    assert.deepEqual(stack.pageErrors, []);
  });
});
