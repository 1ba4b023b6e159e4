/**
 * A student wrapped for training: the tapped backbone plus its CDS projection heads and/or deep-supervision
 * classifiers, all in one LayersModel (`trainNet`) so one `apply(x, {training: true})` runs everything.
 *
 * trainNet output order (see `outputOrder`):
 *   feature0 .. feature{F-1}      the backbone's feature taps (stem first, NHWC), as `tapped.net` returns them
 *   pooled                        [B, pooledDim]
 *   logits                        [B, numClasses]
 *   projection0 .. projection{K-1} one per stage (stageIndices order, the last = GAP of the final stage), L2-normalised
 *                                  (heads 'projection' | 'both')
 *   auxLogits0 .. auxLogits{K-2}  one classifier per stage before the last (heads 'classifier' | 'both')
 */
import { tf } from '../runtime/tf.js';
import { Random, getRandom } from '../runtime/random.js';
import type { InputShape, TappedModel } from '../models/types.js';
import { HEAD_PREFIX, buildAuxClassifier, buildHeadTrunk, buildProjection, planHeads, type HeadPlan } from './heads.js';
import type { StudentInputSpec } from './normalization.js';

type ST = tf.SymbolicTensor;
type Shape3 = readonly [number, number, number];

export type HeadKind = 'projection' | 'classifier' | 'both' | 'none';
export const HEAD_KINDS: readonly HeadKind[] = ['projection', 'classifier', 'both', 'none'];

export interface WrapStudentOptions {
  /** Which heads to add: CDS projections, DS classifiers, both, or none. Default 'projection'. */
  readonly heads?: HeadKind;
  /** Seed of the head initializers; default: drawn from the toolkit's global random source. */
  readonly seed?: number;
}

/** The named outputs of one forward pass (a TensorContainer: can be returned from tf.tidy). The caller owns every tensor. */
export type StudentOutputs = {
  readonly features: tf.Tensor4D[];
  readonly pooled: tf.Tensor2D;
  readonly logits: tf.Tensor2D;
  /** One per stage (incl. the last), L2-normalised; present when the student has projection heads. */
  readonly projections?: tf.Tensor2D[];
  /** One per stage before the last; present when the student has auxiliary classifiers. */
  readonly auxLogits?: tf.Tensor2D[];
};

/** Trainable parameter counts (BN moving statistics excluded). */
export interface ParamCounts {
  readonly backbone: number;
  readonly heads: number;
  readonly total: number;
}

export function hasProjectionHeads(kind: HeadKind): boolean {
  return kind === 'projection' || kind === 'both';
}

export function hasAuxClassifiers(kind: HeadKind): boolean {
  return kind === 'classifier' || kind === 'both';
}

/** The names of trainNet's outputs, in order. */
export function outputOrder(numFeatures: number, numStages: number, heads: HeadKind): string[] {
  const names = Array.from({ length: numFeatures }, (_, i) => `feature${i}`);
  names.push('pooled', 'logits');
  if (hasProjectionHeads(heads)) for (let i = 0; i < numStages; i++) names.push(`projection${i}`);
  if (hasAuxClassifiers(heads)) for (let i = 0; i < numStages - 1; i++) names.push(`auxLogits${i}`);
  return names;
}

/** Number of trainable parameters in a list of weights. */
export function countWeights(weights: readonly tf.LayerVariable[]): number {
  return weights.reduce((s, w) => s + w.shape.reduce((a: number, d) => a * (d ?? 1), 1), 0);
}

/** Number of trainable parameters of a model (PyTorch's count: BN gamma/beta yes, moving statistics no). */
export function countTrainableParams(model: tf.LayersModel): number {
  return countWeights(model.trainableWeights);
}

/** Everything needed to describe a student besides its trainNet (what bundle.json stores). */
export interface StudentInfo {
  readonly name: string;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  readonly featureShapes: readonly Shape3[];
  readonly stageIndices: readonly number[];
  readonly pooledDim: number;
  readonly heads: HeadKind;
}

export class Student implements StudentInfo {
  readonly name: string;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  readonly featureShapes: readonly Shape3[];
  readonly stageIndices: readonly number[];
  readonly pooledDim: number;
  readonly heads: HeadKind;
  /** The model with heads: outputs in `outputOrder`. */
  readonly trainNet: tf.LayersModel;
  /** The bare backbone as a TappedModel (its net shares layers and weights with trainNet). */
  readonly backbone: TappedModel;
  readonly outputOrder: readonly string[];
  /** Layers of trainNet that belong to the heads (not to the backbone). */
  readonly headLayers: readonly tf.layers.Layer[];
  /** Free-form metadata (what a bundle was saved with; {} for a fresh student). */
  readonly meta: Readonly<Record<string, unknown>>;
  /**
   * The normalisation its inputs get ((x / 255 - mean) / std of raw pixels x) and its class names, once known (set by
   * training, or read from a bundle). In memory the student always takes standardized inputs; saved files
   * (`exportStudent`, `saveStudentBundle`) take raw pixels and carry this normalisation as their first layer.
   */
  inputSpec: StudentInputSpec | undefined;

  constructor(
    info: StudentInfo,
    trainNet: tf.LayersModel,
    backboneNet: tf.LayersModel,
    meta: Record<string, unknown> = {},
    inputSpec?: StudentInputSpec,
  ) {
    this.inputSpec = inputSpec;
    this.name = info.name;
    this.inputShape = info.inputShape;
    this.numClasses = info.numClasses;
    this.featureShapes = info.featureShapes;
    this.stageIndices = info.stageIndices;
    this.pooledDim = info.pooledDim;
    this.heads = info.heads;
    this.trainNet = trainNet;
    this.meta = meta;
    this.outputOrder = outputOrder(info.featureShapes.length, info.stageIndices.length, info.heads);
    if (trainNet.outputs.length !== this.outputOrder.length) {
      throw new Error(`student ${info.name}: trainNet has ${trainNet.outputs.length} outputs, expected ` +
        `${this.outputOrder.length} (${this.outputOrder.join(', ')})`);
    }
    this.backbone = {
      name: info.name,
      net: backboneNet,
      inputShape: info.inputShape,
      numClasses: info.numClasses,
      featureShapes: info.featureShapes,
      stageIndices: info.stageIndices,
      pooledDim: info.pooledDim,
    };
    const inBackbone = new Set(backboneNet.layers);
    this.headLayers = trainNet.layers.filter((l) => !inBackbone.has(l));
  }

  /**
   * Record the normalisation the student is trained with (one mean and one std > 0 per input channel, [0, 1] scale) and
   * the class names of its logits; saved files then take raw pixels. Throws on a wrong count or a non-positive std.
   */
  setInputSpec(spec: StudentInputSpec): void {
    const c = this.inputShape[2];
    if (spec.mean.length !== c || spec.std.length !== c || !spec.std.every((s) => Number.isFinite(s) && s > 0) ||
      !spec.mean.every(Number.isFinite)) {
      throw new Error(`student ${this.name}: input normalisation needs ${c} finite means and ${c} positive stds, ` +
        `got [${spec.mean.join(', ')}] / [${spec.std.join(', ')}]`);
    }
    if (spec.classNames && spec.classNames.length !== this.numClasses) {
      throw new Error(`student ${this.name}: ${spec.classNames.length} class names for ${this.numClasses} classes`);
    }
    this.inputSpec = { mean: [...spec.mean], std: [...spec.std], ...(spec.classNames ? { classNames: [...spec.classNames] } : {}) };
  }

  get numStages(): number {
    return this.stageIndices.length;
  }

  get hasProjections(): boolean {
    return hasProjectionHeads(this.heads);
  }

  get hasAuxClassifiers(): boolean {
    return hasAuxClassifiers(this.heads);
  }

  /** Trainable weights of the heads (projection blocks, their BN gamma/beta, auxiliary classifiers). */
  get headWeights(): tf.LayerVariable[] {
    return this.headLayers.flatMap((l) => l.trainableWeights);
  }

  /** Trainable weights of the backbone (incl. its classifier). */
  get backboneWeights(): tf.LayerVariable[] {
    return this.backbone.net.trainableWeights;
  }

  /** Trainable weights of everything (backbone + heads). */
  get trainableWeights(): tf.LayerVariable[] {
    return this.trainNet.trainableWeights;
  }

  countParams(): ParamCounts {
    const backbone = countWeights(this.backboneWeights);
    const heads = countWeights(this.headWeights);
    return { backbone, heads, total: backbone + heads };
  }

  /**
   * Run trainNet once. training = true: BN uses batch statistics and updates its moving averages (heads included);
   * false: inference mode. The caller owns the returned tensors (call inside tf.tidy / variableGrads as usual).
   */
  forward(x: tf.Tensor4D, training = false): StudentOutputs {
    const raw = this.trainNet.apply(x, { training }) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(raw) ? raw : [raw];
    const nf = this.featureShapes.length;
    const K = this.numStages;
    let i = nf + 2;
    const result: {
      features: tf.Tensor4D[];
      pooled: tf.Tensor2D;
      logits: tf.Tensor2D;
      projections?: tf.Tensor2D[];
      auxLogits?: tf.Tensor2D[];
    } = {
      features: outs.slice(0, nf) as tf.Tensor4D[],
      pooled: outs[nf] as tf.Tensor2D,
      logits: outs[nf + 1] as tf.Tensor2D,
    };
    if (this.hasProjections) {
      result.projections = outs.slice(i, i + K) as tf.Tensor2D[];
      i += K;
    }
    if (this.hasAuxClassifiers) result.auxLogits = outs.slice(i, i + K - 1) as tf.Tensor2D[];
    return result;
  }

  /** The bare model: input -> logits, no heads, no auxiliary classifiers, no feature outputs (shares weights). */
  inferenceModel(): tf.LayersModel {
    const nf = this.featureShapes.length;
    return tf.model({ inputs: this.trainNet.inputs, outputs: this.trainNet.outputs[nf + 1]!, name: this.name });
  }

  /** Dispose every weight (backbone and heads). */
  dispose(): void {
    this.trainNet.dispose();
  }
}

function checkTapped(tapped: TappedModel): void {
  const nf = tapped.featureShapes.length;
  const outs = tapped.net.outputs;
  if (outs.length !== nf + 2) {
    throw new Error(`wrapStudent: ${tapped.name}.net has ${outs.length} outputs, expected ${nf + 2} ` +
      `(${nf} features, pooled, logits)`);
  }
  tapped.featureShapes.forEach((s, i) => {
    const [, h, w, c] = outs[i]!.shape;
    if (h !== s[0] || w !== s[1] || c !== s[2]) {
      throw new Error(`wrapStudent: ${tapped.name} feature ${i} has shape ${JSON.stringify([h, w, c])}, ` +
        `featureShapes says ${JSON.stringify(s)}`);
    }
  });
  for (const l of tapped.net.layers) {
    if (l.name.startsWith(HEAD_PREFIX)) {
      throw new Error(`wrapStudent: ${tapped.name} already has a layer named "${l.name}" (the prefix "${HEAD_PREFIX}" ` +
        `is reserved for heads); wrap the bare backbone (student.backbone) instead`);
    }
  }
}

/** The head plans of a student (what blocks each stage's head has). */
export function studentHeadPlans(s: { featureShapes: readonly Shape3[]; stageIndices: readonly number[] }): HeadPlan[] {
  return planHeads(s.featureShapes, s.stageIndices);
}

/**
 * Wrap a tapped model for training: add CDS projection heads and/or auxiliary classifiers (as in the CDS paper) on its
 * symbolic outputs and build one training model. The backbone's layers (and weights) are shared, not copied.
 */
export function wrapStudent(tapped: TappedModel, options: WrapStudentOptions = {}): Student {
  const heads = options.heads ?? 'projection';
  if (!HEAD_KINDS.includes(heads)) {
    throw new Error(`wrapStudent: heads must be one of ${HEAD_KINDS.join(', ')}, got ${JSON.stringify(heads)}`);
  }
  checkTapped(tapped);
  const rng = options.seed != null ? new Random(options.seed) : getRandom();
  const base = tapped.net.outputs as ST[];
  const outputs: ST[] = [...base];
  if (heads !== 'none') {
    const plans = planHeads(tapped.featureShapes, tapped.stageIndices);
    const K = plans.length;
    // The last stage's trunk is pooling alone and only feeds its projection.
    const needed = hasProjectionHeads(heads) ? plans : plans.slice(0, K - 1);
    const pooledHeads = needed.map((plan) => buildHeadTrunk(base[plan.featureIndex]!, plan, rng));
    if (hasProjectionHeads(heads)) outputs.push(...pooledHeads.map((p, i) => buildProjection(p, i)));
    if (hasAuxClassifiers(heads)) {
      for (let i = 0; i < K - 1; i++) outputs.push(buildAuxClassifier(pooledHeads[i]!, i, tapped.numClasses, rng));
    }
  }
  const trainNet = tf.model({ inputs: tapped.net.inputs, outputs, name: `${tapped.name}_train` });
  return new Student(
    {
      name: tapped.name,
      inputShape: tapped.inputShape,
      numClasses: tapped.numClasses,
      featureShapes: tapped.featureShapes,
      stageIndices: tapped.stageIndices,
      pooledDim: tapped.pooledDim,
      heads,
    },
    trainNet,
    tapped.net,
  );
}
