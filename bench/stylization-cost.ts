/**
 * `npm run bench:stylization` — what the default preset's image parameterization, shifts and
 * palette term cost per step, against the optimization the embedded default ran before them
 * (pixels, no shift, no palette term), on the same machine in the same run.
 *
 *   npm run bench:stylization -- [--network mobilenet_v2] [--size 256] [--steps 12] [--rounds 3]
 *                                [--backend auto] [--out docs/BENCHMARKS.md]
 *
 * The variants run interleaved, `--steps` steps each per round, so a change of load on this shared
 * machine hits them alike; the figure is the median step of all rounds, and the ratio to
 * `before` is the number to read. The layout term and TV on YIQ stay on in `before` (pixel-space,
 * a few ms). Written into docs/BENCHMARKS.md, section `stylization-cost`.
 */
import {
  createStyleTransfer,
  initBackend,
  loadNetwork,
  presetSuggestedParams,
  SHIFT_SCHEDULE_LENGTH,
  wasmThreadCount,
  type NetworkName,
  type TransferParams,
} from '../server/engine/index.ts';
import { readImageFile } from '../server/images/codec.ts';
import { writeSection } from './engine.ts';
import { median } from './live.ts';
import { readArgs } from '../scripts/cli-args.ts';

const { values: argv } = readArgs(
  {
    network: { type: 'string', default: 'mobilenet_v2' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'auto' },
    out: { type: 'string', default: 'docs/BENCHMARKS.md' },
  },
  'npm run bench:stylization -- [--network mobilenet_v2] [--size 256] [--steps 12] [--rounds 3] [--backend auto] [--out docs/BENCHMARKS.md]',
);

const VARIANTS: { id: string; what: string; params: Partial<TransferParams> }[] = [
  { id: 'before', what: 'pixels, no shift, no palette term (the embedded default before issue 14)', params: { parameterization: 'pixels', jitter: 0, paletteWeight: 0, learningRate: 0.02 } },
  { id: 'pyramid', what: '+ 4-level decorrelated pyramid', params: { jitter: 0, paletteWeight: 0 } },
  { id: 'shifts', what: '+ random shifts ±8 px', params: { paletteWeight: 0 } },
  { id: 'default', what: '+ palette term: the `default` preset', params: {} },
];

const backend = await initBackend(argv.backend as 'auto');
const network = await loadNetwork(argv.network as NetworkName);
const content = await readImageFile('assets/content/chelsea.png');
const style = await readImageFile('assets/style/starry_night.jpg');
const size = Number(argv.size);
const transfers = VARIANTS.map((v) =>
  createStyleTransfer(network, {
    content,
    styles: [{ image: style, weight: 1, scale: 1 }],
    params: { ...presetSuggestedParams('default'), resolution: size, ...v.params },
  }),
);
const times: number[][] = VARIANTS.map(() => []);
// Warm-up: kernels, and the targets of every entry of the shift schedule (E25: content targets
// are cached per shift, so the first SHIFT_SCHEDULE_LENGTH steps of a session also run the network
// on the shifted content once each). The figure is the steady state a live session runs in.
for (const t of transfers) for (let s = 0; s < SHIFT_SCHEDULE_LENGTH; s++) await t.step();
for (let r = 0; r < Number(argv.rounds); r++) {
  for (const [i, t] of transfers.entries()) {
    for (let s = 0; s < Number(argv.steps); s++) times[i].push((await t.step()).ms);
  }
}
const base = median(times[0]);
const threads = backend === 'wasm' ? ` (${wasmThreadCount()} threads)` : '';
const lines = [
  `Cost of the default's image parameterization, shifts and palette term: ${network.name}, ${size} px, ` +
    `${backend}${threads}, chelsea × The Starry Night, median of ${times[0].length} steps per variant, interleaved. ` +
    `\`npm run bench:stylization -- --size ${size}\`.`,
  '',
  '| variant | what | ms/step | steps/s | × before |',
  '|---|---|---|---|---|',
  ...VARIANTS.map((v, i) => {
    const ms = median(times[i]);
    return `| ${v.id} | ${v.what} | ${ms.toFixed(0)} | ${(1000 / ms).toFixed(2)} | ${(ms / base).toFixed(2)} |`;
  }),
];
console.log(lines.join('\n'));
writeSection(argv.out!, 'stylization-cost', `## Stylization cost (\`npm run bench:stylization\`)\n\n${lines.join('\n')}`);
for (const t of transfers) t.dispose();
network.dispose();
