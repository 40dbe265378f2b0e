/**
 * `npm run weights:vgg19` — fetches the Keras VGG19 "notop" ImageNet weights into the cache
 * (default ~/.cache/atelier/, or the path in VGG19_WEIGHTS), with a progress bar and an MD5 check
 * against the checksum Keras itself uses. Offline it fails with a message saying where to put the
 * file. Nothing else in Atelier downloads anything: the embedded default model ships with npm.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { vgg19WeightsPath } from '../server/engine/networks/vgg19.ts';

const VGG19_FILE_NAME = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** Where Keras itself downloads the file from, and its MD5 (keras.applications.vgg19). */
export const VGG19_URL = `https://storage.googleapis.com/tensorflow/keras-applications/vgg19/${VGG19_FILE_NAME}`;
export const VGG19_MD5 = '253f8cb515780f3b799900260a226db6';

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function progress(done: number, total: number, started: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const rate = done / 1e6 / Math.max(0.001, (Date.now() - started) / 1000);
  process.stderr.write(`\r[${bar}] ${mb(done)}/${total ? mb(total) : '?'} MB  ${rate.toFixed(1)} MB/s `);
}

function offlineHelp(target: string, why: string): string {
  return [
    `Could not download the VGG19 weights: ${why}.`,
    `This machine seems to be offline. Put the Keras file ${VGG19_FILE_NAME}`,
    `(MD5 ${VGG19_MD5}, about 80 MB) at:`,
    `  ${target}`,
    `or anywhere else and point VGG19_WEIGHTS (or --weights) at it. You can fetch it on a machine`,
    `with internet access from ${VGG19_URL}`,
  ].join('\n');
}

export async function downloadVgg19(target = vgg19WeightsPath()): Promise<string> {
  if (existsSync(target)) {
    const sum = await md5Of(target);
    if (sum === VGG19_MD5) {
      console.error(`VGG19 weights already present and verified: ${target}`);
      return target;
    }
    console.error(`${target} exists but its MD5 is ${sum}, not ${VGG19_MD5}; downloading again.`);
  }
  mkdirSync(path.dirname(target), { recursive: true });
  let res: Response;
  try {
    res = await fetch(VGG19_URL, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new Error(offlineHelp(target, String(cause)));
  }
  if (!res.ok || !res.body) throw new Error(offlineHelp(target, `HTTP ${res.status}`));
  const total = Number(res.headers.get('content-length') ?? 0);
  const part = target + '.part';
  const out = createWriteStream(part);
  const hash = createHash('md5');
  const started = Date.now();
  let done = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      done += chunk.byteLength;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      progress(done, total, started);
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (e) {
    out.destroy();
    rmSync(part, { force: true });
    throw new Error(offlineHelp(target, `transfer failed after ${done} bytes (${(e as Error).message})`));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  const sum = hash.digest('hex');
  if (sum !== VGG19_MD5) {
    rmSync(part, { force: true });
    throw new Error(`Downloaded file has MD5 ${sum}, expected ${VGG19_MD5}; not kept.`);
  }
  renameSync(part, target);
  console.error(`VGG19 weights saved and verified: ${target}`);
  return target;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  downloadVgg19().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
