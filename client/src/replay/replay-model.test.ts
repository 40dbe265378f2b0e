import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEdit } from '../../../shared/protocol.ts';
import { colorForName } from '../util/color.ts';
import { PlaybackClock, authorColor, authorName, describeChange, formatDuration, groupActivity, lastIndexAtOrBefore, timelineKeyTarget, type ActivityItem } from './replay-model.ts';

const edit = (seq: number, time: number, author: string, changes: HistoryEdit['changes']): HistoryEdit => ({ seq, time, author, changes });

describe('replay model', () => {
  test('authors: the name before #socketId, coloured like presence; server and forks are grey', () => {
    assert.equal(authorName('Amber Fox#x1Y2'), 'Amber Fox');
    assert.equal(authorName('server'), 'server');
    assert.equal(authorName('fork:abcdefgh@17'), 'fork');
    assert.equal(authorColor('Amber Fox#x1Y2'), colorForName('Amber Fox'));
    assert.equal(authorColor('server'), authorColor('fork:abc@1'));
  });

  test('changes read as short sentences', () => {
    assert.equal(describeChange({ kind: 'param', key: 'styleWeight', from: 1, to: 7 }), 'style weight 1 → 7');
    assert.equal(describeChange({ kind: 'style-changed', index: 0, imageId: null, key: 'scale', from: 1, to: 2 }), 'style 1 scale 1 → 2');
    assert.equal(describeChange({ kind: 'content', key: 'imageId', from: 'a', to: undefined }), 'cleared the photo');
  });

  test('a stroke drawn in many updates is one activity line; other edits are their own lines', () => {
    const edits = [
      edit(1, 10, 'server', [{ kind: 'param', key: 'seed', from: undefined, to: 1 }]),
      edit(2, 20, 'ana#1', [{ kind: 'stroke-added', id: 'k', author: 'ana', tool: 'brush', color: '#ff0000' }]),
      edit(3, 21, 'ana#1', [{ kind: 'stroke-updated', id: 'k', author: 'ana', points: 5 }]),
      edit(4, 22, 'ana#1', [{ kind: 'stroke-updated', id: 'k', author: 'ana', points: 9 }]),
      edit(5, 23, 'bo#2', []),
      edit(6, 24, 'bo#2', [{ kind: 'param', key: 'styleWeight', from: 1, to: 3 }]),
      edit(7, 25, 'ana#1', [{ kind: 'stroke-updated', id: 'k', author: 'ana', points: 12 }]),
    ];
    const items = groupActivity(edits);
    assert.deepEqual(
      items.map((i) => [i.index, i.lastIndex, i.author, i.text]),
      [
        [0, 0, 'server', 'created the session'],
        [1, 3, 'ana#1', 'drew a stroke (9 points)'],
        [5, 5, 'bo#2', 'style weight 1 → 3'],
        [6, 6, 'ana#1', 'drew (12 points)'],
      ],
    );
  });

  test('lookups by time and durations', () => {
    const xs = [{ t: 1 }, { t: 5 }, { t: 5 }, { t: 9 }];
    assert.equal(lastIndexAtOrBefore(xs, 0, (x) => x.t), -1);
    assert.equal(lastIndexAtOrBefore(xs, 5, (x) => x.t), 2);
    assert.equal(lastIndexAtOrBefore(xs, 100, (x) => x.t), 3);
    assert.equal(formatDuration(65_000), '1:05');
    assert.equal(formatDuration(3_725_000), '1:02:05');
  });

  test('the playback clock moves speed × real time and stops at the end; play at the end restarts', () => {
    const c = new PlaybackClock(1000, 2000);
    assert.equal(c.advance(100), false, 'paused: no movement');
    c.toggle();
    c.speed = 4;
    assert.equal(c.advance(100), true);
    assert.equal(c.t, 1400);
    c.advance(1000);
    assert.equal(c.t, 2000);
    assert.equal(c.playing, false);
    c.toggle();
    assert.equal(c.t, 1000);
    c.seek(5000);
    assert.equal(c.t, 2000);
  });

  test('C97: the timeline slider moves with Home/End, PageUp/PageDown and the arrows (line by line)', () => {
    const item = (time: number, endTime: number): ActivityItem => ({ index: 0, lastIndex: 0, time, endTime, author: 'Ana#1', text: 'x' });
    const items = [item(100, 150), item(300, 320), item(600, 700)];
    const key = (k: string, t: number) => timelineKeyTarget(k, t, items, 0, 1000);
    assert.deepEqual(key('Home', 500), { t: 0 });
    assert.deepEqual(key('End', 500), { t: 1000 });
    assert.deepEqual(key('PageUp', 500), { t: 600 });
    assert.deepEqual(key('PageDown', 50), { t: 0 }, 'clamped to the start');
    assert.deepEqual(key('ArrowRight', 150), { t: 320, item: items[1] }, 'the next line after the one shown');
    assert.deepEqual(key('ArrowLeft', 320), { t: 150, item: items[0] });
    assert.deepEqual(key('ArrowLeft', 100), { t: 0 }, 'before the first line: the start');
    assert.deepEqual(key('ArrowRight', 700), { t: 1000 }, 'after the last line: the end');
    assert.equal(key('a', 10), null);
  });
});
