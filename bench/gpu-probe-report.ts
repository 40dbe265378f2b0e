/**
 * bench/gpu-probe's results as Markdown (DIR/summary.md): the tables docs/BENCHMARKS.md's GPU
 * section takes, each figure beside the card's peak and PyTorch's time from the same run.
 */
import type { AdapterDescription } from '../server/engine/platform/webgpu/device.ts';
import type { AdapterReport, LayerResult, MatmulResult } from './gpu-probe-micro.ts';

export interface EngineRow {
  config: string;
  network: string;
  size: number;
  msPerStep: number | null;
  firstStepMs?: number;
  flopsPerStep?: number | null;
  dispatchesPerStep?: number;
  submitsPerStep?: number;
  /** Products our kernels ran in one step. */
  oursPerStep?: number;
  fallbacks?: Record<string, number>;
  note: string;
}

export interface TorchRun {
  tf32: 'off' | 'on';
  rows: { size: number; ms: number; device_name?: string; torch?: string }[];
  skipped?: string;
}

export interface ProbeResults {
  started: string;
  small: boolean;
  host: { node: string; platform: string; cpu: string };
  elapsedS?: number;
  nvidiaSmi?: string;
  adapters?: AdapterReport[];
  engineToggles?: string[];
  device?: { description: AdapterDescription; features: string[]; f16: unknown };
  matmul?: MatmulResult[];
  layers?: { size: number; rows: LayerResult[] };
  engine?: EngineRow[];
  torch?: TorchRun[];
  errors: { section: string; message: string }[];
  skipped: { section: string; reason: string }[];
}

/**
 * Dense peaks (TFLOP/s, no sparsity) from NVIDIA's data sheets, by the name nvidia-smi or the
 * adapter reports: plain fp32 (CUDA cores), TF32 and fp16 tensor cores with fp32 accumulation.
 */
const PEAKS: { match: RegExp; name: string; fp32: number; tf32: number; fp16: number }[] = [
  { match: /H200/i, name: 'H200 SXM', fp32: 67, tf32: 494, fp16: 989 },
  { match: /H100.*PCIe/i, name: 'H100 PCIe', fp32: 51, tf32: 378, fp16: 756 },
  { match: /H100/i, name: 'H100 SXM', fp32: 67, tf32: 494, fp16: 989 },
  { match: /A100/i, name: 'A100', fp32: 19.5, tf32: 156, fp16: 312 },
  { match: /L40S/i, name: 'L40S', fp32: 91.6, tf32: 183, fp16: 362 },
];

export function cardPeak(r: ProbeResults): (typeof PEAKS)[number] | null {
  const names = [r.nvidiaSmi ?? '', r.device?.description.description ?? '', r.device?.description.device ?? ''].join(' ');
  return PEAKS.find((p) => p.match.test(names)) ?? null;
}

const f = (v: number | null | undefined, digits = 1) => (v == null || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const e = (v: number | null | undefined) => (v == null ? '—' : v.toExponential(1));

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function summaryMarkdown(r: ProbeResults): string {
  const out: string[] = [];
  const peak = cardPeak(r);
  const d = r.device?.description;
  out.push(`# GPU probe ${r.started}${r.small ? ' (--small: sizes shrunk, timings meaningless)' : ''}`);
  out.push('');
  out.push(`Card: ${r.nvidiaSmi ? '`' + r.nvidiaSmi.replace(/\n/g, '; ') + '`' : 'nvidia-smi not available'}. Adapter: ${d ? `${d.vendor} ${d.architecture} ${d.device} — ${d.description}` : '—'}. ` +
    `Peaks used (dense, data sheet): ${peak ? `${peak.name} fp32 ${peak.fp32}, TF32 ${peak.tf32}, fp16 ${peak.fp16} TFLOP/s` : 'unknown card'}. ` +
    `Host: ${r.host.cpu}, Node ${r.host.node}. Probe ran ${f(r.elapsedS, 0)} s.`);
  if (r.adapters?.length) {
    out.push('', '## Adapter features by Dawn toggles', '');
    out.push(table(['toggles', 'shader-f16', 'subgroups (min..max)', 'subgroup matrix', 'f16→f32 configs (M×N×K)', 'workgroup storage'], r.adapters.map((a) => {
      const ad = a.adapter;
      if (!ad) return [a.toggles.join(', ') || 'none', a.error ?? 'no adapter', '', '', '', ''];
      const cfgs = ad.subgroupMatrixConfigs.filter((c) => c.componentType === 'f16').map((c) => `${c.M}×${c.N}×${c.K}→${c.resultComponentType}`).join(', ');
      return [a.toggles.join(', ') || 'none', ad.features.includes('shader-f16') ? 'yes' : 'no', ad.features.includes('subgroups') ? `yes (${ad.subgroupMinSize}..${ad.subgroupMaxSize})` : 'no',
        ad.features.includes('chromium-experimental-subgroup-matrix') ? 'yes' : 'no', cfgs || '—', String(ad.limits.maxComputeWorkgroupStorageSize)];
    })));
    out.push('', `Engine device toggles: ${r.engineToggles?.join(', ') || 'none'}; features: ${r.device?.features.join(', ') ?? '—'}; f16 kernels: ${typeof r.device?.f16 === 'string' ? r.device.f16 : JSON.stringify(r.device?.f16)}.`);
  }
  if (r.matmul?.length) {
    out.push('', `## Square matmul n = ${r.matmul[0].n}`, '');
    out.push(table(['kernel', 'ms', 'TFLOP/s', '% of peak', 'max rel. error', 'plan / note'], r.matmul.map((m) => {
      const p = peak ? (/f16|subgroup/i.test(m.kernel) ? peak.fp16 : peak.fp32) : null;
      return [m.kernel, f(m.ms, 2), f(m.tflops, 2), p && m.tflops ? `${f((100 * m.tflops) / p, 0)}% of ${/f16|subgroup/i.test(m.kernel) ? 'fp16' : 'fp32'}` : '—', m.relError == null ? '—' : `${e(m.relError)} vs ${m.reference}`, m.error ? `error: ${m.error.split('\n')[0].slice(0, 160)}` : m.plan ?? ''];
    })));
  }
  if (r.layers?.rows.length) {
    out.push('', `## VGG19 layers at ${r.layers.size} px: tfjs-backend-webgpu vs ours`, '');
    const variants = ['tfjs', 'fp32', 'f16'].filter((v) => r.layers!.rows.some((row) => v in row.ms));
    out.push(table(['op', 'shape', 'GFLOP', ...variants.map((v) => `${v} ms (TFLOP/s)`), 'fp32 speed-up vs tfjs', ...variants.filter((v) => v !== 'tfjs').map((v) => `${v} err vs tfjs`), 'plans'], r.layers.rows.map((row) => [
      row.op, row.shape, f(row.gflop, 2),
      ...variants.map((v) => (row.ms[v] == null ? '—' : `${f(row.ms[v], 2)} (${f(row.gflop / row.ms[v]!, 2)})`)),
      row.ms.fp32 && row.ms.tfjs ? `${f(row.ms.tfjs / row.ms.fp32, 2)}×` : '—',
      ...variants.filter((v) => v !== 'tfjs').map((v) => e(row.relError[v])),
      variants.filter((v) => v !== 'tfjs').map((v) => `${v}: ${row.plan[v] ?? '—'}`).join('; '),
    ])));
  }
  if (r.engine?.length) {
    out.push('', '## Engine steps (VGG19 Gatys step: forward to conv5_1, content conv4_2, style conv1_1..conv5_1, gradient, Adam; embedded default: mobilenet_v2, `default` preset)', '');
    const torch = (tf32: 'off' | 'on', size: number) => r.torch?.find((t) => t.tf32 === tf32)?.rows.find((x) => x.size === size)?.ms ?? null;
    out.push(table(['network', 'size', 'config', 'ms/step', 'steps/s', 'GFLOP/step', 'TFLOP/s', 'dispatches/step', 'submits/step', 'ours/step', 'PyTorch fp32 ms', 'PyTorch TF32 ms', '÷ PyTorch fp32', '÷ PyTorch TF32', 'note'], r.engine.map((x) => {
      const [t32, tt] = x.network === 'vgg19' ? [torch('off', x.size), torch('on', x.size)] : [null, null];
      return [x.network, String(x.size), x.config, f(x.msPerStep, 1), x.msPerStep ? f(1000 / x.msPerStep, 1) : '—', x.flopsPerStep ? f(x.flopsPerStep / 1e9, 1) : '—',
        x.flopsPerStep && x.msPerStep ? f(x.flopsPerStep / x.msPerStep / 1e9, 2) : '—', String(x.dispatchesPerStep ?? '—'), String(x.submitsPerStep ?? '—'), String(x.oursPerStep ?? '—'),
        f(t32, 1), f(tt, 1), t32 && x.msPerStep ? `${f(x.msPerStep / t32, 2)}×` : '—', tt && x.msPerStep ? `${f(x.msPerStep / tt, 2)}×` : '—',
        [x.note, x.fallbacks && Object.keys(x.fallbacks).length ? `tfjs ran: ${Object.entries(x.fallbacks).map(([k, n]) => `${n}× ${k}`).join(', ')}` : ''].filter(Boolean).join('; ')];
    })));
  }
  if (r.torch) {
    out.push('', '## PyTorch (bench/torch_gatys_step.py --device cuda)', '');
    for (const t of r.torch) {
      out.push(`- TF32 ${t.tf32}: ${t.skipped ? `skipped — ${t.skipped}` : t.rows.map((x) => `${x.size} px ${f(x.ms, 2)} ms`).join(', ')}${t.rows[0]?.torch ? ` (torch ${t.rows[0].torch}, ${t.rows[0].device_name})` : ''}`);
    }
  }
  if (r.skipped.length) out.push('', '## Skipped', '', ...r.skipped.map((s) => `- ${s.section}: ${s.reason}`));
  if (r.errors.length) out.push('', '## Errors', '', ...r.errors.map((x) => `- ${x.section}: \`${x.message.split('\n')[0]}\``));
  return out.join('\n') + '\n';
}
