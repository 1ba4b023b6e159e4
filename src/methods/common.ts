import { tf } from '../runtime/tf.js';
import { crossEntropy } from '../losses/index.js';
import { isCutoutFraction, view1Recipe, view2Recipe } from '../data/augment.js';
import { MethodError } from './errors.js';
import type { MethodNeeds, MethodOptions, MethodRun, StepContext } from './types.js';

/** The first N rows (view 1) of a tensor computed on the 2N views; the tensor itself with one view. */
export function firstView<T extends tf.Tensor>(t: T, batchSize: number): T {
  if (t.shape[0] === batchSize) return t;
  return tf.slice(t, 0, batchSize) as T;
}

/** The labelled rows of a view-1 tensor (all of it when every image is labelled). */
export function labeledOnly<T extends tf.Tensor>(t: T, ctx: StepContext): T {
  const view1 = firstView(t, ctx.batchSize);
  if (ctx.labeledRows.length === ctx.batchSize) return view1;
  return tf.gather(view1, tf.tensor1d(ctx.labeledRows, 'int32')) as T;
}

/** Cross-entropy of the student's view-1 logits on the labelled images (0 when a batch has none). */
export function supervisedCrossEntropy(ctx: StepContext, logits: tf.Tensor2D = ctx.student.logits): tf.Scalar {
  if (ctx.labeledRows.length === 0) return tf.scalar(0);
  return crossEntropy(labeledOnly(logits, ctx), labeledOnly(ctx.labels, ctx));
}

export function numberOption(options: MethodOptions, name: string): number {
  const v = options[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new MethodError(`method option "${name}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function stringOption<T extends string>(options: MethodOptions, name: string, allowed: readonly T[]): T {
  const v = options[name];
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw new MethodError(`method option "${name}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/**
 * The CDS pair of views (`view1Recipe`, `view2Recipe`) with view 1's cutout hole at `options.cutout` x the image's
 * shorter side: 0.5 is the published recipe (16 px at 32x32), 0 turns cutout off. Cutout is a regulariser for long
 * schedules; on a few hundred steps it costs accuracy (results/demo-ablation/). Throws MethodError outside [0, 1].
 */
export function cdsViewRecipes(method: string, options: MethodOptions): NonNullable<MethodNeeds['viewRecipes']> {
  const cutout = numberOption(options, 'cutout');
  if (!isCutoutFraction(cutout)) {
    throw new MethodError(`method ${method} option "cutout" must be a fraction of the image side in [0, 1] (0.5: the CDS recipe, 0: none), got ${cutout}`);
  }
  return (inputShape) => [view1Recipe(inputShape, cutout), view2Recipe(inputShape)];
}

/** A method run without trainable parts or state: only its loss terms. */
export function stateless(lossTerms: (ctx: StepContext) => Record<string, tf.Scalar>): MethodRun {
  return { parts: [], lossTerms, dispose: () => undefined };
}

/** The term only when its weight is non-zero, so a zero weight costs nothing and is not logged. */
export function weighted(terms: Record<string, tf.Scalar>, name: string, weight: number, compute: () => tf.Scalar): void {
  if (weight !== 0) terms[name] = tf.mul(compute(), weight) as tf.Scalar;
}

/** Sum of per-stage scalars. */
export function sumOver(values: readonly tf.Scalar[]): tf.Scalar {
  if (values.length === 0) return tf.scalar(0);
  return (values.length === 1 ? values[0]! : tf.addN([...values])) as tf.Scalar;
}

/**
 * Release a method run: the models of its trainable `parts` (regressors, embeddings, adapters), then whatever else it
 * holds (`run.dispose`). The one place a run's parts are disposed; call it once per run.
 */
export function disposeMethod(run: MethodRun): void {
  for (const part of run.parts) part.model.dispose();
  run.dispose?.();
}
