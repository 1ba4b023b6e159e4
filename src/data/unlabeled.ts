import { DataError } from './errors.js';
import type { Dataset } from './types.js';

/**
 * Semi-supervised training with a separate unlabelled set: the labelled training split followed by the unlabelled
 * images, with a `labeled` mask (1 for the first part, 0 for the rest). The unlabelled images' labels are ignored by
 * every trainer (they are set to 0 here); normalisation stays the labelled split's.
 */
export function appendUnlabeled(labeled: Dataset, unlabeled: Dataset): Dataset {
  const [h, w, c] = labeled.inputShape;
  if (unlabeled.inputShape.some((d, i) => d !== labeled.inputShape[i])) {
    throw new DataError(
      `${unlabeled.source}: unlabelled images are ${unlabeled.inputShape.join('x')} but the labelled ones are ${h}x${w}x${c}`,
    );
  }
  const images = new Uint8Array(labeled.images.length + unlabeled.images.length);
  images.set(labeled.images, 0);
  images.set(unlabeled.images, labeled.images.length);
  const labels = new Int32Array(labeled.size + unlabeled.size);
  labels.set(labeled.labels, 0);
  const mask = new Uint8Array(labeled.size + unlabeled.size);
  if (labeled.labeled) mask.set(labeled.labeled, 0);
  else mask.fill(1, 0, labeled.size);
  return {
    ...labeled,
    images,
    labels,
    labeled: mask,
    size: labeled.size + unlabeled.size,
    source: `${labeled.source} + unlabelled ${unlabeled.source}`,
  };
}
