import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { pktLoss, rkdLoss } from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { checkGradient, checkTrainerCall, expectClose, expectFinite, randomArray, refPkt, refRkd, toMat, value } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

const CASES: Array<[number, number, number]> = [
  // B, student D, teacher D
  [2, 3, 3],
  [4, 5, 8],
  [7, 16, 4],
  [16, 32, 64],
];

describe('rkdLoss', () => {
  it.each(CASES)('matches the reference for B=%i, D_s=%i, D_t=%i (defaults and other weights)', (b, ds, dt) => {
    const s = randomArray(b * ds, b + ds);
    const t = randomArray(b * dt, 100 + b + dt, -2, 2);
    const st = tf.tensor2d(s, [b, ds]);
    const tt = tf.tensor2d(t, [b, dt]);
    expectClose([value(rkdLoss(st, tt))], [refRkd(toMat(s, b, ds), toMat(t, b, dt))], 2e-4, 1e-6);
    expectClose(
      [value(rkdLoss(st, tt, { distanceWeight: 1, angleWeight: 0 }))],
      [refRkd(toMat(s, b, ds), toMat(t, b, dt), 1, 0)],
      2e-4,
      1e-6,
    );
    expectClose(
      [value(rkdLoss(st, tt, { distanceWeight: 0, angleWeight: 2 }))],
      [refRkd(toMat(s, b, ds), toMat(t, b, dt), 0, 2)],
      2e-4,
      1e-6,
    );
    tf.dispose([st, tt]);
  });

  it('is 0 when the student is a scaled copy of the teacher (distances normalised, angles scale-free)', () => {
    const t = randomArray(5 * 3, 5);
    const tt = tf.tensor2d(t, [5, 3]);
    const st = tf.mul(tt, 3);
    expect(value(rkdLoss(st, tt))).toBeLessThan(1e-4);
    tf.dispose([st, tt]);
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const [b, ds, dt] = [4, 3, 5];
    const s = randomArray(b * ds, 31);
    const t = randomArray(b * dt, 32);
    const tt = tf.tensor2d(t, [b, dt]);
    checkGradient((x) => rkdLoss(x, tt), (x) => refRkd(toMat(x, b, ds), toMat(t, b, dt)), s, [b, ds], { rtol: 5e-3 });
    const st = tf.tensor2d(s, [b, ds]);
    checkTrainerCall((x, y) => rkdLoss(x, y), st, tt);
    tf.dispose([st, tt]);
  });

  it('identical features (all rows equal, student or teacher): finite value and gradient', () => {
    const same = tf.tensor2d(Array.from({ length: 4 }, () => [0.3, -0.2, 0.5]).flat(), [4, 3]);
    const other = tf.tensor2d(randomArray(12, 41), [4, 3]);
    for (const [s, t] of [
      [same, other],
      [other, same],
      [same, same],
    ] as Array<[Tensor, Tensor]>) {
      const v = rkdLoss(s, t);
      expectFinite(v);
      v.dispose();
      checkTrainerCall((x, y) => rkdLoss(x, y), s, t);
    }
    tf.dispose([same, other]);
  });

  it('refuses a batch of 1', () => {
    expect(() => rkdLoss(tf.zeros([1, 3]), tf.zeros([1, 3]))).toThrow(/at least 2/);
  });
});

describe('pktLoss', () => {
  it.each(CASES)('matches the reference for B=%i, D_s=%i, D_t=%i', (b, ds, dt) => {
    const s = randomArray(b * ds, 200 + b + ds);
    const t = randomArray(b * dt, 300 + b + dt, -3, 3);
    const st = tf.tensor2d(s, [b, ds]);
    const tt = tf.tensor2d(t, [b, dt]);
    expectClose([value(pktLoss(st, tt))], [refPkt(toMat(s, b, ds), toMat(t, b, dt))], 2e-3, 1e-7);
    tf.dispose([st, tt]);
  });

  it('is ~0 for the same directions (scale-free)', () => {
    const t = tf.tensor2d(randomArray(12, 9), [4, 3]);
    const s = tf.mul(t, 7);
    expect(Math.abs(value(pktLoss(s, t)))).toBeLessThan(1e-6);
    tf.dispose([s, t]);
  });

  it('gradient matches finite differences; teacher gets none; no leaks', () => {
    const [b, ds, dt] = [4, 3, 6];
    const s = randomArray(b * ds, 51);
    const t = randomArray(b * dt, 52);
    const tt = tf.tensor2d(t, [b, dt]);
    // The loss is ~1e-2 with gradients ~1e-2; scale by 30000 (the benchmark's weight) to compare at float32 precision.
    checkGradient((x) => tf.mul(pktLoss(x, tt), 30000), (x) => 30000 * refPkt(toMat(x, b, ds), toMat(t, b, dt)), s, [b, ds], {
      rtol: 5e-3,
      atol: 1e-3,
    });
    const st = tf.tensor2d(s, [b, ds]);
    checkTrainerCall((x, y) => pktLoss(x, y), st, tt);
    tf.dispose([st, tt]);
  });

  it('identical features and an all-zero row: finite value and gradient', () => {
    const same = tf.tensor2d(Array.from({ length: 4 }, () => [0.3, -0.2, 0.5]).flat(), [4, 3]);
    const withZero = tf.tensor2d([0, 0, 0, 1, 2, 3, -1, 0, 1, 2, 2, 2], [4, 3]);
    checkTrainerCall((x, y) => pktLoss(x, y), same, withZero);
    checkTrainerCall((x, y) => pktLoss(x, y), withZero, same);
    tf.dispose([same, withZero]);
  });
});
