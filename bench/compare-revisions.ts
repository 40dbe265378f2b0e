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
 *
 * `--bench stylization` runs `bench/stylization-cost.ts` instead (its variants: the old pixel
 * optimization and the default's parts, each revision's own code) and compares per variant:
 *
 *   node --import tsx bench/compare-revisions.ts 49e39ca HEAD --bench stylization --rounds 3
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exitWithUsage, numberArg, readArgs, toArgv } from '../scripts/cli-args.ts';
import { ENGINE_BENCH_OPTIONS } from './engine-options.ts';

// Revisions, then bench/engine.ts's own options (checked here, passed on) and --rounds.
const USAGE = 'bench/compare-revisions.ts <before-rev> [after-rev] [--networks ... --sizes ... (bench/engine.ts options)] [--bench engine|stylization] [--rounds 3]';
const { values, positionals } = readArgs({ ...ENGINE_BENCH_OPTIONS, rounds: { type: 'string' }, bench: { type: 'string', default: 'engine' } }, USAGE, {
  positionals: true,
});
const [beforeRev, afterRev] = positionals;
if (!beforeRev || positionals.length > 2) exitWithUsage('give one or two revisions', USAGE);
const { rounds: roundsArg, bench, ...engineOptions } = values;
if (bench !== 'engine' && bench !== 'stylization') exitWithUsage(`--bench is engine or stylization (got ${bench})`, USAGE);
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
      const args = bench === 'stylization' ? ['bench/stylization-cost.ts', '--out', out] : ['bench/engine.ts', '--backends', 'wasm', '--steps', '3', ...passthrough, '--out', out];
      const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: side.dir, encoding: 'utf8', timeout: 30 * 60_000 });
      if (r.status !== 0) throw new Error(`${side.name}: ${args[0]} failed: ${r.stderr.slice(-600)}`);
      for (const line of r.stdout.split('\n')) {
        // engine.ts: "wasm\tmobilenet_v2\t256px\t123.4 ms/step"; stylization-cost.ts: "| default | what | 104 | ..."
        const m = bench === 'stylization' ? /^\| (\w+) \| [^|]+ \| ([\d.]+) \|/.exec(line) : /^(\w+)\t(\w+)\t(\d+)px\t([\d.]+) ms\/step/.exec(line);
        if (!m) continue;
        const key = bench === 'stylization' ? m[1] : `${m[1]} ${m[2]} ${m[3]}`;
        const list = results.get(side.name)!.get(key) ?? [];
        list.push(Number(bench === 'stylization' ? m[2] : m[4]));
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
console.log(`| ${bench === 'stylization' ? 'variant' : 'backend network size'} | ${sides[0].name} ms/step | ${sides[1].name} ms/step | speed-up |`);
console.log('|---|---|---|---|');
for (const [key, before] of b) {
  const after = a.get(key);
  if (!after) continue;
  console.log(`| ${key} | ${median(before).toFixed(0)} | ${median(after).toFixed(0)} | ${(median(before) / median(after)).toFixed(2)}× |`);
}
if (bench === 'stylization' && b.get('before') && a.get('default')) {
  // The question of issue 14: is the new default as fast as the old one ran (pixels, no shift, no palette)?
  const [old, now] = [median(b.get('before')!), median(a.get('default')!)];
  console.log(`\nthe old default (\`before\`) at ${sides[0].name}: ${old.toFixed(0)} ms/step; \`default\` at ${sides[1].name}: ${now.toFixed(0)} ms/step (${(now / old).toFixed(2)}× the time)`);
}
