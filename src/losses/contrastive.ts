/**
 * Supervised contrastive loss: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (the authors' SupConLoss,
 * contrast_mode 'all'), which reduces to SimCLR's NT-Xent (Chen et al., ICML 2020) without labels. CDS (Zhang et al.,
 * "Contrastive Deep Supervision", ECCV 2022) applies it to every stage's projection.
 *
 * Layout. A batch of N images with V views each is flattened view-major: row v*N + j is view v of image j, so for
 * V = 2 rows j and j + N are the two views of image j (the CDS batch of 2N inputs). `supConLoss` takes [N, V, D] and
 * flattens it this way (as SupConLoss's `cat(unbind(features, 1))` does); `supConLoss2N` takes the flattened [V*N, D].
 *
 * Unlabelled images (semi-supervised CDS): a label of -1 (any negative label) marks an image as unlabelled. Its rows'
 * only positives are the other views of the same image (SimCLR), and it is never a positive of another image's rows
 * (not even of another unlabelled image). It still appears in every anchor's denominator, as a negative.
 * Labelled rows use the supervised positives: every other row with the same label.
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor } from '../runtime/tf.js';
import { crossEntropy } from './logits.js';
import { asFloat, expectRank, l2Normalize, stopGradient, toLabelTensor } from './util.js';
import type { LabelsLike } from './util.js';

export interface SupConOptions {
  /** Softmax temperature. Default 0.07. */
  temperature?: number;
  /** Base temperature: the loss is multiplied by temperature / baseTemperature. Default 0.07. */
  baseTemperature?: number;
}

export interface SupCon2NOptions extends SupConOptions {
  /** Views per image V: the rows are V blocks of N (row v*N + j = view v of image j). Default 2. */
  views?: number;
}

const MASKED_LOGIT = -1e30;

/**
 * Supervised contrastive loss over the N*V anchors of features [N, V, D] (rows L2-normalised by the caller).
 * With labels (int32 [N]), positives of an anchor are all other rows with the same label; without labels, the other
 * views of the same image. Labels of -1 mark unlabelled images (positives = their other views only). Each anchor's
 * loss is -mean over its positives of log(exp(z_a.z_p / T) / sum_{k != a} exp(z_a.z_k / T)), times
 * T / baseTemperature; the result is the mean over all anchors. An anchor without positives (possible only with V = 1)
 * contributes 0 and still counts in the mean, as in the authors' current code.
 */
export function supConLoss(features: Tensor, labels?: LabelsLike, options: SupConOptions = {}): Scalar {
  expectRank(features, 3, 'supConLoss features [N, V, D]');
  const [n, v, d] = features.shape as [number, number, number];
  return tf.tidy(() => {
    const flat = tf.reshape(tf.transpose(features, [1, 0, 2]), [v * n, d]);
    return supConLoss2N(flat, labels, { ...options, views: v });
  });
}

/**
 * The same loss on a view-major matrix z [V*N, D] (V = `views`, default 2): CDS's 2N layout, rows j and j + N are the
 * two views of image j. `labels` are per image ([N], not [V*N]); -1 = unlabelled. Equivalent to
 * `supConLoss(z.reshape([V, N, D]).transpose([1, 0, 2]), labels)`.
 */
export function supConLoss2N(z: Tensor, labels?: LabelsLike, options: SupCon2NOptions = {}): Scalar {
  const temperature = options.temperature ?? 0.07;
  const baseTemperature = options.baseTemperature ?? 0.07;
  const views = options.views ?? 2;
  expectRank(z, 2, 'supConLoss2N z [V*N, D]');
  const m = z.shape[0]!;
  if (!Number.isInteger(views) || views < 1 || m % views !== 0) {
    throw new Error(`supConLoss2N: ${m} rows cannot be split into ${views} views`);
  }
  const n = m / views;
  return tf.tidy(() => {
    const imageOfRow = new Int32Array(m);
    for (let r = 0; r < m; r++) imageOfRow[r] = r % n;
    const ids = tf.tensor1d(imageOfRow, 'int32');
    let positive = tf.equal(tf.expandDims(ids, 1), tf.expandDims(ids, 0));
    if (labels !== undefined) {
      const y = toLabelTensor(labels);
      if (y.shape[0] !== n) throw new Error(`supConLoss: expected ${n} labels (one per image), got ${y.shape[0]}`);
      const yRows = tf.tile(y, [views]);
      const labelled = tf.greaterEqual(yRows, 0);
      const sameLabel = tf.logicalAnd(
        tf.equal(tf.expandDims(yRows, 1), tf.expandDims(yRows, 0)),
        tf.logicalAnd(tf.expandDims(labelled, 1), tf.expandDims(labelled, 0)),
      );
      positive = tf.logicalOr(positive, sameLabel);
    }
    const eye = tf.eye(m);
    const posMask = tf.mul(tf.cast(positive, 'float32'), tf.sub(1, eye));
    const posCount = tf.maximum(tf.sum(posMask, 1), 1);

    const zf = asFloat(z);
    const logits = tf.div(tf.matMul(zf, zf, false, true), temperature);
    // Denominator over k != a: the diagonal is pushed to -1e30 so its exp is exactly 0 (and carries no gradient).
    const lse = tf.logSumExp(tf.add(logits, tf.mul(eye, MASKED_LOGIT)), 1, true);
    const logProb = tf.sub(logits, lse);
    const meanLogProbPos = tf.div(tf.sum(tf.mul(posMask, logProb), 1), posCount);
    return tf.mul(tf.mean(meanLogProbPos), -temperature / baseTemperature) as Scalar;
  });
}

/**
 * Cross-model InfoNCE (CDS-KD's contrastive alignment, Zhang et al., "Contrastive Deep Supervision", ECCV 2022):
 * the student's projection of a view is pulled to the teacher's projection of the same view, against the teacher's
 * projections of the other images of the batch.
 *
 * Shapes: `student` [R, D] and `teacher` [R, D] with R = V*N rows in the view-major layout (row v*N + j is view v of
 * image j; `batchSize` = N, so with one view R = N). The student's rows are L2-normalised here; the teacher's are used
 * as given (its CDS projections are already unit vectors) and receive no gradient.
 *
 *   logit[r, c] = <s_r / max(||s_r||, 1e-12), t_c> / temperature
 *   loss = mean_r -log(exp(logit[r, r]) / sum_{c in C(r)} exp(logit[r, c]))
 *
 * where C(r) is every row except the other views of row r's image (the same image's other view is neither a
 * positive nor a negative): row r's positive is teacher row r. Returns a scalar; an all-zero student row gives
 * finite values and gradients.
 */
export function crossModelInfoNce(student: Tensor, teacher: Tensor, batchSize: number, temperature: number): Scalar {
  expectRank(student, 2, 'crossModelInfoNce student [R, D]');
  expectRank(teacher, 2, 'crossModelInfoNce teacher [R, D]');
  return tf.tidy(() => {
    const rows = student.shape[0]!;
    const logits = tf.div(tf.matMul(l2Normalize(student, 1), stopGradient(teacher), false, true), temperature);
    const sameImage = new Float32Array(rows * rows);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < rows; c++) if (r !== c && r % batchSize === c % batchSize) sameImage[r * rows + c] = 1;
    const masked = tf.sub(logits, tf.mul(tf.tensor2d(sameImage, [rows, rows]), 1e9));
    const targets = tf.tensor1d(Int32Array.from({ length: rows }, (_, r) => r), 'int32');
    return crossEntropy(masked, targets);
  });
}
