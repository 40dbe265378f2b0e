import { after, before, describe, test } from 'node:test';
import { servicesSkipReason, startPostgres, type PostgresService } from '../testing/services.ts';
import { storageContract } from './contract.ts';
import { PostgresStorage } from './postgres.ts';

// The shared storage contract (contract.ts) on a real PostgreSQL started for this file. Fails with
// an install hint when PostgreSQL is missing, unless ATELIER_SKIP_SERVICES=1.
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
  });
}
