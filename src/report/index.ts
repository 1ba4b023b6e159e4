// The compare matrix: runs of several methods x seeds, their aggregation, tables and plots (docs/ARCHITECTURE.md).
export { compare } from './compare.js';
export type { CompareOptions, CompareEvent, RunRef } from './compare.js';
export { resolveSetup, scopeMethodOptions, DEFAULT_METHODS } from './setup.js';
export type { CompareRunOptions } from './setup.js';
export { planCompare, collectCompare } from './plan.js';
export type { PlanOptions, PlanLine, CollectOptions } from './plan.js';
export { writeReport } from './report-files.js';
export { CompareError, planRuns, runName, runStatus, summarizeRun, readRunMetrics } from './runs.js';
export type { CompareSetup, PassThroughOptions, RunSpec, RunDistillOptions, RunSummary, EpochFigures, RunStatus } from './runs.js';
export { buildReport, markdownTable, markdownReport, csvTable, COLUMNS } from './table.js';
export type { CompareReport, MethodRow, CurvePoint, MissingRun, ReportFiles, ColumnKey, ColumnDef } from './table.js';
export { evaluateTeacher } from './teacher.js';
export type { TeacherFigures, EvaluateTeacherOptions } from './teacher.js';
export { curvesSpec, barsSpec, renderSvg } from './plots.js';
export { stat, mean, sampleStd } from './stats.js';
export type { Stat } from './stats.js';
