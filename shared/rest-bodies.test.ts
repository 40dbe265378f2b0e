/** REST request bodies and queries (shared/protocol.ts): what they accept, and the refusal wording clients see. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportRequest, ForkRequest, HistoryStateQuery } from './protocol.ts';

const refusal = (r: { success: boolean; error?: { issues: { message: string }[] } }) => (r.success ? null : r.error!.issues[0].message);

describe('REST bodies', () => {
  test('an export request takes a format, fps 1..60 (default 8) and an integer size 16..2048', () => {
    assert.deepEqual(ExportRequest.parse({ format: 'gif' }), { format: 'gif', fps: 8 });
    assert.deepEqual(ExportRequest.parse({ format: 'mp4', fps: 60, size: 16 }), { format: 'mp4', fps: 60, size: 16 });
    assert.equal(refusal(ExportRequest.safeParse({ format: 'avi' })), 'format must be one of webp, gif, mp4, png (got "avi")');
    assert.equal(refusal(ExportRequest.safeParse(undefined)), 'format must be one of webp, gif, mp4, png (got nothing)');
    assert.equal(refusal(ExportRequest.safeParse('gif')), 'format must be one of webp, gif, mp4, png (got nothing)');
    assert.equal(refusal(ExportRequest.safeParse({ format: 'gif', fps: 0 })), 'fps must be a number from 1 to 60 (got 0)');
    assert.equal(refusal(ExportRequest.safeParse({ format: 'gif', fps: '8' })), 'fps must be a number from 1 to 60 (got "8")');
    assert.equal(refusal(ExportRequest.safeParse({ format: 'gif', fps: null })), 'fps must be a number from 1 to 60 (got null)');
    assert.equal(refusal(ExportRequest.safeParse({ format: 'gif', size: 16.5 })), 'size must be an integer from 16 to 2048 (got 16.5)');
    assert.equal(refusal(ExportRequest.safeParse({ format: 'gif', size: 4096 })), 'size must be an integer from 16 to 2048 (got 4096)');
  });

  test('a time is ms since the epoch, as a number or a numeric string', () => {
    assert.deepEqual(ForkRequest.parse({ t: 1700000000000 }), { t: 1700000000000 });
    assert.deepEqual(HistoryStateQuery.parse({ t: '42' }), { t: 42 });
    assert.equal(refusal(ForkRequest.safeParse(null)), 't must be a time in ms since the epoch (got nothing)');
    assert.equal(refusal(HistoryStateQuery.safeParse({ t: 'soon' })), 't must be a time in ms since the epoch (got "soon")');
    assert.equal(refusal(HistoryStateQuery.safeParse({ t: ' ' })), 't must be a time in ms since the epoch (got " ")');
  });
});
