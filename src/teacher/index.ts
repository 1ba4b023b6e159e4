export { Teacher, TeacherError, freezeLayersModel, formatTeacherInput, TEACHER_INPUTS } from './teacher.js';
export type { LoadTeacherOptions, TeacherInput, TeacherKind, TeacherOutputs } from './teacher.js';
export { findStageLayers } from './from-layers.js';
export { loadTeacher, resolveTeacherPath, teacherSelection } from './load.js';
export type { TeacherSelection } from './load.js';
