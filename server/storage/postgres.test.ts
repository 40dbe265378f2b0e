import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pgModule from 'pg';
import { servicesSkipReason, startPostgres, type PostgresService } from '../testing/services.ts';
import { storageContract } from './contract.ts';
import { PostgresStorage } from './postgres.ts';

// The shared storage contract (contract.ts) on a real PostgreSQL started for this file. Fails with
// an install hint when PostgreSQL is missing, unless ATELIER_SKIP_SERVICES=1.
const { Client } = pgModule;

let skip: string | undefined;
let setupError: Error | undefined;
try {
  skip = servicesSkipReason();
} catch (e) {
  setupError = e as Error;
}

if (setupError) {
  test('PostgreSQL storage contract needs redis-server and postgresql installed', () => {
    throw setupError;
  });
} else if (skip) {
  test('PostgreSQL storage contract', { skip }, () => {});
} else {
  let pg: PostgresService;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });
  describe('postgres', () => {
    storageContract('postgres', async () => {
      const url = await pg.createDatabase();
      return { storage: new PostgresStorage(url), reopen: () => new PostgresStorage(url), cleanup() {} };
    });

    test('a lost connection fails at most the call it hit; the next call reconnects', async () => {
      const url = await pg.createDatabase();
      const storage = new PostgresStorage(url);
      try {
        storage.createSession({ id: 'conn0001', editorTokenHash: Buffer.alloc(32), viewerTokenHash: Buffer.alloc(32), createdAt: 1 });
        const admin = new Client({ connectionString: url });
        await admin.connect();
        const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'atelier' AND pid <> pg_backend_pid()");
        await admin.end();
        assert.ok(rowCount && rowCount > 0, 'the storage connection was terminated');
        await new Promise((r) => setTimeout(r, 100));
        let record;
        for (let i = 0; i < 2 && !record; i++) {
          try {
            record = storage.getSession('conn0001');
          } catch {
            // the call that hits the dead connection may fail
          }
        }
        assert.equal(record?.createdAt, 1);
      } finally {
        storage.close();
      }
    });

    test('an unreachable database fails at construction with a clear message', async () => {
      const url = pg.url.replace(/:(\d+)\//, ':1/');
      assert.throws(() => new PostgresStorage(url, { connectTimeoutMs: 2_000 }), /cannot reach PostgreSQL/);
    });
  });
}
