/**
 * CDS projection heads and deep-supervision classifiers (the CDS reference implementation's SepConv heads).
 *
 * Stage i < K gets one separable-conv block per remaining downsampling to the last stage's resolution:
 *   [ZeroPadding 1] depthwise 3x3 stride 2 -> pointwise 1x1 (keeps the width) -> BN -> ReLU
 *   -> depthwise 3x3 stride 1 -> pointwise 1x1 (to the next stage's width) -> BN -> ReLU,   all bias-free,
 * then global average pooling. The last stage's head is global average pooling alone. Projections are L2-normalised.
 *
 * Choices where the paper is silent (documented, tested):
 * - "the next stage's width" of a block = the width of the first later stage whose resolution the block's output has
 *   reached (for ResNets: the next stage). A stride-2 step halves with ceil (PyTorch padding 1), so 28 -> 14 -> 7 -> 4.
 * - a stage i < K already at the last stage's resolution (e.g. VGG's two 4x4 stages) gets one block whose first
 *   depthwise has stride 1, mapping to the next stage's width: every stage before the last keeps a learned head.
 * - with both projections and classifiers, the classifier of stage i reads the same pooled head output as the
 *   projection (before normalisation), as in the CDS reference's deep-supervision code.
 * - init as the zoo: convs He normal (fan-out), BN gamma 1 / beta 0 / momentum 0.9 / epsilon 1e-5, dense
 *   uniform(+-1/sqrt(fan_in)) with zero bias; every initializer seeded from the given Random.
 */
import { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import { L2Normalize } from './l2-normalize.js';
import { kaimingNormalFanOut } from '../models/init.js';

type ST = tf.SymbolicTensor;
type Shape3 = readonly [number, number, number];

/** One separable-conv block of a head. */
export interface HeadBlock {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Stride of the first depthwise conv: 2 (one downsampling) or 1 (stage already at the last resolution). */
  readonly stride: 1 | 2;
  /** Spatial size after the block. */
  readonly outSize: readonly [number, number];
}

/** The head of one stage: its blocks (empty for the last stage) and the width of its pooled output. */
export interface HeadPlan {
  /** Position among the stages (0 .. K-1). */
  readonly stage: number;
  /** Index into the tapped model's features. */
  readonly featureIndex: number;
  readonly blocks: readonly HeadBlock[];
  readonly outDim: number;
}

/** Plan the heads for the stages `stageIndices` of a model with feature shapes [H, W, C]. */
export function planHeads(featureShapes: readonly Shape3[], stageIndices: readonly number[]): HeadPlan[] {
  if (stageIndices.length === 0) throw new Error('planHeads: the model has no stages (stageIndices is empty)');
  const shapes = stageIndices.map((j) => {
    const s = featureShapes[j];
    if (s == null) throw new Error(`planHeads: stage index ${j} is outside the ${featureShapes.length} features`);
    return s;
  });
  const K = shapes.length;
  const [lastH, lastW, lastC] = shapes[K - 1]!;
  return shapes.map(([h0, w0, c0], p) => {
    const blocks: HeadBlock[] = [];
    if (p < K - 1) {
      let [h, w, c] = [h0, w0, c0];
      while (h > lastH || w > lastW) {
        const nh = h > lastH ? Math.ceil(h / 2) : h;
        const nw = w > lastW ? Math.ceil(w / 2) : w;
        let target = lastC;
        for (let q = p + 1; q < K; q++) {
          const [qh, qw, qc] = shapes[q]!;
          if (qh <= nh && qw <= nw) {
            target = qc;
            break;
          }
        }
        blocks.push({ inChannels: c, outChannels: target, stride: 2, outSize: [nh, nw] });
        [h, w, c] = [nh, nw, target];
      }
      if (blocks.length === 0) {
        blocks.push({ inChannels: c0, outChannels: shapes[p + 1]![2], stride: 1, outSize: [h0, w0] });
      }
    }
    const outDim = blocks.length > 0 ? blocks[blocks.length - 1]!.outChannels : c0;
    return { stage: p, featureIndex: stageIndices[p]!, blocks, outDim };
  });
}

function apply(layer: tf.layers.Layer, x: ST): ST {
  return layer.apply(x) as ST;
}

/** He normal, fan-out (models/init.ts); fanOut = kernel height x width x output channels (x depth multiplier). */
function convInit(fanOut: number, rng: Random): ReturnType<typeof kaimingNormalFanOut> {
  return kaimingNormalFanOut(fanOut, rng.opSeed());
}

function depthwise(x: ST, name: string, stride: 1 | 2, rng: Random): ST {
  const input = stride === 2 ? apply(tf.layers.zeroPadding2d({ padding: 1, name: `${name}_pad` }), x) : x;
  return apply(
    tf.layers.depthwiseConv2d({
      name,
      kernelSize: 3,
      strides: stride,
      padding: stride === 2 ? 'valid' : 'same',
      depthMultiplier: 1,
      useBias: false,
      depthwiseInitializer: convInit(3 * 3, rng),
    }),
    input,
  );
}

function pointwise(x: ST, name: string, filters: number, rng: Random): ST {
  return apply(
    tf.layers.conv2d({ name, filters, kernelSize: 1, padding: 'valid', useBias: false, kernelInitializer: convInit(filters, rng) }),
    x,
  );
}

function bnRelu(x: ST, name: string): ST {
  const y = apply(tf.layers.batchNormalization({ name: `${name}_bn`, axis: -1, momentum: 0.9, epsilon: 1e-5 }), x);
  return apply(tf.layers.activation({ name: `${name}_relu`, activation: 'relu' }), y);
}

/** Prefix of every head layer's name; backbone layers must not start with it. */
export const HEAD_PREFIX = 'cds_';

/** Apply the blocks + global average pooling of one head to a stage's symbolic feature: the pooled head output. */
export function buildHeadTrunk(feature: ST, plan: HeadPlan, rng: Random): ST {
  let x = feature;
  plan.blocks.forEach((b, j) => {
    const n = `${HEAD_PREFIX}head${plan.stage}_b${j}`;
    x = depthwise(x, `${n}_dw1`, b.stride, rng);
    x = pointwise(x, `${n}_pw1`, b.inChannels, rng);
    x = bnRelu(x, `${n}_1`);
    x = depthwise(x, `${n}_dw2`, 1, rng);
    x = pointwise(x, `${n}_pw2`, b.outChannels, rng);
    x = bnRelu(x, `${n}_2`);
  });
  return apply(tf.layers.globalAveragePooling2d({ name: `${HEAD_PREFIX}head${plan.stage}_pool` }), x);
}

/** L2-normalise a pooled head output: the stage's projection. */
export function buildProjection(pooled: ST, stage: number): ST {
  return apply(new L2Normalize({ name: `${HEAD_PREFIX}proj${stage}_l2` }), pooled);
}

/** The auxiliary classifier of a stage: dense to numClasses. */
export function buildAuxClassifier(pooled: ST, stage: number, numClasses: number, rng: Random): ST {
  return apply(
    tf.layers.dense({
      name: `${HEAD_PREFIX}aux${stage}_fc`,
      units: numClasses,
      kernelInitializer: tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: rng.opSeed() }),
      biasInitializer: 'zeros',
    }),
    pooled,
  );
}
