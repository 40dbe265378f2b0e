/**
 * The one argument reader of the scripts and benchmarks (scripts/, bench/, client/scripts/):
 * node:util `parseArgs` in strict mode, so a misspelt or unknown option stops the script with its
 * usage line instead of being ignored (the hand-written readers this replaced took `--size 256`
 * for `--sizes` silently). `--name value` and `--name=value` both work. The render CLI has its own
 * reader with per-option validation (server/cli/args.ts), also on parseArgs.
 *
 *   const { values } = readArgs({ steps: { type: 'string' }, small: { type: 'boolean' } }, 'bench/x.ts [--steps N] [--small]');
 *   const steps = numberArg(values.steps, 'steps') ?? 3;
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface ReadArgsOptions {
  /** Arguments after the script (default `process.argv.slice(2)`). */
  argv?: readonly string[];
  /** Whether bare words are allowed (they come back as `positionals`). */
  positionals?: boolean;
}

/** Parses `argv` against `options`; on a bad argument prints it and `usage`, and exits with 2. */
export function readArgs<const O extends ParseArgsOptionsConfig>(options: O, usage: string, opts: ReadArgsOptions = {}) {
  try {
    return parseArgs({ args: [...(opts.argv ?? process.argv.slice(2))], options, strict: true, allowPositionals: opts.positionals ?? false });
  } catch (e) {
    return exitWithUsage((e as Error).message, usage);
  }
}

/** Prints `message` and the usage line on stderr and exits with status 2. */
export function exitWithUsage(message: string, usage: string): never {
  console.error(`${message}\nusage: ${usage}`);
  process.exit(2);
}

/** A number option's value (undefined when absent); anything but a finite number exits with 2. */
export function numberArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    console.error(`--${name} needs a number, got '${value}'`);
    process.exit(2);
  }
  return n;
}

/** A comma-separated list option (`--sizes 128,256`), or `fallback`'s items when absent. */
export function listArg(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The options of `values` that were given, as `--name value` / `--flag` arguments again (to pass on). */
export function toArgv(values: Record<string, string | boolean | undefined>): string[] {
  return Object.entries(values).flatMap(([k, v]) => (v === undefined || v === false ? [] : v === true ? [`--${k}`] : [`--${k}`, v]));
}
