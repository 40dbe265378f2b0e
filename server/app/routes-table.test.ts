/**
 * One route table (shared/protocol.ts ROUTES): no other source file writes a path by hand, the
 * URL builders produce paths their own patterns match, and the client's router reads the page
 * links the server hands out.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUTES, api, fillRoute, withToken } from '../../shared/protocol.ts';
import { createdBody } from './routes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TABLE = 'shared/protocol.ts';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    // Tests may write literal paths: that is how they check the table.
    else if (/\.(ts|mjs)$/.test(name) && !/\.(test|e2e)\.ts$/.test(name)) out.push(p);
  }
  return out;
}

/** A string literal that starts with one of the table's path roots. */
const LITERAL_PATH = /(['"`])(\/api(\/|\1)|\/s\/|\/healthz|\/metrics|\/socket\.io)/;

/** A regular expression matching exactly the paths `pattern` (express syntax) mounts. */
function patternRegex(pattern: string): RegExp {
  const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

describe('route table', () => {
  test('no source file outside shared/protocol.ts writes an HTTP path as a string literal', () => {
    const found: string[] = [];
    for (const dir of ['shared', 'server', 'client/src', 'scripts', 'bench']) {
      for (const file of sources(path.join(root, dir))) {
        const rel = path.relative(root, file);
        if (rel === TABLE) continue;
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const code = line.trim();
            if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return; // comments name paths for the reader
            if (LITERAL_PATH.test(code)) found.push(`${rel}:${i + 1}: ${code}`);
          });
      }
    }
    assert.deepEqual(found, [], 'build these paths from ROUTES / api (shared/protocol.ts)');
  });

  test('every URL builder gives a path its own pattern matches, with parameters percent-encoded', () => {
    const id = 'sess_ion-1', token = 'tok/en+=';
    const built: [string, string][] = [
      [ROUTES.sessions, api.sessions],
      [ROUTES.images, api.images(id)],
      [ROUTES.image, api.image('a'.repeat(64))],
      [ROUTES.frame, api.frame(id)],
      [ROUTES.stream, api.stream(id)],
      [ROUTES.presets, api.presets],
      [ROUTES.history, api.history(id)],
      [ROUTES.historyState, api.historyState(id, 5).split('?')[0]],
      [ROUTES.keyframe, api.keyframe(id, 7)],
      [ROUTES.fork, api.fork(id)],
      [ROUTES.exportTimelapse, api.exportTimelapse(id)],
      [ROUTES.exportJob, api.exportJob('job')],
      [ROUTES.exportFile, api.exportFile('job')],
      [ROUTES.editorPage, api.editorPage(id, token).split('?')[0]],
      [ROUTES.projectorPage, api.projectorPage(id, token).split('?')[0]],
      [ROUTES.replayPage, api.replayPage(id, token).split('?')[0]],
      [ROUTES.health, api.health],
      [ROUTES.metrics, api.metrics],
    ];
    for (const [pattern, url] of built) assert.match(url, patternRegex(pattern), pattern);
    assert.equal(api.keyframe('a b', 3), '/api/sessions/a%20b/keyframes/3.jpg');
    assert.equal(api.historyState('s', 12), '/api/sessions/s/history/state?t=12');
    assert.equal(withToken('/x', 'a+b'), '/x?token=a%2Bb');
    assert.throws(() => fillRoute(ROUTES.images, {}), /needs :id/);
  });

  test('session creation answers with page links built from the table (the client router reads them: client/src/route.test.ts)', () => {
    const body = createdBody('https://atelier.example', 'Ab_9-xyz', 'ed', 'vw');
    assert.equal(body.editorUrl, 'https://atelier.example' + api.editorPage('Ab_9-xyz', 'ed'));
    assert.equal(body.editorUrl, 'https://atelier.example/s/Ab_9-xyz?token=ed');
    assert.equal(body.viewerUrl, 'https://atelier.example/s/Ab_9-xyz/view?token=vw');
  });
});
