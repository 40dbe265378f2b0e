import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { shortcutFor, stepBrushSize, type KeyInfo } from './shortcuts.ts';

const k = (key: string, o: Partial<KeyInfo> = {}): KeyInfo => ({
  key,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  inField: false,
  ...o,
});

describe('keyboard shortcuts', () => {
  test('C60: Ctrl or Cmd+Z undoes; with Shift, or Ctrl+Y, it redoes', () => {
    assert.equal(shortcutFor(k('z', { ctrlKey: true })), 'undo');
    assert.equal(shortcutFor(k('z', { metaKey: true })), 'undo');
    assert.equal(shortcutFor(k('Z', { ctrlKey: true, shiftKey: true })), 'redo');
    assert.equal(shortcutFor(k('y', { ctrlKey: true })), 'redo');
    assert.equal(shortcutFor(k('z', { ctrlKey: true, inField: true })), 'undo', 'undo works from sliders too');
  });
  test('C60: B, E, [ ], Space pick tools, size and run/pause, but not while typing', () => {
    assert.equal(shortcutFor(k('b')), 'brush');
    assert.equal(shortcutFor(k('E')), 'eraser');
    assert.equal(shortcutFor(k('[')), 'size-down');
    assert.equal(shortcutFor(k(']')), 'size-up');
    assert.equal(shortcutFor(k(' ')), 'toggle-run');
    assert.equal(shortcutFor(k('b', { inField: true })), null);
    assert.equal(shortcutFor(k('x')), null);
  });
  test('C101: S takes the style brush, Shift+S its eraser, R shows or hides the style regions; not while typing', () => {
    assert.equal(shortcutFor(k('s')), 'style');
    assert.equal(shortcutFor(k('S', { shiftKey: true })), 'style-eraser');
    assert.equal(shortcutFor(k('r')), 'toggle-regions');
    assert.equal(shortcutFor(k('s', { inField: true })), null);
    assert.equal(shortcutFor(k('r', { inField: true })), null);
    assert.equal(shortcutFor(k('s', { ctrlKey: true })), null, 'Ctrl+S is the browser’s');
  });
  test('C61: brush size steps geometrically and stays in range', () => {
    assert.equal(stepBrushSize(2, 1), 3);
    assert.equal(stepBrushSize(100, 1), 125);
    assert.equal(stepBrushSize(100, -1), 80);
    assert.equal(stepBrushSize(1, -1), 1);
    assert.equal(stepBrushSize(250, 1), 256);
  });
});
