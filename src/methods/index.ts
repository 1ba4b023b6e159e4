export { getMethod, listMethods, resolveMethodOptions, recordedMethodOptions, needsOf, checkTeacherFeatures, viewRecipesOf } from './registry.js';
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
  AfterStepContext,
  TeacherFeatures,
  TeacherOutputs,
} from './types.js';
