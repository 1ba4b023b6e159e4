/**
 * `compare`: distil one student from one teacher with several methods and seeds, each run in its own run directory,
 * and report mean ± std per method (results.json, results.csv, report.md with SVG plots). Re-running skips finished
 * runs and resumes interrupted ones; `planCompare` writes the runs as self-contained commands for an external
 * scheduler and `collectCompare` builds the report from their run directories.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { backendReport, initBackend } from '../runtime/index.js';
import type { BackendRequest } from '../runtime/index.js';
import { getMethod, resolveMethodOptions } from '../methods/index.js';
import {
  CompareError,
  configDifferences,
  isFinished,
  planRuns,
  readComparedRunConfig,
  readRunMetrics,
  runsDir,
  summarizeRun,
} from './runs.js';
import type { CompareSetup, PassThroughOptions, RunDistillOptions, RunSpec, RunSummary } from './runs.js';
import { passedOptions } from './runs.js';
import { COMPARE_DEFAULTS, invalidOption, passThroughOptions, RECIPES, valueFromConfig } from '../train/options.js';
import { defaultCliPath, pool, runInProcess, runSpawned } from './runner.js';
import type { RunOutcome } from './runner.js';
import { teacherFiguresCached } from './teacher.js';
import { DirectoryLock, processAlive } from '../run/lock.js';
import type { TeacherFigures } from './teacher.js';
import { buildReport, csvTable, markdownReport } from './table.js';
import type { CompareReport, MissingRun, ReportFiles } from './table.js';
import { barsSpec, curvesSpec, renderSvg } from './plots.js';

/** The methods compared when none are named: every baseline (RepDistiller/mdistiller defaults) and CDS. */
export const DEFAULT_METHODS: readonly string[] = COMPARE_DEFAULTS.methods;

/** A run as progress events name it. */
export interface RunRef {
  readonly name: string;
  readonly method: string;
  readonly seed: number;
  readonly runDir: string;
}

export type CompareEvent =
  | { readonly type: 'teacher'; readonly teacher: TeacherFigures }
  | { readonly type: 'plan'; readonly total: number; readonly finished: number; readonly resume: number; readonly fresh: number }
  | { readonly type: 'run-skip'; readonly run: RunRef }
  | { readonly type: 'run-start'; readonly run: RunRef; readonly resume: boolean; readonly index: number; readonly total: number }
  | { readonly type: 'run-epoch'; readonly run: RunRef; readonly epoch: number; readonly epochs: number; readonly top1: number }
  | { readonly type: 'run-done'; readonly run: RunRef; readonly seconds: number }
  | { readonly type: 'run-failed'; readonly run: RunRef; readonly message: string; readonly interrupted: boolean }
  | { readonly type: 'report'; readonly files: ReportFiles };

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

export interface CompareOptions extends CompareRunOptions {
  /** The comparison's directory: runs/<method>-seed<k>/, logs/, results.json, results.csv, report.md, *.svg. */
  readonly out: string;
  /** Runs at once (child processes). Default 1. */
  readonly workers?: number;
  /** 'spawn' (default): each run is a child process running the built CLI's distill. 'in-process': sequential, here. */
  readonly runner?: 'spawn' | 'in-process';
  /** The built CLI to spawn. Default: this package's dist/bin/cds-distill.js. */
  readonly cli?: string;
  /** Evaluate the teacher for the table's top row. Default true. */
  readonly evaluateTeacher?: boolean;
  readonly onProgress?: (event: CompareEvent) => void;
  /** Stop: running children get SIGTERM (they checkpoint), no new run starts; the report covers finished runs. */
  readonly signal?: AbortSignal;
}

/** Lists the runs as self-contained commands instead of running them. */
export interface PlanOptions extends CompareRunOptions {
  /** The comparison's directory (the runs' run directories go under `<out>/runs/`; compare.json is written there). */
  readonly out: string;
  /** Write the plan (JSON lines) to this file. */
  readonly plan?: string;
}

/** One line of a plan: a run as a CLI command and as `distill` options. */
export interface PlanLine {
  readonly name: string;
  readonly method: string;
  readonly seed: number;
  readonly runDir: string;
  /** argv of the command, starting with `cds-distill`. */
  readonly argv: readonly string[];
  /** The same as one shell command line. */
  readonly command: string;
  /** The run as options of the library's `distill` (plain JSON). */
  readonly config: RunDistillOptions;
}

export interface CollectOptions {
  readonly evaluateTeacher?: boolean;
  readonly backend?: BackendRequest;
  readonly onProgress?: (event: CompareEvent) => void;
}

// ---------------------------------------------------------------------------------------------------------------------
// Setup

function positiveInt(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new CompareError(`${name} must be a positive integer, got ${v}`);
}

function scopeMethodOptions(methods: readonly string[], given: Readonly<Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = Object.fromEntries(methods.map((m) => [m, {}]));
  for (const [key, value] of Object.entries(given)) {
    const dot = key.indexOf('.');
    if (dot > 0) {
      const method = getMethod(key.slice(0, dot)).name;
      if (!methods.includes(method)) throw new CompareError(`method option ${key}: ${method} is not among the compared methods`);
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

const SETUP_FILE = 'compare.json';

async function writeSetup(out: string, setup: CompareSetup): Promise<void> {
  await mkdir(out, { recursive: true });
  await writeFile(join(out, SETUP_FILE), JSON.stringify({ format: 'cds-distill/compare-setup', version: 1, setup }, null, 2) + '\n');
}

async function readSetup(out: string): Promise<CompareSetup | undefined> {
  const file = join(out, SETUP_FILE);
  if (!existsSync(file)) return undefined;
  const json = JSON.parse(await readFile(file, 'utf8')) as { setup?: CompareSetup };
  if (!json.setup) throw new CompareError(`${file} holds no comparison setup`);
  return json.setup;
}

// ---------------------------------------------------------------------------------------------------------------------
// Lock: one compare per directory (the shared directory lock); children left running by a killed compare are not raced.

async function lockComparison(out: string): Promise<{ child(name: string, pid: number | undefined): Promise<void>; release(): Promise<void> }> {
  const file = join(out, 'compare.lock');
  const lock = await DirectoryLock.acquire(out, {
    name: 'compare.lock',
    command: 'compare',
    beforeTakeover: (stale) => {
      const children = (stale['children'] ?? {}) as Record<string, number>;
      for (const [name, pid] of Object.entries(children)) {
        if (processAlive(pid)) {
          throw new CompareError(
            `run ${name} is still being trained by process ${pid}, left running by a compare that was killed; wait for it ` +
              `or stop it (kill ${pid}), then run compare again (delete ${file} if that process is not cds-distill)`,
          );
        }
      }
    },
  });
  const children: Record<string, number> = {};
  return {
    child: async (name, pid) => {
      if (pid === undefined) delete children[name];
      else children[name] = pid;
      await lock.update({ children: { ...children } });
    },
    release: () => lock.release(),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Report

async function prepareBackend(backend: BackendRequest | undefined): Promise<void> {
  if (backend !== undefined) await initBackend(backend);
  else if (backendReport() === undefined) await initBackend('auto');
}

async function teacherFor(out: string, setup: CompareSetup, evaluate: boolean, backend: BackendRequest | undefined): Promise<TeacherFigures | null> {
  if (!evaluate) return null;
  await prepareBackend(backend);
  return teacherFiguresCached(out, setup.teacher, setup.data, setup.testLimit, { stages: setup.teacherStages, logits: setup.teacherLogits }, setup.teacherInput);
}

const CURVES_SVG = 'accuracy-per-epoch.svg';
const BARS_SVG = 'final-accuracy.svg';

/** Write results.json, results.csv, report.md and the two SVG plots into `out`; returns the report with `files`. */
export async function writeReport(report: CompareReport, out: string): Promise<CompareReport> {
  await mkdir(out, { recursive: true });
  const files: ReportFiles = {
    json: resolve(out, 'results.json'),
    csv: resolve(out, 'results.csv'),
    markdown: resolve(out, 'report.md'),
    curvesSvg: resolve(out, CURVES_SVG),
    barsSvg: resolve(out, BARS_SVG),
  };
  const withFiles: CompareReport = { ...report, files };
  await writeFile(files.curvesSvg, await renderSvg(curvesSpec(report)));
  await writeFile(files.barsSvg, await renderSvg(barsSpec(report)));
  await writeFile(files.csv, csvTable(report));
  await writeFile(files.markdown, markdownReport(report, { curves: CURVES_SVG, bars: BARS_SVG }));
  await writeFile(files.json, JSON.stringify(withFiles, null, 2) + '\n');
  return withFiles;
}

async function summarize(
  specs: readonly RunSpec[],
  epochs: number,
  reasons: ReadonlyMap<string, string>,
): Promise<{ runs: RunSummary[]; missing: MissingRun[] }> {
  const runs: RunSummary[] = [];
  const missing: MissingRun[] = [];
  for (const spec of specs) {
    const ref = { name: spec.name, method: spec.method, seed: spec.seed, runDir: spec.runDir };
    const metrics = await readRunMetrics(spec.runDir);
    if (isFinished(metrics, epochs, spec.runDir)) {
      runs.push(await summarizeRun(ref, epochs, metrics));
    } else {
      const done = new Set(metrics.map((m) => m.epoch)).size;
      const reason = reasons.get(spec.name) ?? (existsSync(spec.runDir) ? `unfinished (${done} of ${epochs} epochs logged)` : 'not run');
      missing.push({ ...ref, reason });
    }
  }
  return { runs, missing };
}

function toRef(spec: RunSpec): RunRef {
  return { name: spec.name, method: spec.method, seed: spec.seed, runDir: spec.runDir };
}

/**
 * Run every method x seed (skipping finished runs, resuming interrupted ones) and write the report into `options.out`.
 * Returns the table as data; runs that failed or were interrupted are listed in `missing` (the report covers the
 * others). Prints nothing.
 *
 * Throws CompareError (options, a run directory that belongs to another comparison) and, before any run starts, the
 * errors of `distill`'s checks (ConfigError, MethodError, TeacherError, DataError, ...): all `CdsDistillError`s of
 * kind 'user'. A run that fails later is not thrown; it is reported in `missing`.
 */
export async function compare(options: CompareOptions): Promise<CompareReport> {
  const setup = resolveSetup(options);
  const out = options.out;
  if (!out) throw new CompareError('compare needs an output directory (out)');
  const workers = options.workers ?? 1;
  positiveInt('workers', workers);
  const runner = options.runner ?? 'spawn';
  if (runner !== 'spawn' && runner !== 'in-process') throw new CompareError(`runner must be spawn or in-process, got ${String(runner)}`);
  if (runner === 'in-process' && workers > 1) throw new CompareError('in-process runs go one at a time: use workers 1, or the spawn runner');
  const emit = options.onProgress ?? (() => undefined);
  const specs = planRuns(setup, out);

  await mkdir(out, { recursive: true });
  const lock = await lockComparison(out);
  try {
    // Check every existing run directory before training anything: a directory started with other settings is refused.
    const pending: { spec: RunSpec; resume: boolean }[] = [];
    let finished = 0;
    const conflicts: string[] = [];
    for (const spec of specs) {
      const config = await readComparedRunConfig(spec.runDir);
      if (config) {
        const diffs = configDifferences(spec, config);
        if (diffs.length > 0) conflicts.push(`${spec.runDir}: ${diffs.join(', ')}`);
      }
      const metrics = await readRunMetrics(spec.runDir);
      if (config && isFinished(metrics, setup.epochs, spec.runDir)) {
        finished++;
        continue;
      }
      pending.push({ spec, resume: config !== undefined });
    }
    if (conflicts.length > 0) {
      throw new CompareError(
        `run directories in ${out} were started with other settings (${conflicts.join('; ')}); use another output ` +
          'directory, or delete those runs to redo them',
      );
    }
    await writeSetup(out, setup);

    const teacher = await teacherFor(out, setup, options.evaluateTeacher !== false, options.backend);
    if (teacher) emit({ type: 'teacher', teacher });
    emit({
      type: 'plan',
      total: specs.length,
      finished,
      resume: pending.filter((p) => p.resume).length,
      fresh: pending.filter((p) => !p.resume).length,
    });
    const pendingNames = new Set(pending.map((p) => p.spec.name));
    for (const spec of specs) if (!pendingNames.has(spec.name)) emit({ type: 'run-skip', run: toRef(spec) });

    const reasons = new Map<string, string>();
    const cli = options.cli ?? defaultCliPath();
    let started = 0;
    await pool(pending, workers, options.signal, async ({ spec, resume }) => {
      const run = toRef(spec);
      emit({ type: 'run-start', run, resume, index: ++started, total: pending.length });
      const hooks = {
        onEpoch: (epoch: number, top1: number) => emit({ type: 'run-epoch', run, epoch, epochs: setup.epochs, top1 }),
        onChild: (child: { pid?: number } | undefined) => void lock.child(spec.name, child?.pid),
      };
      const outcome: RunOutcome =
        runner === 'spawn'
          ? await runSpawned(spec, cli, join(out, 'logs', `${spec.name}.log`), options.signal, hooks)
          : await runInProcess(spec, options.signal, hooks);
      if (outcome.ok) {
        emit({ type: 'run-done', run, seconds: outcome.seconds });
      } else {
        const message = outcome.message ?? 'failed';
        reasons.set(spec.name, outcome.interrupted ? 'interrupted (run compare again to resume it)' : `failed: ${message}`);
        emit({ type: 'run-failed', run, message, interrupted: outcome.interrupted });
      }
    });

    const { runs, missing } = await summarize(specs, setup.epochs, reasons);
    const report = await writeReport(buildReport(setup, teacher, runs, missing), out);
    emit({ type: 'report', files: report.files! });
    return report;
  } finally {
    await lock.release();
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The runs of a comparison as self-contained commands (JSON lines: argv, shell command, distill config), for a
 * scheduler to run anywhere; writes `<out>/compare.json` so `collectCompare(out)` knows the setup, and the plan to
 * `options.plan` when given. Paths are written as given: relative ones resolve against the working directory of
 * whoever runs the lines.
 */
export async function planCompare(options: PlanOptions): Promise<PlanLine[]> {
  const setup = resolveSetup(options);
  if (!options.out) throw new CompareError('a plan needs the output directory (out) the runs will write to');
  const lines: PlanLine[] = planRuns(setup, options.out).map((spec) => {
    const argv = ['cds-distill', ...spec.argv];
    return {
      name: spec.name,
      method: spec.method,
      seed: spec.seed,
      runDir: spec.runDir,
      argv,
      command: argv.map(shellQuote).join(' '),
      config: spec.options,
    };
  });
  await writeSetup(options.out, setup);
  if (options.plan !== undefined) {
    await mkdir(dirname(resolve(options.plan)), { recursive: true });
    await writeFile(options.plan, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  return lines;
}

/** A setup reconstructed from run directories' config.json files (when compare.json is absent). */
async function setupFromRuns(dir: string): Promise<{ setup: CompareSetup; specs: RunSpec[] }> {
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

/**
 * Build the report from finished run directories under `<dir>/runs/` (after running a plan's lines elsewhere).
 * Uses `<dir>/compare.json` for the setup when present (runs not finished are listed as missing), else the runs'
 * own config.json files.
 */
export async function collectCompare(dir: string, options: CollectOptions = {}): Promise<CompareReport> {
  const emit = options.onProgress ?? (() => undefined);
  const saved = await readSetup(dir);
  const { setup, specs } = saved ? { setup: saved, specs: planRuns(saved, dir) } : await setupFromRuns(dir);
  const teacher = setup.teacher ? await teacherFor(dir, setup, options.evaluateTeacher !== false, options.backend) : null;
  if (teacher) emit({ type: 'teacher', teacher });
  const { runs, missing } = await summarize(specs, setup.epochs, new Map());
  if (runs.length === 0) throw new CompareError(`no finished runs in ${runsDir(dir)} (${missing.length} unfinished or not run)`);
  const report = await writeReport(buildReport(setup, teacher, runs, missing), dir);
  emit({ type: 'report', files: report.files! });
  return report;
}

