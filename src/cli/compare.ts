/**
 * `cds-distill compare`: distil one student from one teacher with several methods x seeds (each run its own `distill`
 * process and run directory), then write results.json, results.csv and report.md with SVG plots. Re-running skips
 * finished runs and resumes interrupted ones; --plan writes the runs for an external scheduler, --collect reports them.
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { compare, collectCompare, planCompare, resolveSetup, CompareError } from '../report/index.js';
import { signalChildren } from '../report/runner.js';
import type { CompareEvent, CompareReport, CompareRunOptions, MethodRow } from '../report/index.js';
import type { BackendRequest } from '../runtime/index.js';
import { addRuntimeOptions, clipMessage, CliError, count, examples, EXIT_INTERRUPTED, MAX_ERROR_LINE, Output, startBackend, UsageError } from './common.js';
import { addConfigOptions, addDeclaredOptions, declaredValues, mergeConfig } from './options.js';
import { RECIPE_COMMON } from '../train/options.js';
import { methodHelp } from './run.js';

type Opts = Record<string, unknown>;

function str(o: Opts, k: string): string | undefined {
  return typeof o[k] === 'string' ? (o[k] as string) : undefined;
}
function num(o: Opts, k: string): number | undefined {
  return typeof o[k] === 'number' ? (o[k] as number) : undefined;
}

/** The comparison's run options from the merged command options (declared in src/train/options.ts). */
function runOptions(o: Opts): CompareRunOptions {
  const v = declaredValues(o, 'compare');
  const missing = ['teacher', 'student', 'out'].filter((k) => str(v, k) === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      `required option ${missing.map((k) => `--${k}`).join(', ')} not specified (give it as a flag or in --config); see cds-distill compare --help`,
    );
  }
  const backend = str(o, 'backend') as BackendRequest | undefined;
  const own = new Set(['out', 'workers', 'inProcess', 'plan', 'collect', 'teacherEval']);
  return {
    ...(Object.fromEntries(Object.entries(v).filter(([k]) => !own.has(k))) as unknown as CompareRunOptions),
    data: str(v, 'data') ?? RECIPE_COMMON.data,
    ...(backend !== undefined && backend !== 'auto' ? { backend } : {}),
  };
}

function pct(mean: number, std: number): string {
  return `${(100 * mean).toFixed(2)} ± ${(100 * std).toFixed(2)}`;
}

/** The table as plain text: the teacher first, `*` marks each column's best. */
function textTable(report: CompareReport): string {
  const header = ['method', 'runs', 'best top-1 %', 'last top-1 %', 'last top-5 %', 'last ECE', 's/epoch', 'params'];
  const mark = (row: MethodRow, key: keyof CompareReport['best'], text: string): string =>
    report.best[key].includes(row.method) ? `${text} *` : `${text}  `;
  const rows: string[][] = [];
  const t = report.teacher;
  if (t) rows.push(['teacher', '-', `${(100 * t.top1).toFixed(2)}  `, '', `${(100 * t.top5).toFixed(2)}  `, `${t.ece.toFixed(4)}  `, '', t.params === undefined ? '-' : count(t.params)]);
  for (const r of report.rows) {
    rows.push([
      r.method,
      String(r.seeds.length),
      mark(r, 'bestTop1', pct(r.best.top1.mean, r.best.top1.std)),
      mark(r, 'lastTop1', pct(r.last.top1.mean, r.last.top1.std)),
      mark(r, 'lastTop5', pct(r.last.top5.mean, r.last.top5.std)),
      mark(r, 'lastEce', `${r.last.ece.mean.toFixed(4)} ± ${r.last.ece.std.toFixed(4)}`),
      mark(r, 'secondsPerEpoch', r.secondsPerEpoch.mean.toFixed(2)),
      r.params === undefined ? '-' : count(r.params),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

function progressLogger(out: Output): (e: CompareEvent) => void {
  return (e) => {
    switch (e.type) {
      case 'teacher':
        out.log(`teacher ${e.teacher.source}: top1 ${(100 * e.teacher.top1).toFixed(2)}% on ${e.teacher.count} test images`);
        break;
      case 'plan':
        out.log(`${e.total} runs: ${e.finished} finished, ${e.resume} to resume, ${e.fresh} to start`);
        break;
      case 'run-skip':
        out.debug(`${e.run.name}: finished, skipped`);
        break;
      case 'run-start':
        out.log(`[${e.index}/${e.total}] ${e.run.name}: ${e.resume ? 'resuming' : 'starting'} (${e.run.runDir})`);
        break;
      case 'run-epoch':
        out.log(`${e.run.name}: epoch ${e.epoch}/${e.epochs} test top1 ${(100 * e.top1).toFixed(2)}%`);
        break;
      case 'run-done':
        out.log(`${e.run.name}: done in ${e.seconds.toFixed(1)} s`);
        break;
      case 'run-failed':
        out.log(`${e.run.name}: ${e.interrupted ? 'interrupted' : clipMessage(e.message, out.verbose, MAX_ERROR_LINE - e.run.name.length - 2)}`);
        break;
      case 'report':
        out.debug(`report: ${e.files.markdown}`);
        break;
    }
  };
}

function finish(out: Output, report: CompareReport, outDir: string, interrupted: boolean, exit: ((code: number) => void) | undefined): void {
  out.result(report, () =>
    [
      textTable(report),
      '',
      `report: ${report.files?.markdown ?? ''}`,
      `tables: ${report.files?.json ?? ''}, ${report.files?.csv ?? ''}`,
      `plots:  ${report.files?.curvesSvg ?? ''}, ${report.files?.barsSvg ?? ''}`,
      ...(report.missing.length ? ['', `missing runs (${report.missing.length}):`, ...report.missing.map((m) => `  ${m.name}: ${m.reason}`)] : []),
    ].join('\n'),
  );
  if (interrupted) {
    const message = `interrupted with ${report.missing.length} runs unfinished: run the same command again to resume them`;
    if (!exit) throw new CliError(message);
    out.log(message);
    exit(EXIT_INTERRUPTED);
    return;
  }
  const failed = report.missing.filter((m) => m.reason.startsWith('failed'));
  if (failed.length > 0) {
    throw new CliError(`${failed.length} of ${report.runs.length + report.missing.length} runs failed (${failed.map((f) => f.name).join(', ')}); see their logs in ${join(outDir, 'logs')}; the report covers the others`);
  }
  exit?.(0);
}

/**
 * Register `compare` on the program. `exit` sets the command's exit code (as the other commands get it); without it,
 * an interrupted comparison is reported as a user error (exit 1) instead of 130.
 */
export function registerCompare(program: Command, exit?: (code: number) => void): void {
  const cmd = new Command('compare')
    .description('compare distillation methods: every method x seed as its own run, then a table (mean ± std) and plots');
  addDeclaredOptions(cmd, 'compare');
  addConfigOptions(cmd);
  addRuntimeOptions(cmd, { seed: false });
  cmd
    .addHelpText(
      'after',
      examples([
        'cds-distill compare --teacher runs/r20-teacher --student resnet8 --methods ce,kd,crd,cds-kd --seeds 3 --epochs 30 --data fashion-mnist --out cmp/r8 --workers 3',
        'cds-distill compare ... --out cmp/r8 --plan plan.jsonl   # then run each line\'s command anywhere (Slurm/K8s array, GNU parallel)',
        'jq -r .command plan.jsonl | parallel -j 4 && cds-distill compare --collect cmp/r8',
      ]) +
        '\nRe-running the same command skips finished runs and resumes interrupted ones. Each run logs to <out>/logs/<run>.log.\n' +
        methodHelp(),
    )
    .action(async (_opts: unknown, c: Command) => {
      try {
        await action(c, exit);
      } catch (err) {
        // The report module's user errors print as one line, like the CLI's own.
        if (err instanceof CompareError) throw new CliError(err.message);
        throw err;
      }
    });
  program.addCommand(cmd);
}

async function action(c: Command, exit: ((code: number) => void) | undefined): Promise<void> {
  const o = await mergeConfig(c, c.opts());
  const out = new Output({ json: o['json'] === true, verbose: o['verbose'] === true });
  const backend = str(o, 'backend') as BackendRequest | undefined;
  const evaluateTeacher = o['teacherEval'] !== false;
  const onProgress = progressLogger(out);

  const collectDir = str(o, 'collect');
  if (collectDir !== undefined) {
    if (str(o, 'plan') !== undefined) throw new UsageError('--collect and --plan do not go together');
    const report = await collectCompare(collectDir, { backend, evaluateTeacher, onProgress });
    finish(out, report, collectDir, false, exit);
    return;
  }

  const options = runOptions(o);
  const outDir = str(o, 'out')!;
  if (o['dryRun'] === true) {
    const setup = resolveSetup(options);
    out.result({ out: outDir, setup, runs: setup.methods.length * setup.seeds.length }, () => JSON.stringify({ out: outDir, setup }, null, 2));
    exit?.(0);
    return;
  }

  const plan = str(o, 'plan');
  if (plan !== undefined) {
    const lines = await planCompare({ ...options, out: outDir, ...(plan !== '-' ? { plan } : {}) });
    if (plan === '-') {
      process.stdout.write(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    } else {
      out.result({ plan, runs: lines.length, out: outDir, lines }, () =>
        `wrote ${lines.length} runs to ${plan}; run each line's command (e.g. jq -r .command ${plan} | parallel), ` +
          `then: cds-distill compare --collect ${outDir}`,
      );
    }
    exit?.(0);
    return;
  }

  const workers = num(o, 'workers') ?? 1;
  const inProcess = o['inProcess'] === true;
  if (inProcess && workers > 1) throw new UsageError('--in-process runs one at a time: drop --workers or --in-process');
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals += 1;
    out.log(
      signals > 1
        ? `${sig} again: stopping the runs now`
        : `\n${sig}: stopping the runs (each writes a checkpoint); the report covers finished runs`,
    );
    if (signals > 1) signalChildren('SIGTERM');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report: CompareReport;
  try {
    if (inProcess) await startBackend(backend, out);
    report = await compare({
      ...options,
      out: outDir,
      workers,
      runner: inProcess ? 'in-process' : 'spawn',
      evaluateTeacher,
      onProgress,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  finish(out, report, outDir, controller.signal.aborted, exit);
}
