/**
 * Relational losses on pooled features [B, D] (student and teacher widths may differ).
 * - rkdLoss: Park et al., "Relational Knowledge Distillation", CVPR 2019 (RepDistiller's RKDLoss).
 * - pktLoss: Passalis & Tefas, "Learning Deep Representations with Probabilistic Knowledge Transfer", ECCV 2018
 *   (RepDistiller's PKT, the authors' cosine_similarity_loss).
 * Inputs of higher rank are flattened to [B, -1]. The teacher side carries no gradient.
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor } from '../runtime/tf.js';
import { asFloat, l2Normalize, safeNorm, smoothL1, stopGradient } from './util.js';

export interface RkdOptions {
  /** Weight of the distance term. Default 25. */
  distanceWeight?: number;
  /** Weight of the angle term. Default 50. */
  angleWeight?: number;
}

/** Pairwise Euclidean distances [B, B]: squared distances clamped at 1e-12 before the root, zero diagonal. */
function pairwiseDistances(e: Tensor): Tensor {
  const b = e.shape[0]!;
  const sq = tf.sum(tf.square(e), 1);
  const prod = tf.matMul(e, e, false, true);
  const d2 = tf.sub(tf.add(tf.expandDims(sq, 1), tf.expandDims(sq, 0)), tf.mul(prod, 2));
  return tf.mul(tf.sqrt(tf.maximum(d2, 1e-12)), tf.sub(1, tf.eye(b)));
}

/** Distances divided by their mean over the B(B-1) off-diagonal entries. */
function normalisedDistances(e: Tensor): Tensor {
  const b = e.shape[0]!;
  const d = pairwiseDistances(e);
  return tf.div(d, tf.div(tf.sum(d), b * (b - 1)));
}

/** angles[i, j, k] = <unit(e_j - e_i), unit(e_k - e_i)>, [B, B, B]; zero where a difference vector is zero. */
function angles(e: Tensor): Tensor {
  const diff = tf.sub(tf.expandDims(e, 0), tf.expandDims(e, 1)); // [i, j] = e_j - e_i
  const unit = l2Normalize(diff, 2);
  return tf.matMul(unit, unit, false, true);
}

/**
 * RKD: distanceWeight * smoothL1(d_s, d_t) + angleWeight * smoothL1(a_s, a_t), where d are pairwise distances divided
 * by their mean over the off-diagonal and a the cosines between normalised difference vectors; each smooth-L1 is the
 * mean over all B^2 (resp. B^3) entries, diagonals included, as RepDistiller's `F.smooth_l1_loss` on the full
 * matrices. RepDistiller averages over `d > 0`, which is the off-diagonal because of the 1e-12 clamp. Needs B >= 2.
 */
export function rkdLoss(student: Tensor, teacher: Tensor, options: RkdOptions = {}): Scalar {
  const distanceWeight = options.distanceWeight ?? 25;
  const angleWeight = options.angleWeight ?? 50;
  const b = student.shape[0]!;
  if (teacher.shape[0] !== b) throw new Error('rkdLoss: batch sizes differ');
  if (b < 2) throw new Error('rkdLoss needs a batch of at least 2');
  return tf.tidy(() => {
    const s = tf.reshape(asFloat(student), [b, -1]);
    const t = tf.reshape(asFloat(stopGradient(teacher)), [b, -1]);
    let loss: Tensor = tf.scalar(0);
    if (distanceWeight !== 0) {
      const lossD = tf.mean(smoothL1(tf.sub(normalisedDistances(s), normalisedDistances(t))));
      loss = tf.add(loss, tf.mul(lossD, distanceWeight));
    }
    if (angleWeight !== 0) {
      const lossA = tf.mean(smoothL1(tf.sub(angles(s), angles(t))));
      loss = tf.add(loss, tf.mul(lossA, angleWeight));
    }
    return loss as Scalar;
  });
}

export interface PktOptions {
  /** Added to the norms and to both probabilities inside the log. Default 1e-7. */
  eps?: number;
}

/** Rows of [B, D] normalised by (norm + eps), cosine matrix rescaled to (s + 1) / 2, rows normalised to sum 1. */
function pktProbabilities(f: Tensor, eps: number): Tensor {
  const unit = tf.div(f, tf.add(safeNorm(f, 1), eps));
  const sim = tf.div(tf.add(tf.matMul(unit, unit, false, true), 1), 2);
  return tf.div(sim, tf.sum(sim, 1, true));
}

/** PKT: mean over the B^2 entries of P_t log((P_t + eps) / (P_s + eps)). */
export function pktLoss(student: Tensor, teacher: Tensor, options: PktOptions = {}): Scalar {
  const eps = options.eps ?? 1e-7;
  const b = student.shape[0]!;
  if (teacher.shape[0] !== b) throw new Error('pktLoss: batch sizes differ');
  return tf.tidy(() => {
    const ps = pktProbabilities(tf.reshape(asFloat(student), [b, -1]), eps);
    const pt = pktProbabilities(tf.reshape(asFloat(stopGradient(teacher)), [b, -1]), eps);
    return tf.mean(tf.mul(pt, tf.sub(tf.log(tf.add(pt, eps)), tf.log(tf.add(ps, eps))))) as Scalar;
  });
}
