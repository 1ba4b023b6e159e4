/** `loadTeacher`: a path (bundle, run directory, model.json) or an in-memory model -> a frozen Teacher. */
import { BUNDLE_LOOKUP_TEXT, bundleDirOfFile, findBundleDir, kindOf } from '../run/paths.js';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { readModelJSON, resolveModelLocation } from '../io/fs-handler.js';
import { loadGraphModelFromDir } from '../io/load.js';
import { loadLayersModelStandardized, type InputNormalization } from '../student/normalization.js';
import type { TappedModel } from '../models/types.js';
import { loadStudentBundle } from '../student/bundle.js';
import { Student, wrapStudent } from '../student/student.js';
import { resolveInputShape, teacherFromStudent, Teacher, TeacherError } from './teacher.js';
import type { LoadTeacherOptions } from './teacher.js';
import { teacherFromLayersModel, withFixedInputShape } from './from-layers.js';
import { teacherFromGraphModel } from './from-graph.js';

/** Where a teacher path leads: a bundle directory, or a model JSON file. */
export async function resolveTeacherPath(p: string): Promise<{ bundleDir?: string; modelFile?: string }> {
  const abs = path.resolve(p);
  const kind = await kindOf(abs);
  if (kind == null) {
    throw new TeacherError(`teacher path ${abs} does not exist (expected a student bundle or run directory, or a ` +
      `tfjs model.json)`);
  }
  if (kind === 'file') {
    const bundleDir = await bundleDirOfFile(abs);
    return bundleDir !== undefined ? { bundleDir } : { modelFile: abs };
  }
  const bundleDir = await findBundleDir(abs);
  if (bundleDir !== undefined) return { bundleDir };
  const modelFile = resolveModelLocation(abs).modelFile;
  if ((await kindOf(modelFile)) === 'file') return { modelFile };
  throw new TeacherError(`teacher directory ${abs} holds no model: looked for ${BUNDLE_LOOKUP_TEXT}, and ` +
    `model.json (a tfjs model)`);
}

/** What a user names of a teacher: its stages and its logits (CLI --teacher-stages, --teacher-logits). */
export interface TeacherSelection {
  /** Stage layer names (LayersModel) or node names (GraphModel), in order. Default: found (layers) / none (graph). */
  readonly stages?: readonly string[];
  /** The layer or node whose output is the logits. Default: the model's last output. */
  readonly logits?: string;
}

/**
 * The LoadTeacherOptions of a selection: the one place the CLI's names become loading options, for distill, compare
 * and the teacher's evaluation alike. The names go in the layer options, which a GraphModel reads as node names.
 */
export function teacherSelection(selection: TeacherSelection): LoadTeacherOptions {
  return {
    ...(selection.stages != null && selection.stages.length > 0 ? { stageLayers: [...selection.stages] } : {}),
    ...(selection.logits != null ? { logitsLayer: selection.logits } : {}),
  };
}

/**
 * Declare on `teacher` what it expects (`options.input`, default what its files record, else 'standardized') and how
 * the batches are normalised (`options.dataNormalization`). A teacher whose files take raw pixels (normalised inside,
 * `recorded`) accepts input 'raw', its own statistics or nothing; anything else contradicts its files and is refused
 * (the caller disposes what it loaded).
 */
function withInput(teacher: Teacher, options: LoadTeacherOptions, recorded: InputNormalization | undefined): Teacher {
  let input = options.input ?? recorded ?? 'standardized';
  if (recorded && options.input !== undefined) {
    const given = options.input;
    const same = typeof given !== 'string' && given.mean.every((v, i) => v === recorded.mean[i]) &&
      given.std.every((v, i) => v === recorded.std[i]);
    if (given !== 'raw' && !same) {
      throw new TeacherError(`teacher ${teacher.source} takes raw pixels and normalises them itself (recorded with it), ` +
        `so input ${JSON.stringify(options.input)} contradicts its files: leave the teacher input out (or say raw)`);
    }
    input = recorded;
  }
  teacher.setInput(input, options.dataNormalization);
  return teacher;
}

function isGraphModel(m: unknown): m is tf.GraphModel {
  return m instanceof tf.GraphModel;
}

/**
 * Load and freeze a teacher. `pathOrModel`: a bundle or run directory, a model.json (layers or graph format), a
 * directory with a model.json, or an in-memory Student / TappedModel / tf.LayersModel / tf.GraphModel (frozen in place).
 * Bad input is refused with a TeacherError (names, classes, paths) or a ModelFileError (the files themselves), both
 * `CdsDistillError`s of kind 'user'.
 */
export async function loadTeacher(
  pathOrModel: string | Student | TappedModel | tf.LayersModel | tf.GraphModel,
  options: LoadTeacherOptions = {},
): Promise<Teacher> {
  const memory = '<memory>';
  if (typeof pathOrModel !== 'string') {
    if (pathOrModel instanceof Student) {
      return withInput(teacherFromStudent(pathOrModel, memory, options, false), options, pathOrModel.inputSpec);
    }
    if (isGraphModel(pathOrModel)) return withInput(teacherFromGraphModel(pathOrModel, undefined, memory, options, false), options, undefined);
    if (pathOrModel instanceof tf.LayersModel) {
      // Declaring no fixed size (null H/W): a copy at the data's size, owned by the teacher.
      const fixed = await fixedInput(pathOrModel, memory, options);
      if (fixed === pathOrModel) return withInput(teacherFromLayersModel(pathOrModel, memory, options, false), options, undefined);
      return ownedLayersTeacher(fixed, memory, options, undefined);
    }
    const tapped = pathOrModel as TappedModel;
    if (tapped.net instanceof tf.LayersModel && Array.isArray(tapped.featureShapes)) {
      return withInput(teacherFromStudent(wrapStudent(tapped, { heads: 'none' }), memory, options, false), options, undefined);
    }
    throw new TeacherError('loadTeacher: expected a path, a Student, a TappedModel, a tf.LayersModel or a tf.GraphModel');
  }
  const where = await resolveTeacherPath(pathOrModel);
  if (where.bundleDir != null) {
    const student = await loadStudentBundle(where.bundleDir);
    try {
      const teacher = teacherFromStudent(student, where.bundleDir, options, true);
      return withInput(teacher, options, student.inputSpec);
    } catch (err) {
      student.dispose();
      throw err;
    }
  }
  const modelFile = where.modelFile!;
  const json = await readModelJSON(modelFile);
  if (json.format === 'graph-model') {
    const model = await loadGraphModelFromDir(modelFile);
    try {
      return withInput(teacherFromGraphModel(model, json.modelTopology, modelFile, options, true), options, undefined);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  // A model saved by this toolkit (an exported student/) takes raw pixels: its normalisation layer comes out here and
  // its statistics become the teacher's expected input.
  const { model: loaded, spec } = await loadLayersModelStandardized(modelFile);
  let model: tf.LayersModel;
  try {
    model = await fixedInput(loaded, modelFile, options);
  } catch (err) {
    loaded.dispose();
    throw err;
  }
  if (model !== loaded) loaded.dispose();
  return ownedLayersTeacher(model, modelFile, options, spec);
}

/** A teacher owning `model` (disposed if the teacher cannot be made), expecting the input `spec` its files record. */
function ownedLayersTeacher(model: tf.LayersModel, source: string, options: LoadTeacherOptions, spec: InputNormalization | undefined): Teacher {
  try {
    return withInput(teacherFromLayersModel(model, source, options, true), options, spec);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * `model` itself when it declares its whole input size; else (null H/W) a copy fixed to the data's shape (checked
 * against the declared dimensions first).
 */
async function fixedInput(model: tf.LayersModel, source: string, options: LoadTeacherOptions): Promise<tf.LayersModel> {
  const declared = model.inputs.length === 1 ? model.inputs[0]!.shape.slice(1) : [];
  if (declared.length !== 3 || declared.every((d) => d != null)) return model;
  return withFixedInputShape(model, resolveInputShape(declared, options.inputShape, source));
}
