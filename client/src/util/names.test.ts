import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shortPresetName } from './names.ts';

test('C90: preset labels keep the title of a painting and the subject of a photo', () => {
  assert.equal(shortPresetName('Vincent van Gogh, The Starry Night, 1889', 'style'), 'The Starry Night');
  assert.equal(shortPresetName('Chelsea the cat, Stefan van der Walt (451x300)', 'content'), 'Chelsea the cat');
  assert.equal(shortPresetName('Untitled', 'style'), 'Untitled');
  assert.equal(shortPresetName('A very long subject name that goes on and on', 'content').length, 24);
});
