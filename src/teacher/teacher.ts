/**
 * A frozen teacher: loaded once, its weights made non-trainable, run in inference mode (BN moving statistics, no
 * dropout) inside tf.tidy, never updated.
 *
 * Sources (`loadTeacher(pathOrModel, options)`):
 * (a) a student bundle directory (saveStudentBundle), or a run directory holding one in `best/` (preferred),
 *     `checkpoint/` or `checkpoint/student/`; also an in-memory Student or TappedModel. The teacher's projection heads come along (`hasProjections`).
 * (b) a tfjs LayersModel (a model.json from anywhere, or an in-memory tf.LayersModel). Stages: `stageLayers` by name,
 *     or found automatically (see findStageLayers). pooled: `pooledLayer`, else global-average of the last stage.
 *     logits: `logitsLayer`, else the model's (last) output; a softmax at the end is looked through (see below).
 * (c) a tfjs GraphModel (format 'graph-model'): stage nodes by name (`stageNodes`, or `stageLayers`), none by
 *     default (a logits-only teacher); `logitsNode` default the model's (last) output; `pooledNode` default
 *     global-average of the last stage.
 */
import { tf } from '../runtime/tf.js';
import type { InputShape } from '../models/types.js';
import { Student } from '../student/student.js';
import type { InputNormalization } from '../student/normalization.js';
import { CdsDistillError } from '../errors.js';

type Shape3 = readonly [number, number, number];

/** A teacher that cannot be used as asked (bad path, unknown stage name, wrong class count, ...). */
export class TeacherError extends CdsDistillError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TeacherError';
  }
}

/**
 * What pixels a teacher expects: 'raw' (0..255), 'unit' (x / 255, 0..1), 'standardized' ((x / 255 - mean) / std with
 * the data's own mean/std: the toolkit's batches as they are), or explicit per-channel `{ mean, std }` on the [0, 1]
 * scale (standardized with those, e.g. ImageNet's).
 */
export type TeacherInput = 'raw' | 'unit' | 'standardized' | InputNormalization;
export const TEACHER_INPUTS: readonly string[] = ['raw', 'unit', 'standardized'];

/** A TeacherInput as the CLI's --teacher-input takes it: raw, unit, standardized, or MEAN/STD (comma-separated). */
export function formatTeacherInput(input: TeacherInput): string {
  return typeof input === 'string' ? input : `${input.mean.join(',')}/${input.std.join(',')}`;
}

export interface LoadTeacherOptions {
  /**
   * What the teacher expects. Default: what its files record (a bundle or model saved by this toolkit takes raw
   * pixels and normalises them itself with its own mean/std), else 'standardized' (the data's own statistics).
   */
  readonly input?: TeacherInput;
  /**
   * How the batches given to `forward` are normalised (the training split's mean/std; the toolkit's batches are
   * (x / 255 - mean) / std). Needed to convert them when the teacher expects something else; without it the batches
   * must already be what the teacher expects ('standardized' or its recorded statistics), and 'raw' / 'unit' are refused.
   */
  readonly dataNormalization?: InputNormalization;
  /** Class count the data / student has; a teacher with another count is refused. */
  readonly expectedClasses?: number;
  /**
   * (b) Names of the layers whose outputs are the stage features, in order. Default: found automatically.
   * (c) For a GraphModel given without `stageNodes`: the node names (so one list, e.g. `--teacher-stages`, names either).
   */
  readonly stageLayers?: readonly string[];
  /** (b) Layer whose output is the pooled feature [B, D]. Default: global-average of the last stage. (c) as stageLayers. */
  readonly pooledLayer?: string;
  /** (b) Layer whose output is the logits. Default: the model's last output. (c) as stageLayers. */
  readonly logitsLayer?: string;
  /**
   * (c) Graph node names of the stage features (NHWC), in order. Default (neither this nor stageLayers): no stages, a
   * logits-only teacher (pooledDim 0 unless a pooled node is named), enough for kd and dkd.
   */
  readonly stageNodes?: readonly string[];
  /** (c) Node of the pooled feature. Default: global-average of the last stage. */
  readonly pooledNode?: string;
  /** (c) Node of the logits. Default: the graph's last output node. */
  readonly logitsNode?: string;
  /**
   * The data's input [H, W, C]. Fills the dimensions the model leaves unknown (null H/W, -1 in a graph placeholder);
   * a dimension the model declares that differs is refused (TeacherError), never overridden.
   */
  readonly inputShape?: InputShape;
}

/**
 * What the frozen teacher produced for a batch (no gradient flows into it): what `Teacher.forward` returns and methods
 * read as `StepContext.teacher`. The one definition (methods import it from here).
 */
export type TeacherOutputs = {
  readonly features: tf.Tensor4D[];
  readonly pooled: tf.Tensor2D;
  readonly logits: tf.Tensor2D;
  /** One per stage, L2-normalised: present when the teacher carries CDS projection heads (hasProjections). */
  readonly projections?: tf.Tensor2D[];
};

export type TeacherKind = 'bundle' | 'layers' | 'graph';

/** How the teacher computes its outputs: one function from the input to a flat list of tensors. */
interface Runner {
  /** Returns [...features, pooled, logits, ...projections]; called inside tf.tidy. */
  run(x: tf.Tensor4D): tf.Tensor[];
  /** The teacher's weight tensors (variables for LayersModels, constants for GraphModels). */
  weights(): tf.Tensor[];
  dispose(): void;
}

export class Teacher {
  readonly kind: TeacherKind;
  /** The file or directory the teacher came from ('<memory>' for an in-memory model). */
  readonly source: string;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  /** [H, W, C] of each feature `forward` returns. */
  readonly featureShapes: readonly Shape3[];
  /** Indices into `features` of the stages (bundle: every feature but the stem; others: every tap). */
  readonly stageIndices: readonly number[];
  /** Layer or node name (or `featureN` for a bundle) of each feature. */
  readonly featureNames: readonly string[];
  readonly pooledDim: number;
  readonly hasProjections: boolean;
  /** The teacher as a Student when it came from a bundle (frozen; its heads included), else undefined. */
  readonly student: Student | undefined;
  /** What the teacher expects (see TeacherInput); `forward` converts the batches it is given to that. */
  input: TeacherInput = 'standardized';
  /** Per-channel x * scale + shift from the batches given to `forward` to what the teacher expects (undefined: as is). */
  private conversion: { scale: number[]; shift: number[] } | undefined;
  private readonly runner: Runner;
  private readonly numProjections: number;

  constructor(args: {
    kind: TeacherKind;
    source: string;
    inputShape: InputShape;
    numClasses: number;
    featureShapes: readonly Shape3[];
    stageIndices: readonly number[];
    featureNames: readonly string[];
    pooledDim: number;
    numProjections: number;
    runner: Runner;
    student?: Student;
  }) {
    this.kind = args.kind;
    this.source = args.source;
    this.inputShape = args.inputShape;
    this.numClasses = args.numClasses;
    this.featureShapes = args.featureShapes;
    this.stageIndices = args.stageIndices;
    this.featureNames = args.featureNames;
    this.pooledDim = args.pooledDim;
    this.numProjections = args.numProjections;
    this.hasProjections = args.numProjections > 0;
    this.runner = args.runner;
    this.student = args.student;
  }

  /**
   * Declare what the teacher expects and how the batches given to `forward` are normalised (see LoadTeacherOptions);
   * `forward` then converts them per channel. Throws a TeacherError when a conversion is needed and `data` is missing,
   * or the counts do not match the teacher's channels.
   */
  setInput(input: TeacherInput, data?: InputNormalization): void {
    const c = this.inputShape[2];
    const where = `teacher ${this.source}`;
    const count = (n: InputNormalization, what: string): void => {
      if (n.mean.length !== c || n.std.length !== c || !n.std.every((v) => Number.isFinite(v) && v > 0) || !n.mean.every(Number.isFinite)) {
        throw new TeacherError(`${where}: ${what} needs ${c} means and ${c} positive stds (one per channel), ` +
          `got [${n.mean.join(', ')}] / [${n.std.join(', ')}]`);
      }
    };
    if (typeof input === 'string' && !TEACHER_INPUTS.includes(input)) {
      throw new TeacherError(`${where}: input must be raw, unit, standardized or {mean, std}, got ${JSON.stringify(input)}`);
    }
    if (typeof input !== 'string') count(input, 'its input normalisation');
    if (data) count(data, 'the data normalisation');
    const same = (a: readonly number[], b: readonly number[]): boolean => a.every((v, i) => v === b[i]);
    let conversion: { scale: number[]; shift: number[] } | undefined;
    if (input === 'standardized' || (typeof input !== 'string' && (!data || (same(input.mean, data.mean) && same(input.std, data.std))))) {
      conversion = undefined;
    } else if (!data) {
      throw new TeacherError(`${where} expects ${input === 'raw' ? 'raw pixels (0..255)' : 'unit-scale pixels (0..1)'}: ` +
        `pass dataNormalization (the mean/std the batches were normalised with) so they can be converted`);
    } else if (input === 'raw') {
      conversion = { scale: data.std.map((s) => 255 * s), shift: data.mean.map((m) => 255 * m) };
    } else if (input === 'unit') {
      conversion = { scale: [...data.std], shift: [...data.mean] };
    } else {
      const t = input as InputNormalization;
      conversion = { scale: data.std.map((s, k) => s / t.std[k]!), shift: data.mean.map((m, k) => (m - t.mean[k]!) / t.std[k]!) };
    }
    this.input = typeof input === 'string' ? input : { mean: [...input.mean], std: [...input.std] };
    this.conversion = conversion;
  }

  /** A one-line description of what the teacher is fed, for logs (e.g. "raw pixels (0..255)"). */
  describeInput(): string {
    const i = this.input;
    if (i === 'raw') return 'raw pixels (0..255)';
    if (i === 'unit') return 'pixels / 255 (0..1)';
    if (i === 'standardized') return "standardized with the data's mean/std";
    return `standardized with its own mean [${i.mean.map((v) => v.toFixed(4)).join(', ')}], std [${i.std.map((v) => v.toFixed(4)).join(', ')}]`;
  }

  /**
   * Run the teacher in inference mode on a batch normalised as the toolkit's batches are (converted first to what the
   * teacher expects, see setInput). The caller owns the returned tensors; nothing else is left behind.
   */
  forward(x: tf.Tensor4D): TeacherOutputs {
    const conversion = this.conversion;
    const outs = tf.tidy(() => this.runner.run(conversion
      ? tf.add(tf.mul(x, tf.tensor1d(conversion.scale)), tf.tensor1d(conversion.shift))
      : x));
    const nf = this.featureShapes.length;
    const result: TeacherOutputs = {
      features: outs.slice(0, nf) as tf.Tensor4D[],
      pooled: outs[nf] as tf.Tensor2D,
      logits: outs[nf + 1] as tf.Tensor2D,
    };
    if (this.numProjections > 0) {
      return { ...result, projections: outs.slice(nf + 2, nf + 2 + this.numProjections) as tf.Tensor2D[] };
    }
    return result;
  }

  /** The teacher's weights (read-only views: frozen, never updated; BN moving statistics included). */
  get weights(): tf.Tensor[] {
    return this.runner.weights();
  }

  /** Release the teacher's weights. */
  dispose(): void {
    this.runner.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Freezing

/** Make every weight of a LayersModel (nested models included) non-trainable. */
export function freezeLayersModel(model: tf.LayersModel): void {
  const visit = (layer: tf.layers.Layer): void => {
    layer.trainable = false;
    const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(inner)) inner.forEach(visit);
  };
  model.layers.forEach(visit);
  model.trainable = false;
  if (model.trainableWeights.length > 0) {
    throw new TeacherError(`could not freeze the teacher: ${model.trainableWeights.length} weights stay trainable`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// (a) bundles

export function teacherFromStudent(student: Student, source: string, options: LoadTeacherOptions, owned: boolean): Teacher {
  freezeLayersModel(student.trainNet);
  const nf = student.featureShapes.length;
  const K = student.numStages;
  const outs = student.trainNet.outputs;
  const wanted = outs.slice(0, nf + 2).concat(student.hasProjections ? outs.slice(nf + 2, nf + 2 + K) : []);
  resolveInputShape(student.inputShape, options.inputShape, source);
  const net = tf.model({ inputs: student.trainNet.inputs, outputs: wanted, name: `${student.name}_teacher` });
  checkClasses(student.numClasses, source, options);
  return new Teacher({
    kind: 'bundle',
    source,
    inputShape: student.inputShape,
    numClasses: student.numClasses,
    featureShapes: student.featureShapes,
    stageIndices: student.stageIndices,
    featureNames: student.featureShapes.map((_, i) => `feature${i}`),
    pooledDim: student.pooledDim,
    numProjections: student.hasProjections ? K : 0,
    student,
    runner: {
      run: (x) => net.apply(x, { training: false }) as tf.Tensor[],
      weights: () => student.trainNet.weights.map((w) => w.read()),
      dispose: () => (owned ? student.dispose() : undefined),
    },
  });
}

/**
 * The teacher's input [H, W, C]: the model's declared dimensions (null or -1 = unknown), unknown ones taken from
 * `data` (the data's shape, `options.inputShape`). Throws a TeacherError when a declared dimension differs from the
 * data's, or when a dimension is known from neither.
 */
export function resolveInputShape(
  declared: readonly (number | null | undefined)[],
  data: InputShape | undefined,
  source: string,
): InputShape {
  const known = (d: number | null | undefined): d is number => d != null && d > 0;
  const text = (dims: readonly (number | null | undefined)[]): string => dims.map((d) => (known(d) ? d : '?')).join('x');
  if (declared.length !== 3) {
    throw new TeacherError(`teacher ${source} takes inputs of shape [batch, ${text(declared)}] (expected [batch, H, W, C])`);
  }
  if (data !== undefined && declared.some((d, i) => known(d) && d !== data[i])) {
    throw new TeacherError(`teacher ${source} takes ${text(declared)} inputs but the data is ${data.join('x')}; ` +
      `use data of the teacher's shape (or a teacher made for this data)`);
  }
  const shape = declared.map((d, i) => (known(d) ? d : data?.[i]));
  if (!shape.every((d) => d !== undefined && Number.isInteger(d) && d >= 1)) {
    throw new TeacherError(`teacher ${source} declares input ${text(declared)} with unknown dimensions; pass options.inputShape ` +
      `(the data's [H, W, C])`);
  }
  return shape as unknown as InputShape;
}

export function checkClasses(numClasses: number, source: string, options: LoadTeacherOptions): void {
  const expected = options.expectedClasses;
  if (expected != null && expected !== numClasses) {
    throw new TeacherError(`teacher ${source} predicts ${numClasses} classes, but the data/student has ${expected} ` +
      `(expected a teacher trained on the same classes)`);
  }
}
