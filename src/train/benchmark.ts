/**
 * Measuring models: the cost of a real training step (`benchmarkStep`: the loop's own step on synthetic data, with
 * augmentation, heads, teacher and every loss term of the method), inference latency (`measureLatency`), and the
 * accuracy/calibration/size/latency of a saved model or run (`evaluateModel`); plus `exportRun`, which turns a run
 * directory into the bare student a user ships. Nothing here prints.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { backendReport } from '../runtime/index.js';
import { loadDataset, loadTrainTest } from '../data/index.js';
import type { Dataset } from '../data/index.js';
import { buildModel } from '../models/index.js';
import type { InputShape } from '../models/index.js';
import { BUNDLE_FILE, exportStudent, loadStudentBundle } from '../student/index.js';
import type { ExportResult, Student } from '../student/index.js';
import { loadTeacher, Teacher } from '../teacher/index.js';
import { loadLayersModelFromDir, ModelFileError } from '../io/index.js';
import { getMethod, needsOf, resolveMethodOptions } from '../methods/index.js';
import { ConfigError, distill, train } from './api.js';
import type { RunConfig } from './api.js';
import { evaluate } from './evaluate.js';
import type { ClassificationMetrics } from './metrics.js';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------------------------------
// Training-step throughput

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
  const { train: trainSet, test } = await loadTrainTest(spec, { testLimit: 1, seed });

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
    },
  };

  let teacher: Teacher | undefined;
  let ownTeacher = false;
  let student: Student | undefined;
  try {
    if (needs.teacher) {
      if (options.teacher instanceof Teacher) teacher = options.teacher;
      else if (typeof options.teacher === 'string') {
        teacher = await loadTeacher(options.teacher, { expectedClasses: numClasses, inputShape });
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

/**
 * Parameters of a model as the CIFAR tables count them: every weight but BatchNorm's moving statistics, trainable or
 * not (a frozen teacher's weights count too).
 */
export function countModelParams(model: tf.LayersModel): number {
  return model.weights
    .filter((w) => !/moving_(mean|variance)/.test(w.originalName))
    .reduce((s, w) => s + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// Inference latency

export interface LatencyOptions {
  /** Images per call. Default 1 (latency of one image). */
  readonly batchSize?: number;
  /** Timed calls. Default 20. */
  readonly runs?: number;
  /** Untimed calls first. Default 3. */
  readonly warmup?: number;
}

/** Median milliseconds per image of `model.predict` (inference mode) on random inputs, results read back. */
export function measureLatency(model: tf.LayersModel, options: LatencyOptions = {}): number {
  const batch = options.batchSize ?? 1;
  const runs = options.runs ?? 20;
  const warmup = options.warmup ?? 3;
  const shape = model.inputs[0]!.shape.slice(1).map((d) => d ?? 1);
  const x = tf.randomNormal([batch, ...shape]);
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      const out = model.predict(x) as tf.Tensor | tf.Tensor[];
      const outs = Array.isArray(out) ? out : [out];
      outs[outs.length - 1]!.dataSync();
      tf.dispose(outs);
      if (i >= warmup) times.push((performance.now() - t0) / batch);
    }
  } finally {
    x.dispose();
  }
  return median(times);
}

// ---------------------------------------------------------------------------------------------------------------------
// Saved models and runs

async function kindOf(p: string): Promise<'dir' | 'file' | undefined> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Where a student bundle sits in a run directory, in order of preference (the best model first). */
const BUNDLE_PLACES = ['', 'best', path.join('checkpoint', 'student'), 'checkpoint'];

export interface LoadedModel {
  /** input -> logits, inference mode. */
  readonly model: tf.LayersModel;
  /** 'bundle': a student bundle (a run's best/ or checkpoint); 'layers': a plain tfjs LayersModel. */
  readonly kind: 'bundle' | 'layers';
  /** The file or directory the weights came from. */
  readonly source: string;
  /** The run's config.json, when the path is a run directory. */
  readonly runConfig?: RunConfig;
  /** The student with its heads, for a bundle. */
  readonly student?: Student;
  dispose(): void;
}

/**
 * Load a model to evaluate: a run directory (its best/ bundle, else checkpoint/student, else its exported student/),
 * a student bundle directory, a model directory or a model.json. A missing path or a directory without a model is a
 * ModelFileError saying what was looked for.
 */
export async function loadModel(pathOrRun: string): Promise<LoadedModel> {
  const abs = path.resolve(pathOrRun);
  const kind = await kindOf(abs);
  if (kind === undefined) {
    throw new ModelFileError(abs, `${abs} does not exist (expected a run directory, a student bundle directory, a model directory or a model.json)`);
  }
  let runConfig: RunConfig | undefined;
  if (kind === 'dir' && (await kindOf(path.join(abs, 'config.json'))) === 'file') {
    try {
      runConfig = JSON.parse(await readFile(path.join(abs, 'config.json'), 'utf8')) as RunConfig;
    } catch {
      runConfig = undefined;
    }
  }
  const fromBundle = async (dir: string): Promise<LoadedModel> => {
    const student = await loadStudentBundle(dir);
    return { model: student.inferenceModel(), kind: 'bundle', source: dir, student, runConfig, dispose: () => student.dispose() };
  };
  const fromLayers = async (file: string): Promise<LoadedModel> => {
    const model = await loadLayersModelFromDir(file);
    return { model, kind: 'layers', source: file, runConfig, dispose: () => model.dispose() };
  };
  if (kind === 'file') return path.basename(abs) === BUNDLE_FILE ? fromBundle(path.dirname(abs)) : fromLayers(abs);
  for (const sub of BUNDLE_PLACES) {
    const dir = path.join(abs, sub);
    if ((await kindOf(path.join(dir, BUNDLE_FILE))) === 'file') return fromBundle(dir);
  }
  for (const sub of ['', 'student']) {
    const file = path.join(abs, sub, 'model.json');
    if ((await kindOf(file)) === 'file') return fromLayers(file);
  }
  throw new ModelFileError(
    abs,
    `${abs} holds no model: looked for ${BUNDLE_FILE} (a student bundle) in it, best/, checkpoint/student/ and ` +
      `checkpoint/ (a run directory), and for model.json in it and student/`,
  );
}

export interface EvaluateModelOptions {
  /** Test images to use (stratified). Default: all. */
  readonly limit?: number;
  /** Default 256. */
  readonly batchSize?: number;
  /** Timed single-image calls for the latency. Default 20; 0 skips the latency. */
  readonly latencyRuns?: number;
}

export interface ModelEvaluation {
  readonly source: string;
  readonly kind: 'bundle' | 'layers';
  readonly data: string;
  readonly metrics: ClassificationMetrics;
  /** Trainable parameters of the bare model (input -> logits). */
  readonly params: number;
  /** Median milliseconds per image at batch 1 (undefined when latencyRuns = 0). */
  readonly latencyMs?: number;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly backend: string;
}

/** Check that a model fits a dataset: same input shape and class count. */
export function checkModelFitsData(model: tf.LayersModel, data: Dataset, what: string): void {
  const shape = model.inputs[0]!.shape.slice(1);
  if (shape.length !== 3 || shape.some((d, i) => d != null && d !== data.inputShape[i])) {
    throw new ConfigError(
      `${what} takes ${shape.map((d) => d ?? '?').join('x')} inputs but ${data.name} images are ${data.inputShape.join('x')}; ` +
        `evaluate it on data of its input shape`,
    );
  }
  const outs = model.outputs;
  const classes = outs[outs.length - 1]!.shape[1];
  if (classes !== data.classNames.length) {
    throw new ConfigError(
      `${what} predicts ${classes} classes but ${data.name} has ${data.classNames.length}; evaluate it on the dataset it was trained for`,
    );
  }
}

/**
 * Top-1/top-5, ECE and NLL on the test split, parameters and latency per image of a saved model or run. `data`: a
 * dataset spec or a loaded test split; default (for a run directory) the run's own data spec.
 */
export async function evaluateModel(
  pathOrRun: string,
  data?: string | Dataset,
  options: EvaluateModelOptions = {},
): Promise<ModelEvaluation> {
  const loaded = await loadModel(pathOrRun);
  try {
    const spec = data ?? loaded.runConfig?.data;
    if (spec === undefined) {
      throw new ConfigError(`${pathOrRun} is not a run directory: say which data to evaluate on (e.g. --data fashion-mnist)`);
    }
    if (typeof spec === 'string' && spec.endsWith('(in memory)')) {
      throw new ConfigError(`the run ${pathOrRun} was trained on in-memory data: say which data to evaluate on`);
    }
    const test = typeof spec === 'string' ? await loadDataset(spec, { split: 'test', limit: options.limit }) : spec;
    checkModelFitsData(loaded.model, test, `the model ${loaded.source}`);
    const metrics = evaluate(loaded.model, test, { batchSize: options.batchSize ?? 256, limit: typeof spec === 'string' ? undefined : options.limit });
    const runs = options.latencyRuns ?? 20;
    const latencyMs = runs > 0 ? measureLatency(loaded.model, { runs }) : undefined;
    return {
      source: loaded.source,
      kind: loaded.kind,
      data: typeof spec === 'string' ? spec : `${spec.name} (in memory)`,
      metrics,
      params: countModelParams(loaded.model),
      ...(latencyMs !== undefined ? { latencyMs } : {}),
      inputShape: [...test.inputShape],
      numClasses: test.classNames.length,
      backend: backendReport()?.backend ?? tf.getBackend(),
    };
  } finally {
    loaded.dispose();
  }
}

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

/** Write a run's student (its best/ or last checkpoint bundle) as a bare tfjs LayersModel (no heads) into `outDir`. */
export async function exportRun(runDir: string, outDir: string, options: ExportRunOptions = {}): Promise<ExportRunResult> {
  const abs = path.resolve(runDir);
  if ((await kindOf(abs)) !== 'dir') {
    throw new ModelFileError(abs, `${abs} is not a directory (expected a run directory written by train/distill, or a student bundle)`);
  }
  const from = options.from ?? 'best';
  if (from !== 'best' && from !== 'last') throw new ConfigError(`from must be 'best' or 'last', got ${String(from)}`);
  const order = from === 'best' ? ['', 'best', path.join('checkpoint', 'student')] : ['', path.join('checkpoint', 'student'), 'best'];
  let bundleDir: string | undefined;
  for (const sub of order) {
    const dir = path.join(abs, sub);
    if ((await kindOf(path.join(dir, BUNDLE_FILE))) === 'file') {
      bundleDir = dir;
      break;
    }
  }
  if (bundleDir === undefined) {
    throw new ModelFileError(
      abs,
      `${abs} holds no student bundle: looked for best/${BUNDLE_FILE} and checkpoint/student/${BUNDLE_FILE} ` +
        `(a run directory written by train/distill with --out) and ${BUNDLE_FILE} (a bundle directory)`,
    );
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
