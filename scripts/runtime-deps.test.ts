/**
 * Packaging (docs/DEPLOY.md, "Installing for production"): `npm ci --omit=dev && npm start` must
 * work. Reinstalling without dev dependencies takes minutes, so CI checks the same thing from the
 * sources: every package that the start path can load (the server from server/main.ts with its
 * worker threads, and the client bundle that `npm start` builds) is in `dependencies`, and so is
 * every binary that `scripts.start` runs. The engine's leaned-on libraries are pinned exactly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** What `npm start` loads: the server process (and its workers) and the client build. */
const ENTRIES = ['server/main.ts', 'client/vite.config.ts', 'client/src/main.ts'];

// Static and dynamic imports with a literal specifier (type-only imports are skipped below).
const importRe = /(?:^|[\s;])((?:import|export)(?:\s+type)?)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]/gm;
// Packages resolved at run time: require('x'), require.resolve('x'), import.meta.resolve('x').
const resolveRe = /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)|import\.meta\.resolve\(\s*['"]([^'"]+)['"]\s*\)/g;
// Files loaded relative to a module: new URL('./w.mjs', import.meta.url), tsImport('./w.ts', import.meta.url).
const relativeUrlRe = /['"](\.\.?\/[^'"]+)['"]\s*,\s*import\.meta\.url/g;

function resolveLocal(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  const candidates = [base, ...['.ts', '.mjs', '.js'].map((e) => base + e), base.replace(/\.js$/, '.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

function packageOf(spec: string): string | null {
  if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) return null;
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
}

/** Every bare package the start path can load, with the first file that loads it. */
function startPathPackages(): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = ENTRIES.map((e) => path.join(root, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    const specs: string[] = [];
    for (const m of src.matchAll(importRe)) {
      if (m[1]?.endsWith('type')) continue;
      specs.push((m[2] ?? m[3] ?? m[4])!);
    }
    for (const m of src.matchAll(resolveRe)) specs.push((m[1] ?? m[2])!);
    for (const m of src.matchAll(relativeUrlRe)) specs.push(m[1]!);
    for (const spec of specs) {
      if (spec.startsWith('.')) {
        const target = resolveLocal(file, spec);
        if (target && !target.includes(`${path.sep}node_modules${path.sep}`)) queue.push(target);
        continue;
      }
      const name = packageOf(spec);
      if (name && !packages.has(name)) packages.set(name, path.relative(root, file));
    }
  }
  assert.ok(seen.size > 50, `the walk reached the server and client (${seen.size} files)`);
  return packages;
}

/** Packages whose binaries or `--import` hooks scripts.start runs (following `npm run x`). */
function startScriptPackages(script = 'start', out = new Set<string>()): Set<string> {
  for (const part of pkg.scripts[script]!.split(/&&|\|\||;/).map((s) => s.trim().split(/\s+/))) {
    const [bin, ...rest] = part;
    if (bin === 'npm' && rest[0] === 'run') startScriptPackages(rest[1], out);
    else if (bin === 'node') rest.forEach((a, i) => a === '--import' && out.add(packageOf(rest[i + 1]!)!));
    else out.add(binaryPackage(bin!));
  }
  return out;
}

function binaryPackage(bin: string): string {
  for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) {
    const manifest = path.join(root, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) continue;
    const b = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> }).bin;
    if (typeof b === 'string' ? name.split('/').pop() === bin : b && bin in b) return name;
  }
  assert.fail(`no declared package provides the binary '${bin}' that scripts.start runs`);
}

describe('packaging', () => {
  test('every package the start path loads is a runtime dependency (npm ci --omit=dev && npm start)', () => {
    const missing = [...startPathPackages()]
      .filter(([name]) => !(name in pkg.dependencies))
      .map(([name, file]) => `${name} (loaded by ${file}${name in pkg.devDependencies ? '; it is a devDependency' : '; undeclared'})`);
    assert.deepEqual(missing, [], 'move these to dependencies');
  });

  test('the binaries and import hooks of scripts.start are runtime dependencies', () => {
    const used = [...startScriptPackages()];
    assert.ok(used.includes('tsx') && used.includes('vite'), `found ${used.join(', ')}`);
    assert.deepEqual(used.filter((n) => !(n in pkg.dependencies)), []);
  });

  test('the libraries whose internals the engine leans on are pinned to the installed version (docs/DEPLOY.md)', () => {
    const pinned = Object.keys(pkg.dependencies).filter((n) => n.startsWith('@tensorflow/tfjs-') || n === 'nsfwjs' || n === 'webgpu');
    assert.ok(pinned.length >= 6, pinned.join(', '));
    for (const name of pinned) {
      const range = pkg.dependencies[name]!;
      assert.match(range, /^\d+\.\d+\.\d+$/, `${name} must be an exact version, not '${range}'`);
      const installed = path.join(root, 'node_modules', name, 'package.json');
      if (existsSync(installed)) assert.equal((JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version, range, name);
    }
  });

  test('every package a file under server/, shared/ or ops tools imports is declared', () => {
    // generate-gradients.mjs (esbuild) and the test/bench files may use devDependencies, but
    // nothing may rely on a package that only arrives as someone else's dependency.
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]);
    const undeclared = new Set<string>();
    const walk = (dir: string): void => {
      for (const name of readdirSafe(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|mjs)$/.test(p))
          for (const m of readFileSync(p, 'utf8').matchAll(importRe)) {
            const spec = m[2] ?? m[3] ?? m[4];
            const name = spec && !spec.startsWith('.') ? packageOf(spec) : null;
            if (name && !declared.has(name)) undeclared.add(`${name} (${path.relative(root, p)})`);
          }
      }
    };
    for (const d of ['server', 'shared', 'client/src', 'scripts', 'bench', 'e2e']) walk(path.join(root, d));
    assert.deepEqual([...undeclared], []);
  });
});

function readdirSafe(dir: string): string[] {
  return existsSync(dir) ? (statSync(dir).isDirectory() ? readdirSync(dir) : []).filter((n) => n !== 'node_modules' && n !== 'dist' && !n.startsWith('.')) : [];
}
