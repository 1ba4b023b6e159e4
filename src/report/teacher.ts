/**
 * The teacher's own figures for the top of the report: evaluated on exactly the test split the students are evaluated
 * on (same spec, same test limit, the training split's normalisation), with the students' metrics code.
 */
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tf } from '../runtime/tf.js';
import { Batcher, disposeBatch, loadTrainTest } from '../data/index.js';
import { loadTeacher, teacherSelection } from '../teacher/index.js';
import { resolveTeacherPath } from '../teacher/index.js';
import type { TeacherInput, TeacherSelection } from '../teacher/index.js';
import { formatTeacherInput } from '../teacher/index.js';
import { MetricsAccumulator } from '../train/index.js';
import { RECIPE_COMMON } from '../train/options.js';
import { countSavedModelParams } from '../student/params.js';

export interface TeacherFigures {
  /** The teacher path as given. */
  readonly source: string;
  readonly top1: number;
  readonly top5: number;
  readonly ece: number;
  readonly nll: number;
  /** Test images evaluated. */
  readonly count: number;
  /** Trainable parameters of the teacher's backbone + classifier (heads excluded); undefined if unknown. */
  readonly params: number | undefined;
}

export interface EvaluateTeacherOptions {
  readonly testLimit?: number;
  /** Which stages and logits of the teacher (as distill's --teacher-stages / --teacher-logits name them). */
  readonly selection?: TeacherSelection;
  /** What the teacher expects (distill's --teacher-input); default: what its files record, else standardized. */
  readonly input?: TeacherInput;
  /** Default 256. */
  readonly batchSize?: number;
}

async function teacherModelFile(path: string): Promise<{ file: string; bundle: boolean }> {
  const where = await resolveTeacherPath(path);
  return where.bundleDir !== undefined
    ? { file: join(where.bundleDir, 'model.json'), bundle: true }
    : { file: where.modelFile!, bundle: false };
}

/** Evaluate a teacher (path to a bundle, run directory or model.json) on the test split of `data`. */
export async function evaluateTeacher(teacherPath: string, data: string, options: EvaluateTeacherOptions = {}): Promise<TeacherFigures> {
  const { test } = await loadTrainTest(data, { testLimit: options.testLimit });
  const teacher = await loadTeacher(teacherPath, {
    ...teacherSelection(options.selection ?? {}),
    expectedClasses: test.classNames.length,
    inputShape: test.inputShape,
    dataNormalization: { mean: test.mean, std: test.std },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  const acc = new MetricsAccumulator(15);
  try {
    const batcher = new Batcher(test, { batchSize: options.batchSize ?? RECIPE_COMMON.evalBatchSize, shuffle: false, format: 'normalized' });
    for (const batch of batcher.epochBatches()) {
      const out = teacher.forward(batch.images);
      const logits = (await out.logits.data()) as Float32Array;
      tf.dispose([...out.features, out.pooled, out.logits, ...(out.projections ?? [])]);
      const labels = (await batch.labels.data()) as Int32Array;
      acc.add(logits, labels, teacher.numClasses);
      disposeBatch(batch);
    }
  } finally {
    teacher.dispose();
  }
  const m = acc.result();
  const model = await teacherModelFile(teacherPath);
  // A bundle's heads (layers named cds_*) exist only for training.
  const params = await countSavedModelParams(model.file, model.bundle ? (name) => name.startsWith('cds_') : undefined);
  return { source: teacherPath, top1: m.top1, top5: m.top5, ece: m.ece, nll: m.nll, count: m.count, params };
}

interface CachedTeacher {
  readonly key: { teacher: string; data: string; testLimit: number | null; mtimeMs: number; logits?: string; input?: string };
  readonly figures: TeacherFigures;
}

/**
 * `evaluateTeacher`, cached in `<out>/teacher.json` (keyed on the teacher's model file and its modification time, the
 * data spec and the test limit), so re-running a comparison does not evaluate the teacher again.
 */
export async function teacherFiguresCached(
  out: string,
  teacherPath: string,
  data: string,
  testLimit: number | undefined,
  selection: TeacherSelection = {},
  input?: TeacherInput,
): Promise<TeacherFigures> {
  const model = await teacherModelFile(teacherPath);
  const key = {
    teacher: resolve(model.file),
    data,
    testLimit: testLimit ?? null,
    mtimeMs: (await stat(model.file)).mtimeMs,
    ...(selection.logits !== undefined ? { logits: selection.logits } : {}),
    ...(input !== undefined ? { input: formatTeacherInput(input) } : {}),
  };
  const file = join(out, 'teacher.json');
  if (existsSync(file)) {
    try {
      const cached = JSON.parse(await readFile(file, 'utf8')) as CachedTeacher;
      if (JSON.stringify(cached.key) === JSON.stringify(key)) return { ...cached.figures, source: teacherPath };
    } catch {
      // a torn or foreign file: evaluate again
    }
  }
  const figures = await evaluateTeacher(teacherPath, data, { testLimit, selection, ...(input !== undefined ? { input } : {}) });
  await writeFile(file, JSON.stringify({ key, figures } satisfies CachedTeacher, null, 2) + '\n');
  return figures;
}
