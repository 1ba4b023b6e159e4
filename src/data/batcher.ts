import { tf } from '../runtime/tf.js';
import { getRandom, Random } from '../runtime/random.js';
import { normalizationCoefficients } from './augment.js';
import { DataError } from './errors.js';
import type { Dataset } from './types.js';

/**
 * One batch. `images` and `labels` are new tensors owned by the caller: dispose them (or call `disposeBatch`) after
 * the step. `indices` are the dataset rows of the batch (CRD's memory bank needs them).
 */
export interface Batch {
  /** float32 [B, H, W, C]: normalised ((x / 255 - mean) / std) or, with format 'raw', pixel scale [0, 255]. */
  readonly images: tf.Tensor4D;
  /** int32 [B] class indices. */
  readonly labels: tf.Tensor1D;
  /** Dataset row of each batch row. */
  readonly indices: Int32Array;
  /** Only when the dataset has a `labeled` mask: 1 where the row's label may be used. */
  readonly labeled?: Uint8Array;
}

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
}

export interface BatcherOptions {
  readonly batchSize: number;
  /** Shuffle each epoch. Default true. */
  readonly shuffle?: boolean;
  /** Drop the last partial batch of an epoch. Default false (keep it, smaller). */
  readonly dropLast?: boolean;
  /** 'normalized' (default): (x / 255 - mean) / std. 'raw': float32 pixel scale [0, 255], for augmentation first. */
  readonly format?: 'normalized' | 'raw';
  /** Seed of the epoch orders. Default: one uint32 drawn from `rng`. */
  readonly seed?: number;
  /** Where the seed comes from when `seed` is not given. Default `getRandom()`. */
  readonly rng?: Random;
}

/** Everything needed to continue a batcher exactly: JSON-serialisable. */
export interface BatcherState {
  readonly seed: number;
  /** The current epoch (0-based). */
  readonly epoch: number;
  /** Batches already taken in the current epoch. */
  readonly position: number;
}

function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
}

/**
 * Fixed-size batches over a dataset, reshuffled every epoch.
 *
 * The order of epoch e is a permutation drawn from `new Random(f(seed, e))`, a pure function of (seed, epoch): the
 * state is just { seed, epoch, position }, so `getState()` saved in a checkpoint and `setState()` on a fresh batcher
 * continue with exactly the same batches. The last partial batch is kept (smaller) unless `dropLast`.
 *
 * Pixels are converted to float32 in JS through a 256-entry table per channel, then uploaded: one tensor per batch,
 * nothing else allocated on the engine.
 */
export class Batcher {
  readonly batchSize: number;
  /** Batches per epoch. */
  readonly numBatches: number;
  private readonly dataset: Dataset;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly tables: Float32Array[];
  private seed: number;
  private epochIndex = 0;
  private positionIndex = 0;
  private order: Int32Array | undefined;

  constructor(dataset: Dataset, options: BatcherOptions) {
    const { batchSize } = options;
    if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new DataError(`batchSize must be a positive integer, got ${batchSize}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    this.numBatches = this.dropLast ? Math.floor(dataset.size / batchSize) : Math.ceil(dataset.size / batchSize);
    if (this.numBatches === 0) {
      throw new DataError(
        `${dataset.name} (${dataset.split}) has ${dataset.size} images, fewer than one batch of ${batchSize} with dropLast`,
      );
    }
    this.seed = (options.seed ?? (options.rng ?? getRandom()).nextUint32()) >>> 0;
    const format = options.format ?? 'normalized';
    const c = dataset.inputShape[2];
    this.tables = [];
    const coefficients = normalizationCoefficients(dataset);
    for (let ch = 0; ch < c; ch++) {
      const t = new Float32Array(256);
      if (format === 'raw') {
        for (let v = 0; v < 256; v++) t[v] = v;
      } else {
        // Same float32 arithmetic as `normalize`: f32(f32(v * a) + b).
        const a = coefficients.scale[ch]!;
        const b = coefficients.shift[ch]!;
        for (let v = 0; v < 256; v++) t[v] = Math.fround(v * a) + b;
      }
      this.tables.push(t);
    }
  }

  get epoch(): number {
    return this.epochIndex;
  }

  /** Batches already taken in the current epoch. */
  get position(): number {
    return this.positionIndex;
  }

  getState(): BatcherState {
    return { seed: this.seed, epoch: this.epochIndex, position: this.positionIndex };
  }

  setState(state: BatcherState): void {
    if (!(Number.isInteger(state.epoch) && state.epoch >= 0 && Number.isInteger(state.position) && state.position >= 0)) {
      throw new DataError(`bad batcher state ${JSON.stringify(state)}`);
    }
    if (state.position >= this.numBatches) {
      throw new DataError(`batcher state position ${state.position} is past the ${this.numBatches} batches of an epoch`);
    }
    this.seed = state.seed >>> 0;
    this.epochIndex = state.epoch;
    this.positionIndex = state.position;
    this.order = undefined;
  }

  /** The dataset row order of an epoch (identity when not shuffling). */
  epochOrder(epoch: number): Int32Array {
    const n = this.dataset.size;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return new Random(epochSeed(this.seed, epoch)).permutation(n);
  }

  /**
   * The next batch. After the last batch of an epoch the batcher moves on to the next epoch (epoch + 1, position 0),
   * so `next()` never runs dry; use `epochBatches()` to iterate one epoch.
   */
  next(): Batch {
    if (this.order === undefined) this.order = this.epochOrder(this.epochIndex);
    const start = this.positionIndex * this.batchSize;
    const indices = this.order.slice(start, Math.min(start + this.batchSize, this.dataset.size));
    this.positionIndex++;
    if (this.positionIndex >= this.numBatches) {
      this.epochIndex++;
      this.positionIndex = 0;
      this.order = undefined;
    }
    return this.makeBatch(indices);
  }

  /** The remaining batches of the current epoch (all of them when at position 0). */
  *epochBatches(): Generator<Batch, void, undefined> {
    const epoch = this.epochIndex;
    while (this.epochIndex === epoch) yield this.next();
  }

  /** Build the batch of the given dataset rows (does not move the batcher). */
  makeBatch(indices: Int32Array): Batch {
    const ds = this.dataset;
    const [h, w, c] = ds.inputShape;
    const px = h * w * c;
    const values = new Float32Array(indices.length * px);
    const labels = new Int32Array(indices.length);
    const tables = this.tables;
    for (let i = 0; i < indices.length; i++) {
      const row = indices[i]!;
      labels[i] = ds.labels[row]!;
      const src = row * px;
      const dst = i * px;
      if (c === 1) {
        const t = tables[0]!;
        for (let p = 0; p < px; p++) values[dst + p] = t[ds.images[src + p]!]!;
      } else {
        for (let p = 0; p < px; p++) values[dst + p] = tables[p % c]![ds.images[src + p]!]!;
      }
    }
    const batch: Batch = {
      images: tf.tensor4d(values, [indices.length, h, w, c], 'float32'),
      labels: tf.tensor1d(labels, 'int32'),
      indices,
      ...(ds.labeled ? { labeled: Uint8Array.from(indices, (r) => ds.labeled![r]!) } : {}),
    };
    return batch;
  }
}
