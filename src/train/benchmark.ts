/**
 * The cost of a real training step (`benchmarkStep`): the loop's own step on synthetic data, with augmentation, heads,
 * teacher and every loss term of the method. Nothing here prints.
 */
import { tf } from '../runtime/tf.js';
import { backendReport } from '../runtime/index.js';
import { loadTrainTest } from '../data/index.js';
import { buildModel } from '../models/index.js';
import type { InputShape } from '../models/index.js';
import type { Student } from '../student/index.js';
import { loadTeacher, Teacher } from '../teacher/index.js';
import { getMethod, needsOf, resolveMethodOptions } from '../methods/index.js';
import { ConfigError, distill, train } from './api.js';
import { median } from './saved-models.js';

export interface BenchmarkStepOptions {
  /** A zoo model name (the student). */
  readonly model: string;
  /** A registered method. Default 'cds'. */
  readonly method?: string;
  readonly methodOptions?: Readonly<Record<string, unknown>>;
  /** Images per step (a two-view method feeds 2x this many rows). Default 64. */
  readonly batchSize?: number;
  /** [H, W, C], C = 1 or 3. Default [32, 32, 3]. */
  readonly inputShape?: InputShape;
  /** Default 100. */
  readonly numClasses?: number;
  /** Timed steps. Default 5. */
  readonly steps?: number;
  /** Untimed steps first (kernel set-up, first allocations). Default 1. */
  readonly warmupSteps?: number;
  /**
   * For a method that needs a teacher: a path or loaded Teacher. Default: the same zoo model, untrained and frozen
   * (the step's cost is what matters, not its accuracy).
   */
  readonly teacher?: string | Teacher;
  readonly seed?: number;
  /** Called after every step, warm-up steps included (1-based count): profilers start counting after the warm-up. */
  readonly onStep?: (step: number) => void;
}

export interface BenchmarkResult {
  readonly model: string;
  readonly method: string;
  readonly backend: string;
  readonly batchSize: number;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Rows per step fed to the student (batchSize x views). */
  readonly rowsPerStep: number;
  readonly steps: number;
  readonly warmupSteps: number;
  /** Median over the timed steps. */
  readonly msPerStep: number;
  /** Images (not views) per second: batchSize / median step time. */
  readonly imgPerSec: number;
  readonly stepMs: readonly number[];
  /** Trainable parameters of the bare model (backbone + classifier), what gets exported. */
  readonly params: number;
  /** Trainable parameters of the student as trained (backbone + the method's heads). */
  readonly trainParams: number;
  readonly teacher?: string;
}

/**
 * Time the training step of `method` on `model`: the training loop's own step (augmentation, two views when the
 * method uses them, the frozen teacher's forward pass, every loss term, the gradient and the SGD update) on synthetic
 * in-memory data. The warm-up steps are not counted.
 */
export async function benchmarkStep(options: BenchmarkStepOptions): Promise<BenchmarkResult> {
  const methodName = options.method ?? 'cds';
  const batchSize = options.batchSize ?? 64;
  const inputShape = options.inputShape ?? ([32, 32, 3] as const);
  const numClasses = options.numClasses ?? 100;
  const steps = options.steps ?? 5;
  const warmupSteps = options.warmupSteps ?? 1;
  const seed = options.seed ?? 0;
  for (const [name, v, min] of [['batchSize', batchSize, 1], ['numClasses', numClasses, 2], ['steps', steps, 1], ['warmupSteps', warmupSteps, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer >= ${min}, got ${v}`);
  }
  const recipe = getMethod(methodName);
  const needs = needsOf(recipe, resolveMethodOptions(recipe, options.methodOptions ?? {}));
  const total = steps + warmupSteps;
  const spec = `synthetic:${inputShape.join('x')}:${numClasses}:${batchSize * total}`;
  // The test split is not used: its first image (a stratified sample needs one per class).
  const { train: trainSet, test } = await loadTrainTest(spec, { testLimit: 1, limitMode: 'first', seed });

  const stepMs: number[] = [];
  let seen = 0;
  const common = {
    data: { train: trainSet, test },
    method: recipe.name,
    methodOptions: options.methodOptions,
    epochs: 1,
    batchSize,
    maxStepsPerEpoch: total,
    seed,
    evalBatchSize: 1,
    onStep: (p: { imgPerSec: number }) => {
      seen += 1;
      if (seen > warmupSteps) stepMs.push((batchSize / p.imgPerSec) * 1000);
      options.onStep?.(seen);
    },
  };

  let teacher: Teacher | undefined;
  let ownTeacher = false;
  let student: Student | undefined;
  try {
    if (needs.teacher) {
      if (options.teacher instanceof Teacher) teacher = options.teacher;
      else if (typeof options.teacher === 'string') {
        teacher = await loadTeacher(options.teacher, {
          expectedClasses: numClasses,
          inputShape,
          dataNormalization: { mean: trainSet.mean, std: trainSet.std },
        });
        ownTeacher = true;
      } else {
        teacher = await loadTeacher(buildModel(options.model, { inputShape, numClasses, seed: seed + 1 }));
        ownTeacher = true;
      }
      student = (await distill({ ...common, teacher, student: options.model })).student;
    } else {
      student = (await train({ ...common, model: options.model })).student;
    }
    const counts = student.countParams();
    const ms = median(stepMs);
    return {
      model: student.name,
      method: recipe.name,
      backend: backendReport()?.backend ?? tf.getBackend(),
      batchSize,
      inputShape: [...inputShape],
      numClasses,
      rowsPerStep: batchSize * needs.views,
      steps,
      warmupSteps,
      msPerStep: ms,
      imgPerSec: (batchSize * 1000) / ms,
      stepMs,
      params: counts.backbone,
      trainParams: counts.total,
      ...(teacher ? { teacher: typeof options.teacher === 'string' ? options.teacher : `${options.model} (untrained, frozen)` } : {}),
    };
  } finally {
    student?.dispose();
    if (ownTeacher) teacher?.dispose();
  }
}
