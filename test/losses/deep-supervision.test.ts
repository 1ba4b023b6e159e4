import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { deepSupervisionLoss } from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { checkGradient, expectClose, expectFinite, randomArray, refCrossEntropy, refKd, toMat, value } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

function refDs(aux: number[][], final: number[], labels: number[], b: number, c: number, T: number, w: number): number {
  let total = 0;
  for (const a of aux) {
    total += refCrossEntropy(toMat(a, b, c), labels);
    if (w !== 0) total += w * refKd(toMat(a, b, c), toMat(final, b, c), T);
  }
  return total;
}

describe('deepSupervisionLoss', () => {
  it.each([
    [2, 3, 1],
    [4, 10, 3],
    [8, 100, 2],
  ])('matches sum CE (+ KL from the final classifier) for B=%i, C=%i, %i heads', (b, c, heads) => {
    const aux = Array.from({ length: heads }, (_, i) => randomArray(b * c, 10 * i + b, -4, 4));
    const final = randomArray(b * c, 99 + c, -4, 4);
    const labels = randomArray(b, c, 0, c).map(Math.floor);
    const auxT = aux.map((a) => tf.tensor2d(a, [b, c]));
    const finalT = tf.tensor2d(final, [b, c]);
    expectClose([value(deepSupervisionLoss(auxT, finalT, labels))], [refDs(aux, final, labels, b, c, 3, 0)], 1e-5);
    expectClose(
      [value(deepSupervisionLoss(auxT, finalT, labels, { klWeight: 0.5 }))],
      [refDs(aux, final, labels, b, c, 3, 0.5)],
      1e-4,
    );
    expectClose(
      [value(deepSupervisionLoss(auxT, finalT, labels, { klWeight: 1, temperature: 1 }))],
      [refDs(aux, final, labels, b, c, 1, 1)],
      1e-4,
    );
    tf.dispose([...auxT, finalT]);
  });

  it('gradient w.r.t. an auxiliary head matches finite differences; the final logits get none from the KL', () => {
    const [b, c] = [3, 4];
    const a0 = randomArray(b * c, 1, -2, 2);
    const a1 = randomArray(b * c, 2, -2, 2);
    const final = randomArray(b * c, 3, -2, 2);
    const labels = [0, 3, 1];
    const a1t = tf.tensor2d(a1, [b, c]);
    const ft = tf.tensor2d(final, [b, c]);
    checkGradient(
      (x) => deepSupervisionLoss([x, a1t], ft, labels, { klWeight: 2 }),
      (x) => refDs([x, a1], final, labels, b, c, 3, 2),
      a0,
      [b, c],
    );
    const av = tf.variable(tf.tensor2d(a0, [b, c]));
    const fv = tf.variable(ft.clone());
    const before = tf.memory().numTensors;
    const { value: v, grads } = tf.variableGrads(
      () => deepSupervisionLoss([tf.mul(av, 1), a1t], tf.mul(fv, 1), labels, { klWeight: 1 }),
      [av, fv],
    );
    expectFinite(grads[av.name]!);
    expect(grads[fv.name]).toBeUndefined();
    v.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a1t, ft, av, fv]);
  });

  it('no heads gives 0; logits of 1e4 stay finite (gradient too)', () => {
    const f = tf.tensor2d([1e4, -1e4, 0, -1e4, 1e4, 1e4], [2, 3]);
    expect(value(deepSupervisionLoss([], f, [0, 1]))).toBe(0);
    const a = tf.tensor2d([-1e4, 1e4, 0, 1e4, -1e4, 0], [2, 3]);
    const v = deepSupervisionLoss([a], f, [1, 1], { klWeight: 1 });
    expectFinite(v);
    const g = tf.grad((x: Tensor) => deepSupervisionLoss([x], f, [1, 1], { klWeight: 1 }))(a);
    expectFinite(g);
    tf.dispose([f, a, v, g]);
  });
});
