/**
 * Command-line options of `npm run render`, parsed and validated in one place so that every
 * mistake is reported before any model is loaded (loading VGG19 takes seconds; a typo should not).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BACKEND_NAMES,
  COLOR_MODES,
  EXPERIMENT_MODES,
  FEATURE_TRANSFORMS,
  INIT_MODES,
  NETWORK_NAMES,
  OPTIMIZER_NAMES,
  POOLING_NAMES,
  PRESET_NAMES,
  type BackendName,
  type ColorMode,
  type FeatureTransformName,
  type InitMode,
  type OptimizerName,
  type Pooling,
  type PresetName,
} from '../../shared/names.ts';
import { PARAMETERIZATION_NAMES } from '../engine/parameterization.ts';
import { DEFAULT_SESSION_IMAGES } from '../../shared/schema.ts';

/** The engine's experiment modes, plus `grid` (one image per weight combination). */
export const CLI_MODES = [...EXPERIMENT_MODES, 'grid'] as const;
export type CliMode = (typeof CLI_MODES)[number];
/** Every engine network, `tiny` included. */
export const CLI_MODELS = NETWORK_NAMES;
export type CliModel = (typeof CLI_MODELS)[number];
export const CLI_PRESETS = PRESET_NAMES;
export const CLI_BACKENDS = ['auto', ...BACKEND_NAMES] as const;

export interface RenderStyle {
  path: string;
  weight: number;
  scale: number;
  /** `--style-mask`: the style goes only where this image is white (a painted region, engine E34). */
  mask?: string;
}

/** Fully validated options; absent optional fields mean "the preset's choice". */
export interface RenderOptions {
  content?: string;
  styles: RenderStyle[];
  out: string;
  preset: PresetName;
  model?: CliModel;
  weights?: string;
  size: number;
  iters: number;
  seed: number;
  backend: BackendName | 'auto';
  json: boolean;
  mode: CliMode;
  optimizer?: OptimizerName;
  learningRate?: number;
  contentWeight: number;
  styleLossWeight: number;
  tvWeight: number;
  pooling?: Pooling;
  colors: ColorMode;
  init?: InitMode;
  initImage?: string;
  pyramid: boolean;
  contentLayers?: string[];
  styleLayers?: string[];
  styleTransform?: FeatureTransformName;
  /** Image parameterization (E23); absent = the preset's. */
  parameterization?: (typeof PARAMETERIZATION_NAMES)[number];
  /** Largest random shift in px (E25); absent = the preset's. */
  jitter?: number;
  /** Multiplier of the preset's palette weight (E26). */
  paletteWeight: number;
  /** Save an intermediate image every N iterations (0 = never). */
  saveEvery: number;
  /** Re-render this stored session (content, styles, strokes and params come from it). */
  fromSession?: string;
  /** With fromSession: the time to take the state at (ms since epoch or ISO date); default latest. */
  at?: string;
  /** With fromSession: the server's DATA_DIR (default $DATA_DIR or ./data). */
  dataDir: string;
}

export class UsageError extends Error {}

const assets = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../assets');

/**
 * What `npm run render` without any option does: the studio's new-session images (the chelsea
 * photo × The Starry Night) with every default, written to `render.png` in the current folder.
 */
export const DEFAULT_RENDER_ARGV: readonly string[] = Object.freeze([
  '--content',
  path.join(assets, DEFAULT_SESSION_IMAGES.content),
  '--style',
  path.join(assets, DEFAULT_SESSION_IMAGES.style),
  '--out',
  'render.png',
]);

export const USAGE = `Usage: npm run render -- --content A.jpg --style B.jpg [--style C.jpg ...] --out out.png [options]
       npm run render          (no options: a new session's images, ${DEFAULT_SESSION_IMAGES.content} × ${DEFAULT_SESSION_IMAGES.style}, to render.png)

Inputs
  --content FILE          content image (PNG/JPEG/WebP)
  --style FILE            style image; repeat for several styles
  --style-weight W        blend weight of the preceding --style (default 1; repeat per style)
  --style-scale S         scale of the preceding --style (default 1; 0.1..4)
  --style-mask FILE       the preceding --style goes only where FILE is white (grey = partly; the
                          image's aspect is the content's); unmasked styles blend over the rest
  --out FILE              output image (.png, .jpg or .webp)
Model and preset
  --preset P              ${CLI_PRESETS.join(' | ')}            (default: default)
  --model M               ${CLI_MODELS.join(' | ')}   (default: the preset's)
  --weights FILE          VGG19 Keras notop .h5 file (else $VGG19_WEIGHTS or the cache)
  --backend B             ${CLI_BACKENDS.join(' | ')}          (default: auto)
Optimization
  --size N                long side in pixels (default 256)
  --iters K               optimizer steps (default 200)
  --seed S                random seed (default 1)
  --optimizer O           ${OPTIMIZER_NAMES.join(' | ')} (default: the preset's)
  --lr X                  learning rate (Adam)
  --content-weight X      multiplier on the preset's content weight (default 1)
  --style-loss-weight X   multiplier on the preset's style weight (default 1)
  --tv-weight X           multiplier on the preset's total-variation weight (default 1)
  --pooling P             ${POOLING_NAMES.join(' | ')}
  --colors C              ${COLOR_MODES.join(' | ')} (default style)
  --init I                ${INIT_MODES.join(' | ')}
  --init-image FILE       start image for --init image
  --pyramid               coarse-to-fine: start small, step up by sqrt(2) to --size
  --content-layers L,L    override the preset's content layers
  --style-layers L,L      override the preset's style layers
  --style-transform T     ${FEATURE_TRANSFORMS.join(' | ')} (Wang et al. 2021)
  --parameterization P    ${PARAMETERIZATION_NAMES.join(' | ')} (default: the preset's)
  --jitter N              largest random shift in px per step, 0 = none (default: the preset's)
  --palette-weight X      multiplier on the preset's palette weight (default 1)
  --mode M                ${CLI_MODES.join(' | ')}
  --save-every N          also write out-<iter>.png every N iterations
From a stored session (content, styles, strokes and params come from the session)
  --from-session ID       re-render session ID from the server's SQLite store (read-only)
  --at T                  the session as it was at T (ms since epoch or ISO date; default: latest)
  --data-dir DIR          the server's DATA_DIR (default $DATA_DIR or ./data)
Output
  --json                  one JSON line per iteration on stdout: {"iter","loss","style","content","tv","ms"}
  --help`;

function num(name: string, v: string | undefined, { min = -Infinity, max = Infinity, int = false } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
    const kind = int ? 'an integer' : 'a number';
    throw new UsageError(`--${name} must be ${kind} between ${min} and ${max}, got '${v}'`);
  }
  return n;
}

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

function layerList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.length) throw new UsageError('layer lists must name at least one layer');
  return list;
}

/** Parses argv (without node and script). Throws {@link UsageError} with a readable message. */
export function parseRenderArgs(argv: string[]): RenderOptions | 'help' {
  if (argv.length === 0) argv = [...DEFAULT_RENDER_ARGV];
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      tokens: true,
      options: {
        content: { type: 'string' },
        style: { type: 'string', multiple: true },
        'style-weight': { type: 'string', multiple: true },
        'style-scale': { type: 'string', multiple: true },
        'style-mask': { type: 'string', multiple: true },
        out: { type: 'string' },
        preset: { type: 'string' },
        model: { type: 'string' },
        weights: { type: 'string' },
        size: { type: 'string' },
        iters: { type: 'string' },
        seed: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
        mode: { type: 'string' },
        optimizer: { type: 'string' },
        lr: { type: 'string' },
        'content-weight': { type: 'string' },
        'style-loss-weight': { type: 'string' },
        'tv-weight': { type: 'string' },
        pooling: { type: 'string' },
        colors: { type: 'string' },
        init: { type: 'string' },
        'init-image': { type: 'string' },
        pyramid: { type: 'boolean' },
        'content-layers': { type: 'string' },
        'style-layers': { type: 'string' },
        'style-transform': { type: 'string' },
        parameterization: { type: 'string' },
        jitter: { type: 'string' },
        'palette-weight': { type: 'string' },
        'save-every': { type: 'string' },
        'from-session': { type: 'string' },
        at: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';

  // --style-weight / --style-scale attach to the --style before them, in command-line order.
  const styles: RenderStyle[] = [];
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (t.name === 'style') styles.push({ path: t.value!, weight: 1, scale: 1 });
    else if (t.name === 'style-weight' || t.name === 'style-scale' || t.name === 'style-mask') {
      const last = styles[styles.length - 1];
      if (!last) throw new UsageError(`--${t.name} must follow the --style it applies to`);
      if (t.name === 'style-weight') last.weight = num('style-weight', t.value, { min: 0, max: 100 })!;
      else if (t.name === 'style-scale') last.scale = num('style-scale', t.value, { min: 0.1, max: 4 })!;
      else if (last.mask !== undefined) throw new UsageError(`--style ${last.path} has two --style-mask`);
      else last.mask = t.value!;
    }
  }

  const mode = oneOf('mode', v.mode, CLI_MODES) ?? 'transfer';
  const fromSession = v['from-session'];
  if (fromSession !== undefined) {
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(fromSession)) throw new UsageError(`--from-session must be a session id, got '${fromSession}'`);
    if (mode !== 'transfer') throw new UsageError('--from-session renders in --mode transfer only');
    if (v.content || styles.length) throw new UsageError('--from-session takes content and styles from the session; drop --content/--style');
  } else if (v.at !== undefined) {
    throw new UsageError('--at needs --from-session');
  }
  if (!v.out) throw new UsageError('--out is required');
  if (!/\.(png|jpe?g|webp)$/i.test(v.out)) throw new UsageError(`--out must end in .png, .jpg or .webp, got '${v.out}'`);
  if ((mode === 'transfer' || mode === 'grid' || mode === 'reconstruct-content') && !v.content && !fromSession) {
    throw new UsageError(`--content is required for --mode ${mode}`);
  }
  if ((mode === 'transfer' || mode === 'grid' || mode === 'synthesize-style') && styles.length === 0 && !fromSession) {
    throw new UsageError(`at least one --style is required for --mode ${mode}`);
  }
  if (styles.length > 0 && styles.every((s) => s.weight === 0 || s.mask !== undefined) && !styles.some((s) => s.mask !== undefined)) {
    throw new UsageError('at least one style weight must be > 0');
  }
  if (styles.some((s) => s.mask !== undefined) && mode !== 'transfer') throw new UsageError('--style-mask works in --mode transfer only');
  const init = oneOf('init', v.init, INIT_MODES);
  if (init === 'image' && !v['init-image']) throw new UsageError('--init image needs --init-image FILE');
  const transform = oneOf('style-transform', v['style-transform'], FEATURE_TRANSFORMS);

  return {
    content: v.content,
    styles,
    out: v.out,
    preset: oneOf('preset', v.preset, CLI_PRESETS) ?? 'default',
    model: oneOf('model', v.model, CLI_MODELS),
    weights: v.weights,
    size: num('size', v.size, { min: 16, max: 4096, int: true }) ?? 256,
    iters: num('iters', v.iters, { min: 0, max: 1_000_000, int: true }) ?? 200,
    seed: num('seed', v.seed, { min: 0, max: 2 ** 31 - 1, int: true }) ?? 1,
    backend: oneOf('backend', v.backend, CLI_BACKENDS) ?? 'auto',
    json: Boolean(v.json),
    mode,
    optimizer: oneOf('optimizer', v.optimizer, OPTIMIZER_NAMES),
    learningRate: num('lr', v.lr, { min: 1e-6, max: 100 }),
    contentWeight: num('content-weight', v['content-weight'], { min: 0, max: 1e12 }) ?? 1,
    styleLossWeight: num('style-loss-weight', v['style-loss-weight'], { min: 0, max: 1e12 }) ?? 1,
    tvWeight: num('tv-weight', v['tv-weight'], { min: 0, max: 1e9 }) ?? 1,
    pooling: oneOf('pooling', v.pooling, POOLING_NAMES),
    colors: oneOf('colors', v.colors, COLOR_MODES) ?? 'style',
    init: init ?? (v['init-image'] ? 'image' : undefined),
    initImage: v['init-image'],
    pyramid: Boolean(v.pyramid),
    contentLayers: layerList(v['content-layers']),
    styleLayers: layerList(v['style-layers']),
    styleTransform: transform,
    parameterization: oneOf('parameterization', v.parameterization, PARAMETERIZATION_NAMES),
    jitter: num('jitter', v.jitter, { min: 0, max: 64, int: true }),
    paletteWeight: num('palette-weight', v['palette-weight'], { min: 0, max: 1e12 }) ?? 1,
    saveEvery: num('save-every', v['save-every'], { min: 0, max: 1_000_000, int: true }) ?? 0,
    fromSession,
    at: v.at,
    dataDir: v['data-dir'] ?? process.env.DATA_DIR ?? './data',
  };
}
