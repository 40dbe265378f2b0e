/**
 * `node --import tsx bench/compare-revisions.ts <before-rev> [after-rev] [engine bench flags] [--rounds 3]`
 *
 * Before/after numbers for an engine optimisation on a noisy machine: checks both revisions out
 * into temporary git worktrees (sharing this checkout's node_modules) and runs
 * `bench/engine.ts` in them alternately, `--rounds` times (default 3), so that load changes hit
 * both sides alike. Prints the median ms/step per network × size for each side and the ratio.
 * `after-rev` defaults to the working tree itself (uncommitted changes included).
 *
 *   node --import tsx bench/compare-revisions.ts d51decc HEAD --networks mobilenet_v2,vgg19 --sizes 128,256
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitWithUsage, numberArg, readArgs, toArgv } from '../scripts/cli-args.ts';
import { ENGINE_BENCH_OPTIONS } from './engine-options.ts';

// Revisions, then bench/engine.ts's own options (checked here, passed on) and --rounds.
const USAGE = 'bench/compare-revisions.ts <before-rev> [after-rev] [--networks ... --sizes ... (bench/engine.ts options)] [--rounds 3]';
const { values, positionals } = readArgs({ ...ENGINE_BENCH_OPTIONS, rounds: { type: 'string' } }, USAGE, { positionals: true });
const [beforeRev, afterRev] = positionals;
if (!beforeRev || positionals.length > 2) exitWithUsage('give one or two revisions', USAGE);
const { rounds: roundsArg, ...engineOptions } = values;
const rounds = numberArg(roundsArg, 'rounds') ?? 3;
const passthrough = toArgv(engineOptions);
const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();

function worktree(rev: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `atelier-rev-${rev.replace(/[^\w]/g, '')}-`));
  execFileSync('git', ['worktree', 'add', '--detach', '-f', dir, rev], { cwd: root, stdio: 'ignore' });
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return { dir, cleanup: () => execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root, stdio: 'ignore' }) };
}

const sides = [
  { name: `before (${beforeRev})`, ...worktree(beforeRev) },
  afterRev ? { name: `after (${afterRev})`, ...worktree(afterRev) } : { name: 'after (working tree)', dir: root, cleanup: () => undefined },
];
const results = new Map<string, Map<string, number[]>>(sides.map((s) => [s.name, new Map()]));
try {
  for (let round = 0; round < rounds; round++) {
    for (const side of sides) {
      const out = path.join(os.tmpdir(), `atelier-compare-${process.pid}.md`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/engine.ts', '--backends', 'wasm', '--steps', '3', ...passthrough, '--out', out], {
        cwd: side.dir,
        encoding: 'utf8',
        timeout: 30 * 60_000,
      });
      if (r.status !== 0) throw new Error(`${side.name}: bench/engine.ts failed: ${r.stderr.slice(-600)}`);
      for (const line of r.stdout.split('\n')) {
        const m = /^(\w+)\t(\w+)\t(\d+)px\t([\d.]+) ms\/step/.exec(line);
        if (!m) continue;
        const key = `${m[1]} ${m[2]} ${m[3]}`;
        const list = results.get(side.name)!.get(key) ?? [];
        list.push(Number(m[4]));
        results.get(side.name)!.set(key, list);
      }
      if (existsSync(out)) rmSync(out);
      console.error(`round ${round + 1}/${rounds}: ${side.name} done`);
    }
  }
} finally {
  for (const s of sides) s.cleanup();
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const [b, a] = sides.map((s) => results.get(s.name)!);
console.log(`| backend network size | ${sides[0].name} ms/step | ${sides[1].name} ms/step | speed-up |`);
console.log('|---|---|---|---|');
for (const [key, before] of b) {
  const after = a.get(key);
  if (!after) continue;
  console.log(`| ${key} | ${median(before).toFixed(0)} | ${median(after).toFixed(0)} | ${(median(before) / median(after)).toFixed(2)}× |`);
}
