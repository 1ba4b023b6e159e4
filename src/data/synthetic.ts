import { Random } from '../runtime/random.js';
import { DataError } from './errors.js';
import type { RawImageData } from './types.js';

export interface SyntheticOptions {
  /** [H, W, C] of each image (C = 1 or 3). Default [32, 32, 3]. */
  readonly shape?: readonly [number, number, number];
  /** Number of classes. Default 10. */
  readonly classes?: number;
  /** Number of images. Default 1000. */
  readonly count?: number;
  /** Seed of the per-image randomness (phase, noise). Same seed, same images. Default 0. */
  readonly seed?: number;
}

/**
 * A learnable synthetic dataset for tests and demos. Image i has label i % classes (balanced, round-robin). Class k
 * is a sinusoidal pattern: orientation k % 3 (vertical stripes, horizontal stripes, checkerboard: all three survive
 * horizontal flips and crops), frequency 1 + floor(k / 3) cycles per image, and on 3-channel images a class-dependent
 * tint; each image gets a random phase and Gaussian pixel noise (std 20), so classes overlap a little.
 */
export function makeSynthetic(options: SyntheticOptions = {}): RawImageData {
  const [h, w, c] = options.shape ?? [32, 32, 3];
  const classes = options.classes ?? 10;
  const count = options.count ?? 1000;
  const seed = options.seed ?? 0;
  if (![h, w].every((d) => Number.isInteger(d) && d > 0) || !(c === 1 || c === 3)) {
    throw new DataError(`synthetic shape must be HxWxC with positive H, W and C = 1 or 3, got ${h}x${w}x${c}`);
  }
  if (!(Number.isInteger(classes) && classes >= 2 && classes <= 1000)) {
    throw new DataError(`synthetic classes must be an integer in [2, 1000], got ${classes}`);
  }
  if (!(Number.isInteger(count) && count >= 1)) throw new DataError(`synthetic count must be a positive integer, got ${count}`);
  const rng = new Random(seed);
  const images = new Uint8Array(count * h * w * c);
  const labels = new Int32Array(count);
  const tints: number[][] = [];
  for (let k = 0; k < classes; k++) {
    tints.push(Array.from({ length: c }, (_, ch) => (c === 1 ? 1 : 0.55 + 0.45 * Math.cos(2 * Math.PI * (k / classes + ch / 3)))));
  }
  let o = 0;
  for (let i = 0; i < count; i++) {
    const k = i % classes;
    labels[i] = k;
    const orient = k % 3;
    const freq = 1 + Math.floor(k / 3);
    const phaseY = rng.uniform(0, 2 * Math.PI);
    const phaseX = rng.uniform(0, 2 * Math.PI);
    const tint = tints[k]!;
    for (let y = 0; y < h; y++) {
      const sy = Math.sin((2 * Math.PI * freq * y) / h + phaseY);
      for (let x = 0; x < w; x++) {
        const sx = Math.sin((2 * Math.PI * freq * x) / w + phaseX);
        const pattern = orient === 0 ? sx : orient === 1 ? sy : sx * sy;
        for (let ch = 0; ch < c; ch++) {
          const v = 128 + 90 * tint[ch]! * pattern + 20 * rng.normal();
          images[o++] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
        }
      }
    }
  }
  return {
    images,
    labels,
    classNames: Array.from({ length: classes }, (_, k) => `class_${k}`),
    inputShape: [h, w, c],
    source: `synthetic ${h}x${w}x${c}, ${classes} classes, ${count} images, seed ${seed}`,
  };
}
