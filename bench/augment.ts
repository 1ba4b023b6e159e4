// Cost of the augmentation pipeline per batch: the CDS two-view input (twoViews) and the single-view standardAugment,
// at batch 64 on 32x32x3 (CIFAR) and 28x28x1 (Fashion-MNIST). Prints ms per batch, batch construction included
// separately. Run: `npm run build && node dist/bench/augment.js [backend]` (default wasm).
import { initBackend, tf } from '../src/runtime/index.js';
import type { BackendRequest } from '../src/runtime/index.js';
import { Random } from '../src/runtime/random.js';
import { Batcher, disposeBatch, loadDataset, standardAugment, twoViews } from '../src/data/index.js';
import type { Dataset } from '../src/data/index.js';

const BATCH = 64;
const WARMUP = 5;
const ITERATIONS = 40;

export interface AugmentBenchResult {
  readonly shape: string;
  /** Batcher.next() with format 'raw' (uint8 -> float32 upload). */
  readonly batchMs: number;
  /** twoViews on that batch, output read back (so the work is done). */
  readonly twoViewsMs: number;
  readonly standardMs: number;
}

/** Median ms of `iterations` runs after a warm-up (the median resists other processes' load). */
function time(fn: () => tf.Tensor | void, iterations: number): number {
  const once = (): number => {
    const start = performance.now();
    const t = fn();
    if (t) {
      t.dataSync();
      t.dispose();
    }
    return performance.now() - start;
  };
  for (let i = 0; i < WARMUP; i++) once();
  const times = Array.from({ length: iterations }, once).sort((a, b) => a - b);
  return times[Math.floor(iterations / 2)]!;
}

function benchDataset(ds: Dataset): AugmentBenchResult {
  const batcher = new Batcher(ds, { batchSize: BATCH, seed: 1, format: 'raw', dropLast: true });
  const rng = new Random(1);
  const batchMs = time(() => disposeBatch(batcher.next()), ITERATIONS);
  const batch = batcher.next();
  const twoViewsMs = time(() => twoViews(batch.images, rng, ds), ITERATIONS);
  const standardMs = time(() => standardAugment(batch.images, rng, ds), ITERATIONS);
  disposeBatch(batch);
  return { shape: ds.inputShape.join('x'), batchMs, twoViewsMs, standardMs };
}

export async function benchAugment(): Promise<AugmentBenchResult[]> {
  const rgb = await loadDataset('synthetic:32x32x3:10:512');
  const fashion = await loadDataset('fashion-mnist-slice', { split: 'test' });
  return [benchDataset(rgb), benchDataset(fashion)];
}

async function main(): Promise<void> {
  const backend = await initBackend((process.argv[2] as BackendRequest | undefined) ?? 'wasm');
  const before = tf.memory().numTensors;
  const results = await benchAugment();
  console.log(`augmentation pipeline, batch ${BATCH}, backend ${backend} (ms per batch, median of ${ITERATIONS})`);
  for (const r of results) {
    console.log(
      `  ${r.shape.padEnd(8)} batch (uint8 -> float32) ${r.batchMs.toFixed(2)} ms   ` +
        `twoViews ${r.twoViewsMs.toFixed(2)} ms   standardAugment ${r.standardMs.toFixed(2)} ms`,
    );
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.log(`  warning: ${leaked} tensors leaked`);
  // Last line: machine-readable, for `npm run bench` to fold in.
  console.log(JSON.stringify({ backend, batch: BATCH, results }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
