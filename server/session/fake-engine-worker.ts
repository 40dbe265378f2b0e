/**
 * The fake engine's worker thread (one per {@link FakeEngineHost}): holds every session's
 * {@link FakeOptimizer} and, when the main thread asks for a frame, applies the steps taken since
 * the last one, converts and JPEG-encodes the image and posts it back. The real engine does all its
 * pixel work in its worker too; done on the main thread, the fake's loops and encode calls were
 * ~3 s of 35 s of a server process's main thread in the cluster load run (docs/RELIABILITY.md),
 * so the load figures measured the fake rather than the server.
 */
import { parentPort } from 'node:worker_threads';
import { encodeImage } from '../images/codec.ts';
import { FakeOptimizer } from './fake-optimizer.ts';
import type { FromFakeWorker, ToFakeWorker } from './fake-engine.ts';

const port = parentPort;
if (!port) throw new Error('fake-engine-worker must run in a worker thread');
const post = (m: FromFakeWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const sessions = new Map<number, FakeOptimizer>();

async function frame(id: number, opt: FakeOptimizer, steps: number, quality: number): Promise<void> {
  try {
    const { image, loss } = opt.frame(steps);
    const jpeg = await encodeImage(image, 'image/jpeg', quality);
    const data = new Uint8Array(jpeg); // a copy we own, transferred below
    post({ type: 'frame', id, width: image.width, height: image.height, data, loss }, [data.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: 'failed', id, message: (e as Error).message });
  }
}

port.on('message', (m: ToFakeWorker) => {
  switch (m.type) {
    case 'open':
      sessions.set(m.id, new FakeOptimizer(m.inputs, m.initImage));
      break;
    case 'frame': {
      const opt = sessions.get(m.id);
      if (!opt) break;
      if (m.changes) opt.update(m.changes);
      void frame(m.id, opt, m.steps, m.quality);
      break;
    }
    case 'close':
      sessions.delete(m.id);
      break;
  }
});
