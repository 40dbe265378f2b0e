/**
 * One vocabulary (shared/names.ts, shared/schema.ts): every list built elsewhere from Atelier's
 * names, and every default taken from the configuration, agrees with the one declaration.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as names from '../shared/names.ts';
import { DEFAULT_CONTENT, DEFAULT_PARAMS, ParamSchemas, RegionStroke, Stroke } from '../shared/schema.ts';
import { PRESETS } from './engine/presets.ts';
import { DEFAULT_LAYERS } from './engine/networks/index.ts';
import { CLI_BACKENDS, CLI_MODELS, CLI_MODES, CLI_PRESETS, USAGE } from './cli/args.ts';
import { CONFIG_DEFAULTS, ConfigSchema, loadConfig } from './config.ts';
import { DEFAULT_SOCKET_LIMITS } from './realtime/socket-server.ts';
import { DEFAULT_PAINT_BUDGET, DEFAULT_CONTENT as DOC_DEFAULT_CONTENT } from './session/doc-state.ts';
import { DEFAULT_EXPORT_LIMITS } from './history/export.ts';

const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('one vocabulary', () => {
  test('the engine presets are the shared preset names', () => {
    assert.deepEqual(sorted(Object.keys(PRESETS)), sorted(names.PRESET_NAMES));
    for (const [key, p] of Object.entries(PRESETS)) assert.equal(p.name, key);
  });

  test('the network registry holds every shared network name, and every session model is a network', () => {
    assert.deepEqual(sorted(Object.keys(DEFAULT_LAYERS)), sorted(names.NETWORK_NAMES));
    for (const m of names.MODEL_NAMES) assert.ok((names.NETWORK_NAMES as readonly string[]).includes(m), m);
  });

  test('the document schema enums are the shared lists', () => {
    assert.deepEqual(ParamSchemas.model.options, [...names.MODEL_NAMES]);
    assert.deepEqual(ParamSchemas.preset.options, [...names.PRESET_NAMES]);
    assert.deepEqual(ParamSchemas.optimizer.options, [...names.OPTIMIZER_NAMES]);
    assert.deepEqual(ParamSchemas.pooling.options, [...names.POOLING_NAMES]);
    assert.deepEqual(ParamSchemas.colors.options, [...names.COLOR_MODES]);
    assert.deepEqual(ParamSchemas.init.options, [...names.DOC_INIT_MODES]);
    for (const init of names.DOC_INIT_MODES) assert.ok((names.INIT_MODES as readonly string[]).includes(init));
    assert.deepEqual(Stroke.shape.tool.options, [...names.STROKE_TOOLS]);
    assert.ok(RegionStroke.safeParse({ id: 'r', author: '', tool: names.STROKE_TOOLS[1], size: 4, points: [] }).success);
  });

  test('the CLI offers the shared names, and its usage text lists each choice', () => {
    assert.deepEqual([...CLI_MODELS], [...names.NETWORK_NAMES]);
    assert.deepEqual([...CLI_PRESETS], [...names.PRESET_NAMES]);
    assert.deepEqual([...CLI_BACKENDS], ['auto', ...names.BACKEND_NAMES]);
    assert.deepEqual(CLI_MODES.slice(0, -1), [...names.EXPERIMENT_MODES]);
    for (const list of [CLI_MODELS, CLI_PRESETS, CLI_BACKENDS, CLI_MODES, names.OPTIMIZER_NAMES, names.POOLING_NAMES, names.COLOR_MODES, names.INIT_MODES, names.FEATURE_TRANSFORMS, names.PARAMETERIZATION_NAMES]) {
      assert.ok(USAGE.includes(list.join(' | ')), `usage lists ${list.join(' | ')}`);
    }
  });

  test('the configuration accepts exactly the shared models and backends, and defaults to the document default model', () => {
    assert.deepEqual(ConfigSchema.shape.model.unwrap().options, [...names.MODEL_NAMES]);
    assert.deepEqual(ConfigSchema.shape.engineBackend.unwrap().options, ['auto', ...names.BACKEND_NAMES]);
    assert.equal(CONFIG_DEFAULTS.model, DEFAULT_PARAMS.model);
    for (const m of names.MODEL_NAMES) assert.equal(loadConfig({ MODEL: m }).model, m);
  });

  test('module fallbacks are the configuration defaults, and the default canvas is the shared one', () => {
    const c = CONFIG_DEFAULTS;
    assert.deepEqual(
      [DEFAULT_SOCKET_LIMITS.msgRate, DEFAULT_SOCKET_LIMITS.msgBurst, DEFAULT_SOCKET_LIMITS.byteRate, DEFAULT_SOCKET_LIMITS.byteBurst, DEFAULT_SOCKET_LIMITS.maxMessageBytes, DEFAULT_SOCKET_LIMITS.maxBadMessages],
      [c.socketMsgRate, c.socketMsgBurst, c.socketByteRate, c.socketByteBurst, c.socketMaxMessageBytes, c.socketMaxBadMessages],
    );
    assert.deepEqual(DEFAULT_PAINT_BUDGET, { maxStrokeCost: c.paintMaxStrokeCost, maxUpdateCost: c.paintMaxUpdateCost, maxSessionCost: c.paintMaxSessionCost });
    assert.equal(DEFAULT_EXPORT_LIMITS.maxPixels, c.exportMaxPixels);
    assert.equal(DEFAULT_EXPORT_LIMITS.maxPerSession, c.exportMaxJobsPerSession);
    assert.equal(DOC_DEFAULT_CONTENT, DEFAULT_CONTENT);
  });
});
