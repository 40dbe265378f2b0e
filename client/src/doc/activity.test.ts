import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { SessionDoc, LOCAL_ORIGIN } from './session-doc.ts';
import { changesFromEvents, authorsOf, describeChange, ActivityFeed, RemovalTracker, RemovalClaims, claimFor, claimCovers, type Change } from './activity.ts';
import { MAX_CLAIM_IDS } from '../../../shared/schema.ts';

const IMG = 'c'.repeat(64);

/** Doc b observes what doc a does, collecting (authors, changes) per transaction. */
function watched() {
  const a = new SessionDoc(new Y.Doc());
  const b = new SessionDoc(new Y.Doc());
  a.doc.on('update', (u: Uint8Array) => Y.applyUpdate(b.doc, u, 'remote'));
  const seen: Array<{ authors: number[]; changes: Change[]; local: boolean }> = [];
  const roots = { params: b.params, styles: b.styles, content: b.content, strokes: b.strokes };
  for (const root of [b.params, b.styles, b.content, b.strokes] as Y.AbstractType<unknown>[]) {
    root.observeDeep((events, tr) => {
      seen.push({ authors: authorsOf(tr), changes: changesFromEvents(events, roots), local: tr.origin === LOCAL_ORIGIN });
    });
  }
  return { a, b, seen };
}

describe('activity feed', () => {
  test('C40: a remote parameter change names its author through their client id', () => {
    const { a, seen } = watched();
    a.setParam('styleWeight', 3e4);
    assert.deepEqual(seen[0].authors, [a.doc.clientID]);
    assert.deepEqual(seen[0].changes, [{ kind: 'param', key: 'styleWeight', value: 3e4 }]);
    assert.equal(describeChange('Ana', seen[0].changes[0]), 'Ana set style weight to 3e4');
  });

  test('C40: style, content and stroke changes are described; live point updates are not news', () => {
    const { a, seen } = watched();
    a.addStyle({ imageId: IMG, weight: 1, scale: 1 });
    a.updateStyle(0, { weight: 2.5 });
    a.setContent({ imageId: IMG, width: 100, height: 80 });
    const m = a.beginStroke({ author: 'Ana', tool: 'brush', color: '#000000', size: 3, opacity: 1, points: [0, 0] });
    a.appendPoints(m, [1, 1]);
    a.beginStroke({ author: 'Ana', tool: 'brush', color: '#000000', size: 3, opacity: 1, points: [2, 2] });
    a.clearStrokes();
    const texts = seen.flatMap((s) => s.changes.map((c) => describeChange('Ana', c)));
    assert.deepEqual(texts, [
      'Ana added a style',
      'Ana set style 1 weight to 2.5',
      'Ana changed the content photo',
      'Ana painted a stroke',
      'Ana painted a stroke',
      'Ana cleared the canvas',
    ]);
    assert.deepEqual(seen.at(-1)!.authors, [], 'a deletion-only transaction has no known author');
  });

  test('C41: running, seed and enum parameters read naturally', () => {
    assert.equal(describeChange('Bo', { kind: 'param', key: 'running', value: false }), 'Bo paused the optimization');
    assert.equal(describeChange('Bo', { kind: 'param', key: 'running', value: true }), 'Bo started the optimization');
    assert.equal(describeChange('Bo', { kind: 'param', key: 'restart', value: 3 }), 'Bo reset the image');
    assert.equal(describeChange('Bo', { kind: 'param', key: 'seed', value: 99 }), 'Bo set seed to 99');
    assert.equal(describeChange('You', { kind: 'param', key: 'optimizer', value: 'lbfgs' }), 'You set optimizer to lbfgs');
  });

  test('C42: repeated changes by the same person within the window merge into one line', () => {
    const feed = new ActivityFeed(10, 1000);
    feed.add('Ana', { kind: 'param', key: 'styleWeight', value: 10 }, 0);
    feed.add('Ana', { kind: 'param', key: 'styleWeight', value: 3e4 }, 500);
    assert.equal(feed.items.length, 1);
    assert.equal(feed.items[0].text, 'Ana set style weight to 3e4');
    feed.add('Ana', { kind: 'stroke-added', tool: 'brush' }, 600);
    feed.add('Ana', { kind: 'stroke-added', tool: 'brush' }, 700);
    assert.equal(feed.items[0].text, 'Ana painted 2 strokes');
    feed.add('Bo', { kind: 'stroke-added', tool: 'brush' }, 800);
    feed.add('Ana', { kind: 'stroke-added', tool: 'brush' }, 5000);
    assert.deepEqual(feed.items.map((i) => i.text), ['Ana painted a stroke', 'Bo painted a stroke', 'Ana painted 2 strokes', 'Ana set style weight to 3e4']);
  });

  test('C42: the feed keeps only the newest lines', () => {
    const feed = new ActivityFeed(3, 0);
    for (let i = 0; i < 5; i++) feed.add(`P${i}`, { kind: 'style-added', count: 1 }, i * 10);
    assert.deepEqual(feed.items.map((i) => i.actor), ['P4', 'P3', 'P2']);
  });

  test('C43: a removal names nobody in Yjs, but the remover\'s claim names it for the others', () => {
    const { a, b } = watched();
    const bTracker = new RemovalTracker(b);
    const aTracker = new RemovalTracker(a);
    const m = a.beginStroke({ author: 'Ana', tool: 'brush', color: '#000000', size: 3, opacity: 1, points: [0, 0, 5, 5] });
    const strokeId = String(m.get('id'));
    assert.deepEqual(bTracker.next(), []);
    assert.deepEqual(aTracker.next(), []);
    // Ana undoes her stroke: a deletion-only transaction.
    let authors: number[] | null = null;
    b.strokes.observe((_e, tr) => (authors = authorsOf(tr)));
    a.doc.transact(() => a.strokes.delete(0, 1), 'undo');
    assert.deepEqual(authors, [], 'Yjs cannot tell who deleted');
    const mine = aTracker.next();
    assert.deepEqual(mine, [`stroke:${strokeId}`], 'the remover knows what it removed');
    const seen = bTracker.next();
    assert.deepEqual(seen, mine, 'the others see the same ids disappear');
    // Ana publishes her claim in awareness; Bo finds the claimant.
    const claims = new RemovalClaims();
    claims.update(new Map<number, unknown>([[a.doc.clientID, { user: { name: 'Ana', color: '#000000' }, removed: claimFor(1, mine) }], [b.doc.clientID, { user: { name: 'Bo', color: '#000000' } }]]), 1000);
    assert.equal(claims.claimant(seen, b.doc.clientID), a.doc.clientID);
    assert.equal(claims.claimant(['stroke:other'], b.doc.clientID), null, 'a claim for something else names nobody');
    assert.equal(claims.claimant(seen, a.doc.clientID), null, 'my own claim is never someone else');
  });

  test('C43: of two claims naming the same removal the newer one wins; malformed claims are ignored', () => {
    const claims = new RemovalClaims();
    const user = { name: 'x', color: '#000000' };
    const states = new Map<number, unknown>([[1, { user, removed: claimFor(1, ['stroke:X']) }]]);
    claims.update(states, 100);
    states.set(2, { user, removed: claimFor(1, ['stroke:X', 'stroke:Y']) });
    claims.update(states, 200);
    assert.equal(claims.claimant(['stroke:X'], 9), 2, 'Bo cleared X and Y after Ana had once undone X');
    assert.equal(claims.claimant(['stroke:X', 'stroke:Y'], 9), 2);
    states.set(1, { user, removed: claimFor(2, ['stroke:X']) });
    claims.update(states, 300);
    assert.equal(claims.claimant(['stroke:X'], 9), 1, 'a new claim (n changed) is newer');
    states.set(2, { user, removed: { n: 'two', ids: 5 } });
    claims.update(states, 400);
    assert.equal(claims.claimant(['stroke:Y'], 9), null, 'a malformed claim names nobody');
    states.delete(1);
    claims.update(states, 500);
    assert.equal(claims.claimant(['stroke:X'], 9), null, 'a client that left claims nothing');
  });

  test('C43: a claim for a big removal (a busy canvas cleared) lists as many ids as it may', () => {
    const removed = Array.from({ length: 100 }, (_, i) => `stroke:${i}`);
    const claim = claimFor(1, removed);
    assert.equal(claim.ids.length, MAX_CLAIM_IDS);
    assert.ok(claimCovers(claim, removed));
    assert.ok(!claimCovers(claimFor(1, removed.slice(0, 10)), removed), 'a partial claim does not cover');
    assert.ok(!claimCovers(claimFor(1, ['stroke:1']), ['stroke:1', 'stroke:2']));
    assert.ok(claimCovers(claimFor(1, ['stroke:1', 'stroke:2']), ['stroke:2']));
  });

  test('C41: undoing the only stroke reads "removed a stroke", not "cleared the canvas"', () => {
    const { a, seen } = watched();
    a.beginStroke({ author: 'Ana', tool: 'brush', color: '#000000', size: 3, opacity: 1, points: [0, 0] });
    a.strokes.delete(0, 1);
    assert.equal(describeChange('Ana', seen.at(-1)!.changes[0]), 'Ana removed a stroke');
  });

  test('C43: a line written as "Someone" is renamed when the claim arrives later', () => {
    const feed = new ActivityFeed();
    const change: Change = { kind: 'strokes-removed', count: 1, cleared: false };
    const item = feed.add('Someone', change, 0);
    assert.equal(item.text, 'Someone removed a stroke');
    assert.ok(feed.rename(item, 'Ana', change));
    assert.equal(feed.items[0].text, 'Ana removed a stroke');
  });
});
