export {
  HEAD_KINDS,
  Student,
  countTrainableParams,
  countWeights,
  hasAuxClassifiers,
  hasProjectionHeads,
  outputOrder,
  studentHeadPlans,
  wrapStudent,
} from './student.js';
export type { HeadKind, ParamCounts, StudentInfo, StudentOutputs, WrapStudentOptions } from './student.js';
export { HEAD_PREFIX, planHeads } from './heads.js';
export type { HeadBlock, HeadPlan } from './heads.js';
export { L2Normalize } from './l2-normalize.js';
export type { L2NormalizeArgs } from './l2-normalize.js';
export {
  BUNDLE_FILE,
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  exportStudent,
  loadStudentBundle,
  readBundleInfo,
  saveStudentBundle,
} from './bundle.js';
export type { BundleInfo, ExportResult, SaveBundleOptions } from './bundle.js';
export {
  NORMALIZATION_LAYER,
  insertInputNormalization,
  loadLayersModelStandardized,
  stripInputNormalization,
} from './normalization.js';
export { countModelParams, countSavedModelParams, isCountedParam } from './params.js';
export type { InputNormalization, NormalizationMetadata, StudentInputSpec } from './normalization.js';
