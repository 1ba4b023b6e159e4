/** The short training budget of the "methods learn" tests: resnet8 on part of the bundled Fashion-MNIST slice. */
export const LEARNING_BUDGET = {
  limit: 1280,
  testLimit: 500,
  // Cosine to zero within the epoch: the last steps are small, so the evaluated weights are not mid-jump.
  run: { epochs: 1, batchSize: 16, lr: 0.05, schedule: 'cosine' as const, seed: 1, evalBatchSize: 250 },
};

/** "Well above chance": at least this multiple of the 10% a guess gets. */
export const CHANCE_MULTIPLE = 3;
