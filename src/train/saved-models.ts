/**
 * Saved models as users hand them over (a run directory, a bundle, a model directory or model.json): loading, size,
 * inference latency, and accuracy/calibration on a dataset (`evaluateModel`). Nothing here prints.
 */
import { BUNDLE_LOOKUP_TEXT, STUDENT_DIR, bundleDirOfFile, findBundleDir, kindOf } from '../run/paths.js';
import { readRunConfig } from '../run/config.js';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { backendReport } from '../runtime/index.js';
import { loadDataset } from '../data/index.js';
import type { Dataset } from '../data/index.js';
import { BUNDLE_FILE, countModelParams, loadLayersModelStandardized, loadStudentBundle } from '../student/index.js';
import type { Student, StudentInputSpec } from '../student/index.js';
import { loadGraphModelFromDir, ModelFileError, readModelJSON } from '../io/index.js';
import { logitsPredictor } from '../models/logits.js';
import { checkSameClasses, ConfigError } from './api.js';
import type { RunConfig } from './api.js';
import { evaluate } from './evaluate.js';
import type { ClassificationMetrics } from './metrics.js';

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
  /** [H, W, C] of the random inputs. Default: the model's declared input (unknown sizes: 1). */
  readonly inputShape?: readonly number[];
}

/**
 * Median milliseconds per image from input to logits (inference mode; a LayersModel or a GraphModel) on random inputs,
 * results read back.
 */
export function measureLatency(model: tf.LayersModel | tf.GraphModel, options: LatencyOptions = {}): number {
  const batch = options.batchSize ?? 1;
  const runs = options.runs ?? 20;
  const warmup = options.warmup ?? 3;
  const declared = (model.inputs[0]!.shape ?? []).slice(1) as (number | null)[];
  const shape = options.inputShape ?? declared.map((d) => (d != null && d > 0 ? d : 1));
  const predictor = logitsPredictor(model);
  const x = tf.randomNormal([batch, ...shape]);
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      const out = predictor.predict(x);
      out.dataSync();
      out.dispose();
      if (i >= warmup) times.push((performance.now() - t0) / batch);
    }
  } finally {
    x.dispose();
  }
  return median(times);
}

// ---------------------------------------------------------------------------------------------------------------------
// Saved models and runs

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
  /**
   * The normalisation the saved model carries (it took raw pixels; `model` here takes standardized inputs, the
   * layer taken out): evaluate it with these statistics. Absent: the model takes standardized inputs of the data's own.
   */
  readonly inputSpec?: StudentInputSpec;
  dispose(): void;
}

/**
 * Load a model to evaluate: a run directory (a bundle in src/run's lookup order: best/, else the last checkpoint; else
 * its exported student/),
 * a student bundle directory, a model directory or a model.json. A missing path or a directory without a model is a
 * ModelFileError saying what was looked for.
 */
/**
 * The dataset as a saved model must see it: a model that records its own normalisation (it took raw pixels, see
 * student/normalization.ts) is fed exactly that mean/std; otherwise the dataset's own. The one place this rule lives.
 */
export function withModelNormalization(dataset: Dataset, spec: StudentInputSpec | undefined): Dataset {
  return spec ? { ...dataset, mean: [...spec.mean], std: [...spec.std] } : dataset;
}

export async function loadModel(pathOrRun: string): Promise<LoadedModel> {
  const abs = path.resolve(pathOrRun);
  const kind = await kindOf(abs);
  if (kind === undefined) {
    throw new ModelFileError(abs, `${abs} does not exist (expected a run directory, a student bundle directory, a model directory or a model.json)`);
  }
  let runConfig: RunConfig | undefined;
  if (kind === 'dir') runConfig = await readRunConfig(abs).catch(() => undefined);
  const fromBundle = async (dir: string): Promise<LoadedModel> => {
    const student = await loadStudentBundle(dir);
    return {
      model: student.inferenceModel(), kind: 'bundle', source: dir, student, runConfig,
      ...(student.inputSpec ? { inputSpec: student.inputSpec } : {}),
      dispose: () => student.dispose(),
    };
  };
  const fromLayers = async (file: string): Promise<LoadedModel> => {
    const { model, spec } = await loadLayersModelStandardized(file);
    return { model, kind: 'layers', source: file, runConfig, ...(spec ? { inputSpec: spec } : {}), dispose: () => model.dispose() };
  };
  if (kind === 'file') {
    const dir = await bundleDirOfFile(abs);
    return dir !== undefined ? fromBundle(dir) : fromLayers(abs);
  }
  const bundleDir = await findBundleDir(abs);
  if (bundleDir !== undefined) return fromBundle(bundleDir);
  for (const sub of ['', STUDENT_DIR]) {
    const file = path.join(abs, sub, 'model.json');
    if ((await kindOf(file)) === 'file') return fromLayers(file);
  }
  throw new ModelFileError(
    abs,
    `${abs} holds no model: looked for ${BUNDLE_LOOKUP_TEXT}, and for model.json in it and ${STUDENT_DIR}/`,
  );
}

export interface EvaluateModelOptions {
  /**
   * Test images to use (stratified). Default: for a run directory evaluated on its own data, the run's `testLimit`
   * (the evaluation set its training log reports); otherwise all.
   */
  readonly limit?: number;
  /** Default 256. */
  readonly batchSize?: number;
  /** Timed single-image calls for the latency. Default 20; 0 skips the latency. */
  readonly latencyRuns?: number;
  /** Called with what a user should know about the test data (fallbacks, limits, absent classes). */
  readonly onNote?: (message: string) => void;
}

export interface ModelEvaluation {
  readonly source: string;
  /** 'graph': a tfjs GraphModel (model.json of format graph-model), evaluated through its last output node. */
  readonly kind: 'bundle' | 'layers' | 'graph';
  readonly data: string;
  readonly metrics: ClassificationMetrics;
  /** Trainable parameters of the bare model (input -> logits). */
  readonly params: number;
  /** Median milliseconds per image at batch 1 (undefined when latencyRuns = 0). */
  readonly latencyMs?: number;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly backend: string;
  /**
   * Which test images: 'all', 'limit' (the `limit` option), or 'run' (the run's own `testLimit`, the set its training
   * log reports on).
   */
  readonly testSet: 'all' | 'limit' | 'run';
  /** The normalisation the images got: the model's own (saved with it) or the data's. */
  readonly normalization: 'model' | 'data';
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
 *
 * Throws ModelFileError (no model at the path, an unreadable file), DataError (the dataset), ConfigError (the model's
 * input or class count does not fit the data): `CdsDistillError`s of kind 'user'.
 */
export async function evaluateModel(
  pathOrRun: string,
  data?: string | Dataset,
  options: EvaluateModelOptions = {},
): Promise<ModelEvaluation> {
  const graphFile = await graphModelFile(pathOrRun);
  if (graphFile !== undefined) return evaluateGraphModel(graphFile, data, options);
  const loaded = await loadModel(pathOrRun);
  try {
    const spec = data ?? loaded.runConfig?.data;
    if (spec === undefined) {
      throw new ConfigError(`${pathOrRun} is not a run directory: say which data to evaluate on (e.g. --data fashion-mnist)`);
    }
    if (typeof spec === 'string' && spec.endsWith('(in memory)')) {
      throw new ConfigError(`the run ${pathOrRun} was trained on in-memory data: say which data to evaluate on`);
    }
    // A run evaluated on its own data uses its own evaluation set unless told otherwise.
    const runLimit = data === undefined && options.limit === undefined ? loaded.runConfig?.testLimit : undefined;
    const limit = options.limit ?? runLimit;
    const testSet = options.limit !== undefined ? 'limit' : runLimit !== undefined ? 'run' : 'all';
    const loadedTest = typeof spec === 'string' ? await loadDataset(spec, { split: 'test', limit }) : spec;
    const test = withModelNormalization(loadedTest, loaded.inputSpec);
    checkModelFitsData(loaded.model, test, `the model ${loaded.source}`);
    checkSameClasses(`the model ${loaded.source}`, loaded.runConfig?.classNames, test.classNames, test.name);
    if (test.note !== undefined) options.onNote?.(test.note);
    const metrics = evaluate(loaded.model, test, { batchSize: options.batchSize ?? 256, limit: typeof spec === 'string' ? undefined : limit });
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
      testSet,
      normalization: loaded.inputSpec ? 'model' : 'data',
    };
  } finally {
    loaded.dispose();
  }
}

/** The model.json a path leads to when it is a GraphModel (a file, or a directory holding model.json); else undefined. */
async function graphModelFile(pathOrRun: string): Promise<string | undefined> {
  const abs = path.resolve(pathOrRun);
  const kind = await kindOf(abs);
  const file = kind === 'file' ? abs : kind === 'dir' ? path.join(abs, 'model.json') : undefined;
  if (file === undefined || path.basename(file) === BUNDLE_FILE || (await kindOf(file)) !== 'file') return undefined;
  try {
    return (await readModelJSON(file)).format === 'graph-model' ? file : undefined;
  } catch {
    return undefined; // not a readable model JSON: loadModel says why
  }
}

/**
 * `evaluateModel` for a GraphModel: its input checked against the data (unknown sizes take the data's), its logits
 * from the last output node (a final Softmax looked through), its float weights counted as parameters.
 */
async function evaluateGraphModel(file: string, data: string | Dataset | undefined, options: EvaluateModelOptions): Promise<ModelEvaluation> {
  if (data === undefined) throw new ConfigError(`${file} is not a run directory: say which data to evaluate on (e.g. --data fashion-mnist)`);
  const test = typeof data === 'string' ? await loadDataset(data, { split: 'test', limit: options.limit }) : data;
  const model = await loadGraphModelFromDir(file);
  try {
    const what = `the model ${file}`;
    const declared = model.inputs.length === 1 ? (model.inputs[0]!.shape ?? []).slice(1) : [];
    const known = (d: number): boolean => d > 0;
    if (declared.length !== 3 || declared.some((d, i) => known(d) && d !== test.inputShape[i])) {
      throw new ConfigError(
        `${what} takes ${model.inputs.length === 1 ? declared.map((d) => (known(d) ? d : '?')).join('x') : `${model.inputs.length}`} ` +
          `inputs but ${test.name} images are ${test.inputShape.join('x')}; evaluate it on data of its input shape`,
      );
    }
    const probe = tf.tidy(() => logitsPredictor(model).predict(tf.zeros([1, ...test.inputShape])).shape);
    if (probe.length !== 2 || probe[1] !== test.classNames.length) {
      throw new ConfigError(
        `${what} outputs shape [${probe.join(', ')}] but ${test.name} has ${test.classNames.length} classes; ` +
          `evaluate it on the dataset it was trained for`,
      );
    }
    if (test.note !== undefined) options.onNote?.(test.note);
    const metrics = evaluate(model, test, { batchSize: options.batchSize ?? 256, limit: typeof data === 'string' ? undefined : options.limit });
    const runs = options.latencyRuns ?? 20;
    const latencyMs = runs > 0 ? measureLatency(model, { runs, inputShape: test.inputShape }) : undefined;
    const params = Object.values(model.weights)
      .flat()
      .filter((w) => w.dtype === 'float32')
      .reduce((s, w) => s + w.size, 0);
    return {
      source: file,
      kind: 'graph',
      data: typeof data === 'string' ? data : `${data.name} (in memory)`,
      metrics,
      params,
      ...(latencyMs !== undefined ? { latencyMs } : {}),
      inputShape: [...test.inputShape],
      numClasses: test.classNames.length,
      backend: backendReport()?.backend ?? tf.getBackend(),
      testSet: options.limit !== undefined ? 'limit' : 'all',
      normalization: 'data',
    };
  } finally {
    model.dispose();
  }
}
