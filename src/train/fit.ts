/**
 * The training loop shared by every method: teacher training, distillation, ablations, baselines. It knows what a
 * method *needs* (views, teacher, sample indices) and sums the named loss terms the method returns; it never asks
 * which method runs.
 */
import { tf } from '../runtime/tf.js';
import { Random } from '../runtime/random.js';
import { augmentViews, Batcher } from '../data/index.js';
import type { Batch, Dataset, NormStats, ViewRecipe } from '../data/index.js';
import type { Student } from '../student/index.js';
import { disposeMethod, viewRecipesOf } from '../methods/index.js';
import type { MethodNeeds, MethodRun, StepContext, TeacherOutputs, FrozenTeacher } from '../methods/index.js';
import { learningRate } from './schedule.js';
import type { ScheduleConfig } from './schedule.js';
import { evaluate } from './evaluate.js';
import type { ClassificationMetrics } from './metrics.js';
import type { TrainingState } from './checkpoint.js';
import { FitRunDirectory } from './fit-run-dir.js';
import { CdsDistillError } from '../errors.js';
import { ConfigError } from './errors.js';
import { SGD } from './optimizer.js';
import { RECIPE_COMMON } from './options.js';
import type { OptimizerFactory, OptimizerSettings } from './optimizer.js';

/** A frozen teacher as the loop drives it: run in inference mode, no gradient, never updated. */
export interface TeacherModel extends FrozenTeacher {
  forward(x: tf.Tensor4D): TeacherOutputs;
}

export interface OptimizerConfig extends OptimizerSettings {
  /** Which optimizer (src/train/optimizer.ts). Default: momentum SGD, weight decay added to every gradient. */
  readonly factory?: OptimizerFactory;
  readonly schedule: ScheduleConfig;
  readonly warmupEpochs: number;
}

export interface StepProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly terms: Readonly<Record<string, number>>;
  readonly loss: number;
  readonly lr: number;
  readonly imgPerSec: number;
}

export interface EpochMetrics {
  readonly epoch: number;
  readonly lr: number;
  /** Mean of each loss term over the epoch's steps, and their sum. */
  readonly train: Readonly<Record<string, number>>;
  readonly test: ClassificationMetrics;
  readonly imgPerSec: number;
  readonly seconds: number;
}

export interface FitResult {
  readonly epochs: readonly EpochMetrics[];
  readonly best: { readonly top1: number; readonly epoch: number } | null;
  readonly last: EpochMetrics | undefined;
  /** True when stopped by the signal before the last epoch (a checkpoint was written). */
  readonly interrupted: boolean;
  /** The student trained (after a resume, the one restored from the checkpoint). */
  readonly student: Student;
  readonly runDir?: string;
}

export interface FitOptions {
  readonly student: Student;
  readonly teacher?: TeacherModel;
  /** The method, instantiated for this student (and teacher). */
  readonly method: MethodRun;
  readonly needs: MethodNeeds;
  readonly train: Dataset;
  readonly test: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerConfig;
  readonly seed: number;
  /** Where config, metrics, checkpoints and the exported student go. Without it nothing is written. */
  readonly runDir?: string;
  /** Saved as config.json (everything needed to rerun). */
  readonly config?: unknown;
  /** Continue from runDir/checkpoint when there is one. */
  readonly resume?: boolean;
  /** Stop after this many steps per epoch (smoke tests and benchmarks). */
  readonly maxStepsPerEpoch?: number;
  readonly evalBatchSize?: number;
  /** Finish the current step, write a checkpoint, return. */
  readonly signal?: AbortSignal;
  readonly onStep?: (p: StepProgress) => void;
  readonly onEpoch?: (m: EpochMetrics) => void;
  /** Method state to restore, and the RNG the method draws from (saved in checkpoints). */
  readonly methodRng: Random;
  /** Built from a restored checkpoint: the loop calls this to replace the method after loading the student. */
  readonly rebuildMethod?: (student: Student) => MethodRun;
}

/** A loss that is not a finite number: the run stops, the last good checkpoint is kept. */
export class TrainingDivergedError extends CdsDistillError {
  override name = 'TrainingDivergedError';
  constructor(
    message: string,
    readonly epoch: number,
    readonly step: number,
    readonly terms: Readonly<Record<string, number>>,
    readonly checkpoint: string | undefined,
  ) {
    super(message);
  }
}

function variablesOf(student: Student, method: MethodRun): tf.Variable[] {
  const layerVars = [...student.trainableWeights, ...method.parts.flatMap((p) => p.model.trainableWeights)];
  return layerVars.map((v) => v.read() as tf.Variable);
}

/** Labels for the step: -1 where an image is unlabelled (semi-supervised), and the rows that are labelled. */
function stepLabels(labels: tf.Tensor1D, labeledMask: Uint8Array | undefined): { labels: tf.Tensor1D; rows: Int32Array } {
  const n = labels.shape[0];
  if (!labeledMask || labeledMask.every((m) => m === 1)) {
    return { labels, rows: Int32Array.from({ length: n }, (_, i) => i) };
  }
  const values = labels.dataSync() as Int32Array;
  const masked = new Int32Array(n);
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    masked[i] = labeledMask[i] ? values[i]! : -1;
    if (labeledMask[i]) rows.push(i);
  }
  return { labels: tf.tensor1d(masked, 'int32'), rows: Int32Array.from(rows) };
}

interface EpochProgress {
  readonly sums: Readonly<Record<string, number>>;
  readonly steps: number;
  readonly images: number;
  readonly seconds: number;
}

const NO_PROGRESS: EpochProgress = { sums: {}, steps: 0, images: 0, seconds: 0 };

/** The resumable state: where the data and random sources are, and what the current epoch has accumulated. */
function snapshot(
  epoch: number,
  globalStep: number,
  sources: { batcher: Batcher; augmentRng: Random; methodRng: Random },
  progress: EpochProgress,
  best: TrainingState['best'],
): TrainingState {
  return {
    epoch,
    globalStep,
    batcher: sources.batcher.getState(),
    augmentRng: sources.augmentRng.getState(),
    methodRng: sources.methodRng.getState(),
    epochSums: progress.sums,
    epochSteps: progress.steps,
    epochImages: progress.images,
    epochSeconds: progress.seconds,
    best,
  };
}

/**
 * Train `student` with `method` for `epochs` epochs. Prints nothing; reports through the callbacks. Returns the student
 * trained (the caller owns it). Throws TrainingDivergedError when the loss stops being finite (the last good checkpoint
 * is kept), and whatever the run directory's writes throw; on any throw the run has disposed the student, the method
 * and the optimizer.
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const { needs, train, test, epochs, batchSize, runDir } = options;
  let student = options.student;
  let method = options.method;
  if (needs.teacher && !options.teacher) throw new ConfigError('this method needs a teacher: pass FitOptions.teacher (distill() loads one from --teacher)');
  const batcher = new Batcher(train, {
    batchSize,
    format: 'raw',
    shuffle: true,
    dropLast: train.size > batchSize,
    seed: new Random(options.seed).nextUint32(),
  });
  const augmentRng = new Random(options.seed).fork();
  const methodRng = options.methodRng;
  // The optimizer applies its own weight decay (SGD: added to the gradient, fused on onednn; AdamW: decoupled).
  const optimizer = (options.optimizer.factory ?? SGD).create(options.optimizer);
  const sources = { batcher, augmentRng, methodRng };
  let state = snapshot(0, 0, sources, NO_PROGRESS, null);
  let history: EpochMetrics[] = [];

  // The run directory's reads and writes (./fit-run-dir.ts): config.json, the resume, metrics, checkpoints, bundles.
  const dir = await FitRunDirectory.open(runDir, options.config);
  const resumed = await dir.resumeOrStart(options.resume === true, { student, method, rebuildMethod: options.rebuildMethod, optimizer, ...sources });
  if (resumed) ({ student, method, state, history } = resumed);

  const variables = variablesOf(student, method);
  const inference = student.inferenceModel();
  const stepsPerEpoch = Math.min(batcher.numBatches, options.maxStepsPerEpoch ?? Infinity);
  const stats = { mean: train.mean, std: train.std };
  const views = viewRecipesOf(needs, train.inputShape);
  // Saved bundles and the export take raw pixels and normalise with the statistics training used.
  student.setInputSpec({ ...stats, ...(train.classNames.length === student.numClasses ? { classNames: train.classNames } : {}) });
  const schedule = {
    baseLr: options.optimizer.lr,
    epochs,
    schedule: options.optimizer.schedule,
    warmupEpochs: options.optimizer.warmupEpochs,
  };
  let best = state.best;
  let interrupted = false;

  const saveCheckpoint = (s: TrainingState): Promise<void> =>
    dir.saveCheckpoint({ student, parts: method.parts, optimizer, methodState: method.getState?.(), state: s, meta: { epoch: s.epoch } });

  try {
    for (let epoch = state.epoch; epoch < epochs && !interrupted; epoch++) {
      const sums: Record<string, number> = { ...state.epochSums };
      let steps = state.epochSteps;
      let images = state.epochImages;
      let seconds = state.epochSeconds;
      let lr = learningRate(schedule, epoch, 0);

      while (steps < stepsPerEpoch) {
        const t0 = performance.now();
        lr = learningRate(schedule, epoch, (steps + 1) / stepsPerEpoch);
        optimizer.setLearningRate(lr);
        const { loss, terms, images: n } = takeStep({
          student,
          method,
          teacher: options.teacher,
          views,
          batch: batcher.next(),
          augmentRng,
          stats,
          epoch: epoch + 1,
          variables,
          optimizer,
        });
        if (!Number.isFinite(loss)) {
          const where = dir.lastCheckpoint();
          throw new TrainingDivergedError(
            `loss is ${loss} at epoch ${epoch + 1}, step ${steps + 1} (terms: ${JSON.stringify(terms)}); ` +
              (where ? `the last good checkpoint is ${where} (not overwritten)` : 'no checkpoint was written yet') +
              '. Lower the learning rate or the loss weights.',
            epoch + 1,
            steps + 1,
            terms,
            where,
          );
        }

        for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
        sums.loss = (sums.loss ?? 0) + loss;
        steps++;
        images += n;
        const dt = (performance.now() - t0) / 1000;
        seconds += dt;
        state = { ...state, globalStep: state.globalStep + 1 };
        options.onStep?.({ epoch: epoch + 1, epochs, step: steps, stepsPerEpoch, terms, loss, lr, imgPerSec: n / dt });
        // Training is synchronous; let signal handlers, progress output and timers run between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));

        if (options.signal?.aborted && steps < stepsPerEpoch) {
          interrupted = true;
          await saveCheckpoint(snapshot(epoch, state.globalStep, sources, { sums, steps, images, seconds }, best));
          break;
        }
      }
      if (interrupted) break;

      // An epoch cut short by maxStepsPerEpoch must still start the next one at its beginning.
      if (batcher.epoch === epoch) batcher.setState({ ...batcher.getState(), epoch: epoch + 1, position: 0 });
      const testMetrics = evaluate(inference, test, { batchSize: options.evalBatchSize ?? RECIPE_COMMON.evalBatchSize });
      const train: Record<string, number> = {};
      for (const [k, v] of Object.entries(sums)) train[k] = v / Math.max(steps, 1);
      const metrics: EpochMetrics = { epoch: epoch + 1, lr, train, test: testMetrics, imgPerSec: images / Math.max(seconds, 1e-9), seconds };
      history.push(metrics);
      const improved = best == null || testMetrics.top1 > best.top1;
      if (improved) best = { top1: testMetrics.top1, epoch: epoch + 1 };
      await dir.endEpoch(metrics, student, improved);
      state = snapshot(epoch + 1, state.globalStep, sources, NO_PROGRESS, best);
      await saveCheckpoint(state);
      options.onEpoch?.(metrics);
      if (options.signal?.aborted && epoch + 1 < epochs) interrupted = true;
    }

    if (!interrupted) await dir.finish(student);
  } catch (err) {
    // Nothing is returned: the run disposes all it holds, the student included (after a resume, the restored one).
    optimizer.dispose();
    disposeMethod(method);
    student.dispose();
    throw err;
  }
  // The run owns the method (rebuilt on resume) and the optimizer; the caller owns only the student returned.
  optimizer.dispose();
  disposeMethod(method);
  return { epochs: history, best, last: history[history.length - 1], interrupted, student, runDir };
}

interface StepInputs {
  readonly student: Student;
  readonly method: MethodRun;
  readonly teacher?: TeacherModel;
  /** The augmentation: one recipe per view. */
  readonly views: readonly ViewRecipe[];
  /** Consumed: its tensors are disposed here. */
  readonly batch: Batch;
  readonly augmentRng: Random;
  readonly stats: NormStats;
  /** 1-based. */
  readonly epoch: number;
  readonly variables: readonly tf.Variable[];
  /** Adds the weight decay itself. */
  readonly optimizer: tf.Optimizer;
}

/**
 * One optimisation step: augment (one or two views), run the frozen teacher outside the tape, let the method name its
 * loss terms, and apply SGD with weight decay added to the gradient. A non-finite loss updates nothing.
 */
function takeStep(a: StepInputs): { loss: number; terms: Record<string, number>; images: number } {
  const { batch } = a;
  const n = batch.labels.shape[0];
  const inputs = augmentViews(batch.images, a.augmentRng, a.views, a.stats);
  const teacherOut = a.teacher ? a.teacher.forward(inputs) : undefined;
  const { labels, rows } = stepLabels(batch.labels, batch.labeled);
  const kept: Record<string, tf.Tensor> = {};
  let termTensors: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const ctx: StepContext = {
      student: a.student.forward(inputs, true),
      teacher: teacherOut,
      labels,
      labeledRows: rows,
      batchSize: n,
      sampleIndices: batch.indices,
      epoch: a.epoch,
      keepForAfterStep: (name, t) => {
        if (kept[name] !== undefined && kept[name] !== t) kept[name]!.dispose();
        kept[name] = tf.keep(t);
      },
    };
    termTensors = a.method.lossTerms(ctx);
    const list = Object.values(termTensors);
    for (const t of list) tf.keep(t);
    const total = list.length === 0 ? tf.scalar(0) : list.length === 1 ? tf.add(list[0]!, 0) : tf.addN(list);
    // A batch can leave every term constant (semi-supervised: no labelled image for ce, ds, ds-kl, dkd). 0 x the
    // logits' sum keeps the loss connected to the weights, so such a step has zero gradients (momentum and weight decay
    // still apply, as in PyTorch) instead of failing; on any other step it adds exactly 0 to the loss and gradients.
    return tf.add(total, tf.mul(tf.sum(ctx.student.logits), 0)) as tf.Scalar;
  }, [...a.variables]);
  const loss = value.dataSync()[0]!;
  const terms: Record<string, number> = {};
  for (const [k, t] of Object.entries(termTensors)) terms[k] = t.dataSync()[0]!;
  tf.dispose([value, ...Object.values(termTensors)]);

  if (Number.isFinite(loss)) {
    // Every variable gets an entry in the same order each step: the optimizer keys its slots by position. The
    // optimizer adds the weight decay (one fused kernel per variable where the backend has it).
    const ordered: Record<string, tf.Tensor> = {};
    const zeros: tf.Tensor[] = [];
    for (const v of a.variables) {
      const g = grads[v.name];
      if (g != null) ordered[v.name] = g;
      else zeros.push((ordered[v.name] = tf.zerosLike(v)));
    }
    a.optimizer.applyGradients(ordered as unknown as Parameters<tf.Optimizer['applyGradients']>[0]);
    tf.dispose(zeros);
    a.method.afterStep?.({ batchSize: n, sampleIndices: batch.indices, labeledRows: rows, epoch: a.epoch, kept });
  }
  tf.dispose(Object.values(kept));
  tf.dispose([...Object.values(grads), inputs, batch.images, batch.labels]);
  if (labels !== batch.labels) labels.dispose();
  if (teacherOut) disposeTeacherOutputs(teacherOut);
  return { loss, terms, images: n };
}

function disposeTeacherOutputs(t: TeacherOutputs): void {
  tf.dispose([...t.features, t.pooled, t.logits, ...(t.projections ?? [])]);
}
