import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { checkTypedNumber } from './number-entry.ts';

const weight = { min: 0.01, max: 20, zeroAllowed: true };

describe('typed numbers', () => {
  test('C14: text that is not a number, and negative numbers, are rejected with a reason', () => {
    assert.deepEqual(checkTypedNumber('abc', weight, 'Style weight'), { kind: 'rejected', note: '“abc” is not a number' });
    assert.deepEqual(checkTypedNumber('-5', weight, 'Style weight'), { kind: 'rejected', note: 'Style weight cannot be negative' });
    assert.deepEqual(checkTypedNumber('  ', weight, 'Style weight'), { kind: 'rejected', note: 'Style weight needs a number' });
    assert.deepEqual(checkTypedNumber('1.5', { min: 0, max: 10, integer: true }, 'Seed'), { kind: 'rejected', note: 'Seed must be a whole number' });
  });

  test('C14: values beyond the range are clamped to it, and say so', () => {
    assert.deepEqual(checkTypedNumber('1e10', weight, 'Style weight'), { kind: 'clamped', value: 20, note: 'Style weight goes up to 20: set to 20' });
    assert.deepEqual(checkTypedNumber('0.001', weight, 'Style weight'), {
      kind: 'clamped',
      value: 0.01,
      note: 'Style weight starts at 0.01 (0 turns it off): set to 0.01',
    });
    assert.deepEqual(checkTypedNumber('1e-9', { min: 1e-3, max: 0.1 }, 'Learning rate'), { kind: 'clamped', value: 1e-3, note: 'Learning rate starts at 1e-3: set to 1e-3' });
  });

  test('C14: values in range (and 0 where it means off) are taken as typed, suffixes included', () => {
    assert.deepEqual(checkTypedNumber('0', weight, 'Style weight'), { kind: 'ok', value: 0 });
    assert.deepEqual(checkTypedNumber('2.5', weight, 'Style weight'), { kind: 'ok', value: 2.5 });
    assert.deepEqual(checkTypedNumber('5e-2', weight, 'Style weight'), { kind: 'ok', value: 0.05 });
    assert.deepEqual(checkTypedNumber('2k', { min: 0, max: 2 ** 31 - 1, integer: true }, 'Seed'), { kind: 'ok', value: 2000 });
    assert.equal(checkTypedNumber('0', { min: 1e-3, max: 0.1 }, 'Learning rate').kind, 'clamped', 'no zero where it is not "off"');
    assert.deepEqual(checkTypedNumber('3e9', { min: 0, max: 2 ** 31 - 1, integer: true }, 'Seed', String), { kind: 'clamped', value: 2147483647, note: 'Seed goes up to 2147483647: set to 2147483647' });
  });
});
