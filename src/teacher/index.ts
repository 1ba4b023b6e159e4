export { Teacher, TeacherError, findStageLayers, freezeLayersModel, loadTeacher, resolveTeacherPath } from './teacher.js';
export type { LoadTeacherOptions, TeacherKind, TeacherOutputs } from './teacher.js';
