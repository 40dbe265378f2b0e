// Worker half of PostgresStorage (postgres.ts): owns one `pg` connection and runs the batches of
// queries the main thread sends, one at a time, each batch in one transaction. The main thread
// blocks on a SharedArrayBuffer flag (Atomics.wait) until the answer is posted, which is what
// keeps the Storage interface synchronous, like better-sqlite3. Plain JS so no TS loader is
// needed inside the worker.
import { workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, port, flag, connectTimeoutMs } = workerData;
const signal = new Int32Array(flag);

// int8 (bigint, bigserial) as JS numbers: sequence numbers and ms timestamps stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

let client = null;
let broken = true;

/** (Re)connects when there is no healthy connection (first call, or after PostgreSQL went away). */
async function ensureClient() {
  if (client && !broken) return;
  if (client) await client.end().catch(() => {});
  client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: 'atelier' });
  const c = client;
  c.on('error', () => {
    if (client === c) broken = true;
  });
  await c.connect();
  broken = false;
}

function answer(msg) {
  port.postMessage(msg);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** Uint8Array (what structured clone makes of a Buffer) → Buffer, which pg sends as bytea. */
function param(v) {
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

class Refused extends Error {}

async function runBatch({ queries, transaction }) {
  const results = [];
  if (transaction) await client.query('BEGIN');
  try {
    for (const q of queries) {
      const res = await client.query(q.text, (q.values ?? []).map(param));
      if (q.refuseWhenNoRows && res.rowCount === 0) throw new Refused(q.refuseWhenNoRows);
      results.push(res.rows);
    }
    if (transaction) await client.query('COMMIT');
    return results;
  } catch (e) {
    if (transaction) await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

port.on('message', async (req) => {
  if (req.close) {
    await client?.end().catch(() => {});
    return answer({ ok: true, results: [] });
  }
  try {
    await ensureClient();
  } catch (e) {
    broken = true;
    return answer({ ok: false, error: { message: `cannot reach PostgreSQL: ${e.message}`, code: e.code } });
  }
  try {
    answer({ ok: true, results: await runBatch(req) });
  } catch (e) {
    // A lost connection fails this call; the next one reconnects.
    if (!(e instanceof Refused) && (!e.code || /^(08|57P)/.test(e.code))) broken = true;
    answer({ ok: false, error: { message: e.message, code: e.code, refused: e instanceof Refused } });
  }
});
