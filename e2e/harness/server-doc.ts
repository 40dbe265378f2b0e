/**
 * Reads a session's document as the server holds it, through a read-only (viewer-token)
 * socket.io client — so e2e assertions about "the server's state" do not trust any page.
 */
import { connectClient } from '../../server/testing/index.ts';
import { waitFor } from '../../server/testing/index.ts';

export interface ServerDocSnapshot {
  params: Record<string, unknown>;
  styles: Array<Record<string, unknown>>;
  strokes: Array<Record<string, unknown>>;
  /** Style-brush strokes (server SPEC S34). */
  regions: Array<Record<string, unknown>>;
  content: Record<string, unknown>;
}

/** Connects with `token` (use the viewer token), waits for sync, returns plain JSON, disconnects. */
export async function readServerDoc(url: string, session: string, token: string): Promise<ServerDocSnapshot> {
  const c = await connectClient({ url, session, token, name: 'e2e-probe' });
  try {
    const d = c.doc;
    return {
      params: d.getMap('params').toJSON(),
      styles: d.getArray('styles').toJSON() as Array<Record<string, unknown>>,
      strokes: d.getArray('strokes').toJSON() as Array<Record<string, unknown>>,
      regions: d.getArray('regions').toJSON() as Array<Record<string, unknown>>,
      content: d.getMap('content').toJSON(),
    };
  } finally {
    c.close();
  }
}

/** Polls the server's document until `predicate` holds; returns the snapshot that satisfied it. */
export async function waitForServerDoc(
  url: string,
  session: string,
  token: string,
  what: string,
  predicate: (d: ServerDocSnapshot) => boolean,
  timeoutMs = 20_000,
): Promise<ServerDocSnapshot> {
  let last: ServerDocSnapshot | null = null;
  try {
    await waitFor(
      async () => {
        last = await readServerDoc(url, session, token);
        if (predicate(last)) return true;
        await new Promise((r) => setTimeout(r, 200));
        return false;
      },
      timeoutMs,
      what,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last server doc: ${JSON.stringify(last).slice(0, 400)}`);
  }
  return last!;
}
