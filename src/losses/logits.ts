/**
 * Losses on class logits.
 * - crossEntropy: the plain classification loss (optional label smoothing, PyTorch's convention).
 * - softTargetCrossEntropy: CDS-KD's logit term, Zhang et al., "Contrastive Deep Supervision", ECCV 2022.
 * - kdLoss: Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015 (RepDistiller's DistillKL).
 * - dkdLoss: Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022 (mdistiller's dkd_loss).
 *
 * All logits are [B, C]; everything is computed from log-softmax, so logits of 1e4 give finite values and gradients.
 * The teacher's logits never receive a gradient.
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor } from '../runtime/tf.js';
import { asFloat, expectRank, expectSameShape, stopGradient, toLabelTensor } from './util.js';
import type { LabelsLike } from './util.js';

/** A value far below any real logit, used to remove entries from a log-sum-exp (exp underflows to exactly 0). */
const MASKED_LOGIT = -1e30;

export interface CrossEntropyOptions {
  /** Label smoothing epsilon: the target is (1 - eps) one-hot + eps / C uniform (PyTorch's convention). Default 0. */
  labelSmoothing?: number;
}

/** Cross-entropy of logits [B, C] against int32 labels [B], mean over the batch. */
export function crossEntropy(logits: Tensor, labels: LabelsLike, options: CrossEntropyOptions = {}): Scalar {
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`labelSmoothing must be in [0, 1], got ${eps}`);
  expectRank(logits, 2, 'crossEntropy logits');
  return tf.tidy(() => {
    const numClasses = logits.shape[1]!;
    const logProbs = tf.logSoftmax(asFloat(logits));
    const y = toLabelTensor(labels);
    let target: Tensor = tf.cast(tf.oneHot(y, numClasses), 'float32');
    if (eps > 0) target = tf.add(tf.mul(target, 1 - eps), eps / numClasses);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logProbs), 1))) as Scalar;
  });
}

/**
 * -mean_b sum_c softmax(t/T) log_softmax(s/T), T = 3 by default, without the T^2 factor (CDS-KD's logit term).
 */
export function softTargetCrossEntropy(student: Tensor, teacher: Tensor, temperature = 3): Scalar {
  expectRank(student, 2, 'softTargetCrossEntropy student logits');
  expectSameShape(student, teacher, 'softTargetCrossEntropy');
  return tf.tidy(() => {
    const pt = tf.exp(tf.logSoftmax(tf.div(asFloat(stopGradient(teacher)), temperature)));
    const logPs = tf.logSoftmax(tf.div(asFloat(student), temperature));
    return tf.neg(tf.mean(tf.sum(tf.mul(pt, logPs), 1))) as Scalar;
  });
}

export interface KdOptions {
  /** Softmax temperature. Default 4 (the CIFAR-100 benchmark's value). */
  temperature?: number;
}

/** KL(p || q) summed over the last axis from log-probabilities, one value per row. p = exp(logP); 0 log 0 = 0. */
function klRows(logP: Tensor, logQ: Tensor): Tensor {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1);
}

/**
 * T^2 * KL(softmax(t/T) || softmax(s/T)), summed over classes and averaged over the batch (RepDistiller's DistillKL,
 * i.e. `kl_div(..., reduction='sum') * T^2 / B`). The method adds CE and the 0.1 / 0.9 weights.
 */
export function kdLoss(student: Tensor, teacher: Tensor, options: KdOptions = {}): Scalar {
  const temperature = options.temperature ?? 4;
  expectRank(student, 2, 'kdLoss student logits');
  expectSameShape(student, teacher, 'kdLoss');
  return tf.tidy(() => {
    const logPt = tf.logSoftmax(tf.div(asFloat(stopGradient(teacher)), temperature));
    const logPs = tf.logSoftmax(tf.div(asFloat(student), temperature));
    return tf.mul(tf.mean(klRows(logPt, logPs)), temperature * temperature) as Scalar;
  });
}

export interface DkdOptions {
  /** Weight of the target-class term TCKD. Default 1. */
  alpha?: number;
  /** Weight of the non-target-class term NCKD. Default 8. */
  beta?: number;
  /** Softmax temperature. Default 4. */
  temperature?: number;
}

/**
 * Decoupled KD: alpha * TCKD + beta * NCKD (no CE, no warm-up factor: the method multiplies by min(epoch / 20, 1)).
 *
 * TCKD = T^2 KL([p_t, 1 - p_t]^teacher || [p_t, 1 - p_t]^student), p_t the softened probability of the target class;
 * NCKD = T^2 KL over the non-target classes of the two renormalised softened distributions; both batch means.
 * mdistiller removes the target class by subtracting 1000 from its logit and takes log(1 - p_t) as log of a sum of
 * probabilities; here the target is removed exactly and log(1 - p_t) = logsumexp over the other classes - logsumexp over
 * all, so the values equal mdistiller's (up to e^-1000) while logits of 1e4 stay finite.
 */
export function dkdLoss(student: Tensor, teacher: Tensor, labels: LabelsLike, options: DkdOptions = {}): Scalar {
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 8;
  const temperature = options.temperature ?? 4;
  expectRank(student, 2, 'dkdLoss student logits');
  expectSameShape(student, teacher, 'dkdLoss');
  if (student.shape[1]! < 2) throw new Error('dkdLoss needs at least 2 classes');
  return tf.tidy(() => {
    const numClasses = student.shape[1]!;
    const gt = tf.cast(tf.oneHot(toLabelTensor(labels), numClasses), 'float32');
    const other = tf.sub(1, gt);
    const parts = (logits: Tensor) => {
      const z = tf.div(logits, temperature);
      const lseAll = tf.logSumExp(z, 1, true);
      const zOther = tf.add(z, tf.mul(gt, MASKED_LOGIT));
      const lseOther = tf.logSumExp(zOther, 1, true);
      const logTarget = tf.sub(tf.sum(tf.mul(z, gt), 1, true), lseAll);
      const logNonTarget = tf.sub(lseOther, lseAll);
      const binary = tf.concat([logTarget, logNonTarget], 1); // [B, 2] log [p_t, 1 - p_t]
      const nonTarget = tf.sub(zOther, lseOther); // [B, C] log-probabilities over the other classes
      return { binary, nonTarget };
    };
    const s = parts(asFloat(student));
    const t = parts(asFloat(stopGradient(teacher)));
    const t2 = temperature * temperature;
    const tckd = tf.mul(tf.mean(klRows(t.binary, s.binary)), t2);
    // Mask the target entry explicitly: there both log-probabilities are ~-1e30 and the teacher's weight is 0.
    const nckdRows = tf.sum(tf.mul(other, tf.mul(tf.exp(t.nonTarget), tf.sub(t.nonTarget, s.nonTarget))), 1);
    const nckd = tf.mul(tf.mean(nckdRows), t2);
    return tf.add(tf.mul(tckd, alpha), tf.mul(nckd, beta)) as Scalar;
  });
}
