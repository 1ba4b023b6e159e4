export { Teacher, TeacherError, findStageLayers, freezeLayersModel, loadTeacher, resolveTeacherPath, RUN_BUNDLE_DIRS } from './teacher.js';
export type { LoadTeacherOptions, TeacherKind, TeacherOutputs } from './teacher.js';
