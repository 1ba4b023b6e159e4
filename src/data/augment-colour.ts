/**
 * The colour half of augmentation (conventions: ./augment.ts): brightness, contrast, saturation and hue adjustments
 * (torchvision's definitions), colour jitter and random grayscale, per image.
 */
import { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import { DataError } from './errors.js';
import { shapeOf } from './augment-geometry.js';

export interface ColorJitterOptions {
  /** Factor drawn uniformly from [max(0, 1 - b), 1 + b]. Default 0 (off). */
  readonly brightness?: number;
  /** Factor from [max(0, 1 - c), 1 + c], blending with the image's mean gray. Default 0. */
  readonly contrast?: number;
  /** Factor from [max(0, 1 - s), 1 + s], blending with the pixel's gray. RGB only. Default 0. */
  readonly saturation?: number;
  /** Hue shift from [-h, h] (fraction of the colour wheel, h <= 0.5). RGB only. Default 0. */
  readonly hue?: number;
  /** Probability that an image is jittered at all. Default 1. */
  readonly p?: number;
}

export interface GrayscaleOptions {
  /** Probability per image. Default 1. */
  readonly p?: number;
}

const LUMA = [0.299, 0.587, 0.114];

/*
 * The colour ops work on the batch viewed as [N, H*W, C] (per-image factors broadcast as [N, 1, 1]) or as pixel rows
 * [N*H*W, C]; the gray of every pixel is one 2-D matMul with a 3x3 matrix.
 * Slices along the channel axis, `tile`, `mod` and broadcasting `where` are slow on wasm and are avoided.
 */

/** out_j = sum_k x_k m[k][j]: the 3x3 (row-major) matrix that maps a pixel to its gray value in every channel. */
function grayMatrix(): number[] {
  return [0, 1, 2].flatMap((k) => [LUMA[k]!, LUMA[k]!, LUMA[k]!]);
}

/**
 * Per image: f x + (1 - f) gray(x), gray copied to the three channels (saturation; f = 0 is grayscale, f = 1 the
 * identity, both exact). x is [N, P, 3]. One 2-D matMul for the gray (a batched matMul with a 3x3 matrix per image
 * is several times slower on wasm).
 */
function mixWithGray(x: tf.Tensor3D, factors: Float32Array): tf.Tensor3D {
  const [n, p] = x.shape;
  const gray3 = x.reshape([n * p, 3]).matMul(tf.tensor2d(grayMatrix(), [3, 3])).reshape([n, p, 3]);
  return x.mul(perImage(factors)).add(gray3.mul(perImage(factors.map((f) => 1 - f)))) as tf.Tensor3D;
}

function perImage(values: Float32Array): tf.Tensor3D {
  return tf.tensor3d(values, [values.length, 1, 1]);
}

function clip255(x: tf.Tensor3D): tf.Tensor3D {
  return x.clipByValue(0, 255) as tf.Tensor3D;
}

/** Mean gray (luma) of each image of x [N, P, C], as [N, 1, 1]. */
function meanGray(x: tf.Tensor3D): tf.Tensor3D {
  const [n, p, c] = x.shape;
  const g = c === 3 ? x.reshape([n * p, 3]).matMul(tf.tensor2d(LUMA, [3, 1])) : x;
  return g.reshape([n, p]).mean(1).reshape([n, 1, 1]);
}

/**
 * Hue rotation in HSV space by `shift` [N, 1, 1] (fraction of the wheel), x [N, P, 3] in pixel scale; value (max) and
 * chroma (max - min) are kept, as torchvision's adjust_hue.
 */
function shiftHue(x: tf.Tensor3D, shift: tf.Tensor3D): tf.Tensor3D {
  const [n, p] = x.shape;
  const rows = x.reshape([n * p, 3]);
  const max = rows.max(1, true);
  const delta = max.sub(rows.min(1, true));
  // Which channel is the max (first one on ties: any branch gives the same hue there) and the hue in sixths of the
  // wheel: (g - b) / d, 2 + (b - r) / d or 4 + (r - g) / d.
  const sel = tf.oneHot(tf.argMax(rows, 1), 3).cast('float32') as tf.Tensor2D;
  const diffs = rows.matMul(tf.tensor2d([0, -1, 1, 1, 0, -1, -1, 1, 0], [3, 3]));
  const h6 = sel
    .mul(diffs)
    .matMul(tf.ones([3, 1]))
    .div(delta.maximum(1e-6))
    .add(sel.matMul(tf.tensor2d([0, 2, 4], [3, 1])));
  const shifted = h6.reshape([n, p, 1]).add(shift.mul(6)).reshape([n * p, 1]);
  // HSV -> RGB: channel c in (R, G, B): max - d clip(min(k, 4 - k), 0, 1), k = (c' + 6h) mod 6 with c' = (5, 3, 1).
  const k0 = tf.fused.matMul({ a: shifted as tf.Tensor2D, b: tf.ones([1, 3]), bias: tf.tensor1d([5, 3, 1]) });
  const k = k0.sub(k0.mul(1 / 6).floor().mul(6));
  // min(k, 4 - k) = 2 - |k - 2| (Minimum is slow on wasm).
  const ramp = tf.scalar(2).sub(k.sub(2).abs()).clipByValue(0, 1);
  const ones = tf.ones([1, 3]);
  const out = max.matMul(ones).sub(delta.matMul(ones).mul(ramp));
  return out.reshape([n, p, 3]) as tf.Tensor3D;
}

function factorArray(n: number, f: number | readonly number[], what: string): Float32Array {
  if (typeof f === 'number') return new Float32Array(n).fill(f);
  if (f.length !== n) throw new DataError(`${what} needs one factor per image (${n}), got ${f.length}`);
  return Float32Array.from(f);
}

function adjust(images: tf.Tensor4D, fn: (x: tf.Tensor3D) => tf.Tensor3D): tf.Tensor4D {
  const [n, h, w, c] = shapeOf(images);
  return tf.tidy(() => fn(images.reshape([n, h * w, c]) as tf.Tensor3D).reshape([n, h, w, c]) as tf.Tensor4D);
}

/** x * f per image (one factor, or one per image), clipped to [0, 255]. */
export function adjustBrightness(images: tf.Tensor4D, factor: number | readonly number[]): tf.Tensor4D {
  const f = factorArray(images.shape[0], factor, 'adjustBrightness');
  return adjust(images, (x) => clip255(x.mul(perImage(f))));
}

/** f x + (1 - f) mean gray of the image, clipped to [0, 255] (torchvision adjust_contrast). */
export function adjustContrast(images: tf.Tensor4D, factor: number | readonly number[]): tf.Tensor4D {
  const f = factorArray(images.shape[0], factor, 'adjustContrast');
  return adjust(images, (x) => clip255(x.mul(perImage(f)).add(meanGray(x).mul(perImage(f.map((v) => 1 - v)))) as tf.Tensor3D));
}

/** f x + (1 - f) gray of the pixel, clipped to [0, 255] (torchvision adjust_saturation). RGB only. */
export function adjustSaturation(images: tf.Tensor4D, factor: number | readonly number[]): tf.Tensor4D {
  if (images.shape[3] !== 3) throw new DataError('adjustSaturation needs 3-channel images');
  const f = factorArray(images.shape[0], factor, 'adjustSaturation');
  return adjust(images, (x) => clip255(mixWithGray(x, f)));
}

/** Rotate the HSV hue by `shift` (fraction of the colour wheel, in [-0.5, 0.5]) (torchvision adjust_hue). RGB only. */
export function adjustHue(images: tf.Tensor4D, shift: number | readonly number[]): tf.Tensor4D {
  if (images.shape[3] !== 3) throw new DataError('adjustHue needs 3-channel images');
  const f = factorArray(images.shape[0], shift, 'adjustHue');
  return adjust(images, (x) => clip255(shiftHue(x, perImage(f))));
}

type JitterOp = 'brightness' | 'contrast' | 'saturation' | 'hue';

/**
 * Colour jitter as torchvision's ColorJitter on [0, 255] values: brightness (x * f), contrast (blend with the image's
 * mean gray), saturation (blend with the pixel's gray), hue (HSV rotation), each clipped to [0, 255]. Factors are
 * drawn per image; an image is jittered with probability `p`, otherwise it gets identity factors (unchanged up to
 * float rounding of the HSV round trip, < 1e-3 of a pixel level). The order of the adjustments is a random
 * permutation drawn once per call (torchvision draws it per image; one order per batch keeps this one pass of batched
 * ops). 1-channel images get brightness and contrast only.
 */
export function colorJitter(images: tf.Tensor4D, rng: Random, options: ColorJitterOptions): tf.Tensor4D {
  const [n, , , c] = shapeOf(images);
  const range = (v: number | undefined): [number, number] | undefined =>
    v !== undefined && v > 0 ? [Math.max(0, 1 - v), 1 + v] : undefined;
  const ranges: Partial<Record<JitterOp, [number, number]>> = {};
  const b = range(options.brightness);
  const ct = range(options.contrast);
  if (b) ranges.brightness = b;
  if (ct) ranges.contrast = ct;
  if (c === 3) {
    const s = range(options.saturation);
    if (s) ranges.saturation = s;
    const hue = options.hue ?? 0;
    if (!(hue >= 0 && hue <= 0.5)) throw new DataError(`hue jitter must be in [0, 0.5], got ${hue}`);
    if (hue > 0) ranges.hue = [-hue, hue];
  }
  const ops = rng.shuffle(Object.keys(ranges) as JitterOp[]);
  const p = options.p ?? 1;
  const factors: Record<JitterOp, Float32Array> = {
    brightness: new Float32Array(n).fill(1),
    contrast: new Float32Array(n).fill(1),
    saturation: new Float32Array(n).fill(1),
    hue: new Float32Array(n).fill(0),
  };
  let any = false;
  for (let i = 0; i < n; i++) {
    if (!(rng.next() < p)) continue;
    any = true;
    for (const op of ops) {
      const [lo, hi] = ranges[op]!;
      factors[op][i] = rng.uniform(lo, hi);
    }
  }
  if (ops.length === 0 || !any) return images.clone();
  const steps: Record<JitterOp, (x: tf.Tensor4D, f: Float32Array) => tf.Tensor4D> = {
    brightness: (x, f) => adjustBrightness(x, Array.from(f)),
    contrast: (x, f) => adjustContrast(x, Array.from(f)),
    saturation: (x, f) => adjustSaturation(x, Array.from(f)),
    hue: (x, f) => adjustHue(x, Array.from(f)),
  };
  return tf.tidy(() => ops.reduce((x, op) => steps[op](x, factors[op]), images));
}

/** Grayscale (luma 0.299 R + 0.587 G + 0.114 B, copied to the three channels) per image with probability `p`. */
export function randomGrayscale(images: tf.Tensor4D, rng: Random, options: GrayscaleOptions = {}): tf.Tensor4D {
  const [n, h, w, c] = shapeOf(images);
  const p = options.p ?? 1;
  // Saturation factor 0 is grayscale, 1 the identity (both exact).
  const pick = new Float32Array(n);
  for (let i = 0; i < n; i++) pick[i] = rng.next() < p ? 0 : 1;
  if (c !== 3 || pick.every((v) => v === 1)) return images.clone();
  return tf.tidy(() => mixWithGray(images.reshape([n, h * w, 3]) as tf.Tensor3D, pick).reshape([n, h, w, 3]) as tf.Tensor4D);
}

