export { getMethod, listMethods, resolveMethodOptions, needsOf, checkTeacherFeatures } from './registry.js';
export { MethodError } from './errors.js';
export { disposeMethod } from './common.js';
export type {
  FrozenTeacher,
  MethodNeeds,
  MethodOptions,
  MethodPart,
  MethodRecipe,
  MethodRun,
  MethodSetup,
  OptionValue,
  StepContext,
  TeacherFeatures,
  TeacherOutputs,
} from './types.js';
