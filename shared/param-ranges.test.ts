import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PARAM_RANGES, STYLE_RANGES, SEED_RANGE } from './param-ranges.ts';
import { ParamSchemas, DEFAULT_PARAMS, StyleEntry, type ParamKey } from './schema.ts';

describe('slider ranges (shared/param-ranges.ts)', () => {
  test('C10: every parameter range lies inside what the document schema accepts, and holds the default', () => {
    for (const [key, r] of Object.entries(PARAM_RANGES) as Array<[ParamKey, (typeof PARAM_RANGES)[keyof typeof PARAM_RANGES]]>) {
      const schema = ParamSchemas[key];
      assert.ok(r.min < r.max, `${key}: min < max`);
      for (const v of [r.min, r.max]) assert.ok(schema.safeParse(v).success, `${key}: ${v} is a valid document value`);
      if (r.scale === 'log') assert.ok(r.min > 0, `${key}: a log range starts above 0`);
      if ('zeroAtStart' in r && r.zeroAtStart) assert.ok(schema.safeParse(0).success, `${key}: 0 (off) is a valid value`);
      const d = DEFAULT_PARAMS[key] as number;
      assert.ok(d >= r.min && d <= r.max, `${key}: the default ${d} is on the slider`);
    }
  });

  test('C10: the style sliders and the seed box stay inside the schema', () => {
    for (const [key, r] of Object.entries(STYLE_RANGES)) {
      const shape = StyleEntry.shape[key as 'weight' | 'scale'];
      for (const v of [r.min, r.max]) assert.ok(shape.safeParse(v).success, `style ${key}: ${v} is valid`);
    }
    assert.ok(ParamSchemas.seed.safeParse(SEED_RANGE.min).success && ParamSchemas.seed.safeParse(SEED_RANGE.max).success);
    assert.ok(!ParamSchemas.seed.safeParse(SEED_RANGE.max + 1).success, 'the seed range is the whole schema range');
  });
});
