/**
 * What every command shares: output (human text on stdout, logs on stderr, JSON only with --json), one-line user
 * errors with exit codes, option parsers, --config loading (JSON or YAML; flags override it), backend start-up.
 * The compare command imports these too.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { initBackend, backendReport } from '../runtime/index.js';
import type { BackendName, BackendRequest } from '../runtime/index.js';
import { CdsDistillError, isCdsUserError } from '../errors.js';

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

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------------------------------
// Option parsers (commander argParsers: InvalidArgumentError -> "error: option ... argument ... is invalid", exit 1)

export function positiveInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0.');
  return n;
}

export function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new InvalidArgumentError('expected an integer.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && n <= 1)) throw new InvalidArgumentError('expected a number in (0, 1].');
  return n;
}

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
export function list(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list.');
  return items;
}

/** Help of distill's and compare's teacher naming options (one wording for both). */
export const TEACHER_STAGES_HELP =
  'comma-separated stage names of a model.json teacher: layer names of a LayersModel (default: found automatically), ' +
  'node names of a GraphModel (default: none, enough for kd and dkd; see cds-distill inspect TEACHER)';
export const TEACHER_LOGITS_HELP =
  'the layer or graph node whose output is the teacher\'s logits, when it is not the model\'s last output';

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

/** --config FILE: a JSON or YAML object of the command's options (long names, camelCase or kebab-case). */
export function addConfigOptions(cmd: Command): Command {
  cmd.option('--config <file>', 'read options from a JSON or YAML file; flags override it');
  cmd.option('--dry-run', 'print the resolved configuration and exit');
  return cmd;
}

export async function startBackend(request: string | undefined, out: Output): Promise<BackendName> {
  const name = await initBackend((request ?? 'auto') as BackendRequest);
  const report = backendReport();
  out.debug(`backend: ${name} (${report?.package ?? ''})`);
  for (const s of report?.skipped ?? []) out.debug(`  skipped ${s.package}: ${s.reason}`);
  return name;
}

// ---------------------------------------------------------------------------------------------------------------------
// Config files

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Read a --config file into a plain object with camelCase keys. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${abs}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const ext = extname(abs).toLowerCase();
  let raw: unknown;
  try {
    raw = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new CliError(`config file ${abs} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${oneLine((err as Error).message)}`);
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError(`config file ${abs} must hold an object of options (e.g. {"model": "resnet20", "epochs": 10})`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out[camel(k)] = v;
  return out;
}

/**
 * The command's options with --config merged under the flags: a value from the file is used unless the flag was given
 * on the command line. File values are checked and converted with the option's own parser. Unknown keys are refused.
 */
export async function mergeConfig(cmd: Command, opts: Record<string, unknown>): Promise<Record<string, unknown>> {
  const file = opts['config'];
  if (typeof file !== 'string') return opts;
  const config = runConfigAliases(await readConfigFile(file), cmd.name());
  const byKey = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  const merged: Record<string, unknown> = { ...opts };
  for (const [key, value] of Object.entries(config)) {
    const option = byKey.get(key);
    if (!option || key === 'config' || key === 'dryRun') {
      const known = [...byKey.keys()].filter((k) => k !== 'config' && k !== 'dryRun');
      throw new CliError(`config file ${file}: unknown option "${key}"; known options: ${known.join(', ')}`);
    }
    if (cmd.getOptionValueSource(key) === 'cli' && key !== 'methodOption') continue;
    merged[key] = convertConfigValue(option, key, value, file, opts[key]);
  }
  return merged;
}

/** Informational keys of a run's config.json, ignored when it is used as --config (the run recomputes them). */
const RUN_CONFIG_INFO = ['kind', 'inputShape', 'numClasses', 'classNames', 'tfjs', 'stageMatch', 'dataset', 'teacherInputUsed'];

/**
 * Accept a run's config.json as --config: its names for options (methodOptions, maxStepsPerEpoch, the schedule object,
 * the student's name in `model` for distill) become the command's; informational keys are dropped.
 */
function runConfigAliases(config: Record<string, unknown>, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  if ('methodOptions' in out) {
    out['methodOption'] = { ...(out['methodOptions'] as object), ...((out['methodOption'] as object | undefined) ?? {}) };
    delete out['methodOptions'];
  }
  if ('maxStepsPerEpoch' in out) {
    out['maxSteps'] ??= out['maxStepsPerEpoch'];
    delete out['maxStepsPerEpoch'];
  }
  const schedule = out['schedule'];
  if (schedule != null && typeof schedule === 'object' && !Array.isArray(schedule)) {
    const s = schedule as { kind?: unknown; milestones?: unknown };
    out['schedule'] = s.kind;
    // No milestones (a run too short for a drop) is the recipe's scaled schedule, which --milestones cannot spell.
    if (Array.isArray(s.milestones) && s.milestones.length > 0) out['milestones'] ??= s.milestones;
  }
  if (out['kind'] === 'distill' && command === 'distill' && 'model' in out) {
    out['student'] ??= out['model'];
    delete out['model'];
  }
  if (out['kind'] !== undefined) for (const k of RUN_CONFIG_INFO) delete out[k];
  return out;
}

function convertConfigValue(option: Option, key: string, value: unknown, file: string, cliValue: unknown): unknown {
  const parser = (option as unknown as { parseArg?: (v: string, prev: unknown) => unknown }).parseArg;
  const fail = (why: string): never => {
    throw new CliError(`config file ${file}: option "${key}" ${why}`);
  };
  if (key === 'methodOption') {
    // An object {name: value} (or a list of "name=value"); flags given with --method-option are merged over it.
    let obj: Record<string, unknown> = {};
    if (Array.isArray(value)) for (const item of value) obj = keyValue(String(item), obj);
    else if (value != null && typeof value === 'object') obj = { ...(value as Record<string, unknown>) };
    else fail('must be an object of method options, e.g. {"T": 4}');
    return { ...obj, ...((cliValue as Record<string, unknown> | undefined) ?? {}) };
  }
  if (!option.required && !option.optional) {
    // A boolean flag.
    if (typeof value !== 'boolean') fail(`must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (value == null) fail('has no value');
  if (Array.isArray(value) && option.argChoices === undefined && parser) {
    return parser(value.join(','), undefined);
  }
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (text === undefined) return fail(`must be a string or number, got ${JSON.stringify(value)}`);
  if (option.argChoices && !option.argChoices.includes(text)) fail(`must be one of ${option.argChoices.join(', ')}, got ${text}`);
  if (!parser) return text;
  try {
    return parser(text, undefined);
  } catch (err) {
    return fail(`${JSON.stringify(value)} is invalid: ${(err as Error).message}`);
  }
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
