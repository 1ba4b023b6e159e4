/**
 * The library's training entry points: `train` (a model from the zoo trained with a method: teachers, ablations) and
 * `distill` (a student trained from a frozen teacher). Both resolve the reference recipes' defaults, write a run
 * directory when `out` is given, report progress through callbacks and print nothing.
 */
import { tf } from '../runtime/tf.js';
import { Random } from '../runtime/random.js';
import { backendReport } from '../runtime/index.js';
import { appendUnlabeled, loadDataset, loadTrainTest } from '../data/index.js';
import type { Dataset } from '../data/index.js';
import { buildModel } from '../models/index.js';
import { wrapStudent } from '../student/index.js';
import type { Student } from '../student/index.js';
import { formatTeacherInput, loadTeacher, Teacher } from '../teacher/index.js';
import type { TeacherInput } from '../teacher/index.js';
import { getMethod, needsOf, resolveMethodOptions } from '../methods/index.js';
import { describeMatch, matchStages } from '../align/index.js';
import type { MethodNeeds, MethodOptions, MethodRecipe, MethodRun } from '../methods/index.js';
import { fit } from './fit.js';
import type { EpochMetrics, FitResult, StepProgress, TeacherModel } from './fit.js';
import { scaleMilestones } from './schedule.js';
import type { ScheduleConfig } from './schedule.js';

/** A user error in the run's options (the CLI prints it as one line). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface RunOptions {
  /** A dataset spec (`fashion-mnist`, `cifar100:DIR`, `synthetic`, ...) or already loaded splits. */
  readonly data: string | { readonly train: Dataset; readonly test: Dataset };
  /** A registered method name. Default: `cds` for train, `cds-kd` for distill. */
  readonly method?: string;
  /** Overrides of the method's weights and hyperparameters, by name. */
  readonly methodOptions?: Readonly<Record<string, unknown>>;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  /** 'multistep' (default), 'cosine' or 'constant'. */
  readonly schedule?: 'multistep' | 'cosine' | 'constant';
  /** Multistep milestones (1-based epochs). Default: the recipe's, scaled to `epochs`. */
  readonly milestones?: readonly number[];
  readonly warmupEpochs?: number;
  readonly seed?: number;
  /** Run directory. Without it nothing is written. */
  readonly out?: string;
  /** Continue from `out/checkpoint` when it exists. */
  readonly resume?: boolean;
  /** Training images to use (stratified); default all. */
  readonly limit?: number;
  /** Test images to evaluate on; default all. */
  readonly testLimit?: number;
  /** Semi-supervised: keep labels for this fraction of the training images (stratified). */
  readonly labeledFraction?: number;
  /** Semi-supervised: a separate set of unlabelled images (a spec, whose training split is used, or a Dataset). */
  readonly unlabeledData?: string | Dataset;
  readonly maxStepsPerEpoch?: number;
  readonly evalBatchSize?: number;
  readonly onStep?: (p: StepProgress) => void;
  readonly onEpoch?: (m: EpochMetrics) => void;
  readonly signal?: AbortSignal;
}

export interface TrainOptions extends RunOptions {
  /** A zoo model name. */
  readonly model: string;
}

export interface DistillOptions extends RunOptions {
  /** A run directory, bundle, model.json, or a loaded Teacher. */
  readonly teacher: string | Teacher;
  /** A zoo model name for the student. */
  readonly student: string;
  /** LayersModel teachers: stage layer names (default: found automatically). */
  readonly teacherStages?: readonly string[];
  /** GraphModel teachers: stage node names and the logits node. */
  readonly teacherStageNodes?: readonly string[];
  readonly teacherLogitsNode?: string;
  /**
   * What a teacher loaded from a path expects: 'raw' (0..255), 'unit' (0..1), 'standardized' (the data's mean/std)
   * or explicit { mean, std }. Default: what its files record (bundles and exports of this toolkit take raw pixels and
   * normalise them themselves), else 'standardized'. The toolkit converts its batches accordingly.
   */
  readonly teacherInput?: TeacherInput;
}

export interface RunResult {
  readonly student: Student;
  readonly runDir?: string;
  readonly metrics: readonly EpochMetrics[];
  readonly best: FitResult['best'];
  readonly last: EpochMetrics | undefined;
  readonly interrupted: boolean;
  /** The resolved configuration (what config.json holds). */
  readonly config: RunConfig;
}

/** Everything needed to rerun: what config.json holds. */
export interface RunConfig extends ResolvedHyperparameters {
  readonly kind: 'train' | 'distill';
  readonly model: string;
  readonly teacher?: string;
  readonly method: string;
  readonly methodOptions: MethodOptions;
  readonly data: string;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly limit?: number;
  readonly testLimit?: number;
  readonly labeledFraction?: number;
  readonly unlabeledData?: string;
  readonly maxStepsPerEpoch?: number;
  readonly backend: string;
  /** Which teacher stage each student stage learns from (student -> teacher positions), when there is a teacher. */
  readonly stageMatch?: string;
  /** The teacherInput option as given (CLI form: raw, unit, standardized or MEAN/STD), when given. */
  readonly teacherInput?: string;
  /** What the teacher was fed, in words (informational), when there is a teacher. */
  readonly teacherInputUsed?: string;
  readonly tfjs: string;
}

interface Recipe {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly milestones: readonly number[];
}

/** CDS's teacher recipe (design section 4) and the CIFAR-100 distillation benchmark's (section 5). */
const TRAIN_RECIPE: Recipe = { epochs: 300, batchSize: 128, lr: 0.1, milestones: [90, 180, 280] };
const DISTILL_RECIPE: Recipe = { epochs: 240, batchSize: 64, lr: 0.05, milestones: [150, 180, 210] };
const SMALL_LR_STUDENTS = new Set(['mobilenetv2', 'shufflev1', 'shufflev2']);

function positive(name: string, v: number | undefined, integer: boolean): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  }
}

function validate(o: Omit<RunOptions, 'data'>): void {
  positive('epochs', o.epochs, true);
  positive('batchSize', o.batchSize, true);
  positive('lr', o.lr, false);
  positive('limit', o.limit, true);
  positive('testLimit', o.testLimit, true);
  positive('maxStepsPerEpoch', o.maxStepsPerEpoch, true);
  if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1)) throw new ConfigError(`momentum must be in [0, 1), got ${o.momentum}`);
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) throw new ConfigError(`weightDecay must be >= 0, got ${o.weightDecay}`);
  if (o.labeledFraction !== undefined && !(o.labeledFraction > 0 && o.labeledFraction <= 1)) {
    throw new ConfigError(`labeledFraction must be in (0, 1], got ${o.labeledFraction}`);
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ConfigError(`seed must be an integer, got ${o.seed}`);
}

function resolveSchedule(o: Omit<RunOptions, 'data'>, recipe: Recipe, epochs: number): ScheduleConfig {
  const kind = o.schedule ?? 'multistep';
  if (kind === 'cosine') return { kind: 'cosine' };
  if (kind === 'constant') return { kind: 'constant' };
  if (kind !== 'multistep') throw new ConfigError(`schedule must be multistep, cosine or constant, got ${String(kind)}`);
  const milestones = o.milestones ?? scaleMilestones(recipe.milestones, recipe.epochs, epochs);
  return { kind: 'multistep', milestones: [...milestones], gamma: 0.1 };
}

async function loadData(o: RunOptions, rng: Random): Promise<{ train: Dataset; test: Dataset; spec: string }> {
  const loaded =
    typeof o.data !== 'string'
      ? { ...o.data, spec: `${o.data.train.name} (in memory)` }
      : {
          ...(await loadTrainTest(o.data, { limit: o.limit, testLimit: o.testLimit, labeledFraction: o.labeledFraction, rng })),
          spec: o.data,
        };
  if (o.unlabeledData === undefined) return loaded;
  const extra =
    typeof o.unlabeledData === 'string'
      ? await loadDataset(o.unlabeledData, { split: 'train', mean: loaded.train.mean, std: loaded.train.std })
      : o.unlabeledData;
  return { ...loaded, train: appendUnlabeled(loaded.train, extra) };
}

/** The training hyperparameters a run will use: the given ones, the reference recipe's for the rest. */
export interface ResolvedHyperparameters {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly schedule: ScheduleConfig;
  readonly warmupEpochs: number;
  readonly seed: number;
}

/**
 * Resolve a run's hyperparameters without running it (what `--dry-run` prints): `train` follows the CDS teacher
 * recipe, `distill` the CIFAR-100 benchmark's (lr 0.01 for MobileNetV2/ShuffleNet students); milestones scale to the
 * number of epochs unless given.
 */
export function resolveHyperparameters(
  kind: 'train' | 'distill',
  o: Omit<RunOptions, 'data'>,
  modelName: string,
): ResolvedHyperparameters {
  validate(o);
  const recipe = kind === 'train' ? TRAIN_RECIPE : DISTILL_RECIPE;
  const small = SMALL_LR_STUDENTS.has(modelName.toLowerCase().replace(/[-_]/g, ''));
  const epochs = o.epochs ?? recipe.epochs;
  return {
    epochs,
    batchSize: o.batchSize ?? recipe.batchSize,
    lr: o.lr ?? (kind === 'distill' && small ? 0.01 : recipe.lr),
    momentum: o.momentum ?? 0.9,
    weightDecay: o.weightDecay ?? 5e-4,
    schedule: resolveSchedule(o, recipe, epochs),
    warmupEpochs: o.warmupEpochs ?? 0,
    seed: o.seed ?? 0,
  };
}

interface Prepared {
  readonly recipe: MethodRecipe;
  readonly methodOptions: MethodOptions;
  readonly needs: MethodNeeds;
}

function prepareMethod(name: string, overrides: RunOptions['methodOptions']): Prepared {
  const recipe = getMethod(name);
  const methodOptions = resolveMethodOptions(recipe, overrides ?? {});
  return { recipe, methodOptions, needs: needsOf(recipe, methodOptions) };
}

async function run(
  kind: 'train' | 'distill',
  o: RunOptions,
  modelName: string,
  methodName: string,
  teacherSource: DistillOptions['teacher'] | undefined,
  teacherOptions: Pick<DistillOptions, 'teacherStages' | 'teacherStageNodes' | 'teacherLogitsNode' | 'teacherInput'>,
): Promise<RunResult> {
  validate(o);
  const prepared = prepareMethod(methodName, o.methodOptions);
  const { recipe, methodOptions, needs } = prepared;
  if (kind === 'train' && needs.teacher) {
    throw new ConfigError(`method ${recipe.name} distils from a teacher: use distill (cds-distill distill --teacher PATH)`);
  }
  const seed = o.seed ?? 0;
  const seeds = new Random(seed);
  const dataRng = seeds.fork();
  const modelSeed = seeds.opSeed();
  const headSeed = seeds.opSeed();
  const methodSeed = seeds.nextUint32();
  const { train, test, spec } = await loadData(o, dataRng);
  const inputShape = train.inputShape;
  const numClasses = train.classNames.length;

  let teacher: Teacher | undefined;
  if (teacherSource !== undefined) {
    teacher =
      typeof teacherSource === 'string'
        ? await loadTeacher(teacherSource, {
            expectedClasses: numClasses,
            stageLayers: teacherOptions.teacherStages,
            stageNodes: teacherOptions.teacherStageNodes,
            logitsNode: teacherOptions.teacherLogitsNode,
            inputShape,
            ...(teacherOptions.teacherInput !== undefined ? { input: teacherOptions.teacherInput } : {}),
            dataNormalization: { mean: train.mean, std: train.std },
          })
        : teacherSource;
    if (teacher.numClasses !== numClasses) {
      throw new ConfigError(`the teacher predicts ${teacher.numClasses} classes but the data has ${numClasses}`);
    }
    if (teacher.inputShape.some((d, i) => d !== inputShape[i])) {
      throw new ConfigError(
        `the teacher takes ${teacher.inputShape.join('x')} inputs but the data is ${inputShape.join('x')}; use data of the teacher's shape`,
      );
    }
  }

  const hyper = resolveHyperparameters(kind, o, modelName);
  const { epochs, lr, batchSize } = hyper;
  const optimizer = {
    lr,
    momentum: hyper.momentum,
    weightDecay: hyper.weightDecay,
    schedule: hyper.schedule,
    warmupEpochs: hyper.warmupEpochs,
  };

  const makeStudent = (): Student => {
    const tapped = buildModel(modelName, { inputShape, numClasses, seed: modelSeed });
    return wrapStudent(tapped, { heads: needs.heads, seed: headSeed });
  };
  const methodRng = new Random(methodSeed);
  const makeMethod = (student: Student): MethodRun => {
    methodRng.reseed(methodSeed);
    return recipe.create({
      student,
      teacher,
      numClasses,
      numSamples: train.size,
      // Labels of unlabelled images must not steer anything, so semi-supervised runs give none.
      ...(train.labeled ? {} : { sampleLabels: train.labels }),
      options: methodOptions,
      rng: methodRng,
    });
  };
  const student = makeStudent();
  const method = makeMethod(student);
  const stageMatch = teacher
    ? describeMatch(matchStages(student.stageIndices.length, teacher.stageIndices.length))
    : undefined;

  const config: RunConfig = {
    kind,
    model: modelName,
    ...(typeof teacherSource === 'string' ? { teacher: teacherSource } : teacherSource ? { teacher: teacherSource.source } : {}),
    method: recipe.name,
    methodOptions,
    data: spec,
    inputShape: [...inputShape],
    numClasses,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    ...(o.testLimit !== undefined ? { testLimit: o.testLimit } : {}),
    ...(o.labeledFraction !== undefined ? { labeledFraction: o.labeledFraction } : {}),
    ...(typeof o.unlabeledData === 'string' ? { unlabeledData: o.unlabeledData } : {}),
    epochs,
    batchSize,
    lr,
    momentum: optimizer.momentum,
    weightDecay: optimizer.weightDecay,
    schedule: optimizer.schedule,
    warmupEpochs: optimizer.warmupEpochs,
    seed,
    ...(o.maxStepsPerEpoch !== undefined ? { maxStepsPerEpoch: o.maxStepsPerEpoch } : {}),
    backend: backendReport()?.backend ?? tf.getBackend(),
    ...(stageMatch !== undefined ? { stageMatch } : {}),
    ...(teacherOptions.teacherInput !== undefined ? { teacherInput: formatTeacherInput(teacherOptions.teacherInput) } : {}),
    ...(teacher ? { teacherInputUsed: teacher.describeInput() } : {}),
    tfjs: tf.version_core,
  };

  try {
    const result = await fit({
      student,
      teacher: needs.teacher ? (teacher as TeacherModel | undefined) : undefined,
      method,
      needs,
      train,
      test,
      epochs,
      batchSize,
      optimizer,
      seed,
      runDir: o.out,
      config,
      resume: o.resume,
      maxStepsPerEpoch: o.maxStepsPerEpoch,
      evalBatchSize: o.evalBatchSize,
      signal: o.signal,
      onStep: o.onStep,
      onEpoch: o.onEpoch,
      methodRng,
      rebuildMethod: makeMethod,
    });
    return {
      student: result.student,
      runDir: o.out,
      metrics: result.epochs,
      best: result.best,
      last: result.last,
      interrupted: result.interrupted,
      config,
    };
  } finally {
    if (teacher && typeof teacherSource === 'string') teacher.dispose();
  }
}

/** Train a zoo model with a method that needs no teacher (ce, ds, ds-kl, cds, cds-simclr): teachers and ablations. */
export async function train(options: TrainOptions): Promise<RunResult> {
  return run('train', options, options.model, options.method ?? 'cds', undefined, {});
}

/** Distil a zoo student from a frozen teacher with any method (default cds-kd). */
export async function distill(options: DistillOptions): Promise<RunResult> {
  return run('distill', options, options.student, options.method ?? 'cds-kd', options.teacher, options);
}
