/**
 * Shared helpers for the loss functions: stop-gradient, numerically safe norms, label conversion.
 * Not part of the public `losses.*` surface except `stopGradient` and the `LabelsLike` type.
 */
import { tf } from '../runtime/tf.js';
import type { Tensor, Tensor1D } from '../runtime/tf.js';

/** Integer class labels: an int32 tensor [B] (float tensors are cast), an Int32Array or a plain number array. */
export type LabelsLike = Tensor | Int32Array | readonly number[];

/**
 * The same values as `x`, cut off the gradient tape (PyTorch's `detach()`, TensorFlow's `stop_gradient`).
 *
 * tfjs has no stop-gradient op; this makes a second tensor handle on x's data without running a kernel, so nothing is
 * recorded on the tape and no gradient (not even a zero one) flows back into whatever produced `x`. The new handle
 * holds its own reference on the data and is tracked by the current `tf.tidy` scope like any op result.
 */
export function stopGradient<T extends Tensor>(x: T): T {
  const engine = tf.engine();
  // The backend that holds x's data (not necessarily the active one after a setBackend).
  const backend = engine.state.tensorInfo.get(x.dataId)?.backend ?? engine.backend;
  const t = engine.makeTensorFromDataId(x.dataId, x.shape, x.dtype, backend);
  backend.incRef(x.dataId);
  return t as T;
}

/** A float32 version of x (a no-op when it already is). */
export function asFloat<T extends Tensor>(x: T): T {
  return x.dtype === 'float32' ? x : (tf.cast(x, 'float32') as T);
}

/** Labels as an int32 tensor [B]. */
export function toLabelTensor(labels: LabelsLike): Tensor1D {
  if (labels instanceof tf.Tensor) {
    const flat = labels.rank === 1 ? labels : tf.reshape(labels, [-1]);
    return (flat.dtype === 'int32' ? flat : tf.cast(flat, 'int32')) as Tensor1D;
  }
  return tf.tensor1d(Int32Array.from(labels as ArrayLike<number>), 'int32');
}

/** Smallest squared norm the safe norms divide by: their gradient stays finite at an all-zero vector. */
export const NORM_EPS_SQ = 1e-24;

/**
 * Euclidean norm along `axis` (keepDims), as sqrt(max(sum x^2, 1e-24)). Equal to the plain norm except below 1e-12,
 * where the plain norm's gradient is infinite at zero; here it is zero.
 */
export function safeNorm(x: Tensor, axis: number): Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), NORM_EPS_SQ));
}

/** x / max(||x||, 1e-12) along `axis`: PyTorch's `F.normalize(x, p=2, dim=axis)`; all-zero vectors stay zero. */
export function l2Normalize(x: Tensor, axis: number): Tensor {
  return tf.div(x, safeNorm(x, axis));
}

/** Elementwise smooth-L1 (Huber with beta = 1): 0.5 d^2 where |d| < 1, |d| - 0.5 elsewhere. */
export function smoothL1(d: Tensor): Tensor {
  const a = tf.abs(d);
  const quad = tf.minimum(a, 1);
  // 0.5 q^2 + (|d| - q): equals 0.5 d^2 for |d| < 1 and |d| - 0.5 for |d| >= 1, with the right gradient on both sides.
  return tf.add(tf.mul(0.5, tf.square(quad)), tf.sub(a, quad));
}

/** Throw a clear error unless x has the given rank. */
export function expectRank(x: Tensor, rank: number, what: string): void {
  if (x.rank !== rank) throw new Error(`${what} must have rank ${rank}, got shape [${x.shape.join(', ')}]`);
}

/** Throw a clear error unless a and b have the same shape. */
export function expectSameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes differ, [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}
