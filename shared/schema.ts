/**
 * The session document: what every Atelier session *is*.
 *
 * These zod schemas are the single source of truth for the shared Yjs document. The server
 * validates every value read from the document with them before anything reaches the engine;
 * the client uses the same schemas to build its forms. The top-level names (`params`, `styles`,
 * `content`, `strokes`) and their field names are a public contract: external clients built from
 * stock yjs + y-protocols write them directly.
 *
 * Layout of the Y.Doc:
 * - `params`  Y.Map<ParamKey, value>
 * - `styles`  Y.Array<Y.Map> with {@link StyleEntry} fields
 * - `content` Y.Map with {@link ContentEntry} fields
 * - `strokes` Y.Array<Y.Map> with {@link Stroke} fields; a stroke's `points` is an append-only
 *   `Y.Array<number>` (flat x,y pairs): drawing appends, nothing rewrites it. Read and grow strokes
 *   with the helpers of shared/strokes.ts (`strokePoints`, `createStroke`, `appendStrokePoints`);
 *   a plain `number[]` (older documents, stock clients) still reads the same.
 * - `regions` Y.Array<Y.Map> with {@link RegionStroke} fields: style-brush strokes, which say
 *   where each style goes (masks for the engine, never painted into the content); their points
 *   through shared/region-strokes.ts
 */
import { z } from 'zod';
import { COLOR_MODES, DOC_INIT_MODES, MODEL_NAMES, OPTIMIZER_NAMES, POOLING_NAMES, PRESET_NAMES, STROKE_TOOLS } from './names.ts';

export { MODEL_NAMES, PRESET_NAMES } from './names.ts';

/** Names of the top-level shared types in the Y.Doc. */
export const DOC_KEYS = {
  params: 'params',
  styles: 'styles',
  content: 'content',
  strokes: 'strokes',
  regions: 'regions',
} as const;

/** Image ids are the sha256 of the stored bytes, hex encoded: safe in URLs and paths. */
export const ImageId = z.string().regex(/^[a-f0-9]{64}$/, 'imageId must be 64 lowercase hex characters');
export type ImageId = z.infer<typeof ImageId>;

export const HexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, "colour must look like '#rrggbb'");

const finite = () => z.number().finite();

/** Models the engine can build for a session (shared/names.ts). */
export const ModelName = z.enum(MODEL_NAMES);
export type ModelName = z.infer<typeof ModelName>;

/** Presets (shared/names.ts): layer choices and loss conventions. */
export const PresetName = z.enum(PRESET_NAMES);
export type PresetName = z.infer<typeof PresetName>;

/**
 * Each parameter on its own, so a single bad value can be reported (and ignored) without
 * discarding its valid neighbours.
 */
export const ParamSchemas = {
  contentWeight: finite().min(0).max(1e12),
  styleWeight: finite().min(0).max(1e12),
  tvWeight: finite().min(0).max(1e9),
  optimizer: z.enum(OPTIMIZER_NAMES),
  learningRate: finite().gt(0).max(100),
  resolution: z.number().int().min(32).max(2048),
  pooling: z.enum(POOLING_NAMES),
  colors: z.enum(COLOR_MODES),
  init: z.enum(DOC_INIT_MODES),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  /**
   * Restart counter: every change starts the optimization over from `init` (whatever the init
   * mode), keeping styles, weights and content. The studio's Reset increments it.
   */
  restart: z.number().int().min(0).max(2 ** 31 - 1),
  running: z.boolean(),
  model: ModelName,
  preset: PresetName,
} as const;

export type ParamKey = keyof typeof ParamSchemas;
export const PARAM_KEYS = Object.keys(ParamSchemas) as ParamKey[];

export const Params = z.object(ParamSchemas);
export type Params = z.infer<typeof Params>;

/** What a new session starts with. */
export const DEFAULT_PARAMS: Params = {
  contentWeight: 1,
  styleWeight: 1,
  tvWeight: 1,
  optimizer: 'adam',
  learningRate: 0.01,
  resolution: 256,
  pooling: 'avg',
  colors: 'style',
  init: 'content',
  seed: 1,
  restart: 0,
  running: true,
  model: 'mobilenet_v2',
  preset: 'default',
};

export const StyleEntry = z.object({
  imageId: ImageId,
  /** Blend weight of this style's Gram targets relative to the others. */
  weight: finite().min(0).max(100),
  /** Style scale: the style image is resized by this factor before its features are taken. */
  scale: finite().min(0.1).max(4),
});
export type StyleEntry = z.infer<typeof StyleEntry>;

export const MAX_STYLES = 8;

export const ContentEntry = z.object({
  /** Absent means a blank canvas of `background`. */
  imageId: ImageId.optional(),
  background: HexColor,
  width: z.number().int().min(16).max(4096),
  height: z.number().int().min(16).max(4096),
});
export type ContentEntry = z.infer<typeof ContentEntry>;

/**
 * The canvas before any valid content value (blank, white, 512²): what the server validates
 * against, what a new session gets when no preset photo is installed, and what the studio draws
 * until the document says otherwise.
 */
export const DEFAULT_CONTENT: Readonly<ContentEntry> = Object.freeze({ background: '#ffffff', width: 512, height: 512 });

/**
 * The images a new session starts with (S2) and `npm run render` renders without options: files of
 * the bundled presets, relative to `assets/`.
 */
export const DEFAULT_SESSION_IMAGES = Object.freeze({ content: 'content/chelsea.png', style: 'style/starry_night.jpg' });

export const MAX_STROKE_POINTS = 20_000; // numbers, i.e. 10k points
export const MAX_STROKES = 5_000;

export const Stroke = z.object({
  id: z.string().min(1).max(64),
  author: z.string().max(64),
  tool: z.enum(STROKE_TOOLS),
  color: HexColor,
  size: finite().min(0.5).max(512),
  opacity: finite().min(0).max(1),
  /**
   * Flat [x0, y0, x1, y1, …] in content pixels, as read by `strokePoints` (shared/strokes.ts): in
   * the document an append-only Y.Array<number> (or, from older writers, a plain array).
   */
  points: z
    .array(finite().min(-1e5).max(1e5))
    .max(MAX_STROKE_POINTS)
    .refine((p) => p.length % 2 === 0, 'points must hold x,y pairs'),
});
export type Stroke = z.infer<typeof Stroke>;

export const MAX_REGION_STROKES = 5_000;
/** Most styles painted into regions at once (each is a Gram set and a guided Gram per layer). */
export const MAX_REGION_STYLES = MAX_STYLES;

/**
 * A style-brush stroke: `brush` paints the region where `style` (an image id, any style image of
 * the session's gallery, whether or not it is in `styles`) replaces the global blend; `eraser`
 * gives the area back to the global blend. Later strokes cover earlier ones, like paint: a brush
 * stroke of one style over another's region takes that area. Round brush of diameter `size`,
 * in content pixels like ordinary strokes; the engine feathers the edges. Points: read and write
 * them through shared/region-strokes.ts only.
 */
export const RegionStroke = z
  .object({
    id: z.string().min(1).max(64),
    author: z.string().max(64),
    tool: z.enum(STROKE_TOOLS),
    style: ImageId.optional(),
    size: finite().min(0.5).max(512),
    /** Flat [x0, y0, x1, y1, …] in content pixels. */
    points: z
      .array(finite().min(-1e5).max(1e5))
      .max(MAX_STROKE_POINTS)
      .refine((p) => p.length % 2 === 0, 'points must hold x,y pairs'),
  })
  .refine((r) => r.tool === 'eraser' || r.style !== undefined, { message: 'a style brush stroke needs the style it paints', path: ['style'] });
export type RegionStroke = z.infer<typeof RegionStroke>;

/** A fully validated snapshot of the document, as the engine-facing session layer sees it. */
export interface SessionState {
  params: Params;
  styles: StyleEntry[];
  content: ContentEntry;
  strokes: Stroke[];
  regions: RegionStroke[];
}

/** Most ids a {@link RemovalClaim} lists. */
export const MAX_CLAIM_IDS = 32;

/**
 * "I removed these": a client's claim for its latest removal of strokes or styles, published in
 * its awareness state. Yjs records no author for a deletion (a deletion-only update advances no
 * clock), so this is how the others can name who undid a stroke (client SPEC C43). `n` counts
 * the claims (each one differs from the last); `ids` are `stroke:<id>` and `style:<imageId>`.
 */
export const RemovalClaim = z.object({
  n: z.number().int().min(0),
  ids: z.array(z.string().max(80)).max(MAX_CLAIM_IDS),
});
export type RemovalClaim = z.infer<typeof RemovalClaim>;

/** The tool a person holds, shown to the others (a style brush with its style's thumbnail). */
export const PresenceTool = z.object({
  kind: z.enum(['brush', 'eraser', 'style', 'style-eraser']),
  /** The style image of the style brush. */
  style: ImageId.optional(),
});
export type PresenceTool = z.infer<typeof PresenceTool>;

/** Presence state published through y-protocols awareness. */
export const AwarenessState = z.object({
  user: z.object({ name: z.string().max(64), color: HexColor }),
  cursor: z.object({ x: finite(), y: finite() }).nullable().optional(),
  /** A malformed tool is ignored, not the whole presence. */
  tool: PresenceTool.optional().catch(undefined),
  /** A malformed claim is ignored, not the whole presence. */
  removed: RemovalClaim.optional().catch(undefined),
});
export type AwarenessState = z.infer<typeof AwarenessState>;
