import { tf } from '../runtime/tf.js';
import { Batcher, disposeBatch } from '../data/index.js';
import type { Dataset } from '../data/index.js';
import { MetricsAccumulator } from './metrics.js';
import type { ClassificationMetrics } from './metrics.js';

export interface EvaluateOptions {
  /** Default 256. */
  readonly batchSize?: number;
  /** Evaluate only the first this-many images (in dataset order). */
  readonly limit?: number;
}

/**
 * Top-1, top-5, ECE (15 bins) and NLL of a classifier (input -> logits, inference mode: BN uses its moving statistics)
 * on a dataset, normalised with the dataset's own mean/std.
 */
export function evaluate(model: tf.LayersModel, dataset: Dataset, options: EvaluateOptions = {}): ClassificationMetrics {
  const batcher = new Batcher(dataset, { batchSize: options.batchSize ?? 256, shuffle: false, format: 'normalized' });
  const acc = new MetricsAccumulator(15);
  const limit = options.limit ?? dataset.size;
  let seen = 0;
  for (const batch of batcher.epochBatches()) {
    if (seen >= limit) {
      disposeBatch(batch);
      break;
    }
    const out = model.predict(batch.images) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(out) ? out : [out];
    const logits = outs[outs.length - 1]!.dataSync() as Float32Array;
    tf.dispose(outs);
    const labels = batch.labels.dataSync() as Int32Array;
    const take = Math.min(labels.length, limit - seen);
    const numClasses = logits.length / labels.length;
    acc.add(logits.subarray(0, take * numClasses), labels.subarray(0, take), numClasses);
    seen += take;
    disposeBatch(batch);
  }
  return acc.result();
}
