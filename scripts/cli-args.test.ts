import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listArg, numberArg, readArgs, toArgv } from './cli-args.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('script arguments (scripts/cli-args.ts)', () => {
  test('options come as --name value or --name=value; flags are booleans; positionals when allowed', () => {
    const { values, positionals } = readArgs(
      { sizes: { type: 'string' }, steps: { type: 'string' }, 'no-write': { type: 'boolean' } },
      'x',
      { argv: ['rev1', '--sizes', '128,256', '--steps=5', '--no-write'], positionals: true },
    );
    assert.deepEqual({ ...values }, { sizes: '128,256', steps: '5', 'no-write': true });
    assert.deepEqual(positionals, ['rev1']);
    assert.deepEqual(listArg(values.sizes, '64').map(Number), [128, 256]);
    assert.deepEqual(listArg(undefined, 'a, b,'), ['a', 'b']);
    assert.equal(numberArg(values.steps, 'steps'), 5);
    assert.equal(numberArg(undefined, 'steps'), undefined);
    assert.deepEqual(toArgv({ sizes: '128', steps: undefined, small: true, write: false }), ['--sizes', '128', '--small']);
  });

  test('an unknown option, a missing value or a non-number stops the script with status 2 and the usage', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'atelier-args-'));
    const demo = path.join(dir, 'demo.ts');
    writeFileSync(
      demo,
      `import { readArgs, numberArg } from ${JSON.stringify(path.join(root, 'scripts/cli-args.ts'))};
       const { values } = readArgs({ sizes: { type: 'string' }, steps: { type: 'string' } }, 'demo [--sizes a,b] [--steps N]');
       numberArg(values.steps, 'steps');\n`,
    );
    for (const [argv, message] of [
      [['--size', '256'], /Unknown option '--size'/],
      [['--sizes'], /argument missing/],
      [['--steps', 'many'], /--steps needs a number, got 'many'/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', demo, ...argv], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('no script or benchmark reads options from process.argv by hand', () => {
    const handParsing = /process\.argv\.(indexOf|includes)\(|\bargs?\.(indexOf|includes)\(['"`]--|argv\[\d\] === ['"]--/;
    const offenders: string[] = [];
    for (const dir of ['scripts', 'bench', 'client/scripts']) {
      for (const name of readdirSync(path.join(root, dir))) {
        if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
        const text = readFileSync(path.join(root, dir, name), 'utf8');
        if (handParsing.test(text)) offenders.push(`${dir}/${name}`);
      }
    }
    assert.deepEqual(offenders, [], 'use readArgs from scripts/cli-args.ts');
  });
});
