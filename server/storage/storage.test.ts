import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storageContract } from './contract.ts';
import { MemoryStorage } from './memory.ts';
import { SqliteStorage } from './sqlite.ts';

// The shared storage contract (contract.ts) on the embedded implementations; postgres.test.ts runs
// it on PostgreSQL. SQLite runs in its worker thread, as the server runs it.
storageContract('memory', () => ({ storage: new MemoryStorage(), cleanup() {} }));
storageContract('sqlite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'atelier-storage-'));
  return { storage: await SqliteStorage.open(dir), reopen: () => SqliteStorage.open(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});
