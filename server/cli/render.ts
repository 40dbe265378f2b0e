/**
 * `npm run render` — the engine on the command line: render one stylized image (or one of the
 * paper's experiments) without a server. See {@link USAGE} for the options.
 *
 * Output contract with `--json`: one line per iteration on stdout,
 * `{"iter":i,"loss":..,"style":..,"content":..,"tv":..,"ms":..}`, where line i holds the losses
 * of the image after i steps (iter 0 is the initial image) and `ms` the time of the step that
 * computed them. Everything else (logs, progress) goes to stderr.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MaskImage, RgbImage, StyleInput, StyleRegion, TransferParams } from '../engine/api.ts';
import { initBackend } from '../engine/platform/backend.ts';
import { loadNetwork } from '../engine/networks/index.ts';
import { presetSuggestedParams } from '../engine/presets.ts';
import { encodeImage, readImageFile, type EncodeMime } from '../images/codec.ts';
import { parseRenderArgs, USAGE, UsageError, type RenderOptions, type CliModel } from './args.ts';
import { runRender, type RenderProgress } from './run.ts';
import { SessionSourceError, sessionRenderJob, type SessionRenderJob } from './from-session.ts';

/** Models used when `--model` is not given: the paper presets are defined on VGG19. */
export function defaultModelFor(preset: RenderOptions['preset']): CliModel {
  return preset === 'default' ? 'mobilenet_v2' : 'vgg19';
}

function mimeFor(file: string): EncodeMime {
  const ext = path.extname(file).toLowerCase();
  return ext === '.png' ? 'image/png' : ext === '.webp' ? 'image/webp' : 'image/jpeg';
}

/** Builds engine parameters: the preset's suggestion, then every option the user gave. */
export function paramsFromOptions(o: RenderOptions): TransferParams {
  const p = presetSuggestedParams(o.preset);
  return {
    ...p,
    resolution: o.size,
    seed: o.seed,
    contentWeight: o.contentWeight,
    styleWeight: o.styleLossWeight,
    tvWeight: o.tvWeight,
    colors: o.colors,
    optimizer: o.optimizer ?? p.optimizer,
    learningRate: o.learningRate ?? p.learningRate,
    pooling: o.pooling ?? p.pooling,
    init: o.init ?? p.init,
    ...(o.contentLayers ? { contentLayers: o.contentLayers.map((layer) => ({ layer, weight: 1 })) } : {}),
    ...(o.styleLayers ? { styleLayers: o.styleLayers.map((layer) => ({ layer, weight: 1 })) } : {}),
    ...(o.styleTransform ? { featureTransform: o.styleTransform } : {}),
  };
}

class ProgressBar {
  private readonly enabled = process.stderr.isTTY === true;
  private started = Date.now();
  constructor(private readonly total: number) {}
  update(p: RenderProgress): void {
    if (!this.enabled) return;
    const width = 28;
    const frac = this.total ? Math.min(1, p.iter / this.total) : 1;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const rate = p.iter / Math.max(1e-3, (Date.now() - this.started) / 1000);
    const loss = Number.isFinite(p.losses.total) ? p.losses.total.toExponential(3) : String(p.losses.total);
    process.stderr.write(`\r${p.label ?? ''}[${bar}] ${p.iter}/${this.total}  loss ${loss}  ${rate.toFixed(1)} it/s `);
  }
  done(): void {
    if (this.enabled) process.stderr.write('\n');
  }
}

async function readOptional(file: string | undefined): Promise<RgbImage | undefined> {
  return file ? readImageFile(file) : undefined;
}

/** Largest difference of aspect ratio (relative) between a `--style-mask` and the content. */
const MASK_ASPECT_TOLERANCE = 0.02;

/**
 * A `--style-mask` file as a mask: its luminance (white = the region, grey = partly). It covers
 * the whole content, so it must have the content's aspect (any size: the engine resizes it).
 */
export async function readMaskFile(file: string, content: RgbImage | undefined): Promise<MaskImage> {
  const img = await readImageFile(file);
  if (content) {
    const [a, b] = [img.width / img.height, content.width / content.height];
    if (Math.abs(a / b - 1) > MASK_ASPECT_TOLERANCE) {
      throw new UsageError(`--style-mask ${file} is ${img.width}x${img.height} but the content is ${content.width}x${content.height}: a mask covers the whole content, so it needs the content's aspect ratio`);
    }
  }
  const data = new Uint8Array(img.width * img.height);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(0.299 * img.data[3 * i] + 0.587 * img.data[3 * i + 1] + 0.114 * img.data[3 * i + 2]);
  return { width: img.width, height: img.height, data };
}

export async function main(argv: string[]): Promise<number> {
  let opts: RenderOptions | 'help';
  try {
    opts = parseRenderArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`render: ${e.message}\n(run with --help for all options)\n`);
      return 2;
    }
    throw e;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const o = opts;
  let session: SessionRenderJob | undefined;
  try {
    session = o.fromSession ? await sessionRenderJob(o) : undefined;
  } catch (e) {
    if (!(e instanceof SessionSourceError)) throw e;
    process.stderr.write(`render: ${e.message}\n`);
    return 2;
  }
  const content = session ? session.content : await readOptional(o.content);
  const styles: StyleInput[] = session ? session.styles : [];
  const regions: StyleRegion[] = session ? session.regions : [];
  try {
    for (const s of o.styles) {
      const image = await readImageFile(s.path);
      if (s.mask === undefined) styles.push({ image, weight: s.weight, scale: s.scale });
      else regions.push({ image, scale: s.scale, mask: await readMaskFile(s.mask, content) });
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`render: ${e.message}\n`);
    return 2;
  }
  const initImage = session?.initImage ?? (await readOptional(o.initImage));
  if (session) process.stderr.write(`render: ${session.summary}\n`);

  const backend = await initBackend(o.backend);
  const model = o.model ?? session?.model ?? defaultModelFor(o.preset);
  const network = await loadNetwork(model, { weightsPath: o.weights });
  process.stderr.write(`render: backend ${backend}, model ${model}, preset ${session ? session.params.preset : o.preset}, ${o.size}px, ${o.iters} iterations\n`);

  const bar = new ProgressBar(o.iters);
  try {
    const result = await runRender({
      mode: o.mode,
      network,
      content,
      styles,
      regions,
      initImage,
      params: session ? session.params : paramsFromOptions(o),
      iters: o.iters,
      pyramid: o.pyramid,
      onProgress: (p) => {
        if (o.json && p.label === undefined) {
          const { total, style, content: c, tv } = p.losses;
          process.stdout.write(JSON.stringify({ iter: p.iter, loss: total, style, content: c, tv, ms: p.ms }) + '\n');
        }
        if (!o.json) bar.update(p);
      },
      saveEvery: o.saveEvery,
      onSnapshot: async (iter, img) => {
        const ext = path.extname(o.out);
        await writeFile(o.out.slice(0, -ext.length) + `-${iter}` + ext, await encodeImage(img, mimeFor(o.out), 92));
      },
    });
    bar.done();
    await mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
    await writeFile(o.out, await encodeImage(result, mimeFor(o.out), 92));
    process.stderr.write(`render: wrote ${o.out} (${result.width}x${result.height})\n`);
  } finally {
    network.dispose();
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`render: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
