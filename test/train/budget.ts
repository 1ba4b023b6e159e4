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
