import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GroupCommit } from './group-commit.ts';
import { MemoryStorage } from './memory.ts';
import { SqliteStorage } from './sqlite.ts';
import type { Storage } from './types.ts';

const impls: [string, () => { storage: Storage; reopen?: () => Storage; cleanup(): void }][] = [
  ['memory', () => ({ storage: new MemoryStorage(), cleanup() {} })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'atelier-storage-'));
      return { storage: new SqliteStorage(dir), reopen: () => new SqliteStorage(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];

for (const [name, make] of impls) {
  describe(`${name} storage`, () => {
    test('S13: sessions, updates (in order, with author and time), images and keyframes round-trip', () => {
      const { storage, reopen, cleanup } = make();
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
        cleanup();
      }
    });

    test('S6: group commit writes one transaction per tick and calls back only after it', async () => {
      const { storage, cleanup } = make();
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
        cleanup();
      }
    });
  });
}
