import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor, Tensor4D } from '../../src/runtime/tf.js';
import {
  adaptiveAvgPool,
  attentionTransferLoss,
  featureL2,
  fitnetLoss,
  similarityPreservingLoss,
} from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import {
  checkGradient,
  checkTrainerCall,
  expectClose,
  expectFinite,
  randomArray,
  refAdaptivePool,
  refAttentionTransfer,
  refFeatureL2,
  refMse,
  refSimilarity,
  toMat,
  value,
} from './ref.js';
import type { Map4 } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('featureL2', () => {
  it.each([[[3]], [[4, 8]], [[16, 128]], [[2, 3, 4, 5]]])('is the Frobenius norm of the difference, shape %j', (shape) => {
    const a = randomArray(size(shape), 1 + shape.length);
    const b = randomArray(size(shape), 9 + shape.length);
    const got = value(featureL2(tf.tensor(a, shape), tf.tensor(b, shape)));
    expectClose([got], [refFeatureL2(a, b)], 1e-5);
  });

  it('by hand: ||(3, 4) - (0, 0)|| = 5, not a mean', () => {
    expectClose([value(featureL2(tf.tensor2d([[3, 0], [0, 4]]), tf.zeros([2, 2])))], [5], 1e-6);
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const a = randomArray(12, 3);
    const b = randomArray(12, 4);
    const bt = tf.tensor2d(b, [3, 4]);
    checkGradient((x) => featureL2(x, bt), (x) => refFeatureL2(x, b), a, [3, 4]);
    const at = tf.tensor2d(a, [3, 4]);
    checkTrainerCall((x, y) => featureL2(x, y), at, bt);
    tf.dispose([at, bt]);
  });

  it('identical features: ~0 and a zero (not NaN) gradient', () => {
    const a = tf.tensor2d(randomArray(8, 5), [2, 4]);
    expect(value(featureL2(a, a))).toBeLessThan(1e-6);
    const g = tf.grad((x: Tensor) => featureL2(x, a))(a);
    expectFinite(g);
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    checkTrainerCall((x, y) => featureL2(x, y), a, a);
    tf.dispose([a, g]);
  });

  it('refuses different shapes', () => {
    expect(() => featureL2(tf.zeros([2, 3]), tf.zeros([3, 2]))).toThrow(/shapes differ/);
  });
});

describe('fitnetLoss', () => {
  it.each([[[2, 4, 4, 3]], [[1, 8, 8, 16]], [[5, 2, 3, 1]]])('is the mean squared error, shape %j', (shape) => {
    const a = randomArray(size(shape), 20 + shape[1]!);
    const b = randomArray(size(shape), 30 + shape[3]!);
    expectClose([value(fitnetLoss(tf.tensor(a, shape), tf.tensor(b, shape)))], [refMse(a, b)], 1e-5);
  });

  it('gradient matches finite differences; teacher gets none; identical inputs give 0', () => {
    const shape = [2, 2, 2, 3];
    const a = randomArray(size(shape), 6);
    const b = randomArray(size(shape), 7);
    const bt = tf.tensor(b, shape);
    checkGradient((x) => fitnetLoss(x, bt), (x) => refMse(x, b), a, shape);
    const at = tf.tensor(a, shape);
    checkTrainerCall((x, y) => fitnetLoss(x, y), at, bt);
    expect(value(fitnetLoss(at, at))).toBe(0);
    tf.dispose([at, bt]);
  });
});

function map4(shape: [number, number, number, number], seed: number, lo = -1, hi = 1): Map4 {
  return { data: randomArray(size(shape), seed, lo, hi), shape };
}

describe('adaptiveAvgPool', () => {
  it.each([
    [[2, 8, 8, 3], 4, 4],
    [[1, 7, 5, 2], 3, 2],
    [[2, 6, 6, 1], 4, 4],
    [[1, 5, 5, 2], 5, 5],
  ] as Array<[[number, number, number, number], number, number]>)('matches PyTorch windows for %j -> %i x %i', (shape, oh, ow) => {
    const x = map4(shape, shape[1]! * 10 + oh);
    const got = tf.tidy(() => adaptiveAvgPool(tf.tensor4d(x.data as number[], shape), oh, ow).dataSync().slice());
    expectClose(got, refAdaptivePool(x, oh, ow).data, 1e-5);
  });
});

describe('attentionTransferLoss', () => {
  const CASES: Array<[[number, number, number, number], [number, number, number, number]]> = [
    [[2, 4, 4, 3], [2, 4, 4, 5]], // same size, different channels
    [[2, 8, 8, 2], [2, 4, 4, 6]], // student larger: pooled
    [[3, 4, 4, 4], [3, 8, 8, 2]], // teacher larger: pooled
    [[2, 6, 6, 3], [2, 4, 4, 3]], // not a multiple: adaptive pooling
    [[4, 16, 16, 8], [4, 16, 16, 16]],
  ];
  it.each(CASES)('matches the reference for student %j, teacher %j (p = 2 and p = 3)', (ss, ts) => {
    const s = map4(ss, ss[1] + ss[3], -1, 2);
    const t = map4(ts, ts[1] + ts[3] + 50, -1, 2);
    const st = tf.tensor4d(s.data as number[], ss);
    const tt = tf.tensor4d(t.data as number[], ts);
    expectClose([value(attentionTransferLoss(st, tt))], [refAttentionTransfer(s, t, 2)], 1e-4, 1e-8);
    expectClose([value(attentionTransferLoss(st, tt, { p: 3 }))], [refAttentionTransfer(s, t, 3)], 1e-4, 1e-8);
    tf.dispose([st, tt]);
  });

  it('gradient matches finite differences (with pooling); teacher gets none; no leaks', () => {
    const ss: [number, number, number, number] = [2, 4, 4, 2];
    const ts: [number, number, number, number] = [2, 2, 2, 3];
    const s = map4(ss, 61, 0.1, 1);
    const t = map4(ts, 62, 0.1, 1);
    const tt = tf.tensor4d(t.data as number[], ts);
    checkGradient((x) => tf.mul(attentionTransferLoss(x, tt), 1000), (x) => 1000 * refAttentionTransfer({ data: x, shape: ss }, t), s.data, ss, { rtol: 5e-3 });
    const st = tf.tensor4d(s.data as number[], ss);
    checkTrainerCall((x, y) => attentionTransferLoss(x, y), st, tt);
    // Teacher larger than student: the teacher side is pooled, still no teacher gradient.
    checkTrainerCall((x, y) => attentionTransferLoss(x, y), tt, st);
    tf.dispose([st, tt]);
  });

  it('identical maps give 0; all-zero maps stay finite (gradient too)', () => {
    const x = tf.tensor4d(randomArray(2 * 4 * 4 * 3, 70), [2, 4, 4, 3]);
    expect(value(attentionTransferLoss(x, x))).toBeLessThan(1e-10);
    const z = tf.zeros([2, 4, 4, 3]) as Tensor4D;
    const v = attentionTransferLoss(z, x);
    expectFinite(v);
    const g = tf.grad((a: Tensor) => attentionTransferLoss(a, x))(z);
    expectFinite(g);
    tf.dispose([x, z, v, g]);
  });
});

describe('similarityPreservingLoss', () => {
  it.each([
    [[2, 3, 3, 4], [2, 3, 3, 8]],
    [[5, 4, 4, 2], [5, 2, 2, 6]],
    [[8, 16], [8, 32]],
  ])('matches the reference for student %j, teacher %j', (ss, ts) => {
    const s = randomArray(size(ss), ss.length + ss[1]!);
    const t = randomArray(size(ts), 40 + ts[1]!);
    const b = ss[0]!;
    const got = value(similarityPreservingLoss(tf.tensor(s, ss), tf.tensor(t, ts)));
    expectClose([got], [refSimilarity(toMat(s, b, s.length / b), toMat(t, b, t.length / b))], 1e-4, 1e-8);
  });

  it('gradient matches finite differences; teacher gets none; identical maps give 0', () => {
    const [b, d] = [3, 4];
    const s = randomArray(b * d, 81);
    const t = randomArray(b * 5, 82);
    const tt = tf.tensor2d(t, [b, 5]);
    checkGradient((x) => similarityPreservingLoss(x, tt), (x) => refSimilarity(toMat(x, b, d), toMat(t, b, 5)), s, [b, d]);
    const st = tf.tensor2d(s, [b, d]);
    checkTrainerCall((x, y) => similarityPreservingLoss(x, y), st, tt);
    expect(value(similarityPreservingLoss(st, st))).toBeLessThan(1e-10);
    // Identical rows in the batch: finite, gradient too.
    const same = tf.tensor2d([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4], [3, 4]);
    checkTrainerCall((x, y) => similarityPreservingLoss(x, y), same, tt);
    tf.dispose([st, tt, same]);
  });
});
