export { getMethod, listMethods, resolveMethodOptions, needsOf, MethodError } from './registry.js';
export { crossModelInfoNce } from './cds-kd.js';
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
  TeacherOutputs,
} from './types.js';
