/**
 * Deep supervision: Lee et al., "Deeply-Supervised Nets", AISTATS 2015; the DS-KL variant (the final classifier
 * teaches the auxiliary ones) follows Zhang et al., "Be Your Own Teacher: Improve the Performance of Convolutional
 * Neural Networks via Self Distillation", ICCV 2019, as the DS / DS-KL baselines of "Contrastive Deep Supervision"
 * (ECCV 2022).
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor } from '../runtime/tf.js';
import { crossEntropy, kdLoss } from './logits.js';
import type { LabelsLike } from './util.js';

export interface DeepSupervisionOptions {
  /** Temperature of the KL term. Default 3 (Be Your Own Teacher's value; the KL is scaled by T^2 as in kdLoss). */
  temperature?: number;
  /** Weight of the KL term; 0 or absent = plain deep supervision (DS). Default 0. */
  klWeight?: number;
}

/**
 * sum_i CE(auxLogits[i], labels) + klWeight * sum_i T^2 KL(softmax(final/T) || softmax(aux_i/T)) (batch means).
 * The final classifier's own CE is not included (the method adds it). The final logits act as a teacher: no gradient
 * flows into them through the KL term, only into the auxiliary classifiers.
 */
export function deepSupervisionLoss(
  auxLogits: readonly Tensor[],
  finalLogits: Tensor,
  labels: LabelsLike,
  options: DeepSupervisionOptions = {},
): Scalar {
  const temperature = options.temperature ?? 3;
  const klWeight = options.klWeight ?? 0;
  return tf.tidy(() => {
    let total: Tensor = tf.scalar(0);
    for (const aux of auxLogits) {
      total = tf.add(total, crossEntropy(aux, labels));
      if (klWeight !== 0) total = tf.add(total, tf.mul(kdLoss(aux, finalLogits, { temperature }), klWeight));
    }
    return total as Scalar;
  });
}
