/**
 * Student files.
 *
 * - `exportStudent(student, dir)`: the bare model (input -> logits; no heads, no auxiliary classifiers, no feature
 *   outputs) as a tfjs LayersModel directory: model.json + weights.bin. Loads in plain tfjs (only the zoo's own custom
 *   layers, if the architecture uses them, need their module imported). When the student knows its input
 *   normalisation (`student.inputSpec`, set by training), the model takes RAW pixels (0..255, [H, W, C]) and
 *   normalises them itself (first layer `input_normalization`, see normalization.ts); its `userDefinedMetadata` records
 *   mean, std, input shape and class names.
 * - `saveStudentBundle(student, dir, meta)` / `loadStudentBundle(dir)`: the training model with its heads
 *   (model.json + weights.bin, outputs in the trainNet order; raw pixels in, like the export, when the normalisation is
 *   known) plus `bundle.json`:
 *   {
 *     "format": "cds-distill/student-bundle", "version": 2 (1 without "input"),
 *     "model": zoo name or "custom", "inputShape": [H, W, C], "numClasses": n,
 *     "featureShapes": [[H, W, C], ...], "stageIndices": [...], "pooledDim": d,
 *     "heads": "projection" | "classifier" | "both" | "none",
 *     "outputOrder": ["feature0", ..., "pooled", "logits", "projection0", ..., "auxLogits0", ...],
 *     "input": { "pixels": "raw", "mean": [...], "std": [...], "normalizationLayer": "input_normalization" }
 *              (absent: model.json takes standardized inputs, as bundles of version 1 do),
 *     "classNames": [...] (optional),
 *     "meta": { ...free-form JSON given by the caller... }
 *   }
 *   The directory is written under a temporary sibling name and swapped into place, so `dir` never holds a torn bundle.
 *   Loading takes the normalisation layer out again: in memory a student always takes standardized inputs.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { tf } from '../runtime/tf.js';
import { ModelFileError } from '../io/errors.js';
import { fileSystemHandler, replaceDirectory, stagingDirFor, writeFileAtomic } from '../io/fs-handler.js';
import {
  insertInputNormalization,
  loadLayersModelStandardized,
  modelArtifacts,
  NORMALIZATION_LAYER,
  type StudentInputSpec,
} from './normalization.js';
// Registers the zoo's custom layers (grouped conv, channel shuffle, ...) so zoo students load back.
import '../models/index.js';
import type { InputShape } from '../models/types.js';
import { listModels } from '../models/index.js';
import { HEAD_KINDS, Student, outputOrder, type HeadKind, type StudentInfo } from './student.js';

export const BUNDLE_FILE = 'bundle.json';
export const BUNDLE_FORMAT = 'cds-distill/student-bundle';
export const BUNDLE_VERSION = 2;

/** The contents of bundle.json. */
export interface BundleInfo {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: number;
  /** Zoo name, or 'custom' for a model not from the zoo. */
  readonly model: string;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  readonly featureShapes: readonly (readonly [number, number, number])[];
  readonly stageIndices: readonly number[];
  readonly pooledDim: number;
  readonly heads: HeadKind;
  readonly outputOrder: readonly string[];
  /** Present (version 2): model.json takes raw pixels and normalises them with this mean/std in its first layer. */
  readonly input?: {
    readonly pixels: 'raw';
    readonly mean: readonly number[];
    readonly std: readonly number[];
    readonly normalizationLayer: string;
  };
  readonly classNames?: readonly string[];
  readonly meta: Record<string, unknown>;
}

export interface ExportResult {
  readonly dir: string;
  readonly modelFile: string;
  /**
   * 'raw': the model takes raw pixels (0..255) and normalises them itself (`inputSpec` says how); 'standardized': the
   * student had no recorded normalisation, so the model takes (x / 255 - mean) / std of the caller's choosing.
   */
  readonly input: 'raw' | 'standardized';
  readonly inputSpec?: StudentInputSpec;
}

/** The artifacts of `model` with the student's input normalisation inside (unchanged when it has none). */
async function savedArtifacts(model: tf.LayersModel, student: Student): Promise<tf.io.ModelArtifacts> {
  const artifacts = await modelArtifacts(model);
  return student.inputSpec ? insertInputNormalization(artifacts, student.inputShape, student.inputSpec) : artifacts;
}

/**
 * Write the bare student (input -> logits) as a tfjs LayersModel directory (model.json + weights.bin). With
 * `student.inputSpec` (every trained student has it) the model takes raw pixels [B, H, W, C] in 0..255 and carries
 * its normalisation inside; its userDefinedMetadata holds mean, std, inputShape and classNames.
 */
export async function exportStudent(student: Student, dir: string): Promise<ExportResult> {
  const abs = path.resolve(dir);
  const model = student.inferenceModel();
  await fileSystemHandler(abs).save!(await savedArtifacts(model, student));
  return {
    dir: abs,
    modelFile: path.join(abs, 'model.json'),
    input: student.inputSpec ? 'raw' : 'standardized',
    ...(student.inputSpec ? { inputSpec: student.inputSpec } : {}),
  };
}

export interface SaveBundleOptions {
  /**
   * Default true: write into a temporary sibling directory and swap it into place (replacing `dir` entirely).
   * false: write the files straight into `dir` (each file atomically), for a caller that stages its own directory
   * (e.g. a checkpoint with optimizer state beside the bundle).
   */
  readonly atomic?: boolean;
}

function bundleInfo(student: Student, meta: Record<string, unknown>): BundleInfo {
  const zoo = new Set(listModels());
  return {
    format: BUNDLE_FORMAT,
    model: zoo.has(student.name) ? student.name : 'custom',
    inputShape: student.inputShape,
    numClasses: student.numClasses,
    featureShapes: student.featureShapes,
    stageIndices: student.stageIndices,
    pooledDim: student.pooledDim,
    heads: student.heads,
    outputOrder: student.outputOrder,
    ...(student.inputSpec
      ? {
          version: BUNDLE_VERSION,
          input: { pixels: 'raw' as const, mean: student.inputSpec.mean, std: student.inputSpec.std, normalizationLayer: NORMALIZATION_LAYER },
          ...(student.inputSpec.classNames ? { classNames: student.inputSpec.classNames } : {}),
        }
      : { version: 1 }),
    meta,
  };
}

/**
 * Save the training model with its heads + bundle.json into `dir`. `meta` must be JSON-serialisable. With
 * `student.inputSpec` model.json takes raw pixels (normalisation inside, bundle version 2); without, standardized
 * inputs (version 1).
 */
export async function saveStudentBundle(
  student: Student,
  dir: string,
  meta: Record<string, unknown> = {},
  options: SaveBundleOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  const info = JSON.stringify(bundleInfo(student, meta), null, 2);
  const artifacts = await savedArtifacts(student.trainNet, student);
  if (options.atomic === false) {
    await fileSystemHandler(target).save!(artifacts);
    await writeFileAtomic(path.join(target, BUNDLE_FILE), info);
    return;
  }
  await mkdir(path.dirname(target), { recursive: true });
  const staged = stagingDirFor(target);
  try {
    await fileSystemHandler(staged).save!(artifacts);
    await writeFileAtomic(path.join(staged, BUNDLE_FILE), info);
    await replaceDirectory(staged, target);
  } catch (err) {
    await rm(staged, { recursive: true, force: true });
    throw err;
  }
}

function isShape3(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((d) => Number.isInteger(d) && d >= 1);
}

/** Read and check a bundle.json (refusing a missing or malformed one with the file name). */
export async function readBundleInfo(dir: string): Promise<BundleInfo> {
  const file = path.join(path.resolve(dir), BUNDLE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModelFileError(file, (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? `${file} does not exist (expected a student bundle directory written by saveStudentBundle: bundle.json + ` +
        `model.json + weights.bin)`
      : `${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ModelFileError(file, `${file} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const bad = (what: string): ModelFileError => new ModelFileError(file, `${file}: ${what}`);
  if (raw == null || typeof raw !== 'object' || raw['format'] !== BUNDLE_FORMAT) {
    throw bad(`"format" is ${JSON.stringify(raw?.['format'])}, expected "${BUNDLE_FORMAT}"`);
  }
  if (typeof raw['version'] !== 'number' || raw['version'] > BUNDLE_VERSION) {
    throw bad(`"version" is ${JSON.stringify(raw['version'])}; this toolkit reads bundle versions up to ${BUNDLE_VERSION}`);
  }
  if (!isShape3(raw['inputShape'])) throw bad(`"inputShape" must be [height, width, channels]`);
  if (!Number.isInteger(raw['numClasses']) || (raw['numClasses'] as number) < 1) {
    throw bad(`"numClasses" must be a positive integer`);
  }
  const fs = raw['featureShapes'];
  if (!Array.isArray(fs) || fs.length === 0 || !fs.every(isShape3)) {
    throw bad(`"featureShapes" must be a non-empty list of [H, W, C]`);
  }
  const si = raw['stageIndices'];
  if (!Array.isArray(si) || si.length === 0 || !si.every((i) => Number.isInteger(i) && i >= 0 && i < fs.length)) {
    throw bad(`"stageIndices" must be a non-empty list of indices into featureShapes`);
  }
  if (!HEAD_KINDS.includes(raw['heads'] as HeadKind)) throw bad(`"heads" must be one of ${HEAD_KINDS.join(', ')}`);
  if (!Number.isInteger(raw['pooledDim'])) throw bad(`"pooledDim" must be an integer`);
  const expectedOrder = outputOrder(fs.length, si.length, raw['heads'] as HeadKind);
  if (JSON.stringify(raw['outputOrder']) !== JSON.stringify(expectedOrder)) {
    throw bad(`"outputOrder" is ${JSON.stringify(raw['outputOrder'])}, expected ${JSON.stringify(expectedOrder)} ` +
      `for ${fs.length} features, ${si.length} stages and heads "${String(raw['heads'])}"`);
  }
  let input: BundleInfo['input'];
  if (raw['input'] !== undefined) {
    const i = raw['input'] as Record<string, unknown>;
    const c = (raw['inputShape'] as number[])[2]!;
    const list = (v: unknown): v is number[] => Array.isArray(v) && v.length === c && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (i == null || i['pixels'] !== 'raw' || !list(i['mean']) || !list(i['std']) || !i['std'].every((x) => x > 0) ||
      i['normalizationLayer'] !== NORMALIZATION_LAYER) {
      throw bad(`"input" must be {"pixels": "raw", "mean": [${c} numbers], "std": [${c} positive numbers], ` +
        `"normalizationLayer": "${NORMALIZATION_LAYER}"}`);
    }
    input = { pixels: 'raw', mean: i['mean'], std: i['std'], normalizationLayer: NORMALIZATION_LAYER };
  }
  const classNames = raw['classNames'];
  if (classNames !== undefined && !(Array.isArray(classNames) && classNames.length === raw['numClasses'] &&
    classNames.every((n) => typeof n === 'string'))) {
    throw bad(`"classNames" must be a list of ${String(raw['numClasses'])} names`);
  }
  return {
    format: BUNDLE_FORMAT,
    version: raw['version'],
    ...(input ? { input } : {}),
    ...(classNames ? { classNames: classNames as string[] } : {}),
    model: typeof raw['model'] === 'string' ? raw['model'] : 'custom',
    inputShape: raw['inputShape'],
    numClasses: raw['numClasses'] as number,
    featureShapes: fs,
    stageIndices: si as number[],
    pooledDim: raw['pooledDim'] as number,
    heads: raw['heads'] as HeadKind,
    outputOrder: expectedOrder,
    meta: (raw['meta'] ?? {}) as Record<string, unknown>,
  };
}

/** Load a bundle written by saveStudentBundle: the student with its heads (and `student.meta` = the saved meta). */
export async function loadStudentBundle(dir: string): Promise<Student> {
  const abs = path.resolve(dir);
  const info = await readBundleInfo(abs);
  const modelFile = path.join(abs, 'model.json');
  const { model: trainNet, spec } = await loadLayersModelStandardized(modelFile);
  if (info.input && !spec) {
    trainNet.dispose();
    throw new ModelFileError(modelFile, `${modelFile}: ${BUNDLE_FILE} says the model takes raw pixels, but it has no ` +
      `${NORMALIZATION_LAYER} layer recorded in its userDefinedMetadata (a model.json from another bundle?)`);
  }
  if (!info.input && spec) {
    trainNet.dispose();
    throw new ModelFileError(modelFile, `${modelFile}: the model normalises raw pixels itself, but ${BUNDLE_FILE} ` +
      `has no "input" (version ${info.version}); re-save the bundle with this toolkit`);
  }
  const nf = info.featureShapes.length;
  const fail = (what: string): never => {
    trainNet.dispose();
    throw new ModelFileError(modelFile, `${modelFile}: ${what} (${BUNDLE_FILE} describes it)`);
  };
  if (trainNet.outputs.length !== info.outputOrder.length) {
    fail(`the model has ${trainNet.outputs.length} outputs, expected ${info.outputOrder.length}: ${info.outputOrder.join(', ')}`);
  }
  info.featureShapes.forEach((s, i) => {
    const [, h, w, c] = trainNet.outputs[i]!.shape;
    if (h !== s[0] || w !== s[1] || c !== s[2]) {
      fail(`output ${i} (feature${i}) has shape ${JSON.stringify([h, w, c])}, expected ${JSON.stringify(s)}`);
    }
  });
  const logitsDim = trainNet.outputs[nf + 1]!.shape[1];
  if (logitsDim !== info.numClasses) fail(`the logits have ${logitsDim} classes, expected ${info.numClasses}`);
  const backboneNet = tf.model({ inputs: trainNet.inputs, outputs: trainNet.outputs.slice(0, nf + 2), name: info.model });
  const studentInfo: StudentInfo = {
    name: info.model,
    inputShape: info.inputShape,
    numClasses: info.numClasses,
    featureShapes: info.featureShapes,
    stageIndices: info.stageIndices,
    pooledDim: info.pooledDim,
    heads: info.heads,
  };
  const inputSpec: StudentInputSpec | undefined = info.input
    ? { mean: info.input.mean, std: info.input.std, ...(info.classNames ? { classNames: info.classNames } : {}) }
    : undefined;
  return new Student(studentInfo, trainNet, backboneNet, info.meta, inputSpec);
}
