export { getMethod, listMethods, resolveMethodOptions, needsOf, checkTeacherFeatures, MethodError } from './registry.js';
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
