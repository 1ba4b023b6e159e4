import type { tf } from '../runtime/tf.js';

/** Input shape as [height, width, channels] (NHWC without the batch). */
export type InputShape = readonly [number, number, number];

export interface BuildOptions {
  /** Default [32, 32, 3]. */
  readonly inputShape?: InputShape;
  /** Default 100. */
  readonly numClasses?: number;
  /** Seed for weight init; default: drawn from the toolkit's global random source. */
  readonly seed?: number;
}

/**
 * A network whose intermediate outputs are tapped. `net` is one LayersModel with outputs
 * [...features, pooled, logits]: the feature list of the CIFAR benchmark codebases (stem first, NHWC),
 * the pooled feature before the classifier [B, D], and the logits [B, classes].
 */
export interface TappedModel {
  readonly name: string;
  readonly net: tf.LayersModel;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  /** Shapes [H, W, C] of each feature output, in order. */
  readonly featureShapes: readonly (readonly [number, number, number])[];
  /**
   * Indices into the features of the stages (groups of blocks at one resolution) that deep supervision and CDS put
   * heads on: every feature except the stem. The last one is the final stage (pooling-only head).
   */
  readonly stageIndices: readonly number[];
  /** Width of the pooled feature. */
  readonly pooledDim: number;
}
