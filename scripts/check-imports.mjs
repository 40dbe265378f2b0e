#!/usr/bin/env node
/**
 * Architecture checks on the import graph (run by `npm test`):
 *  1. no import cycles among the project's own modules;
 *  2. shared/ imports nothing from server/ or client/;
 *  3. server/engine/ imports no transport, document or storage library.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
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

const files = dirs.flatMap((d) => walk(path.join(root, d), []));
const graph = new Map();
const problems = [];
const rel = (p) => path.relative(root, p);
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
      if (rel(f).startsWith('shared/') && !rel(target).startsWith('shared/')) {
        problems.push(`${rel(f)} imports ${rel(target)}: shared/ must not import from server/ or client/`);
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

if (problems.length) {
  for (const p of problems) console.error('check-imports: ' + p);
  process.exit(1);
}
console.log(`check-imports: ${files.length} modules, no cycles, layering ok`);
