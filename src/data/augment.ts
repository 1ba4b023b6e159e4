/**
 * Seeded, batched augmentation.
 *
 * Conventions (every function here):
 * - Input: a float32 NHWC batch in pixel scale [0, 255] (what `Batcher` yields with `format: 'raw'`).
 *   The augmentations return pixel scale too; `normalize` (or `twoViews` / `standardAugment`, which end with it)
 *   maps to (x / 255 - mean) / std.
 * - The input is never disposed; the returned tensor is new and owned by the caller (dispose it after the step).
 * - All randomness is drawn in JS from the `Random` passed in (per-image parameters, in image order), and the batch ops
 *   are built from those parameters, so the same generator state gives bit-identical output.
 * - Crop, flip and cutout are one `gatherND` over the flattened batch (an index per output pixel, computed in JS):
 *   exact, and cheap on every backend (no per-image slices, no rank > 4 or strided slices).
 * - Recipe choices (the CDS reference implementation): crop padding round(min(H, W) / 8) (4 px at 32 and at 28), fill 128; cutout hole
 *   round(min(H, W) / 2) (16 at 32x32, 14 at 28x28), centre uniform over the image and clipped at the border (DeVries
 *   & Taylor), filled with 0 in pixel space before normalisation (black, like Cutout after ToTensor). View 2 uses the
 *   same crop + flip as view 1.
 */
import { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import { DataError } from './errors.js';

export interface CropOptions {
  /** Pixels of padding on every side before a random HxW window is cut. Default 4. */
  readonly padding?: number;
  /** Pixel value of the padding (pixel scale). Default 128. */
  readonly fill?: number;
}

export interface FlipOptions {
  /** Probability of a horizontal flip per image. Default 0.5. */
  readonly p?: number;
}

export interface CutoutOptions {
  /** Holes per image. Default 1. */
  readonly holes?: number;
  /** Side of each square hole in pixels. */
  readonly size: number;
  /** Pixel value inside a hole (pixel scale, before normalisation). Default 0 (black). */
  readonly fill?: number;
}

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

/** One augmentation view: which transforms run, in this order: crop, flip, cutout, colour jitter, grayscale. */
export interface ViewRecipe {
  readonly crop?: CropOptions | false;
  readonly flip?: FlipOptions | false;
  readonly cutout?: CutoutOptions | false;
  readonly colorJitter?: ColorJitterOptions | false;
  readonly grayscale?: GrayscaleOptions | false;
}

/** Normalisation statistics: per channel, [0, 1] scale. A `Dataset` fits. */
export interface NormStats {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * Padding of the random crop scaled to the image: round(min(H, W) / 8), i.e. 4 px for both 32x32 (the CDS recipe)
 * and 28x28 (3.5 rounds to 4).
 */
export function defaultPadding(h: number, w: number): number {
  return Math.max(1, Math.round(Math.min(h, w) / 8));
}

/** Side of the cutout hole scaled to the image: round(min(H, W) / 2), i.e. 16 at 32x32 (the recipe), 14 at 28x28. */
export function defaultHoleSize(h: number, w: number): number {
  return Math.max(1, Math.round(Math.min(h, w) / 2));
}

/**
 * The crop's padding value: 128 on colour images (the CDS recipe's CIFAR value), 0 on one-channel images. MNIST-family
 * images have black backgrounds: a grey border made the training batches' BN statistics differ so much from the clean
 * test images that a resnet8 scored 23% in inference mode against 56% with batch statistics (fill 0: on par).
 */
export function defaultCropFill(inputShape: readonly number[]): number {
  return inputShape[2] === 1 ? 0 : 128;
}

/** CDS view 1 (the CDS reference implementation): random crop with padding (fill 128), horizontal flip, cutout of one hole. */
export function view1Recipe(inputShape: readonly number[]): ViewRecipe {
  const [h, w] = inputShape as [number, number];
  return {
    crop: { padding: defaultPadding(h, w), fill: defaultCropFill(inputShape) },
    flip: { p: 0.5 },
    cutout: { holes: 1, size: defaultHoleSize(h, w), fill: 0 },
  };
}

/**
 * CDS view 2: the same random crop + flip, colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale with p 0.2
 * (on 1-channel images the jitter is brightness + contrast only and grayscale is a no-op).
 */
export function view2Recipe(inputShape: readonly number[]): ViewRecipe {
  const [h, w] = inputShape as [number, number];
  return {
    crop: { padding: defaultPadding(h, w), fill: defaultCropFill(inputShape) },
    flip: { p: 0.5 },
    colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
    grayscale: { p: 0.2 },
  };
}

/** The single view of the non-contrastive methods: random crop with padding (fill 128) + flip. */
export function standardRecipe(inputShape: readonly number[]): ViewRecipe {
  const [h, w] = inputShape as [number, number];
  return { crop: { padding: defaultPadding(h, w), fill: defaultCropFill(inputShape) }, flip: { p: 0.5 } };
}

function shapeOf(images: tf.Tensor): [number, number, number, number] {
  if (images.rank !== 4) throw new DataError(`augmentation needs an NHWC batch (rank 4), got shape [${images.shape.join(', ')}]`);
  if (images.dtype !== 'float32') throw new DataError(`augmentation needs a float32 batch, got ${images.dtype}`);
  return images.shape as [number, number, number, number];
}

/** Per-image geometric parameters of one view, drawn in JS. */
interface Geometry {
  crop?: { padding: number; dy: Int32Array; dx: Int32Array };
  flip?: Uint8Array;
  /** Per image, per hole: [y1, y2, x1, x2) clipped to the image. */
  holes?: Int32Array[];
}

function drawGeometry(n: number, h: number, w: number, rng: Random, recipe: ViewRecipe): Geometry {
  const g: Geometry = {};
  if (recipe.crop) {
    const padding = recipe.crop.padding ?? 4;
    if (!(Number.isInteger(padding) && padding >= 0)) throw new DataError(`crop padding must be a non-negative integer, got ${padding}`);
    g.crop = { padding, dy: new Int32Array(n), dx: new Int32Array(n) };
  }
  if (recipe.flip) g.flip = new Uint8Array(n);
  const holes = recipe.cutout ? recipe.cutout.holes ?? 1 : 0;
  if (recipe.cutout) {
    const size = recipe.cutout.size;
    if (!(Number.isInteger(size) && size > 0)) throw new DataError(`cutout size must be a positive integer, got ${size}`);
    g.holes = [];
  }
  const pFlip = recipe.flip ? recipe.flip.p ?? 0.5 : 0;
  for (let i = 0; i < n; i++) {
    if (g.crop) {
      g.crop.dy[i] = rng.int(2 * g.crop.padding + 1);
      g.crop.dx[i] = rng.int(2 * g.crop.padding + 1);
    }
    if (g.flip) g.flip[i] = rng.next() < pFlip ? 1 : 0;
    if (g.holes && recipe.cutout) {
      // DeVries & Taylor's cutout: the centre is uniform over the image, the square is clipped at the border.
      const size = recipe.cutout.size;
      const boxes = new Int32Array(4 * holes);
      for (let k = 0; k < holes; k++) {
        const cy = rng.int(h);
        const cx = rng.int(w);
        const y1 = cy - Math.floor(size / 2);
        const x1 = cx - Math.floor(size / 2);
        boxes[4 * k] = Math.max(0, y1);
        boxes[4 * k + 1] = Math.min(h, y1 + size);
        boxes[4 * k + 2] = Math.max(0, x1);
        boxes[4 * k + 3] = Math.min(w, x1 + size);
      }
      g.holes.push(boxes);
    }
  }
  return g;
}

/**
 * Gather indices for `views` geometries over a source batch of n images: output image v*n + i reads source image i.
 * Index n*h*w is the crop fill row, n*h*w + 1 the hole fill row.
 */
function geometryIndices(n: number, h: number, w: number, views: Geometry[]): Int32Array {
  const fillRow = n * h * w;
  const holeRow = fillRow + 1;
  const idx = new Int32Array(views.length * n * h * w);
  let o = 0;
  for (const g of views) {
    for (let i = 0; i < n; i++) {
      const pad = g.crop?.padding ?? 0;
      const dy = (g.crop?.dy[i] ?? 0) - pad;
      const dx = (g.crop?.dx[i] ?? 0) - pad;
      const flip = g.flip?.[i] === 1;
      const base = i * h * w;
      const start = o;
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        const rowOk = sy >= 0 && sy < h;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) + dx;
          idx[o++] = rowOk && sx >= 0 && sx < w ? base + sy * w + sx : fillRow;
        }
      }
      const boxes = g.holes?.[i];
      if (boxes) {
        for (let k = 0; k < boxes.length; k += 4) {
          for (let y = boxes[k]!; y < boxes[k + 1]!; y++) idx.fill(holeRow, start + y * w + boxes[k + 2]!, start + y * w + boxes[k + 3]!);
        }
      }
    }
  }
  return idx;
}

/** Apply geometries (one per output view) with one gatherND; output has views.length * n images. */
function applyGeometry(images: tf.Tensor4D, views: Geometry[], fill: number, holeFill: number): tf.Tensor4D {
  const [n, h, w, c] = shapeOf(images);
  const idx = geometryIndices(n, h, w, views);
  return tf.tidy(() => {
    const flat = images.reshape([n * h * w, c]);
    const extra = tf.tensor2d([new Array<number>(c).fill(fill), new Array<number>(c).fill(holeFill)], [2, c], 'float32');
    const table = tf.concat([flat, extra], 0);
    // gatherND over rows is ~10x faster than gather on wasm for this shape.
    const out = tf.gatherND(table, tf.tensor2d(idx, [idx.length, 1], 'int32'));
    return out.reshape([views.length * n, h, w, c]) as tf.Tensor4D;
  });
}

/** Random crop: pad by `padding` on every side with `fill`, cut a random HxW window per image. */
export function randomCrop(images: tf.Tensor4D, rng: Random, options: CropOptions = {}): tf.Tensor4D {
  const [n, h, w] = shapeOf(images);
  const g = drawGeometry(n, h, w, rng, { crop: options });
  return applyGeometry(images, [g], options.fill ?? 128, 0);
}

/** Horizontal flip (mirror left-right) of each image with probability `p`. */
export function randomFlip(images: tf.Tensor4D, rng: Random, options: FlipOptions = {}): tf.Tensor4D {
  const [n, h, w] = shapeOf(images);
  const g = drawGeometry(n, h, w, rng, { flip: options });
  return applyGeometry(images, [g], 0, 0);
}

/**
 * Cutout: `holes` squares of side `size` per image set to `fill` (pixel scale, default 0 = black, i.e. applied
 * before normalisation). The centre is uniform over the image, so a hole near the border is clipped.
 */
export function cutout(images: tf.Tensor4D, rng: Random, options: CutoutOptions): tf.Tensor4D {
  const [n, h, w] = shapeOf(images);
  const g = drawGeometry(n, h, w, rng, { cutout: options });
  return applyGeometry(images, [g], 0, options.fill ?? 0);
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

/**
 * (x / 255 - mean) / std per channel, computed as x * a + b in float32 with a = 1 / (255 std), b = -mean / std
 * (one matMul with a diagonal matrix plus a bias: much cheaper on wasm than two broadcasting ops). The Batcher's
 * 'normalized' format uses the same arithmetic.
 */
export function normalize(images: tf.Tensor4D, stats: NormStats): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  if (stats.mean.length !== c || stats.std.length !== c) {
    throw new DataError(`normalize needs ${c} mean/std values, got ${stats.mean.length}/${stats.std.length}`);
  }
  const { scale, shift } = normalizationCoefficients(stats);
  const diag = new Float32Array(c * c);
  for (let k = 0; k < c; k++) diag[k * c + k] = scale[k]!;
  return tf.tidy(
    () =>
      tf.fused
        .matMul({ a: images.reshape([n * h * w, c]), b: tf.tensor2d(diag, [c, c]), bias: tf.tensor1d(shift) })
        .reshape([n, h, w, c]) as tf.Tensor4D,
  );
}

/** float32 a = 1 / (255 std) and b = -mean / std per channel: normalised = x * a + b. */
export function normalizationCoefficients(stats: NormStats): { scale: Float32Array; shift: Float32Array } {
  return {
    scale: Float32Array.from(stats.std, (s) => 1 / (255 * s)),
    shift: Float32Array.from(stats.mean, (m, k) => -m / stats.std[k]!),
  };
}

function colourPart(x: tf.Tensor4D, rng: Random, recipe: ViewRecipe): tf.Tensor4D {
  let out = x;
  const step = (next: tf.Tensor4D): void => {
    if (out !== x) out.dispose();
    out = next;
  };
  if (recipe.colorJitter) step(colorJitter(out, rng, recipe.colorJitter));
  if (recipe.grayscale) step(randomGrayscale(out, rng, recipe.grayscale));
  return out === x ? x.clone() : out;
}

function geometryFill(recipes: ViewRecipe[]): { fill: number; holeFill: number } {
  const fills = new Set(recipes.map((r) => (r.crop ? r.crop.fill ?? 128 : 128)));
  const holes = new Set(recipes.map((r) => (r.cutout ? r.cutout.fill ?? 0 : 0)));
  if (fills.size > 1 || holes.size > 1) throw new DataError('views combined in one batch must use the same crop fill and cutout fill');
  return { fill: [...fills][0]!, holeFill: [...holes][0]! };
}

/** One augmented view in pixel scale: crop, flip, cutout (one gatherND), then colour jitter and grayscale. */
export function augmentView(images: tf.Tensor4D, rng: Random, recipe: ViewRecipe): tf.Tensor4D {
  const [n, h, w] = shapeOf(images);
  const g = drawGeometry(n, h, w, rng, recipe);
  const { fill, holeFill } = geometryFill([recipe]);
  const geo = applyGeometry(images, [g], fill, holeFill);
  if (!recipe.colorJitter && !recipe.grayscale) return geo;
  const out = colourPart(geo, rng, recipe);
  geo.dispose();
  return out;
}

export interface TwoViewOptions extends NormStats {
  /** Default `view1Recipe(shape)`. */
  readonly view1?: ViewRecipe;
  /** Default `view2Recipe(shape)`. */
  readonly view2?: ViewRecipe;
}

/**
 * The CDS input: 2N normalised images from N, rows j and j + N being two views of image j (view 1 = crop, flip,
 * cutout; view 2 = crop, flip, colour jitter, grayscale; see `view1Recipe` / `view2Recipe`), then `normalize`.
 * `images` is a pixel-scale [0, 255] float32 NHWC batch (not disposed); the result is the caller's to dispose.
 * Labels of the 2N rows are the batch labels twice (`tf.concat([labels, labels])`).
 */
export function twoViews(images: tf.Tensor4D, rng: Random, options: TwoViewOptions): tf.Tensor4D {
  const [n, h, w, c] = shapeOf(images);
  const r1 = options.view1 ?? view1Recipe([h, w, c]);
  const r2 = options.view2 ?? view2Recipe([h, w, c]);
  const g1 = drawGeometry(n, h, w, rng, r1);
  const g2 = drawGeometry(n, h, w, rng, r2);
  const { fill, holeFill } = geometryFill([r1, r2]);
  const both = applyGeometry(images, [g1, g2], fill, holeFill);
  const colour1 = !!(r1.colorJitter || r1.grayscale);
  const colour2 = !!(r2.colorJitter || r2.grayscale);
  if (!colour1 && !colour2) {
    const out = normalize(both, options);
    both.dispose();
    return out;
  }
  const [v1, v2] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
  both.dispose();
  const a = colour1 ? colourPart(v1, rng, r1) : v1;
  const b = colour2 ? colourPart(v2, rng, r2) : v2;
  if (a !== v1) v1.dispose();
  if (b !== v2) v2.dispose();
  const out = tf.tidy(() => normalize(tf.concat([a, b], 0), options));
  a.dispose();
  b.dispose();
  return out;
}

export interface StandardAugmentOptions extends NormStats {
  /** Default `standardRecipe(shape)` (crop with padding + flip). */
  readonly recipe?: ViewRecipe;
}

/** One view for the non-contrastive methods (random crop + flip by default), normalised. Caller disposes the result. */
export function standardAugment(images: tf.Tensor4D, rng: Random, options: StandardAugmentOptions): tf.Tensor4D {
  const [, h, w, c] = shapeOf(images);
  const view = augmentView(images, rng, options.recipe ?? standardRecipe([h, w, c]));
  const out = normalize(view, options);
  view.dispose();
  return out;
}

/**
 * The default views of a step with `views` views: the CDS pair (`view1Recipe`, `view2Recipe`) for 2, the standard
 * crop + flip (`standardRecipe`) for 1.
 */
export function defaultViewRecipes(views: 1 | 2, inputShape: readonly number[]): readonly ViewRecipe[] {
  return views === 2 ? [view1Recipe(inputShape), view2Recipe(inputShape)] : [standardRecipe(inputShape)];
}

/**
 * A step's input: one augmented view per recipe (1: N rows, `standardAugment`; 2: 2N rows, rows j and j + N views of
 * image j, `twoViews`), normalised. `images` is a pixel-scale float32 NHWC batch (not disposed); the result is the
 * caller's. Throws DataError for another number of recipes.
 */
export function augmentViews(images: tf.Tensor4D, rng: Random, recipes: readonly ViewRecipe[], stats: NormStats): tf.Tensor4D {
  if (recipes.length === 1) return standardAugment(images, rng, { ...stats, recipe: recipes[0]! });
  if (recipes.length === 2) return twoViews(images, rng, { ...stats, view1: recipes[0]!, view2: recipes[1]! });
  throw new DataError(`a step takes one or two views, got ${recipes.length} view recipes`);
}
