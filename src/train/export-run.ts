/** `exportRun`: a run directory -> the bare student a user ships (no heads, no auxiliary classifiers). */
import * as path from 'node:path';
import { exportStudent, loadStudentBundle } from '../student/index.js';
import type { ExportResult } from '../student/index.js';
import { ModelFileError } from '../io/index.js';
import { ConfigError } from './api.js';
import { findBundleDir, kindOf, BUNDLE_LOOKUP_TEXT } from '../run/paths.js';

export interface ExportRunOptions {
  /** 'best' (default): the run's best/ bundle (falls back to the last checkpoint); 'last': checkpoint/student. */
  readonly from?: 'best' | 'last';
}

export interface ExportRunResult extends ExportResult {
  /** The bundle the student came from. */
  readonly source: string;
  readonly model: string;
  /** Trainable parameters of the exported model. */
  readonly params: number;
  /** What bundle.json's meta says (epoch, top1 for best/). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Write a run's student (its best/ or last checkpoint bundle) as a bare tfjs LayersModel (no heads) into `outDir`.
 * Throws ModelFileError (not a directory, no bundle in it, unreadable bundle) or ConfigError (a bad `from`):
 * `CdsDistillError`s of kind 'user'.
 */
export async function exportRun(runDir: string, outDir: string, options: ExportRunOptions = {}): Promise<ExportRunResult> {
  const abs = path.resolve(runDir);
  if ((await kindOf(abs)) !== 'dir') {
    throw new ModelFileError(abs, `${abs} is not a directory (expected a run directory written by train/distill, or a student bundle)`);
  }
  const from = options.from ?? 'best';
  if (from !== 'best' && from !== 'last') throw new ConfigError(`from must be 'best' or 'last', got ${String(from)}`);
  const bundleDir = await findBundleDir(abs, from);
  if (bundleDir === undefined) {
    throw new ModelFileError(abs, `${abs} holds no student bundle: looked for ${BUNDLE_LOOKUP_TEXT}; give a run directory written by train/distill with --out`);
  }
  const student = await loadStudentBundle(bundleDir);
  try {
    const result = await exportStudent(student, outDir);
    return {
      ...result,
      source: bundleDir,
      model: student.name,
      params: student.countParams().backbone,
      meta: student.meta,
    };
  } finally {
    student.dispose();
  }
}
