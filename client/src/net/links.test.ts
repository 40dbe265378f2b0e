import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { defaultJoinChoice, joinLinks, viewOnlyToken } from './links.ts';

const O = 'http://wall:3000';

describe('links a page hands out', () => {
  test('C93: the view-only token comes from the own token (viewer), the status (editor) or this browser', () => {
    assert.equal(viewOnlyToken({ session: 's1', ownToken: 'V', role: 'viewer' }), 'V');
    assert.equal(viewOnlyToken({ session: 's1', ownToken: 'E', role: 'editor', statusViewerToken: 'V' }), 'V');
    assert.equal(viewOnlyToken({ session: 's1', ownToken: 'E', role: 'editor', storedViewerPath: '/s/s1/view?token=V2' }), 'V2');
    assert.equal(viewOnlyToken({ session: 's1', ownToken: 'E', role: 'editor' }), null, 'an old session joined by link: unknown');
    assert.equal(viewOnlyToken({ session: 's1', ownToken: 'E', role: null }), null, 'before the status nothing is assumed');
  });

  test('C87: a projector opened with the view-only link offers only the view-only link, by default', () => {
    const l = joinLinks({ session: 's1', ownToken: 'V', role: 'viewer' }, O);
    assert.deepEqual(l, { view: `${O}/s/s1?token=V`, edit: null });
    assert.equal(defaultJoinChoice(l), 'view');
  });

  test('C87: a projector opened with the editor link offers both, view-only by default', () => {
    const l = joinLinks({ session: 's1', ownToken: 'E', role: 'editor', statusViewerToken: 'V' }, O);
    assert.deepEqual(l, { view: `${O}/s/s1?token=V`, edit: `${O}/s/s1?token=E` });
    assert.equal(defaultJoinChoice(l), 'view');
  });

  test('C87: without a view-only link the editor link is still never the default', () => {
    const l = joinLinks({ session: 's1', ownToken: 'E', role: 'editor' }, O);
    assert.deepEqual(l, { view: null, edit: `${O}/s/s1?token=E` });
    assert.equal(defaultJoinChoice(l), null);
  });
});
