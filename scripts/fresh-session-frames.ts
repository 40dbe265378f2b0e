/**
 * How fast a new session paints, seen from a client that is not a browser: creates a session on
 * a running server, connects as a viewer (server/testing's socket client) and prints the newest
 * frame's iteration every 250 ms. The browser screenshots (client/scripts/fresh-session-shots.ts)
 * share this machine's 2 cores with Chromium's software WebGL; this shows the server alone.
 *
 *   npm start   # in another shell (PORT=4517 npm start)
 *   node --import tsx scripts/fresh-session-frames.ts --url http://127.0.0.1:4517 [--seconds 12]
 */
import { connectClient, createSession } from '../server/testing/index.ts';
import { exitWithUsage, numberArg, readArgs } from './cli-args.ts';

const USAGE = 'node --import tsx scripts/fresh-session-frames.ts --url http://127.0.0.1:PORT [--seconds 12]';
const { values } = readArgs({ url: { type: 'string' }, seconds: { type: 'string' } }, USAGE);
if (!values.url) exitWithUsage('fresh-session-frames: --url is required', USAGE);
const seconds = numberArg(values.seconds, 'seconds') ?? 12;
const t0 = performance.now();
const session = await createSession(values.url);
const client = await connectClient({ url: values.url, session: session.id, token: session.viewerToken, name: 'frames-probe' });
const since = () => ((performance.now() - t0) / 1000).toFixed(2);
console.log(`session ${session.id} created and joined in ${since()} s`);
let last = -1;
while (performance.now() - t0 < seconds * 1000) {
  await new Promise((r) => setTimeout(r, 250));
  const frame = client.frames.at(-1);
  if (frame && frame.iter !== last) {
    last = frame.iter;
    console.log(`${since()} s after creation: iteration ${frame.iter}`);
  }
}
client.close();
process.exit(0);
