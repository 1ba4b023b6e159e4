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

type Shape3 = readonly [number, number, number];

/** A teacher that cannot be used as asked (bad path, unknown stage name, wrong class count, ...). */
export class TeacherError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TeacherError';
  }
}

export interface LoadTeacherOptions {
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
  /** Input [H, W, C] when the model does not declare it (GraphModels with unknown placeholder shapes). */
  readonly inputShape?: InputShape;
}

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

  /** Run the teacher in inference mode. The caller owns the returned tensors; nothing else is left behind. */
  forward(x: tf.Tensor4D): TeacherOutputs {
    const outs = tf.tidy(() => this.runner.run(x));
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

export function checkClasses(numClasses: number, source: string, options: LoadTeacherOptions): void {
  const expected = options.expectedClasses;
  if (expected != null && expected !== numClasses) {
    throw new TeacherError(`teacher ${source} predicts ${numClasses} classes, but the data/student has ${expected} ` +
      `(expected a teacher trained on the same classes)`);
  }
}
