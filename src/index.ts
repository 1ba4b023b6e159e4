/**
 * cds-distill's public library API. `tf` is the one tfjs instance the toolkit uses: build tensors with it so they
 * live on the same engine.
 */
export * from './runtime/index.js';
export { CdsDistillError, isCdsUserError } from './errors.js';
export type { ErrorKind, CdsDistillErrorOptions } from './errors.js';
export * as losses from './losses/index.js';
export {
  loadDataset,
  loadTrainTest,
  subsetDataset,
  Batcher,
  twoViews,
  standardAugment,
  DataError,
  DATASET_SPECS,
} from './data/index.js';
export type { Dataset, Batch, LoadOptions, TrainTestOptions } from './data/index.js';
export { buildModel, listModels, inspect, ModelError, logitsPredictor } from './models/index.js';
export type { TappedModel, BuildOptions, InputShape, LogitsPredictor } from './models/index.js';
export { wrapStudent, Student, exportStudent, saveStudentBundle, loadStudentBundle } from './student/index.js';
export type { StudentOutputs, HeadKind } from './student/index.js';
export { NORMALIZATION_LAYER, loadLayersModelStandardized } from './student/index.js';
export type { StudentInputSpec, InputNormalization, NormalizationMetadata, ExportResult, BundleInfo } from './student/index.js';
export { loadTeacher, Teacher, TeacherError } from './teacher/index.js';
export type { LoadTeacherOptions, TeacherInput } from './teacher/index.js';
export { bundledTeacherPath, bundledData, BUNDLED_TEACHERS } from './bundled.js';
export type { BundledData, BundledTeacher } from './bundled.js';
export { fileSystemHandler, loadLayersModelFromDir, ModelFileError } from './io/index.js';
export { matchStages } from './align/index.js';
export { getMethod, listMethods, resolveMethodOptions, MethodError } from './methods/index.js';
export type { MethodRecipe, MethodRun, MethodSetup, StepContext, AfterStepContext, MethodNeeds } from './methods/index.js';
export { checkRun, checkRunDirectory, describeSchedule } from './train/index.js';
export type { RunCheck, DatasetRecord } from './train/index.js';
export { DirectoryLock, LockError } from './run/lock.js';
export { train, distill, fit, evaluate, ConfigError, TrainingDivergedError, learningRate, resolveHyperparameters } from './train/index.js';
export type { TrainOptions, DistillOptions, RunResult, RunConfig, EpochMetrics, StepProgress, ClassificationMetrics, ResolvedHyperparameters } from './train/index.js';
export { benchmarkStep } from './train/benchmark.js';
export type { BenchmarkStepOptions, BenchmarkResult } from './train/benchmark.js';
export { measureLatency, evaluateModel, loadModel, checkModelFitsData } from './train/saved-models.js';
export { countModelParams, countSavedModelParams } from './student/params.js';
export type { LatencyOptions, LoadedModel, EvaluateModelOptions, ModelEvaluation } from './train/saved-models.js';
export { exportRun } from './train/export-run.js';
export type { ExportRunOptions, ExportRunResult } from './train/export-run.js';
export { makeSynthetic } from './data/index.js';
export { compare, planCompare, collectCompare, evaluateTeacher, CompareError, DEFAULT_METHODS, type CompareOptions, type CompareRunOptions, type PlanOptions, type PlanLine, type CollectOptions, type CompareEvent, type CompareReport, type CompareSetup, type MethodRow, type RunSummary, type TeacherFigures, type Stat, type ReportFiles, type MissingRun } from './report/index.js';
