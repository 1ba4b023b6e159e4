import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { crossEntropy, dkdLoss, kdLoss, softTargetCrossEntropy } from '../../src/losses/index.js';
import { leakedTensors, useWasm } from '../helpers.js';
import {
  checkGradient,
  checkTrainerCall,
  expectClose,
  expectFinite,
  randomArray,
  refCrossEntropy,
  refDkd,
  refKd,
  refSoftTargetCE,
  toMat,
  value,
} from './ref.js';

beforeAll(async () => {
  await useWasm();
});

const SHAPES: Array<[number, number]> = [
  [1, 2],
  [4, 5],
  [7, 10],
  [16, 100],
];

function labelsFor(b: number, c: number, seed: number): number[] {
  return randomArray(b, seed, 0, c).map((v) => Math.min(c - 1, Math.floor(v)));
}

describe('crossEntropy', () => {
  it.each(SHAPES)('matches the reference for [%i, %i], with and without label smoothing', (b, c) => {
    const x = randomArray(b * c, b * 31 + c, -4, 4);
    const y = labelsFor(b, c, b + c);
    for (const ls of [0, 0.1]) {
      const got = value(crossEntropy(tf.tensor2d(x, [b, c]), y, { labelSmoothing: ls }));
      expectClose([got], [refCrossEntropy(toMat(x, b, c), y, ls)], 1e-5);
    }
    // Labels as an int32 tensor and as a float tensor give the same value.
    const yt = tf.tensor1d(y, 'int32');
    expectClose([value(crossEntropy(tf.tensor2d(x, [b, c]), yt))], [refCrossEntropy(toMat(x, b, c), y)], 1e-5);
    yt.dispose();
  });

  it('has the value log(C) for zero logits (by hand)', () => {
    expectClose([value(crossEntropy(tf.zeros([3, 10]), [0, 4, 9]))], [Math.log(10)], 1e-6);
  });

  it('gradient matches finite differences', () => {
    const [b, c] = [3, 4];
    const x = randomArray(b * c, 5, -2, 2);
    const y = [1, 3, 1];
    checkGradient(
      (v) => crossEntropy(v, y, { labelSmoothing: 0.2 }),
      (xx) => refCrossEntropy(toMat(xx, b, c), y, 0.2),
      x,
      [b, c],
    );
  });

  it('stays finite with logits of 1e4, gradient included', () => {
    const x = tf.tensor2d([1e4, -1e4, 0, 0, 1e4, -1e4], [2, 3]);
    const v = crossEntropy(x, [1, 0]);
    expectClose([value(v)], [refCrossEntropy([[1e4, -1e4, 0], [0, 1e4, -1e4]], [1, 0])], 1e-5);
    const g = tf.grad((t: Tensor) => crossEntropy(t, [1, 0]))(x);
    expectFinite(g);
    tf.dispose([x, g]);
  });

  it('leaks nothing', async () => {
    const x = tf.randomNormal([4, 5]);
    expect(await leakedTensors(() => tf.tidy(() => crossEntropy(x, [0, 1, 2, 3])).dispose())).toBe(0);
    const xv = tf.variable(x);
    const before = tf.memory().numTensors;
    const { value: v, grads } = tf.variableGrads(() => crossEntropy(xv, [0, 1, 2, 3], { labelSmoothing: 0.1 }), [xv]);
    v.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, xv]);
  });
});

describe('softTargetCrossEntropy', () => {
  it.each(SHAPES)('matches the reference for [%i, %i] at T = 3 (default) and T = 1', (b, c) => {
    const s = randomArray(b * c, 100 + b, -5, 5);
    const t = randomArray(b * c, 200 + c, -5, 5);
    const st = tf.tensor2d(s, [b, c]);
    const tt = tf.tensor2d(t, [b, c]);
    expectClose([value(softTargetCrossEntropy(st, tt))], [refSoftTargetCE(toMat(s, b, c), toMat(t, b, c), 3)], 1e-5);
    expectClose([value(softTargetCrossEntropy(st, tt, 1))], [refSoftTargetCE(toMat(s, b, c), toMat(t, b, c), 1)], 1e-5);
    tf.dispose([st, tt]);
  });

  it('equals the teacher entropy when student = teacher (no T^2 factor)', () => {
    const x = [1, 2, 3, 0, 0, 0];
    const p = [1, 2, 3].map((v) => Math.exp(v / 3));
    const z = p.reduce((a, v) => a + v, 0);
    const h1 = -p.reduce((a, v) => a + (v / z) * Math.log(v / z), 0);
    const h2 = Math.log(3);
    const st = tf.tensor2d(x, [2, 3]);
    expectClose([value(softTargetCrossEntropy(st, st))], [(h1 + h2) / 2], 1e-5);
    st.dispose();
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const [b, c] = [3, 5];
    const s = randomArray(b * c, 1, -2, 2);
    const t = randomArray(b * c, 2, -2, 2);
    const tt = tf.tensor2d(t, [b, c]);
    checkGradient((v) => softTargetCrossEntropy(v, tt), (x) => refSoftTargetCE(toMat(x, b, c), toMat(t, b, c), 3), s, [b, c]);
    const st = tf.tensor2d(s, [b, c]);
    checkTrainerCall((x, y) => softTargetCrossEntropy(x, y), st, tt);
    tf.dispose([st, tt]);
  });

  it('stays finite with logits of 1e4', () => {
    const s = tf.tensor2d([1e4, -1e4, 0, -1e4], [2, 2]);
    const t = tf.tensor2d([-1e4, 1e4, 1e4, 0], [2, 2]);
    expectClose(
      [value(softTargetCrossEntropy(s, t))],
      [refSoftTargetCE([[1e4, -1e4], [0, -1e4]], [[-1e4, 1e4], [1e4, 0]], 3)],
      1e-5,
    );
    checkTrainerCall((x, y) => softTargetCrossEntropy(x, y), s, t);
    tf.dispose([s, t]);
  });
});

describe('kdLoss', () => {
  it.each(SHAPES)('matches T^2 KL for [%i, %i] at T = 4 (default) and T = 2', (b, c) => {
    const s = randomArray(b * c, 300 + b, -5, 5);
    const t = randomArray(b * c, 400 + c, -5, 5);
    const st = tf.tensor2d(s, [b, c]);
    const tt = tf.tensor2d(t, [b, c]);
    expectClose([value(kdLoss(st, tt))], [refKd(toMat(s, b, c), toMat(t, b, c), 4)], 1e-4, 1e-6);
    expectClose([value(kdLoss(st, tt, { temperature: 2 }))], [refKd(toMat(s, b, c), toMat(t, b, c), 2)], 1e-4, 1e-6);
    tf.dispose([st, tt]);
  });

  it('is zero for identical logits and for logits that differ by a constant per row', () => {
    const s = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const t = tf.tensor2d([11, 12, 13, -4, -3, -2], [2, 3]);
    expect(Math.abs(value(kdLoss(s, s)))).toBeLessThan(1e-6);
    expect(Math.abs(value(kdLoss(s, t)))).toBeLessThan(1e-5);
    tf.dispose([s, t]);
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const [b, c] = [4, 3];
    const s = randomArray(b * c, 11, -3, 3);
    const t = randomArray(b * c, 12, -3, 3);
    const tt = tf.tensor2d(t, [b, c]);
    checkGradient((v) => kdLoss(v, tt, { temperature: 2 }), (x) => refKd(toMat(x, b, c), toMat(t, b, c), 2), s, [b, c]);
    const st = tf.tensor2d(s, [b, c]);
    checkTrainerCall((x, y) => kdLoss(x, y), st, tt);
    tf.dispose([st, tt]);
  });

  it('stays finite with logits of 1e4 (teacher probabilities underflow to exactly 0)', () => {
    const s = tf.tensor2d([1e4, 0, -1e4, 0, 1e4, 0], [2, 3]);
    const t = tf.tensor2d([-1e4, 1e4, 0, 0, 0, 1e4], [2, 3]);
    const got = value(kdLoss(s, t));
    expectClose([got], [refKd([[1e4, 0, -1e4], [0, 1e4, 0]], [[-1e4, 1e4, 0], [0, 0, 1e4]], 4)], 1e-4);
    checkTrainerCall((x, y) => kdLoss(x, y), s, t);
    tf.dispose([s, t]);
  });
});

describe('dkdLoss', () => {
  it.each(SHAPES)('matches mdistiller dkd_loss for [%i, %i] (defaults alpha 1, beta 8, T 4; and alpha 2, beta 3, T 2)', (b, c) => {
    const s = randomArray(b * c, 500 + b, -5, 5);
    const t = randomArray(b * c, 600 + c, -5, 5);
    const y = labelsFor(b, c, 700 + b);
    const st = tf.tensor2d(s, [b, c]);
    const tt = tf.tensor2d(t, [b, c]);
    expectClose([value(dkdLoss(st, tt, y))], [refDkd(toMat(s, b, c), toMat(t, b, c), y, 1, 8, 4)], 2e-4, 1e-6);
    expectClose(
      [value(dkdLoss(st, tt, y, { alpha: 2, beta: 3, temperature: 2 }))],
      [refDkd(toMat(s, b, c), toMat(t, b, c), y, 2, 3, 2)],
      2e-4,
      1e-6,
    );
    tf.dispose([st, tt]);
  });

  it('TCKD alone for 2 classes equals KD (NCKD over one class is 0)', () => {
    const s = randomArray(8, 41, -3, 3);
    const t = randomArray(8, 42, -3, 3);
    const y = [0, 1, 1, 0];
    const st = tf.tensor2d(s, [4, 2]);
    const tt = tf.tensor2d(t, [4, 2]);
    expectClose([value(dkdLoss(st, tt, y, { alpha: 1, beta: 100 }))], [refKd(toMat(s, 4, 2), toMat(t, 4, 2), 4)], 1e-4, 1e-6);
    tf.dispose([st, tt]);
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const [b, c] = [3, 5];
    const s = randomArray(b * c, 21, -3, 3);
    const t = randomArray(b * c, 22, -3, 3);
    const y = [4, 0, 2];
    const tt = tf.tensor2d(t, [b, c]);
    checkGradient(
      (v) => dkdLoss(v, tt, y, { temperature: 2 }),
      (x) => refDkd(toMat(x, b, c), toMat(t, b, c), y, 1, 8, 2),
      s,
      [b, c],
    );
    const st = tf.tensor2d(s, [b, c]);
    checkTrainerCall((x, z) => dkdLoss(x, z, y), st, tt);
    tf.dispose([st, tt]);
  });

  it('stays finite with logits of 1e4 (where mdistiller log(p) would give -inf); all labels equal', () => {
    const s = tf.tensor2d([1e4, 0, -1e4, 0, 1e4, 0, -1e4, -1e4, 1e4], [3, 3]);
    const t = tf.tensor2d([-1e4, 1e4, 0, 0, 0, 1e4, 1e4, 0, 0], [3, 3]);
    const y = [1, 1, 1];
    const v = dkdLoss(s, t, y);
    expectFinite(v);
    v.dispose();
    checkTrainerCall((x, z) => dkdLoss(x, z, y), s, t);
    tf.dispose([s, t]);
  });
});
