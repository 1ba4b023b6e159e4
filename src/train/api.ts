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
import { loadTeacher, Teacher, teacherSelection } from '../teacher/index.js';
import type { TeacherInput } from '../teacher/index.js';
import { checkTeacherFeatures, disposeMethod, getMethod, needsOf, recordedMethodOptions, resolveMethodOptions } from '../methods/index.js';
import { describeMatch, matchStages } from '../align/index.js';
import type { MethodNeeds, MethodOptions, MethodRecipe, MethodRun } from '../methods/index.js';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fit } from './fit.js';
import { readCheckpoint } from './checkpoint.js';
import { DirectoryLock, lockHolder, LockError } from '../run/lock.js';
import { clearRunFiles, planRunDirectory, readRunDirectory, RUN_LOCK, settingDifferences } from '../run/run-dir.js';
import { runPaths } from '../run/paths.js';
import { readRunConfig } from '../run/config.js';
import type { RunDirectoryPlan, SettingCheck } from '../run/run-dir.js';
import type { EpochMetrics, FitResult, StepProgress, TeacherModel } from './fit.js';
import { describeSchedule, scaleMilestones } from './schedule.js';
import type { ScheduleConfig } from './schedule.js';

import { ConfigError } from './errors.js';
import { ADAMW_DEFAULTS, configValue, flagName, invalidOption, RECIPE_COMMON, RECIPES, recipeLr, recordedOptions, valueFromConfig } from './options.js';
import type { OptimizerKind, OptionSpec, Recipe } from './options.js';
import { optimizerFactory } from './optimizer.js';

export { ConfigError };

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
  /** 'sgd' (momentum SGD, the default) or 'adamw' (decoupled weight decay; default lr 1e-3, weight decay 0.01). */
  readonly optimizer?: OptimizerKind;
  /** 'multistep' (default), 'cosine' or 'constant'. */
  readonly schedule?: 'multistep' | 'cosine' | 'constant';
  /** Multistep milestones (1-based epochs). Default: the recipe's, scaled to `epochs`. */
  readonly milestones?: readonly number[];
  readonly warmupEpochs?: number;
  readonly seed?: number;
  /** Run directory. Without it nothing is written. */
  readonly out?: string;
  /**
   * Continue the run in `out` from its checkpoint (a fresh run, said through `onNote`, when there is none). Refused
   * when a setting differs from the run's config.json, except those in `RESUME_MAY_CHANGE` (`epochs` extends a run).
   */
  readonly resume?: boolean;
  /** Replace the run in a non-empty `out` (without it, or `resume`, a non-empty `out` is refused). */
  readonly force?: boolean;
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
  /**
   * What the user should know before training starts, one line each, said once: the bundled Fashion-MNIST slice used
   * because the full set is missing, a resume that starts fresh, a run being replaced, classes absent from the test split.
   */
  readonly onNote?: (message: string) => void;
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
   * The layer (LayersModel) or node (GraphModel) whose output is the teacher's logits, when it is not the model's last
   * output (CLI --teacher-logits). teacherStages names graph nodes too; kd and dkd need no stages at all.
   */
  readonly teacherLogits?: string;
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
  /** The teacher's stage layers or nodes and its logits layer or node, when named. */
  readonly teacherStages?: readonly string[];
  readonly teacherLogits?: string;
  readonly method: string;
  readonly methodOptions: MethodOptions;
  /** The dataset spec as given. */
  readonly data: string;
  /** The dataset actually used (after limits): its name, image counts and a content hash. */
  readonly dataset: DatasetRecord;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** The class of each logit, in order (a model evaluated or distilled from later must see the same classes). */
  readonly classNames?: readonly string[];
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

/** Which data a run used: `name` is the dataset's (`fashion-mnist-slice` when the full set was missing). */
export interface DatasetRecord {
  readonly name: string;
  /** Training and test images used. */
  readonly train: number;
  readonly test: number;
  /** SHA-256 (hex) of the used training then test images and labels, as stored (uint8 pixels, int32 labels). */
  readonly sha256: string;
  /** What the loader said about it (fallbacks, limits), when anything. */
  readonly note?: string;
}

/** SHA-256 of the datasets' images and labels, in order. */
function datasetHash(...sets: readonly Dataset[]): string {
  const h = createHash('sha256');
  for (const d of sets) {
    h.update(new Uint8Array(d.images.buffer, d.images.byteOffset, d.images.byteLength));
    h.update(new Uint8Array(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength));
  }
  return h.digest('hex');
}

function datasetRecord(train: Dataset, test: Dataset): DatasetRecord {
  return {
    name: train.name,
    train: train.size,
    test: test.size,
    sha256: datasetHash(train, test),
    ...(train.note !== undefined ? { note: train.note } : {}),
  };
}

/** Refuse invalid option values (the checks declared in `OPTIONS`) and impossible combinations. ConfigError. */
function validate(o: Omit<RunOptions, 'data'>): void {
  const invalid = invalidOption('distill', o as Readonly<Record<string, unknown>>);
  if (invalid !== undefined) throw new ConfigError(invalid);
  if (o.resume && o.force) throw new ConfigError('give --resume (continue the run) or --force (replace it), not both');
}

function resolveSchedule(o: Omit<RunOptions, 'data'>, recipe: Recipe, epochs: number): ScheduleConfig {
  const kind = o.schedule ?? RECIPE_COMMON.schedule;
  if (kind === 'cosine') return { kind: 'cosine' };
  if (kind === 'constant') return { kind: 'constant' };
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
  readonly optimizer: OptimizerKind;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly schedule: ScheduleConfig;
  readonly warmupEpochs: number;
  readonly seed: number;
}

/**
 * Resolve a run's hyperparameters without running it (what `--dry-run` prints): `train` follows the CDS teacher
 * recipe, `distill` the CIFAR-100 benchmark's (`RECIPES`; a zoo student's own `distillLr`, e.g. 0.01 for
 * MobileNetV2/ShuffleNets); milestones scale to the number of epochs unless given. Throws ConfigError.
 */
export function resolveHyperparameters(
  kind: 'train' | 'distill',
  o: Omit<RunOptions, 'data'>,
  modelName: string,
): ResolvedHyperparameters {
  validate(o);
  const recipe = RECIPES[kind];
  const optimizer = o.optimizer ?? RECIPE_COMMON.optimizer;
  const epochs = o.epochs ?? recipe.epochs;
  if (o.warmupEpochs !== undefined && o.warmupEpochs > 0 && o.warmupEpochs >= epochs) {
    throw new ConfigError(
      `the learning-rate warm-up (${o.warmupEpochs} epochs) is not shorter than the run (${epochs} epochs), so the rate ` +
        `never reaches --lr; use fewer --warmup-epochs or more --epochs`,
    );
  }
  return {
    epochs,
    batchSize: o.batchSize ?? recipe.batchSize,
    optimizer,
    lr: o.lr ?? recipeLr(kind, modelName, optimizer),
    momentum: o.momentum ?? RECIPE_COMMON.momentum,
    weightDecay: o.weightDecay ?? (optimizer === 'adamw' ? ADAMW_DEFAULTS.weightDecay : RECIPE_COMMON.weightDecay),
    schedule: resolveSchedule(o, recipe, epochs),
    warmupEpochs: o.warmupEpochs ?? RECIPE_COMMON.warmupEpochs,
    seed: o.seed ?? RECIPE_COMMON.seed,
  };
}

/**
 * A method whose loss compares the images of a batch (`needs.minBatch`) with batches too small for it: a ConfigError
 * naming the method and the batch size to use. `images`: the training set's size, when known (one epoch is then one
 * batch of all of them when `batchSize` is larger).
 */
export function checkMinBatch(method: string, needs: MethodNeeds, batchSize: number, images?: number): void {
  const min = needs.minBatch ?? 1;
  const batch = images !== undefined ? Math.min(batchSize, images) : batchSize;
  if (batch >= min) return;
  throw new ConfigError(
    batch < batchSize
      ? `method ${method} compares the images of a batch and needs at least ${min} per step, but the training set has ` +
          `only ${images}; use more training images (--limit)`
      : `method ${method} compares the images of a batch and needs at least ${min} per step, got batch size ${batchSize}; ` +
          `use --batch-size ${min} or more`,
  );
}

/**
 * What the loaded data makes impossible, refused before the teacher loads or anything trains (ConfigError): fewer
 * than 2 classes, a batch size asked for that is larger than the training set, batches too small for the method.
 */
function checkRunFitsData(method: string, needs: MethodNeeds, o: RunOptions, batchSize: number, train: Dataset): void {
  const classes = train.classNames.length;
  if (classes < 2) {
    throw new ConfigError(`the data has ${classes} class${classes === 1 ? ` (${train.classNames[0]})` : 'es'}; a classifier needs at least 2`);
  }
  if (o.batchSize !== undefined && o.batchSize > train.size) {
    throw new ConfigError(`batch size ${o.batchSize} is larger than the ${train.size} training images; use --batch-size ${train.size} or less`);
  }
  checkMinBatch(method, needs, batchSize, train.size);
}

/**
 * The class names a run directory's config.json records (undefined for other paths, or runs from before they were
 * recorded).
 */
export async function runClassNames(dir: string): Promise<readonly string[] | undefined> {
  try {
    const names: unknown = (await readRunConfig(dir))?.classNames;
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? (names as string[]) : undefined;
  } catch {
    return undefined; // not a run directory, or an unreadable config.json: nothing recorded
  }
}

/**
 * Refuse a model whose recorded classes (`trained`) are not the data's, in the same order: its logits would be read
 * as other classes (the same count is not enough; image folders name their classes). ConfigError naming both.
 */
export function checkSameClasses(what: string, trained: readonly string[] | undefined, data: readonly string[], dataName: string): void {
  if (trained === undefined || (trained.length === data.length && trained.every((n, i) => n === data[i]))) return;
  const list = (names: readonly string[]): string => (names.length > 8 ? `${names.slice(0, 8).join(', ')}, ...` : names.join(', '));
  throw new ConfigError(
    `${what} was trained on the classes (${list(trained)}) but ${dataName} has (${list(data)}); ` +
      `use data with the same classes in the same order`,
  );
}

async function checkTeacherClassNames(teacherPath: string, data: readonly string[]): Promise<void> {
  const trained = await runClassNames(teacherPath);
  if (trained !== undefined && trained.length === data.length) checkSameClasses(`the teacher ${teacherPath}`, trained, data, 'the data');
}

interface Prepared {
  readonly recipe: MethodRecipe;
  readonly methodOptions: MethodOptions;
  readonly needs: MethodNeeds;
}

/**
 * The method a run uses, with its options resolved; a method that distils from a teacher is refused for `train`
 * (ConfigError naming the distill command to use). MethodError for an unknown method or option.
 */
function prepareMethod(kind: 'train' | 'distill', o: Omit<RunOptions, 'data'>, modelName: string): Prepared {
  const recipe = getMethod(o.method ?? (kind === 'train' ? 'cds' : 'cds-kd'));
  const methodOptions = resolveMethodOptions(recipe, o.methodOptions ?? {});
  const needs = needsOf(recipe, methodOptions);
  if (kind === 'train' && needs.teacher) {
    throw new ConfigError(
      `method ${recipe.name} distils from a teacher: use cds-distill distill --teacher PATH --student ${modelName} --method ${recipe.name}`,
    );
  }
  return { recipe, methodOptions, needs };
}

/** The data spec as config.json records it. */
function dataSpec(o: RunOptions): string {
  return typeof o.data === 'string' ? o.data : `${o.data.train.name} (in memory)`;
}

function teacherName(source: DistillOptions['teacher'] | undefined): string | undefined {
  return typeof source === 'string' ? source : source?.source;
}

/**
 * The settings a resumed run must share with its config.json (labelled by their flags); `RESUME_MAY_CHANGE` lists
 * the others. Multistep milestones are compared only when given: scaled ones follow a changed `epochs`.
 */
function resumeChecks(
  kind: 'train' | 'distill',
  o: RunOptions,
  modelName: string,
  prepared: Prepared,
  hyper: ResolvedHyperparameters,
  teacherSource: DistillOptions['teacher'] | undefined,
): (config: Readonly<Record<string, unknown>>) => SettingCheck[] {
  return (c) => {
    const checks: SettingCheck[] = [
      ['command', c['kind'], kind],
      [kind === 'train' ? '--model' : '--student', c['model'], modelName],
    ];
    const teacher = teacherName(teacherSource);
    if (teacher !== undefined || c['teacher'] !== undefined) {
      const path = (t: unknown): unknown => (typeof t === 'string' ? resolve(t) : t);
      checks.push(['--teacher', path(c['teacher']), path(teacher)]);
    }
    checks.push(['--method', c['method'], prepared.recipe.name]);
    const saved = recordedMethodOptions(prepared.recipe, c['methodOptions'] as Record<string, unknown> | undefined);
    for (const k of new Set([...Object.keys(saved), ...Object.keys(prepared.methodOptions)])) {
      checks.push([`--method-option ${k}`, saved[k], (prepared.methodOptions as Record<string, unknown>)[k]]);
    }
    checks.push(
      ['--data', c['data'], dataSpec(o)],
      ['--unlabeled-data', c['unlabeledData'], typeof o.unlabeledData === 'string' ? o.unlabeledData : undefined],
      ...recordedChecks(c, o, hyper),
    );
    const savedSchedule = c['schedule'] as ScheduleConfig | undefined;
    if (hyper.schedule.kind === 'multistep' && o.milestones === undefined) checks.push(['--schedule', savedSchedule?.kind, 'multistep']);
    else checks.push(['--schedule', savedSchedule, hyper.schedule]);
    return checks;
  };
}

/** The recorded options (`OPTIONS`) a resumed run must share with its config.json, by their flags. */
function recordedChecks(c: Readonly<Record<string, unknown>>, o: RunOptions, hyper: ResolvedHyperparameters): SettingCheck[] {
  return recordedOptions()
    .filter((spec) => !spec.mayChangeOnResume && !spec.customResumeCheck)
    .map((spec) => [flagName(spec), valueFromConfig(spec, c), configValue(spec, runValue(spec, o, hyper))]);
}

/** A recorded option's value in this run: the resolved hyperparameter, or the option as given. */
function runValue(spec: OptionSpec, o: RunOptions, hyper: ResolvedHyperparameters): unknown {
  return (spec.config === 'resolved' ? (hyper as unknown as Record<string, unknown>) : (o as unknown as Record<string, unknown>))[spec.key];
}

/** What config.json records of the declared options (`OPTIONS`): the resolved hyperparameters and the options given. */
function recordedConfig(o: RunOptions, hyper: ResolvedHyperparameters): ResolvedHyperparameters {
  const out: Record<string, unknown> = {};
  for (const spec of recordedOptions()) {
    if (spec.recordedIn !== undefined) continue;
    const v = configValue(spec, runValue(spec, o, hyper));
    if (v !== undefined) out[spec.key] = v;
  }
  return out as unknown as ResolvedHyperparameters;
}

/** Refuse a directory another live run holds (without taking it). */
function checkNotLocked(out: string): void {
  const owner = lockHolder(out, RUN_LOCK);
  if (owner) {
    throw new LockError(`${out} is in use by ${owner.command} (process ${owner.pid}); wait for it to finish, or use another directory`, owner.pid);
  }
}

async function planFor(
  kind: 'train' | 'distill',
  o: RunOptions,
  modelName: string,
  prepared: Prepared,
  hyper: ResolvedHyperparameters,
  teacherSource: DistillOptions['teacher'] | undefined,
): Promise<RunDirectoryPlan> {
  return planRunDirectory(o.out!, o, resumeChecks(kind, o, modelName, prepared, hyper, teacherSource));
}

/**
 * Check, without taking its lock or writing anything, that a run could use `options.out`: not a file, not held by a
 * live run, empty unless `resume` (with the settings of its config.json) or `force`. Returns how the run would use
 * it; throws `ConfigError` (or `LockError`) naming the problem. The CLI calls it before printing anything.
 */
export async function checkRunDirectory(
  kind: 'train' | 'distill',
  options: (TrainOptions | DistillOptions) & { readonly out: string },
): Promise<RunDirectoryPlan> {
  validate(options);
  const modelName = kind === 'train' ? (options as TrainOptions).model : (options as DistillOptions).student;
  const prepared = prepareMethod(kind, options, modelName);
  const hyper = resolveHyperparameters(kind, options, modelName);
  await readRunDirectory(options.out); // a file: say so before anything else
  checkNotLocked(options.out);
  return planFor(kind, options, modelName, prepared, hyper, kind === 'distill' ? (options as DistillOptions).teacher : undefined);
}

interface Inputs {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly spec: string;
  readonly dataset: DatasetRecord;
  readonly teacher?: Teacher;
}

/** Load the data and the teacher and check they fit together (classes, input shape). */
async function loadInputs(
  o: RunOptions,
  dataRng: Random,
  teacherSource: DistillOptions['teacher'] | undefined,
  teacherOptions: Pick<DistillOptions, 'teacherStages' | 'teacherStageNodes' | 'teacherLogitsNode' | 'teacherLogits' | 'teacherInput'>,
  checkData?: (record: DatasetRecord, train: Dataset) => void,
  checkTeacher?: (teacher: Teacher) => void,
): Promise<Inputs> {
  const { train, test, spec } = await loadData(o, dataRng);
  const inputShape = train.inputShape;
  const numClasses = train.classNames.length;
  const dataset = datasetRecord(train, test);
  checkData?.(dataset, train);
  if (teacherSource === undefined) return { train, test, spec, dataset };
  // Before loading it (nothing to free on refusal); a different class count is loadTeacher's to say.
  if (typeof teacherSource === 'string') await checkTeacherClassNames(teacherSource, train.classNames);
  const teacher =
    typeof teacherSource === 'string'
      ? await loadTeacher(teacherSource, {
          ...teacherSelection({ stages: teacherOptions.teacherStages, logits: teacherOptions.teacherLogits }),
          expectedClasses: numClasses,
          ...(teacherOptions.teacherStageNodes ? { stageNodes: teacherOptions.teacherStageNodes } : {}),
          ...(teacherOptions.teacherLogitsNode ? { logitsNode: teacherOptions.teacherLogitsNode } : {}),
          inputShape,
          ...(teacherOptions.teacherInput !== undefined ? { input: teacherOptions.teacherInput } : {}),
          dataNormalization: { mean: train.mean, std: train.std },
        })
      : teacherSource;
  try {
    if (teacher.numClasses !== numClasses) {
      throw new ConfigError(`the teacher predicts ${teacher.numClasses} classes but the data has ${numClasses}`);
    }
    if (teacher.inputShape.some((d, i) => d !== inputShape[i])) {
      throw new ConfigError(
        `the teacher takes ${teacher.inputShape.join('x')} inputs but the data is ${inputShape.join('x')}; use data of the teacher's shape`,
      );
    }
    checkTeacher?.(teacher);
  } catch (err) {
    if (typeof teacherSource === 'string') teacher.dispose();
    throw err;
  }
  return { train, test, spec, dataset, teacher };
}

/** A resumed run must train on the same images: compare the content hash with the one in config.json. */
function checkSameData(out: string, record: DatasetRecord, saved: Readonly<Record<string, unknown>> | undefined): void {
  const was = saved?.['dataset'] as DatasetRecord | undefined;
  if (was === undefined) return;
  const diffs = settingDifferences([
    ['dataset', was.name, record.name],
    ['training images', was.train, record.train],
    ['test images', was.test, record.test],
    ['content hash', was.sha256.slice(0, 12), record.sha256.slice(0, 12)],
  ]);
  if (diffs.length > 0) {
    throw new ConfigError(`cannot resume ${out}: the data differs from the run's (${diffs.join(', ')}); resume with the data the run started on, or use another --out`);
  }
}

async function run(
  kind: 'train' | 'distill',
  o: RunOptions,
  modelName: string,
  methodName: string,
  teacherSource: DistillOptions['teacher'] | undefined,
  teacherOptions: Pick<DistillOptions, 'teacherStages' | 'teacherStageNodes' | 'teacherLogitsNode' | 'teacherLogits' | 'teacherInput'>,
): Promise<RunResult> {
  validate(o);
  const prepared = prepareMethod(kind, { ...o, method: methodName }, modelName);
  const hyper = resolveHyperparameters(kind, o, modelName);
  checkMinBatch(prepared.recipe.name, prepared.needs, hyper.batchSize);
  if (o.out === undefined) return runIn(undefined, kind, o, modelName, prepared, hyper, teacherSource, teacherOptions);
  await readRunDirectory(o.out); // a file where the directory should be: refused before the lock creates it
  const lock = await DirectoryLock.acquire(o.out, { name: RUN_LOCK, command: kind });
  try {
    const plan = await planFor(kind, o, modelName, prepared, hyper, teacherSource);
    for (const n of plan.notes) o.onNote?.(n);
    if (plan.replace) await clearRunFiles(o.out);
    return await runIn(plan, kind, o, modelName, prepared, hyper, teacherSource, teacherOptions);
  } finally {
    await lock.release();
  }
}

/** The run itself, in `o.out` once its lock is held and its use decided (`plan`), or without a directory. */
async function runIn(
  plan: RunDirectoryPlan | undefined,
  kind: 'train' | 'distill',
  o: RunOptions,
  modelName: string,
  prepared: Prepared,
  hyper: ResolvedHyperparameters,
  teacherSource: DistillOptions['teacher'] | undefined,
  teacherOptions: Pick<DistillOptions, 'teacherStages' | 'teacherStageNodes' | 'teacherLogitsNode' | 'teacherLogits' | 'teacherInput'>,
): Promise<RunResult> {
  const { recipe, methodOptions, needs } = prepared;
  const seed = hyper.seed;
  const seeds = new Random(seed);
  const dataRng = seeds.fork();
  const modelSeed = seeds.opSeed();
  const headSeed = seeds.opSeed();
  const methodSeed = seeds.nextUint32();
  const { train, test, spec, dataset, teacher } = await loadInputs(
    o,
    dataRng,
    teacherSource,
    teacherOptions,
    (record, train) => {
      checkRunFitsData(recipe.name, needs, o, hyper.batchSize, train);
      if (o.out !== undefined && plan?.resume) checkSameData(o.out, record, plan.config);
    },
    // A teacher without stages (or a pooled feature) serves only methods that read its logits.
    (t) => checkTeacherFeatures(recipe.name, needs, t, typeof teacherSource === 'string' ? teacherSource : t.source),
  );
  if (dataset.note !== undefined) o.onNote?.(`data: ${dataset.note}`);
  // What only the test split's note says (classes it has no images of): not what the training split's note already
  // said (a fallback), nor its --test-limit (the user's own option).
  const testOnly = (test.note ?? '').split('; ').filter((part) => part !== '' && !(train.note ?? '').includes(part) && !part.startsWith('limited to '));
  if (testOnly.length > 0) o.onNote?.(`data: ${testOnly.join('; ')}`);
  const inputShape = train.inputShape;
  const numClasses = train.classNames.length;

  const { epochs, lr, batchSize } = hyper;
  const optimizer = {
    factory: optimizerFactory(hyper.optimizer),
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
  const stageMatch = teacher && teacher.stageIndices.length > 0
    ? describeMatch(matchStages(student.stageIndices.length, teacher.stageIndices.length))
    : undefined;

  const config: RunConfig = {
    kind,
    model: modelName,
    ...(teacherName(teacherSource) !== undefined ? { teacher: teacherName(teacherSource) } : {}),
    method: recipe.name,
    methodOptions,
    data: spec,
    dataset,
    inputShape: [...inputShape],
    numClasses,
    classNames: [...train.classNames],
    ...(typeof o.unlabeledData === 'string' ? { unlabeledData: o.unlabeledData } : {}),
    ...recordedConfig(o, hyper),
    backend: backendReport()?.backend ?? tf.getBackend(),
    ...(stageMatch !== undefined ? { stageMatch } : {}),
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
      resume: plan?.resume === true,
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

/** What `checkRun` found: everything a run would use, checked without training. */
export interface RunCheck {
  readonly hyperparameters: ResolvedHyperparameters;
  /** The learning rate per span of epochs, in words. */
  readonly scheduleText: string;
  readonly dataset: DatasetRecord;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Student stage -> teacher stage, when there is a teacher. */
  readonly stageMatch?: string;
  /** How `out` would be used: "new run", "resume after epoch N of M", "fresh run (--resume, but no checkpoint)", "replace the run there (--force)". */
  readonly runDirectory?: string;
}

/**
 * Check a run without training it (what `--dry-run` does): the options, the run directory (not a file, not locked,
 * empty unless resume with the same settings or force), the resume checkpoint (readable, of the same model, classes
 * and input shape), the data (loaded: the spec resolves, both splits read), the teacher (loaded, classes and input
 * shape match the data), the student built at the data's shape and the method set up for it. Writes nothing.
 * Throws the first problem as the run would (`ConfigError`, `DataError`, `TeacherError`, `LockError`, ...).
 */
export async function checkRun(kind: 'train', options: TrainOptions): Promise<RunCheck>;
export async function checkRun(kind: 'distill', options: DistillOptions): Promise<RunCheck>;
export async function checkRun(kind: 'train' | 'distill', options: TrainOptions | DistillOptions): Promise<RunCheck> {
  const o = options;
  validate(o);
  const modelName = kind === 'train' ? (o as TrainOptions).model : (o as DistillOptions).student;
  const teacherSource = kind === 'distill' ? (o as DistillOptions).teacher : undefined;
  const prepared = prepareMethod(kind, o, modelName);
  const hyper = resolveHyperparameters(kind, o, modelName);
  checkMinBatch(prepared.recipe.name, prepared.needs, hyper.batchSize);
  let runDirectory: string | undefined;
  let plan: RunDirectoryPlan | undefined;
  if (o.out !== undefined) {
    plan = await checkRunDirectory(kind, { ...o, out: o.out } as (TrainOptions | DistillOptions) & { out: string });
    runDirectory = plan.replace ? 'replace the run there (--force)' : plan.notes.length > 0 ? 'fresh run (--resume, but no checkpoint)' : 'new run';
  }
  const seeds = new Random(hyper.seed);
  const inputs = await loadInputs(o, seeds.fork(), teacherSource, o as DistillOptions, (_, train) => checkRunFitsData(prepared.recipe.name, prepared.needs, o, hyper.batchSize, train), (t) =>
    checkTeacherFeatures(prepared.recipe.name, prepared.needs, t, typeof teacherSource === 'string' ? teacherSource : t.source),
  );
  const { train, dataset, teacher } = inputs;
  const owned = typeof teacherSource === 'string';
  const inputShape = train.inputShape;
  const numClasses = train.classNames.length;
  try {
    if (plan?.resume === true && o.out !== undefined) {
      checkSameData(o.out, dataset, plan!.config);
      const dir = runPaths(o.out).checkpoint;
      const ckpt = await readCheckpoint(dir).catch((err: unknown) => {
        throw new ConfigError(`${dir} cannot be read (${(err as Error).message.split('\n')[0]}); resume is impossible: use --force to start over, or another --out`);
      });
      const s = ckpt.student;
      const same = s.numClasses === numClasses && s.inputShape.every((d, i) => d === inputShape[i]);
      s.dispose();
      if (!same) {
        throw new ConfigError(`${dir} holds a ${s.inputShape.join('x')} model of ${s.numClasses} classes but the data is ${inputShape.join('x')} with ${numClasses}; use --force to start over, or another --out`);
      }
      runDirectory = `resume after epoch ${ckpt.state.epoch} of ${hyper.epochs}`;
    }
    const tapped = buildModel(modelName, { inputShape, numClasses, seed: 1 });
    const student = wrapStudent(tapped, { heads: prepared.needs.heads, seed: 2 });
    try {
      const method = prepared.recipe.create({
        student,
        teacher,
        numClasses,
        numSamples: train.size,
        ...(train.labeled ? {} : { sampleLabels: train.labels }),
        options: prepared.methodOptions,
        rng: new Random(3),
      });
      disposeMethod(method);
      const stageMatch = teacher && teacher.stageIndices.length > 0 ? describeMatch(matchStages(student.stageIndices.length, teacher.stageIndices.length)) : undefined;
      return {
        hyperparameters: hyper,
        scheduleText: describeSchedule({ baseLr: hyper.lr, epochs: hyper.epochs, schedule: hyper.schedule, warmupEpochs: hyper.warmupEpochs }),
        dataset,
        inputShape: [...inputShape],
        numClasses,
        ...(stageMatch !== undefined ? { stageMatch } : {}),
        ...(runDirectory !== undefined ? { runDirectory } : {}),
      };
    } finally {
      student.dispose();
    }
  } finally {
    if (teacher && owned) teacher.dispose();
  }
}

/**
 * Train a zoo model with a method that needs no teacher (ce, ds, ds-kl, cds, cds-simclr): teachers and ablations.
 *
 * Throws (all `CdsDistillError`s of kind 'user', one line each): ConfigError (options, run directory), MethodError
 * (unknown method or method option), ModelError (unknown zoo model), DataError (the dataset), LockError (the run
 * directory is in use), MetricsLogError (a resumed run's metrics.jsonl is damaged), TrainingDivergedError (the loss
 * stopped being finite; the last good checkpoint is kept).
 */
export async function train(options: TrainOptions): Promise<RunResult> {
  return run('train', options, options.model, options.method ?? 'cds', undefined, {});
}

/**
 * Distil a zoo student from a frozen teacher with any method (default cds-kd).
 *
 * Throws (all `CdsDistillError`s of kind 'user', one line each): ConfigError (options, run directory), MethodError
 * (unknown method or method option), ModelError (unknown zoo model), DataError (the dataset), TeacherError or
 * ModelFileError (the teacher, or a method that needs stages it lacks: MethodError), LockError (the run
 * directory is in use), MetricsLogError (a resumed run's metrics.jsonl is damaged), TrainingDivergedError (the loss
 * stopped being finite; the last good checkpoint is kept).
 */
export async function distill(options: DistillOptions): Promise<RunResult> {
  return run('distill', options, options.student, options.method ?? 'cds-kd', options.teacher, options);
}
