import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as Y from 'yjs';
import { SessionDoc, InvalidDocValue, FALLBACK_CONTENT } from './session-doc.ts';
import { createUndoManager, holdUndoGroup } from './undo.ts';
import { DEFAULT_PARAMS } from '../../../shared/schema.ts';

const IMG_A = 'a'.repeat(64);
const IMG_B = 'b'.repeat(64);

/** Two docs kept in sync by direct update exchange (what the server relay does). */
function pair() {
  const d1 = new Y.Doc();
  const d2 = new Y.Doc();
  d1.on('update', (u: Uint8Array, origin: unknown) => origin !== 'remote' && Y.applyUpdate(d2, u, 'remote'));
  d2.on('update', (u: Uint8Array, origin: unknown) => origin !== 'remote' && Y.applyUpdate(d1, u, 'remote'));
  return [new SessionDoc(d1), new SessionDoc(d2)] as const;
}

describe('session document accessors', () => {
  test('C30: missing or invalid params read as their defaults', () => {
    const s = new SessionDoc(new Y.Doc());
    assert.deepEqual(s.getParams(), DEFAULT_PARAMS);
    s.params.set('styleWeight', 'lots');
    assert.equal(s.getParam('styleWeight'), DEFAULT_PARAMS.styleWeight);
    assert.deepEqual(s.getContent(), FALLBACK_CONTENT);
  });

  test('C31: writes are validated against the shared schema before they reach the doc', () => {
    const s = new SessionDoc(new Y.Doc());
    s.setParam('styleWeight', 3e4);
    assert.equal(s.params.get('styleWeight'), 3e4);
    assert.throws(() => s.setParam('resolution', 5), InvalidDocValue);
    assert.throws(() => s.setParam('learningRate', -1), /params.learningRate/);
    assert.throws(() => s.addStyle({ imageId: 'nope', weight: 1, scale: 1 }), /imageId/);
    assert.throws(() => s.setContent({ width: 3 }), /content/);
    assert.equal(s.params.get('resolution'), undefined);
  });

  test('C32: styles are Y.Maps that can be added, tuned and removed, at most eight', () => {
    const s = new SessionDoc(new Y.Doc());
    s.addStyle({ imageId: IMG_A, weight: 1, scale: 1 });
    s.addStyle({ imageId: IMG_B, weight: 2, scale: 0.5 });
    assert.ok(s.styles.get(0) instanceof Y.Map);
    s.updateStyle(1, { weight: 4 });
    assert.deepEqual(
      s.getStyles().map((x) => [x.imageId, x.weight, x.scale]),
      [
        [IMG_A, 1, 1],
        [IMG_B, 4, 0.5],
      ],
    );
    assert.throws(() => s.updateStyle(0, { scale: 10 }), /scale|styles\[0\]/);
    s.removeStyle(0);
    assert.deepEqual(s.getStyles().map((x) => x.imageId), [IMG_B]);
    for (let i = 0; i < 7; i++) s.addStyle({ imageId: IMG_A, weight: 1, scale: 1 });
    assert.throws(() => s.addStyle({ imageId: IMG_A, weight: 1, scale: 1 }), /at most 8/);
  });

  test('C33: content holds an optional photo id, background and size; clearing the photo keeps the rest', () => {
    const s = new SessionDoc(new Y.Doc());
    s.setContent({ imageId: IMG_A, width: 640, height: 480 });
    assert.deepEqual(s.getContent(), { imageId: IMG_A, background: '#ffffff', width: 640, height: 480 });
    s.setContent({ imageId: undefined, background: '#102030' });
    assert.deepEqual(s.getContent(), { background: '#102030', width: 640, height: 480 });
  });

  test('C34: a stroke is a Y.Map whose points Y.Array only grows (O(1) per point on the wire), and others see it live', () => {
    const [a, b] = pair();
    const m = a.beginStroke({ author: 'Ana', tool: 'brush', color: '#ff0000', size: 8, opacity: 1, points: [1, 2] });
    assert.ok(m.get('points') instanceof Y.Array);
    assert.equal(b.getStrokes()[0].points.length, 2);
    const sizes: number[] = [];
    a.doc.on('update', (u: Uint8Array) => sizes.push(u.byteLength));
    a.appendPoints(m, [3, 4]);
    for (let i = 0; i < 200; i++) a.appendPoints(m, [5 + i, 6 + i / 8]);
    assert.deepEqual(b.getStrokes()[0].points.slice(0, 6), [1, 2, 3, 4, 5, 6]);
    assert.equal(b.getStrokes()[0].points.length, 2 + 2 + 400);
    assert.ok(Math.max(...sizes) <= 32 && sizes.at(-1)! <= sizes[10] + 4, `every append costs the same few bytes however long the stroke is (${sizes[10]} after 10 points, ${sizes.at(-1)} after 200, max ${Math.max(...sizes)})`);
    assert.equal(b.getStrokes()[0].author, 'Ana');
    assert.throws(() => a.appendPoints(m, [1, 2, 3]), /pairs/);
    assert.throws(() => a.appendPoints(m, [1, Number.NaN]), /finite/);
  });

  test('C34: a stroke written by an older client as a plain points array reads, and appending turns it into the append-only form', () => {
    const [a, b] = pair();
    const old = new Y.Map<unknown>();
    a.doc.transact(() => {
      for (const [k, v] of Object.entries({ id: 'old', author: 'Bo', tool: 'brush', color: '#00ff00', size: 4, opacity: 1, points: [1, 1, 2, 2] })) old.set(k, v);
      a.strokes.push([old]);
    });
    assert.deepEqual(b.getStrokes()[0].points, [1, 1, 2, 2]);
    a.appendPoints(old, [3, 3]);
    assert.ok(old.get('points') instanceof Y.Array);
    assert.deepEqual(b.getStrokes()[0].points, [1, 1, 2, 2, 3, 3]);
  });

  test('C35: clearing removes every stroke and is one undo step that brings them back', () => {
    const [a, b] = pair();
    const undo = createUndoManager(a);
    b.beginStroke({ author: 'Bo', tool: 'brush', color: '#00ff00', size: 4, opacity: 1, points: [0, 0] });
    a.beginStroke({ author: 'Ana', tool: 'eraser', color: '#000000', size: 4, opacity: 1, points: [5, 5] });
    undo.stopCapturing();
    a.clearStrokes();
    assert.equal(b.getStrokes().length, 0);
    undo.undo();
    assert.deepEqual(b.getStrokes().map((s) => s.author).sort(), ['Ana', 'Bo']);
  });

  test('C36: undo reverts only my own edits, never a later edit by someone else', () => {
    const [a, b] = pair();
    const undoA = createUndoManager(a);
    a.setParam('styleWeight', 100);
    undoA.stopCapturing();
    b.setParam('contentWeight', 7);
    a.setParam('tvWeight', 3);
    undoA.stopCapturing();
    undoA.undo();
    assert.equal(b.getParam('tvWeight'), DEFAULT_PARAMS.tvWeight);
    assert.equal(b.getParam('contentWeight'), 7);
    undoA.undo();
    assert.equal(b.getParam('styleWeight'), DEFAULT_PARAMS.styleWeight);
    undoA.redo();
    assert.equal(b.getParam('styleWeight'), 100);
    assert.equal(b.getParam('contentWeight'), 7);
  });

  test('C37: a held undo group is one step however slowly it is written', () => {
    const [a, b] = pair();
    const undo = createUndoManager(a);
    undo.captureTimeout = 0; // every change would be its own step
    const release = holdUndoGroup(undo);
    const m = a.beginStroke({ author: 'Ana', tool: 'brush', color: '#ff0000', size: 8, opacity: 1, points: [1, 2] });
    a.appendPoints(m, [3, 4]);
    a.appendPoints(m, [5, 6]);
    release();
    a.setParam('seed', 5);
    undo.undo();
    assert.equal(b.getParam('seed'), DEFAULT_PARAMS.seed);
    assert.equal(b.getStrokes().length, 1);
    undo.undo();
    assert.equal(b.getStrokes().length, 0, 'the whole stroke went in one undo');
    assert.equal(undo.captureTimeout, 0, 'the timeout is restored');
  });
});
