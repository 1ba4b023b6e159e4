/**
 * The comparison table as data (aggregated over seeds per method) and its renderings: results.json, results.csv and
 * the Markdown table of report.md.
 */
import { describeOption } from '../train/options.js';
import { passedOptions } from './runs.js';
import { stat, type Stat } from './stats.js';
import type { CompareSetup, RunSummary } from './runs.js';
import type { TeacherFigures } from './teacher.js';

/** One method's row: every figure as mean and sample std over its seeds. */
export interface MethodRow {
  readonly method: string;
  /** Seeds whose runs finished (and are aggregated). */
  readonly seeds: readonly number[];
  readonly best: { readonly top1: Stat; readonly top5: Stat; readonly ece: Stat; readonly epoch: Stat };
  readonly last: { readonly top1: Stat; readonly top5: Stat; readonly ece: Stat };
  readonly secondsPerEpoch: Stat;
  readonly imgPerSec: Stat;
  /** Trainable parameters of the exported student (identical for every seed). */
  readonly params: number | undefined;
  /** Trainable parameters while training (student + heads + the method's extra parts). */
  readonly trainParams: number | undefined;
}

/** Columns of the table that have a best value. */
export type ColumnKey = 'bestTop1' | 'bestTop5' | 'bestEce' | 'lastTop1' | 'lastTop5' | 'lastEce' | 'secondsPerEpoch' | 'params';

export interface CurvePoint {
  readonly method: string;
  readonly epoch: number;
  /** Test top-1 over the seeds at this epoch. */
  readonly top1: Stat;
}

/** A run that is not in the table, and why. */
export interface MissingRun {
  readonly name: string;
  readonly method: string;
  readonly seed: number;
  readonly runDir: string;
  readonly reason: string;
}

/** The whole comparison (what results.json holds and `compare` returns). */
export interface CompareReport {
  readonly format: 'cds-distill/compare';
  readonly version: 1;
  readonly createdAt: string;
  readonly setup: CompareSetup;
  /** The teacher evaluated on the same test split; null when it could not be evaluated. */
  readonly teacher: TeacherFigures | null;
  /** One row per method with at least one finished run, in the order of `setup.methods`. */
  readonly rows: readonly MethodRow[];
  /** The method(s) holding the best value of each column (empty when every row ties). */
  readonly best: Readonly<Record<ColumnKey, readonly string[]>>;
  readonly curves: readonly CurvePoint[];
  readonly runs: readonly RunSummary[];
  readonly missing: readonly MissingRun[];
  /** Files written (absolute paths), when the report was written to a directory. */
  readonly files?: ReportFiles;
}

export interface ReportFiles {
  readonly json: string;
  readonly csv: string;
  readonly markdown: string;
  readonly curvesSvg: string;
  readonly barsSvg: string;
}

export interface ColumnDef {
  readonly key: ColumnKey;
  readonly title: string;
  readonly better: 'higher' | 'lower';
  readonly value: (r: MethodRow) => number | undefined;
}

export const COLUMNS: readonly ColumnDef[] = [
  { key: 'bestTop1', title: 'Best top-1 (%)', better: 'higher', value: (r) => r.best.top1.mean },
  { key: 'bestTop5', title: 'Best top-5 (%)', better: 'higher', value: (r) => r.best.top5.mean },
  { key: 'bestEce', title: 'Best ECE', better: 'lower', value: (r) => r.best.ece.mean },
  { key: 'lastTop1', title: 'Last top-1 (%)', better: 'higher', value: (r) => r.last.top1.mean },
  { key: 'lastTop5', title: 'Last top-5 (%)', better: 'higher', value: (r) => r.last.top5.mean },
  { key: 'lastEce', title: 'Last ECE', better: 'lower', value: (r) => r.last.ece.mean },
  { key: 'secondsPerEpoch', title: 's / epoch', better: 'lower', value: (r) => r.secondsPerEpoch.mean },
  { key: 'params', title: 'Params', better: 'lower', value: (r) => r.params },
];

/** Aggregate finished runs into the report's data (rows in the order of `setup.methods`). */
export function buildReport(
  setup: CompareSetup,
  teacher: TeacherFigures | null,
  runs: readonly RunSummary[],
  missing: readonly MissingRun[],
): CompareReport {
  const rows: MethodRow[] = [];
  const curves: CurvePoint[] = [];
  for (const method of setup.methods) {
    const mine = runs.filter((r) => r.method === method).sort((a, b) => a.seed - b.seed);
    if (mine.length === 0) continue;
    const of = (f: (r: RunSummary) => number): Stat => stat(mine.map(f));
    rows.push({
      method,
      seeds: mine.map((r) => r.seed),
      best: { top1: of((r) => r.best.top1), top5: of((r) => r.best.top5), ece: of((r) => r.best.ece), epoch: of((r) => r.best.epoch) },
      last: { top1: of((r) => r.last.top1), top5: of((r) => r.last.top5), ece: of((r) => r.last.ece) },
      secondsPerEpoch: of((r) => r.secondsPerEpoch),
      imgPerSec: of((r) => r.imgPerSec),
      params: mine[0]!.params,
      trainParams: mine[0]!.trainParams,
    });
    const epochs = Math.min(...mine.map((r) => r.curve.length));
    for (let e = 0; e < epochs; e++) curves.push({ method, epoch: e + 1, top1: stat(mine.map((r) => r.curve[e]!)) });
  }
  const best = {} as Record<ColumnKey, string[]>;
  for (const col of COLUMNS) best[col.key] = bestOf(rows, col);
  return {
    format: 'cds-distill/compare',
    version: 1,
    createdAt: new Date().toISOString(),
    setup,
    teacher,
    rows,
    best,
    curves,
    runs: [...runs],
    missing: [...missing],
  };
}

/** The rows holding a column's best mean (ties: all of them); none when every row has the same value. */
function bestOf(rows: readonly MethodRow[], col: ColumnDef): string[] {
  const values = rows.map((r) => col.value(r)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (values.length < 2) return [];
  const target = col.better === 'higher' ? Math.max(...values) : Math.min(...values);
  if (values.every((v) => v === target)) return [];
  return rows.filter((r) => col.value(r) === target).map((r) => r.method);
}

// ---------------------------------------------------------------------------------------------------------------------
// Rendering

function pm(s: Stat, scale: number, digits: number): string {
  return `${(s.mean * scale).toFixed(digits)} ± ${(s.std * scale).toFixed(digits)}`;
}

function intText(n: number | undefined): string {
  return n === undefined ? '–' : n.toLocaleString('en-US');
}

function cellText(row: MethodRow, key: ColumnKey): string {
  switch (key) {
    case 'bestTop1':
      return pm(row.best.top1, 100, 2);
    case 'bestTop5':
      return pm(row.best.top5, 100, 2);
    case 'bestEce':
      return pm(row.best.ece, 1, 4);
    case 'lastTop1':
      return pm(row.last.top1, 100, 2);
    case 'lastTop5':
      return pm(row.last.top5, 100, 2);
    case 'lastEce':
      return pm(row.last.ece, 1, 4);
    case 'secondsPerEpoch':
      return pm(row.secondsPerEpoch, 1, 2);
    case 'params':
      return intText(row.params);
  }
}

function teacherCell(t: TeacherFigures, key: ColumnKey): string {
  switch (key) {
    case 'bestTop1':
    case 'lastTop1':
      return (100 * t.top1).toFixed(2);
    case 'bestTop5':
    case 'lastTop5':
      return (100 * t.top5).toFixed(2);
    case 'bestEce':
    case 'lastEce':
      return t.ece.toFixed(4);
    case 'secondsPerEpoch':
      return '–';
    case 'params':
      return intText(t.params);
  }
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The Markdown table: the teacher on top, one row per method, each column's best value in bold. */
export function markdownTable(report: CompareReport): string {
  const header = ['Method', 'Runs', ...COLUMNS.map((c) => c.title)];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? ':---' : '---:')).join(' | ')} |`];
  if (report.teacher) {
    lines.push(`| teacher | – | ${COLUMNS.map((c) => teacherCell(report.teacher!, c.key)).join(' | ')} |`);
  }
  for (const row of report.rows) {
    const cells = COLUMNS.map((c) => {
      const text = cellText(row, c.key);
      return report.best[c.key].includes(row.method) ? `**${text}**` : text;
    });
    lines.push(`| ${mdEscape(row.method)} | ${row.seeds.length} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * results.csv: one row per method (the teacher first, role "teacher"), raw fractions (not percent), mean and std in
 * separate columns; `best_columns` names the columns where the row holds the best value.
 */
export function csvTable(report: CompareReport): string {
  const header = [
    'role', 'method', 'runs', 'seeds',
    'best_top1_mean', 'best_top1_std', 'best_top5_mean', 'best_top5_std', 'best_ece_mean', 'best_ece_std',
    'best_epoch_mean',
    'last_top1_mean', 'last_top1_std', 'last_top5_mean', 'last_top5_std', 'last_ece_mean', 'last_ece_std',
    'seconds_per_epoch_mean', 'seconds_per_epoch_std', 'img_per_sec_mean', 'params', 'train_params', 'best_columns',
  ];
  const rows: (string | number | undefined)[][] = [];
  const t = report.teacher;
  if (t) {
    rows.push(['teacher', t.source, '', '', t.top1, 0, t.top5, 0, t.ece, 0, '', t.top1, 0, t.top5, 0, t.ece, 0, '', '', '', t.params, '', '']);
  }
  for (const r of report.rows) {
    const bestCols = COLUMNS.filter((c) => report.best[c.key].includes(r.method)).map((c) => c.key).join(' ');
    rows.push([
      'student', r.method, r.seeds.length, r.seeds.join(' '),
      r.best.top1.mean, r.best.top1.std, r.best.top5.mean, r.best.top5.std, r.best.ece.mean, r.best.ece.std,
      r.best.epoch.mean,
      r.last.top1.mean, r.last.top1.std, r.last.top5.mean, r.last.top5.std, r.last.ece.mean, r.last.ece.std,
      r.secondsPerEpoch.mean, r.secondsPerEpoch.std, r.imgPerSec.mean, r.params, r.trainParams, bestCols,
    ]);
  }
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** report.md: setup, the table, the plots, notes on how the figures are computed, missing runs. */
export function markdownReport(report: CompareReport, plots: { curves: string; bars: string }): string {
  const s = report.setup;
  const settings = [
    `teacher \`${s.teacher}\``,
    `student \`${s.student}\``,
    `data \`${s.data}\``,
    ...passedOptions(s).map(([spec, v]) => describeOption(spec, v)),
    `seeds ${s.seeds.join(', ')}`,
  ];
  const opts = Object.entries(s.methodOptions ?? {}).filter(([, o]) => Object.keys(o).length > 0);
  const out: string[] = [
    '# Method comparison',
    '',
    settings.join(' · '),
    ...(opts.length ? ['', `Method options: ${opts.map(([m, o]) => `${m} ${Object.entries(o).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`).join('; ')}`] : []),
    '',
    markdownTable(report),
    '',
    'Mean ± sample standard deviation over the seeds (n − 1; 0 for one seed). *Best* is the epoch with the highest test ' +
      'top-1 (what `best/` holds), *last* the final epoch. ECE: 15 bins. s / epoch: training time per epoch ' +
      '(evaluation excluded). Params: trainable parameters of the exported student (BN moving statistics excluded). ' +
      'The teacher row is the teacher evaluated on the same test split. **Bold**: the best value of each column ' +
      '(no mark when all methods tie).',
    '',
    '## Test accuracy per epoch',
    '',
    `![Test top-1 per epoch: mean over seeds, band ± one standard deviation](${plots.curves})`,
    '',
    '## Final accuracy',
    '',
    `![Last-epoch test top-1, mean ± one standard deviation](${plots.bars})`,
    '',
  ];
  if (report.missing.length > 0) {
    out.push('## Missing runs', '', ...report.missing.map((m) => `- \`${m.name}\` (${m.runDir}): ${m.reason}`), '');
  }
  return out.join('\n');
}
