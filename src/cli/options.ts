/**
 * The declared options (src/train/options.ts) on commander: each command's flags and --help built from `OPTIONS`,
 * the values given read back under their library names, and --config (a JSON or YAML file, or a run's config.json)
 * merged under the flags with each option's own parser.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { KEY_VALUES, optionsOf, SWITCH } from '../train/options.js';
import type { OptionCommand, OptionSpec } from '../train/options.js';
import { CliError, keyValue, oneLine, parserOf } from './common.js';

/** The commander attribute of a declared option ('--max-steps <n>' -> maxSteps, '--no-teacher-eval' -> teacherEval). */
export function attributeOf(spec: OptionSpec): string {
  return new Option(spec.flag).attributeName();
}

/** The --help line of a declared option: its help and, when it has one, its default for `command`. */
export function helpOf(spec: OptionSpec, command: OptionCommand): string {
  const d = spec.default?.(command);
  return d === undefined ? spec.help : `${spec.help} (default: ${d})`;
}

/** Add the declared options of `command` to `cmd`, in declaration order (flags, parsers, choices, help). */
export function addDeclaredOptions(cmd: Command, command: OptionCommand): Command {
  for (const spec of optionsOf(command)) {
    const option = new Option(spec.flag, helpOf(spec, command));
    const choices = (spec.kind as { choices?: readonly string[] }).choices;
    if (choices !== undefined) option.choices(choices);
    else if (spec.kind === KEY_VALUES) option.argParser(keyValue);
    else if (spec.kind !== SWITCH) option.argParser(parserOf(spec.kind));
    cmd.addOption(option);
  }
  return cmd;
}

/**
 * The declared options of `command` among `opts` (a command's merged options), under their library names; options
 * not given are absent (undefined: the recipe's default).
 */
export function declaredValues(opts: Readonly<Record<string, unknown>>, command: OptionCommand): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of optionsOf(command)) {
    const v = opts[attributeOf(spec)];
    if (v !== undefined) out[spec.key] = v;
  }
  return out;
}

/** --config FILE: a JSON or YAML object of the command's options (long names, camelCase or kebab-case). */
export function addConfigOptions(cmd: Command): Command {
  cmd.option('--config <file>', 'read options from a JSON or YAML file; flags override it');
  cmd.option('--dry-run', 'print the resolved configuration and exit');
  return cmd;
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
  const config = configAliases(await readConfigFile(file), cmd.name() as OptionCommand);
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
 * Accept a run's config.json (or the library's option names) as --config: each declared option's library name
 * (`methodOptions`, `maxStepsPerEpoch`) and config.json form (the schedule object) become its flag's (`fromConfig`);
 * the student's name in `model` of a distill run becomes `student`; a run's informational keys are dropped.
 */
function configAliases(config: Record<string, unknown>, command: OptionCommand): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const spec of optionsOf(command)) {
    const attr = attributeOf(spec);
    if (spec.key !== attr && spec.key in out) {
      const v = out[spec.key];
      delete out[spec.key];
      out[attr] = spec.kind === KEY_VALUES ? { ...(v as object), ...((out[attr] as object | undefined) ?? {}) } : (out[attr] ?? v);
    }
    if (spec.fromConfig !== undefined) {
      const v = spec.fromConfig(config);
      if (v === undefined) delete out[attr];
      else out[attr] = v;
    }
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

