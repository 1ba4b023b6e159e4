/**
 * `planCompare` writes a comparison's runs as self-contained distill commands for an external scheduler;
 * `collectCompare` builds the report from their run directories afterwards.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { BackendRequest } from '../runtime/index.js';
import { CompareError, planRuns, runsDir } from './runs.js';
import type { RunDistillOptions } from './runs.js';
import { buildReport } from './table.js';
import type { CompareReport } from './table.js';
import { readSetup, resolveSetup, setupFromRuns, writeSetup } from './setup.js';
import type { CompareRunOptions } from './setup.js';
import { summarize, teacherFor, writeReport } from './report-files.js';
import type { CompareEvent } from './compare.js';


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

