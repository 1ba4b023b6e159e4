/**
 * `compare`: distil one student from one teacher with several methods and seeds, each run in its own run directory,
 * and report mean ± std per method (results.json, results.csv, report.md with SVG plots). Re-running skips finished
 * runs and resumes interrupted ones (the setup: ./setup.ts; the lock: ./compare-lock.ts; the report's files:
 * ./report-files.ts; plans and collecting: ./plan.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CompareError, configDifferences, isFinished, planRuns, readComparedRunConfig, readRunMetrics } from './runs.js';
import type { RunSpec } from './runs.js';
import { defaultCliPath, pool, runInProcess, runSpawned } from './runner.js';
import type { RunOutcome } from './runner.js';
import type { TeacherFigures } from './teacher.js';
import { buildReport } from './table.js';
import type { CompareReport, ReportFiles } from './table.js';
import { positiveInt, resolveSetup, writeSetup } from './setup.js';
import type { CompareRunOptions } from './setup.js';
import { lockComparison } from './compare-lock.js';
import { summarize, teacherFor, writeReport } from './report-files.js';

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

