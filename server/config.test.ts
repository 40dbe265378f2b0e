import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, defaultConfig, loadConfig } from './config.ts';

describe('config', () => {
  test('S19: defaults apply when nothing is set', () => {
    const c = loadConfig({}, []);
    assert.equal(c.port, 3000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.equal(c.engineBackend, 'auto');
    assert.equal(c.model, 'mobilenet_v2');
    assert.equal(c.frameRate, 10);
    assert.equal(c.idlePauseMs, 30_000);
    assert.equal(c.fakeEngine, false);
    assert.deepEqual(defaultConfig(), c);
  });

  test('S19: flags override env, in both --flag value and --flag=value forms', () => {
    const c = loadConfig({ PORT: '4000', MODEL: 'inception_v3' }, ['--port', '0', '--frame-rate=5', '--atelier-fake-engine']);
    assert.equal(c.port, 0);
    assert.equal(c.frameRate, 5);
    assert.equal(c.model, 'inception_v3');
    assert.equal(c.fakeEngine, true);
  });

  test('S19: bad values are refused with a message naming each variable', () => {
    assert.throws(
      () => loadConfig({ PORT: '70000', ENGINE_BACKEND: 'gpu', FRAME_QUALITY: 'high' }),
      (e: Error) => e instanceof ConfigError && /PORT/.test(e.message) && /ENGINE_BACKEND/.test(e.message) && /FRAME_QUALITY/.test(e.message),
    );
    assert.throws(() => loadConfig({}, ['--no-such-flag', '1']), /unknown flag --no-such-flag/);
    assert.throws(() => loadConfig({}, ['--port']), /needs a value/);
    assert.throws(() => loadConfig({}, ['stray']), /unexpected argument/);
  });
});
