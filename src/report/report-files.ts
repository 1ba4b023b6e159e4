/**
 * A comparison's report on disk: the teacher's row (evaluated once, cached), the finished runs summarised, and
 * results.json, results.csv, report.md and the two SVG plots written.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { backendReport, initBackend } from '../runtime/index.js';
import type { BackendRequest } from '../runtime/index.js';
import { isFinished, readRunMetrics, summarizeRun } from './runs.js';
import type { CompareSetup, RunSpec, RunSummary } from './runs.js';
import { teacherFiguresCached } from './teacher.js';
import type { TeacherFigures } from './teacher.js';
import { csvTable, markdownReport } from './table.js';
import type { CompareReport, MissingRun, ReportFiles } from './table.js';
import { barsSpec, curvesSpec, renderSvg } from './plots.js';


// ---------------------------------------------------------------------------------------------------------------------
// Report

async function prepareBackend(backend: BackendRequest | undefined): Promise<void> {
  if (backend !== undefined) await initBackend(backend);
  else if (backendReport() === undefined) await initBackend('auto');
}

export async function teacherFor(out: string, setup: CompareSetup, evaluate: boolean, backend: BackendRequest | undefined): Promise<TeacherFigures | null> {
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

export async function summarize(
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

