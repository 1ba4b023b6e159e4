/**
 * A comparison's setup: the options its runs share, resolved and checked (`resolveSetup`), saved as
 * `compare.json` and read back, or reconstructed from the runs' own config.json files.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackendRequest } from '../runtime/index.js';
import { getMethod, resolveMethodOptions } from '../methods/index.js';
import { CompareError, passedOptions, planRuns, readComparedRunConfig, runsDir } from './runs.js';
import type { CompareSetup, PassThroughOptions, RunSpec } from './runs.js';
import { COMPARE_DEFAULTS, invalidOption, passThroughOptions, RECIPES, valueFromConfig } from '../train/options.js';


/** The methods compared when none are named: every baseline (RepDistiller/mdistiller defaults) and CDS. */
export const DEFAULT_METHODS: readonly string[] = COMPARE_DEFAULTS.methods;

/** What the runs share (everything but the output and execution options). */
export interface CompareRunOptions extends PassThroughOptions {
  /** Teacher: a run directory, student bundle or model.json (loaded by every run; unused by ce and cds). */
  readonly teacher: string;
  /** Zoo model name of the student. */
  readonly student: string;
  /** Methods to compare. Default: `DEFAULT_METHODS`. */
  readonly methods?: readonly string[];
  /** Seeds: a count (seeds 0..n-1) or the list. Default 3. A seed fixes the data order, so every method sees the same. */
  readonly seeds?: number | readonly number[];
  /** Dataset spec (as for distill). */
  readonly data: string;
  /** Default: distill's (`RECIPES.distill.epochs`). */
  readonly epochs?: number;
  /**
   * Method options: `key` applies to every compared method that has an option of that name (at least one must),
   * `method.key` to that method only.
   */
  readonly methodOptions?: Readonly<Record<string, unknown>>;
  /** Backend for the runs and the teacher's evaluation. Default: 'auto' (children), the current one in-process. */
  readonly backend?: BackendRequest;
}

// ---------------------------------------------------------------------------------------------------------------------
// Setup

export function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new CompareError(`${name} must be a positive integer, got ${v}`);
}

/**
 * Method options given once for several methods, split per method: `method.key` goes to that method, a bare `key` to
 * every method that has the option; for one method `method.key` wins over `key`, in whatever order they come. Throws
 * CompareError for a method not among `methods` or a key none of them has, MethodError for a value a method refuses.
 */
export function scopeMethodOptions(methods: readonly string[], given: Readonly<Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = Object.fromEntries(methods.map((m) => [m, {}]));
  // Bare keys first, so a method's own `method.key` is applied after them and wins.
  const entries = Object.entries(given).sort(([a], [b]) => Number(a.includes('.')) - Number(b.includes('.')));
  for (const [key, value] of entries) {
    const dot = key.indexOf('.');
    if (dot > 0) {
      const method = getMethod(key.slice(0, dot)).name;
      if (!methods.includes(method)) {
        throw new CompareError(`method option ${key}: ${method} is not among the compared methods (${methods.join(', ')}); add it to --methods or drop the option`);
      }
      out[method]![key.slice(dot + 1)] = value;
      continue;
    }
    const takers = methods.filter((m) => key in getMethod(m).defaults);
    if (takers.length === 0) {
      throw new CompareError(`method option ${key}: none of the compared methods (${methods.join(', ')}) has an option "${key}"`);
    }
    for (const m of takers) out[m]![key] = value;
  }
  // Refuse bad values now rather than in the middle of the runs.
  for (const m of methods) resolveMethodOptions(getMethod(m), out[m]);
  return out;
}

/** Resolve and check a comparison's settings (method names, seeds, method options). */
export function resolveSetup(o: CompareRunOptions): CompareSetup {
  if (!o.teacher) throw new CompareError('compare needs a teacher');
  if (!o.student) throw new CompareError('compare needs a student model name');
  if (!o.data) throw new CompareError('compare needs a dataset spec (data)');
  const methods: string[] = [];
  for (const m of o.methods ?? DEFAULT_METHODS) {
    const name = getMethod(m).name;
    if (!methods.includes(name)) methods.push(name);
  }
  if (methods.length === 0) throw new CompareError('compare needs at least one method');
  const seedsOpt = o.seeds ?? COMPARE_DEFAULTS.seeds;
  let seeds: number[];
  if (typeof seedsOpt === 'number') {
    positiveInt('seeds', seedsOpt);
    seeds = Array.from({ length: seedsOpt }, (_, i) => i);
  } else {
    seeds = [...new Set(seedsOpt)];
    if (seeds.length === 0 || !seeds.every((s) => Number.isInteger(s))) throw new CompareError(`seeds must be integers, got ${JSON.stringify(seedsOpt)}`);
  }
  const invalid = invalidOption('compare', { ...(o as unknown as Readonly<Record<string, unknown>>), seeds: undefined });
  if (invalid !== undefined) throw new CompareError(invalid);
  const methodOptions = scopeMethodOptions(methods, o.methodOptions ?? {});
  const hasOptions = Object.values(methodOptions).some((v) => Object.keys(v).length > 0);
  return {
    teacher: o.teacher,
    student: o.student,
    data: o.data,
    methods,
    seeds,
    ...(Object.fromEntries(passedOptions(o).map(([spec, v]) => [spec.key, v])) as PassThroughOptions),
    epochs: o.epochs ?? RECIPES.distill.epochs,
    ...(hasOptions ? { methodOptions: Object.fromEntries(Object.entries(methodOptions).filter(([, v]) => Object.keys(v).length > 0)) } : {}),
    ...(o.backend !== undefined && o.backend !== 'auto' ? { backend: o.backend } : {}),
  };
}

export const SETUP_FILE = 'compare.json';

export async function writeSetup(out: string, setup: CompareSetup): Promise<void> {
  await mkdir(out, { recursive: true });
  await writeFile(join(out, SETUP_FILE), JSON.stringify({ format: 'cds-distill/compare-setup', version: 1, setup }, null, 2) + '\n');
}

export async function readSetup(out: string): Promise<CompareSetup | undefined> {
  const file = join(out, SETUP_FILE);
  if (!existsSync(file)) return undefined;
  const json = JSON.parse(await readFile(file, 'utf8')) as { setup?: CompareSetup };
  if (!json.setup) throw new CompareError(`${file} holds no comparison setup`);
  return json.setup;
}

/** A setup reconstructed from run directories' config.json files (when compare.json is absent). */
export async function setupFromRuns(dir: string): Promise<{ setup: CompareSetup; specs: RunSpec[] }> {
  const root = runsDir(dir);
  if (!existsSync(root)) throw new CompareError(`${dir} holds no comparison: neither ${SETUP_FILE} nor a runs/ directory`);
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const found: { name: string; config: NonNullable<Awaited<ReturnType<typeof readComparedRunConfig>>> }[] = [];
  for (const name of entries) {
    const config = await readComparedRunConfig(join(root, name));
    if (config) found.push({ name, config });
  }
  if (found.length === 0) throw new CompareError(`${root} holds no run directories (no config.json found)`);
  const first = found[0]!.config;
  const methods = [...new Set(found.map((f) => f.config.method))];
  const order = DEFAULT_METHODS.filter((m) => methods.includes(m)).concat(methods.filter((m) => !DEFAULT_METHODS.includes(m)));
  const epochs = Math.max(...found.map((f) => f.config.epochs));
  const setup: CompareSetup = {
    teacher: first.teacher ?? '',
    student: first.model,
    data: first.data,
    methods: order,
    seeds: [...new Set(found.map((f) => f.config.seed))].sort((a, b) => a - b),
    ...(Object.fromEntries(
      passThroughOptions()
        .filter((spec) => spec.config !== undefined)
        .map((spec) => [spec.key, valueFromConfig(spec, first as unknown as Readonly<Record<string, unknown>>)])
        .filter(([, v]) => v !== undefined),
    ) as PassThroughOptions),
    epochs,
  };
  const specs = found.map(({ name, config }) => {
    const spec = planRuns({ ...setup, methods: [config.method], seeds: [config.seed] }, dir)[0]!;
    return { ...spec, name, runDir: join(root, name) };
  });
  return { setup, specs };
}

