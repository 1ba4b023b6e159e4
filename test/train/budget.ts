import { initBackend } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';

/** The short training budget of the "methods learn" tests: resnet8 on part of the bundled Fashion-MNIST slice. */
export const LEARNING_BUDGET = {
  limit: 1280,
  testLimit: 500,
  // Cosine to zero within the epoch: the last steps are small, so the evaluated weights are not mid-jump.
  run: { epochs: 1, batchSize: 16, lr: 0.05, schedule: 'cosine' as const, seed: 1, evalBatchSize: 250 },
};

/** "Well above chance": at least this multiple of the 10% a guess gets. */
export const CHANCE_MULTIPLE = 3;

/** wasm, and the budget's training and test images of the bundled Fashion-MNIST slice. */
export async function learningData(): Promise<{ train: Dataset; test: Dataset }> {
  await initBackend('wasm');
  return loadTrainTest('fashion-mnist-slice', { limit: LEARNING_BUDGET.limit, testLimit: LEARNING_BUDGET.testLimit });
}

/**
 * A split at half resolution (28x28 -> 14x14): each output pixel the rounded mean of a 2x2 block, mean and std
 * recomputed from the new pixels; everything else (labels, the labelled mask, class names) kept. For the teacher-free
 * "learns" tests, which have no 28x28 teacher to match: a quarter of the pixels trains about 3x faster, and resnet8
 * reaches about the same accuracy within the budget
 * (measured after one epoch: ce 49% at 14x14 vs 52% at 28x28, cds-simclr 38% vs 47%).
 */
export function halfResolution(ds: Dataset): Dataset {
  const [h, w, c] = ds.inputShape;
  const [oh, ow] = [Math.floor(h / 2), Math.floor(w / 2)];
  const images = new Uint8Array(ds.size * oh * ow * c);
  const sum = new Float64Array(c);
  const sumSq = new Float64Array(c);
  for (let n = 0; n < ds.size; n++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        for (let k = 0; k < c; k++) {
          const at = (yy: number, xx: number) => ds.images[((n * h + yy) * w + xx) * c + k]!;
          const v = Math.round((at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4);
          images[((n * oh + y) * ow + x) * c + k] = v;
          sum[k]! += v / 255;
          sumSq[k]! += (v / 255) ** 2;
        }
      }
    }
  }
  const count = ds.size * oh * ow;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sumSq, (s, k) => Math.sqrt(Math.max(s / count - mean[k]! ** 2, 0)));
  return { ...ds, images, inputShape: [oh, ow, c], mean, std };
}
