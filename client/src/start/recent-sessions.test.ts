import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecent, rememberSession, forgetSession, RECENT_KEY, MAX_RECENT, type KeyValueStore } from './recent-sessions.ts';

function memory(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('recent sessions', () => {
  test('C3: sessions are remembered newest first, one entry per session, capped', () => {
    const s = memory();
    for (let i = 0; i < MAX_RECENT + 3; i++) rememberSession(s, { id: `s${i}`, path: `/s/s${i}?token=t`, role: 'editor', lastOpened: i });
    rememberSession(s, { id: 's5', path: '/s/s5?token=t', role: 'editor', lastOpened: 100 });
    const list = loadRecent(s);
    assert.equal(list.length, MAX_RECENT);
    assert.equal(list[0].id, 's5');
    assert.equal(list.filter((r) => r.id === 's5').length, 1);
  });
  test('C3: opening a session by its viewer link keeps the editor link already remembered', () => {
    const s = memory();
    rememberSession(s, { id: 'a', path: '/s/a?token=ed', role: 'editor', lastOpened: 1, createdHere: true });
    rememberSession(s, { id: 'a', path: '/s/a/view?token=vw', role: 'viewer', lastOpened: 2 });
    assert.deepEqual(loadRecent(s)[0], { id: 'a', path: '/s/a?token=ed', role: 'editor', lastOpened: 2, createdHere: true });
  });
  test('C3: corrupt storage reads as an empty list and entries can be forgotten', () => {
    const s = memory();
    s.setItem(RECENT_KEY, '{not json');
    assert.deepEqual(loadRecent(s), []);
    s.setItem(RECENT_KEY, JSON.stringify([{ id: 'x', path: 'javascript:alert(1)', lastOpened: 1 }, { id: 'y', path: '/s/y?token=t', role: 'viewer', lastOpened: 2 }]));
    assert.deepEqual(loadRecent(s).map((r) => r.id), ['y']);
    assert.deepEqual(forgetSession(s, 'y'), []);
  });
});
