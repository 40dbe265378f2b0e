import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pageCsp, redactTokens } from './http-guards.ts';

describe('http guards', () => {
  test('R4: tokens are redacted from URLs, headers and JSON', () => {
    const t = 'Abc_def-123';
    const out = redactTokens(`GET /s/x?token=${t}&a=1 Authorization: Bearer ${t} {"editorToken":"${t}","token":"${t}"}`);
    assert.ok(!out.includes(t), out);
    assert.match(out, /\?token=\[redacted\]&a=1/);
  });

  test('R4: the page CSP names no external origin and allows only same-host sockets', () => {
    const csp = pageCsp('localhost:3000');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /img-src 'self' blob: data:/);
    assert.match(csp, /connect-src 'self' ws:\/\/localhost:3000 wss:\/\/localhost:3000/);
    assert.doesNotMatch(csp, /https?:\/\//);
    assert.doesNotMatch(pageCsp('evil.com; script-src *'), /script-src \*/, 'a hostile Host header cannot inject directives');
  });
});
