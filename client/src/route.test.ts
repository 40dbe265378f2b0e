import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute, joinPathFromInput } from './route.ts';
import { api } from '../../shared/protocol.ts';

function split(link: string): [string, string] {
  const u = new URL(link, 'http://x');
  return [u.pathname, u.search];
}

describe('routes', () => {
  test('C1: the root path is the start page', () => {
    assert.deepEqual(parseRoute('/', ''), { page: 'start' });
  });
  test('C1: /s/:id with a token is the editor, /view the projector, /replay the replay', () => {
    assert.deepEqual(parseRoute('/s/abc123', '?token=t1'), { page: 'editor', session: 'abc123', token: 't1' });
    assert.deepEqual(parseRoute('/s/abc123/view', '?token=t2'), {
      page: 'projector',
      session: 'abc123',
      token: 't2',
      overlay: false,
    });
    assert.equal(parseRoute('/s/abc123/view', '?token=t2&overlay=1').page, 'projector');
    assert.equal((parseRoute('/s/abc123/view', '?token=t2&overlay=1') as { overlay: boolean }).overlay, true);
    assert.equal(parseRoute('/s/abc/replay', '?token=x').page, 'replay');
  });
  test('C1: a session link without a token or an unknown path is not found, with a reason', () => {
    const r = parseRoute('/s/abc', '');
    assert.equal(r.page, 'not-found');
    assert.match((r as { reason: string }).reason, /token/);
    assert.equal(parseRoute('/nope', '').page, 'not-found');
  });
  test('C2: a pasted join link keeps only path and query, from any host', () => {
    assert.equal(joinPathFromInput('  https://atelier.example:8080/s/Ab_9/view?token=zz  '), '/s/Ab_9/view?token=zz');
    assert.equal(joinPathFromInput('join me: http://localhost:3000/s/q1?token=k please'), '/s/q1?token=k');
    assert.equal(joinPathFromInput('/s/q1?token=k'), '/s/q1?token=k');
  });
  test('C2: a link inside a sentence, in angle brackets or without scheme or host is found', () => {
    assert.equal(joinPathFromInput('hey join me: <http://10.0.0.5:3000/s/q1?token=k-_9>'), '/s/q1?token=k-_9');
    assert.equal(joinPathFromInput('hey join me: http://10.0.0.5:3000/s/q1?token=k.'), '/s/q1?token=k');
    assert.equal(joinPathFromInput('(see localhost:3000/s/q1/view?token=k&overlay=1)'), '/s/q1/view?token=k&overlay=1');
    assert.equal(joinPathFromInput('s/q1?token=k'), '/s/q1?token=k');
    assert.equal(joinPathFromInput('"/s/q1/replay?token=k"'), '/s/q1/replay?token=k');
  });
  test('C2: text that is not a session link is rejected', () => {
    assert.equal(joinPathFromInput(''), null);
    assert.equal(joinPathFromInput('hello'), null);
    assert.equal(joinPathFromInput('https://x.org/s/q1'), null);
    assert.equal(joinPathFromInput('join me at s/q1 please'), null, 'no token, no link');
    assert.equal(joinPathFromInput('https://x.org/docs/s/q1?token=k'), null, '/s/ deeper in another path is not a session link');
  });
  test('C1: the router reads every page link the server hands out (shared/protocol.ts builders)', () => {
    const id = 'Ab_9-xyz', token = 'T0k_en';
    assert.deepEqual(parseRoute(...split(api.editorPage(id, token))), { page: 'editor', session: id, token });
    assert.deepEqual(parseRoute(...split(api.projectorPage(id, token))), { page: 'projector', session: id, token, overlay: false });
    assert.deepEqual(parseRoute(...split(api.replayPage(id, token))), { page: 'replay', session: id, token });
  });
});
