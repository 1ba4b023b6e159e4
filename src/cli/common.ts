/**
 * What every command shares: output (human text on stdout, logs on stderr, JSON only with --json), one-line user
 * errors with exit codes, option parsers, backend start-up (--config and the declared options: ./options.ts).
 * The compare command imports these too.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { initBackend, backendReport } from '../runtime/index.js';
import type { BackendName, BackendRequest, InitBackendOptions } from '../runtime/index.js';
import { CdsDistillError, isCdsUserError } from '../errors.js';
import { FRACTION, INTEGER, NAMES, NON_NEGATIVE_INT, POSITIVE_INT, POSITIVE_NUMBER } from '../train/options.js';
import type { ValueKind } from '../train/options.js';

/** Exit codes: 0 success, 1 user error, 2 usage error, 130 interrupted (SIGINT/SIGTERM). */
export const EXIT_OK = 0;
export const EXIT_USER = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A user error raised by the CLI itself (bad combination of options, missing file): printed as one line, exit 1. */
export class CliError extends CdsDistillError {
  override name = 'CliError';
}

/** A usage error raised by the CLI itself (e.g. a required argument missing from --config and flags): exit 2. */
export class UsageError extends CdsDistillError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, { kind: 'usage' });
  }
}

/**
 * Errors a user can fix from the message alone (no stack trace unless --verbose): every toolkit error of kind 'user'
 * (CdsDistillError), and the system errors of files the user named.
 */
export function isUserError(err: unknown): boolean {
  if (isCdsUserError(err)) return true;
  // Files the user named that are missing or unreadable.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes(code);
}

// ---------------------------------------------------------------------------------------------------------------------
// Output

export interface GlobalFlags {
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/** Where a command writes: results to stdout (JSON only with --json), everything else to stderr. */
export class Output {
  readonly json: boolean;
  readonly verbose: boolean;

  constructor(flags: GlobalFlags) {
    this.json = flags.json === true;
    this.verbose = flags.verbose === true;
    if (this.json) {
      // Libraries that print (tfjs's hints) must not corrupt the JSON on stdout.
      console.log = console.error;
      console.info = console.error;
      console.warn = console.error;
    }
  }

  /** A log line on stderr. */
  log(line: string): void {
    process.stderr.write(line + '\n');
  }

  /** A log line on stderr, only with --verbose. */
  debug(line: string): void {
    if (this.verbose) process.stderr.write(line + '\n');
  }

  /** The command's result: `value` as JSON with --json, else the human text. */
  result(value: unknown, text: () => string): void {
    if (this.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    else process.stdout.write(text() + (text().endsWith('\n') ? '' : '\n'));
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Errors

/** Longest error line printed without --verbose, "error: " included (--verbose prints the whole message). */
export const MAX_ERROR_LINE = 200;

const CUT = ' ... (cut: --verbose prints all of it)';

/**
 * The line an error is printed as: "error: " + the message on one line (newlines and the indentation after them become
 * one space) + `suffix`. Without `verbose` the line is at most MAX_ERROR_LINE characters: a longer message is cut and
 * says so; the suffix (a hint) is always kept.
 */
export function errorLine(message: string, verbose: boolean, suffix = ''): string {
  return `error: ${clipMessage(message, verbose, MAX_ERROR_LINE - 'error: '.length - suffix.length)}${suffix}`;
}

/** A message on one line of at most `max` characters (cut, saying so, unless `verbose`). */
export function clipMessage(message: string, verbose: boolean, max = MAX_ERROR_LINE): string {
  const flat = oneLine(message);
  if (verbose || flat.length <= max) return flat;
  return `${flat.slice(0, Math.max(max - CUT.length, 40)).trimEnd()}${CUT}`;
}

/**
 * Print an error the way the CLI promises and return the exit code: one line (see errorLine) on stderr; with
 * `verbose`, the whole message and the stack trace.
 */
export function reportError(err: unknown, verbose: boolean, helpCommand = 'cds-distill --help'): number {
  const write = (line: string): void => {
    process.stderr.write(line + '\n');
  };
  const stack = (): void => {
    if (verbose && err instanceof Error && err.stack) write(err.stack);
  };
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT_OK;
    const message = err.message.replace(/^error: /, '');
    if (err.code === 'commander.invalidArgument') {
      // A bad option value: a user error; the message says what is expected.
      write(errorLine(message, verbose));
      return EXIT_USER;
    }
    if (err.code === 'commander.help') return EXIT_USAGE;
    write(errorLine(message, verbose, ` (see ${helpCommand})`));
    return EXIT_USAGE;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CdsDistillError && err.kind === 'usage') {
    write(errorLine(message, verbose));
    return EXIT_USAGE;
  }
  if (isUserError(err)) {
    write(errorLine(message, verbose));
    stack();
    return EXIT_USER;
  }
  if (/^Aborted\(/.test(message)) {
    // The wasm module died, almost always from its 4 GB heap limit (XNNPACK then reports status 6, out of memory).
    write(errorLine('the wasm backend aborted, most likely out of memory (4 GB heap): use a smaller --batch-size or ' +
      'model, or install @tensorflow/tfjs-node (README, Backends)', verbose));
    stack();
    return EXIT_USER;
  }
  // A bug or an environment problem: still one line by default, the stack with --verbose.
  if (verbose) {
    write(errorLine(message, true));
    stack();
  } else {
    write(errorLine(message, false, ' (unexpected error: rerun with --verbose for the stack trace and report it)'));
  }
  return EXIT_USER;
}

/** `s` on one line: newlines and the indentation after them become one space. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------------------------------
// Option parsers (commander argParsers: InvalidArgumentError -> "error: option ... argument ... is invalid", exit 1)

/**
 * A commander argParser for a declared value kind (src/train/options.ts): the flag's text parsed and checked by the
 * kind, refused with "expected <what the kind is>." (InvalidArgumentError: a user error, exit 1).
 */
export function parserOf<T>(kind: ValueKind<T>): (value: string) => T {
  return (value) => {
    const v = kind.parse(value);
    if (v === undefined || !kind.check(v)) throw new InvalidArgumentError(`expected ${kind.expected}.`);
    return v;
  };
}

export const positiveInt = parserOf(POSITIVE_INT);
export const nonNegativeInt = parserOf(NON_NEGATIVE_INT);
export const integer = parserOf(INTEGER);
export const positiveNumber = parserOf(POSITIVE_NUMBER);
export const fraction = parserOf(FRACTION);

/** "32x32x3" -> [32, 32, 3]. */
export function shape3(value: string): [number, number, number] {
  const parts = value.toLowerCase().split('x').map((p) => Number(p));
  if (parts.length !== 3 || !parts.every((d) => Number.isInteger(d) && d > 0)) {
    throw new InvalidArgumentError('expected HxWxC, e.g. 32x32x3.');
  }
  return parts as [number, number, number];
}

/** Repeatable `key=value` into an object; values that look like numbers or booleans become them. */
export function keyValue(value: string, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value, e.g. --method-option temperature=4.');
  const key = value.slice(0, eq).trim();
  return { ...(previous ?? {}), [key]: scalar(value.slice(eq + 1).trim()) };
}

function scalar(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v !== '' && Number.isFinite(Number(v))) return Number(v);
  return v;
}

/** Comma-separated list. */
export const list = parserOf(NAMES) as (value: string) => string[];

const BACKENDS: readonly BackendRequest[] = ['auto', 'tensorflow', 'onednn', 'wasm', 'cpu'];

// ---------------------------------------------------------------------------------------------------------------------
// Shared options

/** --backend, --seed, --json, --verbose. */
export function addRuntimeOptions(cmd: Command, options: { seed?: boolean } = {}): Command {
  cmd.addOption(new Option('--backend <name>', 'tfjs backend').choices(BACKENDS).default('auto'));
  if (options.seed !== false) cmd.option('--seed <n>', 'random seed (weights, shuffling, augmentation) (default: 0)', integer);
  cmd.option('--json', 'print only JSON on stdout (logs go to stderr)');
  cmd.option('--verbose', 'more logs; stack traces on errors');
  return cmd;
}

export async function startBackend(request: string | undefined, out: Output, options: InitBackendOptions = {}): Promise<BackendName> {
  const name = await initBackend((request ?? 'auto') as BackendRequest, options);
  const report = backendReport();
  out.debug(`backend: ${name} (${report?.package ?? ''})`);
  for (const s of report?.skipped ?? []) out.debug(`  skipped ${s.package}: ${s.reason}`);
  return name;
}

// ---------------------------------------------------------------------------------------------------------------------
// Formatting

export function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

export function count(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** A plain-text table: columns padded, numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+[%KMG]?( ms)?$|^-$/.test(r[i] ?? '')));
  const fmt = (cells: readonly string[]): string =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** "Examples:" help text for a command. */
export function examples(lines: readonly string[]): string {
  return '\nExamples:\n' + lines.map((l) => `  $ ${l}`).join('\n') + '\n';
}
