/**
 * Seeded, batched augmentation: the views (recipes, one or two views per step, normalisation); the transforms are in
 * ./augment-geometry.ts (crop, flip, cutout) and ./augment-colour.ts (colour jitter, grayscale).
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
import { applyGeometry, drawGeometry, shapeOf } from './augment-geometry.js';
import type { GeometryRecipe } from './augment-geometry.js';
import { colorJitter, randomGrayscale } from './augment-colour.js';
import type { ColorJitterOptions, GrayscaleOptions } from './augment-colour.js';

export { randomCrop, randomFlip, cutout } from './augment-geometry.js';
export type { CropOptions, FlipOptions, CutoutOptions } from './augment-geometry.js';
export { adjustBrightness, adjustContrast, adjustSaturation, adjustHue, colorJitter, randomGrayscale } from './augment-colour.js';
export type { ColorJitterOptions, GrayscaleOptions } from './augment-colour.js';

/** One augmentation view: which transforms run, in this order: crop, flip, cutout, colour jitter, grayscale. */
export interface ViewRecipe extends GeometryRecipe {
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

/** The CDS recipe's cutout hole as a fraction of the image's shorter side: 16 px at 32x32. */
export const CDS_CUTOUT = 0.5;

/** Whether `fraction` is a cutout hole size view 1 takes: a fraction of the image side in [0, 1] (0: no hole). */
export function isCutoutFraction(fraction: number): boolean {
  return Number.isFinite(fraction) && fraction >= 0 && fraction <= 1;
}

/**
 * Side of the cutout hole scaled to the image: round(fraction x min(H, W)), at least 1 px, for a fraction in (0, 1];
 * the default is the recipe's (16 at 32x32, 14 at 28x28).
 */
export function holeSize(h: number, w: number, fraction: number = CDS_CUTOUT): number {
  return Math.max(1, Math.round(Math.min(h, w) * fraction));
}

/**
 * The crop's padding value: 128 on colour images (the CDS recipe's CIFAR value), 0 on one-channel images. MNIST-family
 * images have black backgrounds: a grey border made the training batches' BN statistics differ so much from the clean
 * test images that a resnet8 scored 23% in inference mode against 56% with batch statistics (fill 0: on par).
 */
export function defaultCropFill(inputShape: readonly number[]): number {
  return inputShape[2] === 1 ? 0 : 128;
}

/**
 * CDS view 1 (the CDS reference implementation): random crop with padding (fill 128), horizontal flip, cutout of one
 * hole whose side is `cutout` x the image's shorter side (default 0.5, the recipe's 16 px at 32x32; 0: no cutout).
 * Throws DataError for a `cutout` outside [0, 1].
 */
export function view1Recipe(inputShape: readonly number[], cutout: number = CDS_CUTOUT): ViewRecipe {
  if (!isCutoutFraction(cutout)) throw new DataError(`view 1's cutout must be a fraction of the image side in [0, 1], got ${cutout}`);
  const [h, w] = inputShape as [number, number];
  return {
    crop: { padding: defaultPadding(h, w), fill: defaultCropFill(inputShape) },
    flip: { p: 0.5 },
    cutout: cutout === 0 ? false : { holes: 1, size: holeSize(h, w, cutout), fill: 0 },
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
