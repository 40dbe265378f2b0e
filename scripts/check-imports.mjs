#!/usr/bin/env node
/**
 * Architecture checks on the import graph (run by `npm test`):
 *  1. no import cycles among the project's own modules;
 *  2. relative imports respect the layers (LAYERS and LAYER_RULES below): shared/ imports nothing
 *     from server/ or client/, client/ nothing from server/, the engine nothing from the layers
 *     that drive it, each server folder only lower layers (server/SPEC.md, Layout), and so on;
 *  3. no cycles between folders ("rooms": shared, client, each folder of server/, each top-level
 *     module of server/, e2e, scripts, bench), on the graph of relative imports of non-test
 *     modules. Tests are left out of this graph: a test uses its own folder and the test harness
 *     (server/testing/, which starts the whole server), so every folder's tests would otherwise
 *     close a loop through app/;
 *  4. server/engine/ imports no transport, document or storage library.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

// --root DIR checks another tree (the tests of this script use small ones).
const { values: flags } = parseArgs({ options: { root: { type: 'string' } } });
const root = path.resolve(flags.root ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
const dirs = ['shared', 'server', 'client/src', 'e2e', 'scripts', 'bench'];
const exts = ['.ts', '.tsx', '.mts', '.js', '.mjs'];
const importRe = /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]/gm;

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (exts.includes(path.extname(p)) && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function resolveLocal(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [base, ...exts.map((e) => base + e), ...exts.map((e) => path.join(base, 'index' + e))]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  if (base.endsWith('.js')) {
    const ts = base.slice(0, -3) + '.ts';
    if (existsSync(ts)) return ts;
  }
  return null;
}

/** A test module: outside the folder graph (see 3 above); some layer rules let tests reach further. */
const isTest = (relPath) => /\.(test|e2e)\.ts$/.test(relPath);
const under = (relPath, prefix) => relPath === prefix || relPath.startsWith(prefix + '/');

/** The room of a module: the folder graph's node. */
function roomOf(relPath) {
  const parts = relPath.split('/');
  if (parts[0] === 'server') return parts.length === 2 ? relPath : parts.slice(0, 2).join('/');
  return parts[0];
}

const SERVER_LAYERS_ABOVE_ENGINE = [
  'server/session', 'server/realtime', 'server/app', 'server/storage', 'server/cluster', 'server/history',
  'server/worker', 'server/cli', 'server/limits', 'server/testing', 'server/config.ts', 'server/main.ts',
];
/**
 * Who may not import whom (relative imports). `from`/`forbid` are path prefixes; `except` exempts
 * modules under those prefixes; `production` = the rule binds non-test modules only.
 */
const LAYER_RULES = [
  { from: ['shared'], forbid: ['server', 'client', 'e2e', 'scripts', 'bench'], why: 'shared/ is the vocabulary server and client import; it imports neither' },
  { from: ['client'], forbid: ['server', 'e2e', 'scripts', 'bench'], why: 'the browser bundle holds no server code; shared/ is the meeting point' },
  { from: ['server'], forbid: ['client', 'e2e', 'scripts', 'bench'], why: 'the server does not import the client, the browser tests or the tools' },
  { from: ['server/engine'], forbid: SERVER_LAYERS_ABOVE_ENGINE, why: 'the engine is pure tensor code: no sockets, documents, storage or server wiring' },
  { from: ['server/engine'], forbid: ['server/images'], production: true, why: 'the engine takes pixels (RgbImage), not files (its tests may read fixtures through images/)' },
  { from: ['server/storage'], forbid: ['server/session', 'server/realtime', 'server/app', 'server/history', 'server/cluster', 'server/worker', 'server/cli', 'server/limits', 'server/images', 'server/engine'], why: 'storage is an adapter below the layers that use it' },
  { from: ['server/limits'], forbid: ['server/session', 'server/realtime', 'server/app', 'server/history', 'server/cluster', 'server/storage'], why: 'limits/ is shared by the HTTP, socket and export layers: it imports none of them' },
  { from: ['server'], except: ['server/app', 'server/main.ts', 'server/testing'], forbid: ['server/app', 'server/main.ts'], production: true, why: 'app/ is the composition root: it wires the layers, nothing below imports it' },
  { from: ['server'], except: ['server/testing'], forbid: ['server/testing'], production: true, why: 'the test harness is for tests, scripts and benchmarks' },
];

/**
 * The layers of server/SPEC.md's Layout, bottom up. A non-test module imports only from its own
 * folder and from lower layers, never from another folder of its own layer.
 */
const LAYERS = [
  ['shared'],
  ['server/log.ts'],
  ['server/engine'],
  ['server/config.ts', 'server/storage', 'server/limits'],
  ['server/images'],
  ['server/session'],
  ['server/history', 'server/worker', 'server/cluster', 'server/realtime'],
  ['server/cli'],
  ['server/app'],
  ['server/main.ts', 'server/testing'],
];
const layerOf = (room) => LAYERS.findIndex((l) => l.includes(room));

function layerProblem(from, target) {
  for (const r of LAYER_RULES) {
    if (!r.from.some((p) => under(from, p)) || r.except?.some((p) => under(from, p))) continue;
    if (r.production && isTest(from)) continue;
    const bad = r.forbid.find((p) => under(target, p) && !r.from.some((q) => under(target, q) && q.length > p.length));
    if (bad) return `${from} imports ${target}: ${r.why}`;
  }
  const a = roomOf(from), b = roomOf(target);
  if (a !== b && !isTest(from) && layerOf(a) >= 0 && layerOf(b) >= layerOf(a)) {
    return `${from} imports ${target}: ${b} is not below ${a} (server/SPEC.md, Layout: lower layers never import higher ones or their own layer's other folders)`;
  }
  return null;
}

const files = dirs.flatMap((d) => walk(path.join(root, d), []));
const graph = new Map();
const problems = [];
const rel = (p) => path.relative(root, p);
/** Room graph: room → (room it imports → one import that makes the edge, for the message). */
const rooms = new Map();
const engineForbidden = ['socket.io', 'socket.io-client', 'yjs', 'y-protocols', 'express', 'better-sqlite3'];

for (const f of files) {
  const src = readFileSync(f, 'utf8');
  const deps = [];
  for (const m of src.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    if (spec.startsWith('.')) {
      const target = resolveLocal(f, spec);
      if (!target) continue;
      deps.push(target);
      const layer = layerProblem(rel(f), rel(target));
      if (layer) problems.push(layer);
      const a = roomOf(rel(f)), b = roomOf(rel(target));
      if (a !== b && !isTest(rel(f))) {
        if (!rooms.has(a)) rooms.set(a, new Map());
        if (!rooms.get(a).has(b)) rooms.get(a).set(b, `${rel(f)} -> ${rel(target)}`);
      }
    } else if (rel(f).startsWith('server/engine/')) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (engineForbidden.includes(pkg)) problems.push(`${rel(f)} imports ${spec}: the engine is pure tensor code`);
    }
  }
  graph.set(f, deps);
}

// Cycle detection (iterative DFS with colours).
const colour = new Map();
const stack = [];
function dfs(node) {
  colour.set(node, 1);
  stack.push(node);
  for (const d of graph.get(node) ?? []) {
    if (!graph.has(d)) continue;
    const c = colour.get(d) ?? 0;
    if (c === 1) {
      const cycle = stack.slice(stack.indexOf(d)).concat(d).map(rel);
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (c === 0) dfs(d);
  }
  stack.pop();
  colour.set(node, 2);
}
for (const f of graph.keys()) if (!colour.get(f)) dfs(f);

// Folder-level cycles, the same DFS on the room graph; each edge is shown with one import making it.
const roomColour = new Map();
const roomStack = [];
function roomDfs(room) {
  roomColour.set(room, 1);
  roomStack.push(room);
  for (const next of rooms.get(room)?.keys() ?? []) {
    const c = roomColour.get(next) ?? 0;
    if (c === 1) {
      const loop = roomStack.slice(roomStack.indexOf(next)).concat(next);
      const via = loop.slice(0, -1).map((r, i) => rooms.get(r).get(loop[i + 1]));
      problems.push(`folder cycle: ${loop.join(' -> ')} (${via.join('; ')})`);
    } else if (c === 0) roomDfs(next);
  }
  roomStack.pop();
  roomColour.set(room, 2);
}
for (const r of [...rooms.keys()].sort()) if (!roomColour.get(r)) roomDfs(r);

if (problems.length) {
  for (const p of problems) console.error('check-imports: ' + p);
  process.exit(1);
}
console.log(`check-imports: ${files.length} modules in ${new Set(files.map((f) => roomOf(rel(f)))).size} folders, no module or folder cycles, layering ok`);
