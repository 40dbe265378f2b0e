/**
 * The storage contract: the behaviour every {@link Storage} implementation (memory, SQLite,
 * PostgreSQL) must have, as one suite. `storage.test.ts` runs it against memory and SQLite,
 * `postgres.test.ts` against a real PostgreSQL (server/testing/services.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from './group-commit.ts';
import { historyStoreOf, StaleFencingTokenError, type Storage } from './types.ts';

/** One fresh, empty storage; `reopen` opens the same data again (durable stores only). */
export interface ContractSubject {
  storage: Storage;
  reopen?: () => Storage;
  cleanup(): void | Promise<void>;
}

/** Registers the contract tests for the implementation `name`; `make` gives a fresh storage per test. */
export function storageContract(name: string, make: () => ContractSubject | Promise<ContractSubject>): void {
  describe(`${name} storage`, () => {
    test('S13: sessions, updates (in order, with author and time), images and keyframes round-trip', async () => {
      const { storage, reopen, cleanup } = await make();
      try {
        const rec = { id: 'sess0001', editorTokenHash: Buffer.alloc(32, 1), viewerTokenHash: Buffer.alloc(32, 2), createdAt: 5 };
        storage.createSession(rec);
        assert.throws(() => storage.createSession(rec));
        storage.appendUpdates([
          { sessionId: 'sess0001', update: new Uint8Array([1, 2]), author: 'a#1', time: 10 },
          { sessionId: 'sess0001', update: new Uint8Array([3]), author: 'b#2', time: 11 },
        ]);
        storage.appendUpdates([{ sessionId: 'sess0001', update: new Uint8Array([4]), author: 'a#1', time: 12 }]);
        storage.putImage({ id: 'f'.repeat(64), mime: 'image/png', width: 2, height: 3, bytes: Buffer.from('x'), createdAt: 1 });
        storage.putImage({ id: 'f'.repeat(64), mime: 'image/png', width: 2, height: 3, bytes: Buffer.from('x'), createdAt: 1 });
        for (const iter of [5, 9, 14, 20]) {
          storage.putKeyframe({ sessionId: 'sess0001', iter, width: 4, height: 4, mime: 'image/jpeg', data: Buffer.from([iter]), losses: { total: 1, style: 2, content: 3, tv: 4 }, time: iter });
        }
        const s = reopen ? (storage.close(), reopen()) : storage;
        assert.deepEqual(s.getSession('sess0001'), rec);
        assert.equal(s.getSession('nope'), undefined);
        assert.equal(s.countSessions(), 1);
        const ups = s.loadUpdates('sess0001');
        assert.deepEqual(ups.map((u) => [...u.update]), [[1, 2], [3], [4]]);
        assert.deepEqual(ups.map((u) => u.author), ['a#1', 'b#2', 'a#1']);
        assert.deepEqual(ups.map((u) => u.time), [10, 11, 12]);
        assert.ok(ups[0].seq < ups[1].seq && ups[1].seq < ups[2].seq);
        assert.equal(s.getImage('f'.repeat(64))?.width, 2);
        assert.ok(s.hasImage('f'.repeat(64)));
        const kf = s.latestKeyframe('sess0001');
        assert.equal(kf?.iter, 20);
        assert.deepEqual(kf?.losses, { total: 1, style: 2, content: 3, tv: 4 });
        s.close();
      } finally {
        await cleanup();
      }
    });

    test('history queries: updates after a seq, the keyframe archive (every one, ids per session) and loss samples', async () => {
      const { storage, reopen, cleanup } = await make();
      try {
        for (const id of ['hist0001', 'hist0002']) storage.createSession({ id, editorTokenHash: Buffer.alloc(32), viewerTokenHash: Buffer.alloc(32), createdAt: 0 });
        const h = historyStoreOf(storage);
        assert.ok(h, 'the storage has the history queries');
        storage.appendUpdates([1, 2, 3].map((i) => ({ sessionId: 'hist0001', update: new Uint8Array([i]), author: 'a', time: i })));
        storage.appendUpdates([{ sessionId: 'hist0002', update: new Uint8Array([9]), author: 'b', time: 9 }]);
        const all = h.loadUpdates('hist0001');
        assert.deepEqual(h.loadUpdatesAfter('hist0001', all[0].seq).map((u) => [...u.update]), [[2], [3]]);
        assert.deepEqual(h.loadUpdatesAfter('hist0001', all[2].seq), []);
        const ids = [5, 9, 14, 20, 26].map((iter) =>
          h.archiveKeyframe({ sessionId: 'hist0001', iter, width: 4, height: 2, mime: 'image/jpeg', data: Buffer.from([iter]), losses: { total: iter, style: 1, content: 2, tv: 3 }, time: iter * 10 }),
        );
        const other = h.archiveKeyframe({ sessionId: 'hist0002', iter: 1, width: 4, height: 2, mime: 'image/jpeg', data: Buffer.from([1]), losses: { total: 1, style: 1, content: 1, tv: 1 }, time: 1 });
        h.appendLossSample({ sessionId: 'hist0001', time: 30, iter: 3, losses: { total: 3, style: 2, content: 1, tv: 0 } });
        h.appendLossSample({ sessionId: 'hist0001', time: 10, iter: 1, losses: { total: NaN, style: 2, content: 1, tv: 0 } });
        const s = reopen ? (storage.close(), reopen()) : storage;
        const hs = historyStoreOf(s)!;
        const list = hs.listArchivedKeyframes('hist0001');
        assert.deepEqual(list.map((k) => k.iter), [5, 9, 14, 20, 26], 'the archive is not pruned like the resume keyframes');
        assert.deepEqual(list.map((k) => k.id), ids);
        assert.equal('data' in list[0], false, 'listings carry no image bytes');
        assert.deepEqual(list[4].losses, { total: 26, style: 1, content: 2, tv: 3 });
        assert.deepEqual([...hs.getArchivedKeyframe('hist0001', ids[2])!.data], [14]);
        assert.equal(hs.getArchivedKeyframe('hist0001', other), undefined, "another session's keyframe is not found");
        const losses = hs.lossSamples('hist0001');
        assert.deepEqual(losses.map((l) => [l.time, l.iter]), [[10, 1], [30, 3]]);
        assert.ok(Number.isNaN(losses[0].losses.total), 'NaN losses round-trip as NaN');
        assert.deepEqual(hs.lossSamples('hist0002'), []);
        s.close();
      } finally {
        await cleanup();
      }
    });

    test('S6: group commit writes one transaction per tick and calls back only after it', async () => {
      const { storage, cleanup } = await make();
      try {
        storage.createSession({ id: 'sess0002', editorTokenHash: Buffer.alloc(32), viewerTokenHash: Buffer.alloc(32), createdAt: 0 });
        const gc = new GroupCommit(storage);
        const seen: number[] = [];
        const done = Array.from({ length: 10 }, (_, i) => new Promise<void>((resolve) => {
          gc.append({ sessionId: 'sess0002', update: new Uint8Array([i]), author: 'x', time: i }, (err) => {
            assert.equal(err, null);
            // Durable when called back: it is already in storage.
            seen.push(storage.loadUpdates('sess0002').length);
            resolve();
          });
        }));
        assert.equal(storage.loadUpdates('sess0002').length, 0);
        await Promise.all(done);
        assert.equal(gc.commits, 1);
        assert.deepEqual(seen, Array(10).fill(10));
        await gc.idle();
        storage.close();
      } finally {
        await cleanup();
      }
    });
    test('keyframe fencing: a write with a lower fencing token than one accepted is refused and changes nothing', async () => {
      const { storage, cleanup } = await make();
      try {
        storage.createSession({ id: 'fence001', editorTokenHash: Buffer.alloc(32), viewerTokenHash: Buffer.alloc(32), createdAt: 0 });
        const kf = (iter: number, fencingToken?: number) => ({
          sessionId: 'fence001', iter, width: 1, height: 1, mime: 'image/jpeg' as const, data: Buffer.from([iter]),
          losses: { total: 1, style: 1, content: 1, tv: 1 }, time: iter, fencingToken,
        });
        storage.putKeyframe(kf(10, 3));
        storage.putKeyframe(kf(11, 3));
        storage.putKeyframe(kf(20, 5));
        assert.throws(() => storage.putKeyframe(kf(99, 4)), (e: Error) => e instanceof StaleFencingTokenError && /4/.test(e.message));
        assert.equal(storage.latestKeyframe('fence001')?.iter, 20, 'the stale owner did not overwrite the keyframe');
        storage.putKeyframe(kf(21, 5));
        storage.putKeyframe(kf(22));
        assert.equal(storage.latestKeyframe('fence001')?.iter, 22, 'writes without a token (one process) are not checked');
        storage.close();
      } finally {
        await cleanup();
      }
    });
  });
}
