/**
 * Losses on intermediate features.
 * - featureL2: CDS-KD's projection alignment, Zhang et al., "Contrastive Deep Supervision", ECCV 2022.
 * - fitnetLoss: Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.
 * - attentionTransferLoss: Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017.
 * - similarityPreservingLoss: Tung & Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019.
 * Forms follow RepDistiller's distiller_zoo (FitNet, Attention, Similarity). Feature maps are NHWC (RepDistiller's are
 * NCHW: the channel mean and the flatten order of the spatial positions are the same). The teacher side carries no
 * gradient.
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor, Tensor4D } from '../runtime/tf.js';
import { NORM_EPS_SQ, asFloat, expectRank, expectSameShape, l2Normalize, stopGradient } from './util.js';

/**
 * ||student - teacher||_2 over the whole tensor (the Frobenius norm of the difference matrix, not a mean).
 * Computed as sqrt(max(sum d^2, 1e-24)): identical inputs give 1e-12 instead of 0 and a zero (not NaN) gradient.
 */
export function featureL2(student: Tensor, teacher: Tensor): Scalar {
  expectSameShape(student, teacher, 'featureL2');
  return tf.tidy(() => {
    const diff = tf.sub(asFloat(student), asFloat(stopGradient(teacher)));
    return tf.sqrt(tf.maximum(tf.sum(tf.square(diff)), NORM_EPS_SQ)) as Scalar;
  });
}

/** FitNet hint loss: mean squared error between the regressed student feature and the teacher feature (same shape). */
export function fitnetLoss(regressed: Tensor, teacherFeature: Tensor): Scalar {
  expectSameShape(regressed, teacherFeature, 'fitnetLoss');
  return tf.tidy(
    () => tf.mean(tf.square(tf.sub(asFloat(regressed), asFloat(stopGradient(teacherFeature))))) as Scalar,
  );
}

export interface AttentionTransferOptions {
  /** Exponent of the attention map (mean over channels of |F|^p). Default 2. */
  p?: number;
}

/** [start, end) input rows of adaptive-average-pool output i (PyTorch's floor / ceil rule). */
function adaptiveRange(i: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)];
}

/**
 * PyTorch's `adaptive_avg_pool2d` on NHWC. An exact divisor uses avgPool (kernel = stride = ratio); otherwise the
 * pooling is applied as one matrix product over the flattened spatial positions.
 */
export function adaptiveAvgPool(x: Tensor4D, outH: number, outW: number): Tensor4D {
  const [b, h, w, c] = x.shape;
  if (h === outH && w === outW) return x;
  if (h % outH === 0 && w % outW === 0) {
    return tf.avgPool(x, [h / outH, w / outW], [h / outH, w / outW], 'valid');
  }
  return tf.tidy(() => {
    const pool = new Float32Array(outH * outW * h * w);
    for (let i = 0; i < outH; i++) {
      const [h0, h1] = adaptiveRange(i, h, outH);
      for (let j = 0; j < outW; j++) {
        const [w0, w1] = adaptiveRange(j, w, outW);
        const weight = 1 / ((h1 - h0) * (w1 - w0));
        for (let y = h0; y < h1; y++) for (let xx = w0; xx < w1; xx++) pool[(i * outW + j) * h * w + y * w + xx] = weight;
      }
    }
    const cols = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [h * w, b * c]);
    const pooled = tf.matMul(tf.tensor2d(pool, [outH * outW, h * w]), cols);
    return tf.transpose(tf.reshape(pooled, [outH, outW, b, c]), [2, 0, 1, 3]) as Tensor4D;
  });
}

/** at(F) = L2-normalise(flatten(mean over channels of |F|^p)), [B, H*W]. */
function attentionMap(f: Tensor4D, p: number): Tensor {
  const powered = p === 2 ? tf.square(f) : tf.pow(tf.abs(f), p);
  const [b] = f.shape;
  return l2Normalize(tf.reshape(tf.mean(powered, 3), [b, -1]), 1);
}

/**
 * Attention transfer on one pair of NHWC maps (same batch; channels may differ): mean((at_s - at_t)^2), the larger map
 * adaptive-average-pooled to the smaller one's size first (RepDistiller compares heights and pools the taller map to
 * the other's size). Sum over stages in the method.
 */
export function attentionTransferLoss(
  studentMap: Tensor,
  teacherMap: Tensor,
  options: AttentionTransferOptions = {},
): Scalar {
  const p = options.p ?? 2;
  expectRank(studentMap, 4, 'attentionTransferLoss student map (NHWC)');
  expectRank(teacherMap, 4, 'attentionTransferLoss teacher map (NHWC)');
  if (studentMap.shape[0] !== teacherMap.shape[0]) throw new Error('attentionTransferLoss: batch sizes differ');
  return tf.tidy(() => {
    let fs = asFloat(studentMap) as Tensor4D;
    let ft = asFloat(stopGradient(teacherMap)) as Tensor4D;
    const [, sH] = fs.shape;
    const [, tH, tW] = ft.shape;
    if (sH > tH) fs = adaptiveAvgPool(fs, tH, tW);
    else if (sH < tH) ft = adaptiveAvgPool(ft, sH, fs.shape[2]);
    if (fs.shape[2] !== ft.shape[2]) throw new Error('attentionTransferLoss: maps have the same height but widths differ');
    return tf.mean(tf.square(tf.sub(attentionMap(fs, p), attentionMap(ft, p)))) as Scalar;
  });
}

/**
 * Similarity-preserving loss: G = row-L2-normalised (F F^T) of each map flattened to [B, -1] (any rank, same batch),
 * sum((G_t - G_s)^2) / B^2.
 */
export function similarityPreservingLoss(studentMap: Tensor, teacherMap: Tensor): Scalar {
  const b = studentMap.shape[0]!;
  if (teacherMap.shape[0] !== b) throw new Error('similarityPreservingLoss: batch sizes differ');
  return tf.tidy(() => {
    const gram = (f: Tensor) => {
      const flat = tf.reshape(asFloat(f), [b, -1]);
      return l2Normalize(tf.matMul(flat, flat, false, true), 1);
    };
    const diff = tf.sub(gram(stopGradient(teacherMap)), gram(studentMap));
    return tf.div(tf.sum(tf.square(diff)), b * b) as Scalar;
  });
}
