/**
 * The storage contract: the behaviour every {@link Storage} implementation (memory, SQLite,
 * PostgreSQL) must have, as one suite. `storage.test.ts` runs it against memory and SQLite (in its
 * worker), `postgres.test.ts` against a real PostgreSQL (server/testing/services.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from './group-commit.ts';
import { DuplicateSessionError, StaleFencingTokenError, type Storage } from './types.ts';

/** One fresh, empty storage; `reopen` opens the same data again (durable stores only). */
export interface ContractSubject {
  storage: Storage;
  reopen?: () => Promise<Storage>;
  cleanup(): void | Promise<void>;
}

const session = (id: string, createdAt = 0) => ({ id, editorTokenHash: Buffer.alloc(32, 1), viewerTokenHash: Buffer.alloc(32, 2), createdAt });
const kf = (sessionId: string, iter: number, time: number, fencingToken?: number) => ({
  sessionId,
  iter,
  width: 4,
  height: 2,
  mime: 'image/jpeg' as const,
  data: Buffer.from([iter, 1, 2]),
  losses: { total: iter, style: 1, content: 2, tv: 3 },
  time,
  ...(fencingToken !== undefined ? { fencingToken } : {}),
});

/** Registers the contract tests for the implementation `name`; `make` gives a fresh storage per test. */
export function storageContract(name: string, make: () => ContractSubject | Promise<ContractSubject>): void {
  describe(`${name} storage`, () => {
    const withSubject = async (fn: (s: ContractSubject) => Promise<void>) => {
      const subject = await make();
      try {
        await fn(subject);
      } finally {
        await subject.cleanup();
      }
    };
    const reopened = async (s: ContractSubject) => (s.reopen ? (await s.storage.close(), await s.reopen()) : s.storage);

    test('S13: sessions, updates (in order, with author and time), images and keyframes round-trip', () =>
      withSubject(async (subject) => {
        const { storage } = subject;
        const rec = session('sess0001', 5);
        await storage.createSession(rec);
        await assert.rejects(storage.createSession(rec), DuplicateSessionError);
        await storage.appendUpdates([
          { sessionId: 'sess0001', update: new Uint8Array([1, 2]), author: 'a#1', time: 10 },
          { sessionId: 'sess0001', update: new Uint8Array([3]), author: 'b#2', time: 11 },
        ]);
        await storage.appendUpdates([{ sessionId: 'sess0001', update: new Uint8Array([4]), author: 'a#1', time: 12 }]);
        const png = { id: 'f'.repeat(64), mime: 'image/png' as const, width: 2, height: 3, bytes: Buffer.from('x'), createdAt: 1 };
        await storage.putImage(png);
        await storage.putImage(png);
        for (const iter of [5, 9, 14, 20]) await storage.putKeyframe(kf('sess0001', iter, iter));
        const s = await reopened(subject);
        assert.deepEqual(await s.getSession('sess0001'), rec);
        assert.equal(await s.getSession('nope'), undefined);
        assert.equal(await s.countSessions(), 1);
        const ups = await s.loadUpdates('sess0001');
        assert.deepEqual(ups.map((u) => [...u.update]), [[1, 2], [3], [4]]);
        assert.deepEqual(ups.map((u) => u.author), ['a#1', 'b#2', 'a#1']);
        assert.deepEqual(ups.map((u) => u.time), [10, 11, 12]);
        assert.ok(ups[0].seq < ups[1].seq && ups[1].seq < ups[2].seq);
        assert.deepEqual((await s.loadUpdates('sess0001', ups[0].seq)).map((u) => [...u.update]), [[3], [4]]);
        assert.deepEqual(await s.loadUpdates('sess0001', ups[2].seq), []);
        assert.equal((await s.getImage('f'.repeat(64)))?.width, 2);
        assert.ok(Buffer.isBuffer((await s.getImage('f'.repeat(64)))?.bytes), 'image bytes come back as a Buffer');
        assert.deepEqual(await s.imageInfo(['f'.repeat(64), 'e'.repeat(64)]), [{ id: 'f'.repeat(64), mime: 'image/png', width: 2, height: 3 }]);
        const latest = await s.latestKeyframe('sess0001');
        assert.equal(latest?.iter, 20);
        assert.deepEqual(latest?.losses, { total: 20, style: 1, content: 2, tv: 3 });
        assert.deepEqual([...latest!.data], [20, 1, 2]);
        await s.close();
      }));

    test('S6/S30: an update batch with an id is written once, however often it is retried', () =>
      withSubject(async ({ storage }) => {
        await storage.createSession(session('batch001'));
        const batch = [1, 2, 3].map((i) => ({ sessionId: 'batch001', update: new Uint8Array([i]), author: 'a', time: i }));
        await storage.appendUpdates(batch, 'batch-a');
        await storage.appendUpdates(batch, 'batch-a');
        await storage.appendUpdates(batch.slice(0, 1), 'batch-b');
        assert.deepEqual((await storage.loadUpdates('batch001')).map((u) => u.update[0]), [1, 2, 3, 1]);
        await storage.close();
      }));

    test('keyframes: every one kept, listed oldest first without bytes, the latest by time; another session\'s id is not found', () =>
      withSubject(async (subject) => {
        const { storage } = subject;
        for (const id of ['hist0001', 'hist0002']) await storage.createSession(session(id));
        const ids: number[] = [];
        for (const iter of [5, 9, 14, 20, 26]) ids.push(await storage.putKeyframe(kf('hist0001', iter, iter * 10)));
        // Written late but older (a resume keyframe moved in by the migration, a forked keyframe).
        const older = await storage.putKeyframe(kf('hist0001', 1, 1));
        const other = await storage.putKeyframe(kf('hist0002', 1, 1));
        await storage.appendLossSample({ sessionId: 'hist0001', time: 30, iter: 3, losses: { total: 3, style: 2, content: 1, tv: 0 } });
        await storage.appendLossSample({ sessionId: 'hist0001', time: 10, iter: 1, losses: { total: NaN, style: 2, content: 1, tv: 0 } });
        await storage.appendLossSample({ sessionId: 'hist0001', time: 30, iter: 4, losses: { total: 4, style: 2, content: 1, tv: 0 } });
        const s = await reopened(subject);
        const list = await s.listKeyframes('hist0001');
        assert.deepEqual(list.map((k) => k.iter), [1, 5, 9, 14, 20, 26], 'every keyframe, oldest first');
        assert.deepEqual(list.map((k) => k.id), [older, ...ids]);
        assert.equal('data' in list[0], false, 'listings carry no image bytes');
        assert.deepEqual(list[5].losses, { total: 26, style: 1, content: 2, tv: 3 });
        assert.equal((await s.latestKeyframe('hist0001'))?.iter, 26, 'the latest by time, not by id');
        assert.deepEqual([...(await s.getKeyframe('hist0001', ids[2]))!.data], [14, 1, 2]);
        assert.equal(await s.getKeyframe('hist0001', other), undefined, "another session's keyframe is not found");
        assert.equal(await s.getKeyframe('hist0001', 1.5), undefined);
        const losses = await s.lossSamples('hist0001');
        assert.deepEqual(losses.map((l) => [l.time, l.iter]), [[10, 1], [30, 3], [30, 4]], 'by time, same-ms samples in write order');
        assert.ok(Number.isNaN(losses[0].losses.total), 'NaN losses round-trip as NaN');
        assert.deepEqual(await s.lossSamples('hist0002'), []);
        await s.close();
      }));

    test('S6: group commit writes one transaction per window and calls back only after it', () =>
      withSubject(async ({ storage }) => {
        await storage.createSession(session('sess0002'));
        const committed: number[] = [];
        const gc = new GroupCommit(storage, { onCommit: (n) => committed.push(n) });
        const stored: number[] = [];
        const done = Array.from({ length: 10 }, (_, i) =>
          new Promise<void>((resolve, reject) => {
            gc.append({ sessionId: 'sess0002', update: new Uint8Array([i]), author: 'x', time: i }, (err) => {
              if (err) return reject(err);
              // Durable when called back: it is already in storage.
              storage.loadUpdates('sess0002').then((u) => stored.push(u.length), reject).finally(resolve);
            });
          }),
        );
        assert.equal(gc.pending, 10);
        await Promise.all(done);
        assert.equal(gc.commits, 1);
        assert.deepEqual(committed, [10], 'onCommit reports the one batch of 10');
        assert.deepEqual(stored, Array(10).fill(10));
        await gc.durable();
        await gc.close();
        await storage.close();
      }));

    test('keyframe fencing: a write with a lower fencing token than one accepted is refused and changes nothing', () =>
      withSubject(async ({ storage }) => {
        await storage.createSession(session('fence001'));
        await storage.putKeyframe(kf('fence001', 10, 10, 3));
        await storage.putKeyframe(kf('fence001', 11, 11, 3));
        await storage.putKeyframe(kf('fence001', 20, 20, 5));
        await assert.rejects(storage.putKeyframe(kf('fence001', 99, 99, 4)), (e: Error) => e instanceof StaleFencingTokenError && /4/.test(e.message));
        assert.equal((await storage.latestKeyframe('fence001'))?.iter, 20, 'the stale owner did not overwrite the keyframe');
        assert.equal((await storage.listKeyframes('fence001')).length, 3, 'nothing was written');
        await storage.putKeyframe(kf('fence001', 21, 21, 5));
        await storage.putKeyframe(kf('fence001', 22, 22));
        assert.equal((await storage.latestKeyframe('fence001'))?.iter, 22, 'writes without a token (one process) are not checked');
        await storage.close();
      }));
  });
}
