/**
 * The runs of a comparison: one `distill` run per method x seed, each in its own run directory. This module plans them
 * (options, argv), reads what a run directory holds (finished, interrupted, absent) and summarises a finished run from
 * its own files, so the report can be built by the process that trained them or by another one later (`--collect`).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MetricsLogError, readMetricsLog } from '../train/index.js';
import type { ClassificationMetrics, EpochMetrics } from '../train/index.js';
import { settingDifferences } from '../run/run-dir.js';
import type { SettingCheck } from '../run/run-dir.js';
import { countSavedModelParams } from '../student/params.js';
import { readRunConfig } from '../run/config.js';
import { runPaths } from '../run/paths.js';
import type { DistillOptions, RunConfig } from '../train/index.js';
import { configValue, flagName, passThroughOptions, valueFromConfig } from '../train/options.js';
import type { OptionSpec } from '../train/options.js';
import { CdsDistillError } from '../errors.js';
import { getMethod, recordedMethodOptions, resolveMethodOptions } from '../methods/index.js';

/** A user error in the comparison's options or directories (the CLI prints it as one line). */
export class CompareError extends CdsDistillError {
  override name = 'CompareError';
}

/**
 * distill settings a comparison hands to every run unchanged (absent: the distill recipe's): every run option but
 * those that identify the comparison or that it sets per run. At run time the set is `passThroughOptions()` (the
 * declared options of src/train/options.ts that distill and compare both take), so an option declared once for both
 * reaches every run's argv, options, conflict check and the report's settings line.
 */
export type PassThroughOptions = Partial<
  Omit<DistillOptions, 'teacher' | 'student' | 'data' | 'method' | 'methodOptions' | 'out' | 'resume' | 'force' | 'seed' | 'unlabeledData' | 'onStep' | 'onEpoch' | 'onNote' | 'signal' | 'teacherStageNodes' | 'teacherLogitsNode'>
>;

/** The pass-through options of `o` that are set, by library name. */
export function passedOptions(o: PassThroughOptions): [OptionSpec, unknown][] {
  const values = o as unknown as Readonly<Record<string, unknown>>;
  return passThroughOptions()
    .map((spec): [OptionSpec, unknown] => [spec, values[spec.key]])
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0));
}

/** What `distill` receives for one run: plain JSON (a plan line's `config`, usable as `distill(config)`). */
export interface RunDistillOptions extends PassThroughOptions {
  readonly teacher: string;
  readonly student: string;
  readonly method: string;
  readonly data: string;
  readonly seed: number;
  readonly out: string;
  readonly resume: true;
  readonly methodOptions?: Readonly<Record<string, unknown>>;
}

/** One run of the comparison. */
export interface RunSpec {
  /** `<method>-seed<k>`: the run directory's name under `<out>/runs/`. */
  readonly name: string;
  readonly method: string;
  readonly seed: number;
  readonly runDir: string;
  readonly options: RunDistillOptions;
  /** The arguments of the `cds-distill` CLI that perform this run (starting with `distill`). */
  readonly argv: readonly string[];
}

/** The settings shared by every run of a comparison (what `compare.json` holds). */
export interface CompareSetup extends PassThroughOptions {
  readonly teacher: string;
  readonly student: string;
  readonly data: string;
  readonly methods: readonly string[];
  readonly seeds: readonly number[];
  readonly epochs: number;
  /** Per method: the method options given for it (after scoping `method.key=value` and unscoped keys). */
  readonly methodOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly backend?: string;
}

/** A run directory's name. */
export function runName(method: string, seed: number): string {
  return `${method}-seed${seed}`;
}

export function runsDir(out: string): string {
  return join(out, 'runs');
}

/** The runs of a setup, methods outer, seeds inner; run directories under `<out>/runs/`. */
export function planRuns(setup: CompareSetup, out: string): RunSpec[] {
  const specs: RunSpec[] = [];
  const passed = passedOptions(setup);
  for (const method of setup.methods) {
    const methodOptions = setup.methodOptions?.[method];
    for (const seed of setup.seeds) {
      const name = runName(method, seed);
      const runDir = join(runsDir(out), name);
      const options: RunDistillOptions = {
        teacher: setup.teacher,
        student: setup.student,
        method,
        data: setup.data,
        seed,
        out: runDir,
        resume: true,
        ...Object.fromEntries(passed.map(([spec, v]) => [spec.key, v])),
        ...(methodOptions && Object.keys(methodOptions).length > 0 ? { methodOptions } : {}),
      };
      const argv = ['distill', '--teacher', setup.teacher, '--student', setup.student, '--method', method, '--data', setup.data];
      for (const [spec, v] of passed) argv.push(flagName(spec), spec.kind.format(v));
      argv.push('--seed', String(seed));
      for (const [k, v] of Object.entries(methodOptions ?? {})) argv.push('--method-option', `${k}=${String(v)}`);
      if (setup.backend !== undefined) argv.push('--backend', setup.backend);
      argv.push('--out', runDir, '--resume', '--json');
      specs.push({ name, method, seed, runDir, options, argv });
    }
  }
  return specs;
}

// ---------------------------------------------------------------------------------------------------------------------
// Reading run directories

/** A compared run's config.json (src/run/config.ts), undefined when absent; not valid JSON: a CompareError. */
export async function readComparedRunConfig(runDir: string): Promise<RunConfig | undefined> {
  return readRunConfig(runDir, {
    invalid: (file, reason) => new CompareError(`${file} is not valid JSON (${reason}); delete the run directory to redo the run`),
  });
}

/** The epochs logged in metrics.jsonl (a torn last line, from a process killed mid-write, is ignored). */
export async function readRunMetrics(runDir: string): Promise<EpochMetrics[]> {
  try {
    return (await readMetricsLog(runPaths(runDir).metrics)).epochs;
  } catch (err) {
    if (err instanceof MetricsLogError) throw new CompareError(err.message);
    throw err;
  }
}

export type RunStatus = 'finished' | 'partial' | 'absent';

/** Finished: metrics.jsonl logs every epoch 1..epochs and the exported student/ exists. */
export function isFinished(metrics: readonly EpochMetrics[], epochs: number, runDir: string): boolean {
  const seen = new Set(metrics.map((m) => m.epoch));
  for (let e = 1; e <= epochs; e++) if (!seen.has(e)) return false;
  return existsSync(runPaths(runDir).studentModel);
}

export async function runStatus(runDir: string, epochs: number): Promise<RunStatus> {
  if (!existsSync(runDir)) return 'absent';
  const metrics = await readRunMetrics(runDir);
  if (isFinished(metrics, epochs, runDir)) return 'finished';
  return existsSync(runPaths(runDir).config) ? 'partial' : 'absent';
}

/**
 * Differences between what a run directory was started with and what this comparison asks for (only the settings
 * the comparison fixes; defaults the run resolved itself are not compared, except the method's options, which are
 * compared in full). Empty when they agree.
 */
export function configDifferences(spec: RunSpec, config: Partial<RunConfig>): string[] {
  const o = spec.options;
  const checks: SettingCheck[] = [
    ['method', config.method, o.method],
    ['student', config.model, o.student],
    ['data', config.data, o.data],
    ['seed', config.seed, o.seed],
  ];
  if (config.teacher !== undefined) checks.push(['teacher', resolve(config.teacher), resolve(o.teacher)]);
  const saved = config as Readonly<Record<string, unknown>>;
  for (const spec of passThroughOptions()) {
    if (spec.config === undefined) continue;
    const want = (o as unknown as Readonly<Record<string, unknown>>)[spec.key];
    // A resolved setting (or one recorded inside another) is the run's own choice unless the comparison fixes it.
    if (want === undefined && (spec.config === 'resolved' || spec.recordedIn !== undefined)) continue;
    checks.push([flagName(spec).slice(2), valueFromConfig(spec, saved), configValue(spec, want)]);
  }
  // Every option of the method, given or not: a finished run made with other options must not be reported as these.
  if (config.method === undefined || config.method === o.method) {
    const recipe = getMethod(o.method);
    const want = resolveMethodOptions(recipe, o.methodOptions ?? {});
    const have = recordedMethodOptions(recipe, config.methodOptions);
    for (const k of new Set([...Object.keys(have), ...Object.keys(want)])) checks.push([`method option ${k}`, have[k], want[k]]);
  }
  return settingDifferences(checks);
}

/** A finished run, as the report uses it. */
export interface RunSummary {
  readonly name: string;
  readonly method: string;
  readonly seed: number;
  readonly runDir: string;
  readonly epochs: number;
  /** The epoch with the best test top-1 (the first one, as `best/` keeps it) and its figures. */
  readonly best: EpochFigures;
  /** The last epoch's figures. */
  readonly last: EpochFigures;
  /** Mean training seconds per epoch (the loop's own timing, evaluation excluded). */
  readonly secondsPerEpoch: number;
  /** Mean training throughput over the epochs. */
  readonly imgPerSec: number;
  /** Trainable parameters of the exported student (what ships). */
  readonly params: number | undefined;
  /** Trainable parameters while training: student with heads + the method's extra parts (regressors, embeddings). */
  readonly trainParams: number | undefined;
  /** Test top-1 per epoch (index 0 = epoch 1). */
  readonly curve: readonly number[];
}

export interface EpochFigures extends Pick<ClassificationMetrics, 'top1' | 'top5' | 'ece' | 'nll'> {
  readonly epoch: number;
}

function figures(m: EpochMetrics): EpochFigures {
  return { epoch: m.epoch, top1: m.test.top1, top5: m.test.top5, ece: m.test.ece, nll: m.test.nll };
}

async function trainParamsOf(runDir: string): Promise<number | undefined> {
  const student = await countSavedModelParams(join(runPaths(runDir).checkpointStudent, 'model.json'));
  if (student === undefined) return undefined;
  const partsDir = join(runPaths(runDir).checkpoint, 'parts');
  let parts = 0;
  if (existsSync(partsDir)) {
    for (const entry of await readdir(partsDir)) parts += (await countSavedModelParams(join(partsDir, entry, 'model.json'))) ?? 0;
  }
  return student + parts;
}

/** Summarise a finished run from its metrics (the first `epochs` epochs) and model files. */
export async function summarizeRun(
  run: { name: string; method: string; seed: number; runDir: string },
  epochs: number,
  metrics?: readonly EpochMetrics[],
): Promise<RunSummary> {
  const all = metrics ?? (await readRunMetrics(run.runDir));
  const byEpoch = new Map(all.map((m) => [m.epoch, m]));
  const list: EpochMetrics[] = [];
  for (let e = 1; e <= epochs; e++) {
    const m = byEpoch.get(e);
    if (!m) throw new CompareError(`${runPaths(run.runDir).metrics} has no line for epoch ${e}`);
    list.push(m);
  }
  let best = list[0]!;
  for (const m of list) if (m.test.top1 > best.test.top1) best = m;
  const last = list[list.length - 1]!;
  return {
    ...run,
    epochs,
    best: figures(best),
    last: figures(last),
    secondsPerEpoch: list.reduce((s, m) => s + m.seconds, 0) / list.length,
    imgPerSec: list.reduce((s, m) => s + m.imgPerSec, 0) / list.length,
    params: await countSavedModelParams(runPaths(run.runDir).studentModel),
    trainParams: await trainParamsOf(run.runDir),
    curve: list.map((m) => m.test.top1),
  };
}
