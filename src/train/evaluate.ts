import { tf } from '../runtime/tf.js';
import { Batcher, disposeBatch } from '../data/index.js';
import type { Dataset } from '../data/index.js';
import { logitsPredictor } from '../models/logits.js';
import { MetricsAccumulator } from './metrics.js';
import type { ClassificationMetrics } from './metrics.js';

export interface EvaluateOptions {
  /** Default 256. */
  readonly batchSize?: number;
  /** Evaluate only the first this-many images (in dataset order). */
  readonly limit?: number;
}

/**
 * Top-1, top-5, ECE (15 bins) and NLL of a classifier (inference mode: BN uses its moving statistics) on a dataset,
 * normalised with the dataset's own mean/std. The model's last output is its logits; a final softmax (layer,
 * activation or graph node) is looked through (`logitsPredictor`), so probabilities are never read as logits.
 */
export function evaluate(model: tf.LayersModel | tf.GraphModel, dataset: Dataset, options: EvaluateOptions = {}): ClassificationMetrics {
  const predictor = logitsPredictor(model);
  const batcher = new Batcher(dataset, { batchSize: options.batchSize ?? 256, shuffle: false, format: 'normalized' });
  const acc = new MetricsAccumulator(15);
  const limit = options.limit ?? dataset.size;
  let seen = 0;
  for (const batch of batcher.epochBatches()) {
    if (seen >= limit) {
      disposeBatch(batch);
      break;
    }
    const out = predictor.predict(batch.images);
    const logits = out.dataSync() as Float32Array;
    out.dispose();
    const labels = batch.labels.dataSync() as Int32Array;
    const take = Math.min(labels.length, limit - seen);
    const numClasses = logits.length / labels.length;
    acc.add(logits.subarray(0, take * numClasses), labels.subarray(0, take), numClasses);
    seen += take;
    disposeBatch(batch);
  }
  return acc.result();
}
