import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { supConLoss, supConLoss2N } from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { checkGradient, expectClose, expectFinite, normaliseRows, randomArray, refSupCon, toMat, value } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

/** Row r = v*N + j of the view-major flattening of [N, V, D] features. */
function viewMajor(features: readonly number[], n: number, v: number, d: number): number[] {
  const out: number[] = [];
  for (let view = 0; view < v; view++)
    for (let j = 0; j < n; j++) out.push(...features.slice((j * v + view) * d, (j * v + view + 1) * d));
  return out;
}

function rowsInfo(n: number, v: number, labels: readonly number[] | null) {
  const image: number[] = [];
  const label: number[] = [];
  for (let view = 0; view < v; view++)
    for (let j = 0; j < n; j++) {
      image.push(j);
      if (labels) label.push(labels[j]!);
    }
  return { image, label: labels ? label : null };
}

function refFromNVD(features: number[], n: number, v: number, d: number, labels: number[] | null, T = 0.07, base = 0.07) {
  const info = rowsInfo(n, v, labels);
  return refSupCon(toMat(viewMajor(features, n, v, d), n * v, d), info.image, info.label, T, base);
}

const CASES: Array<[number, number, number, number]> = [
  // N, V, D, number of classes
  [2, 2, 3, 2],
  [6, 2, 8, 3],
  [5, 3, 4, 2],
  [16, 2, 32, 5],
];

describe('supConLoss', () => {
  it.each(CASES)('matches the reference for N=%i V=%i D=%i (%i classes), supervised and SimCLR', (n, v, d, classes) => {
    const f = normaliseRows(randomArray(n * v * d, n * 100 + d), n * v, d);
    const labels = randomArray(n, n + 7, 0, classes).map(Math.floor);
    const ft = tf.tensor3d(f, [n, v, d]);
    expectClose([value(supConLoss(ft, labels))], [refFromNVD(f, n, v, d, labels)], 1e-4);
    expectClose([value(supConLoss(ft))], [refFromNVD(f, n, v, d, null)], 1e-4);
    expectClose(
      [value(supConLoss(ft, labels, { temperature: 0.5, baseTemperature: 0.1 }))],
      [refFromNVD(f, n, v, d, labels, 0.5, 0.1)],
      1e-4,
    );
    ft.dispose();
  });

  it('equals the hand-computed value on three rows (T = base = 1)', () => {
    // z = e1, e1, e2 with labels 0, 0, 1 and one view: anchors 0 and 1 have one positive each,
    // log-prob 1 - log(e + 1); anchor 2 has none and contributes 0.
    const z = tf.tensor3d([1, 0, 1, 0, 0, 1], [3, 1, 2]);
    const expected = -(2 * (1 - Math.log(Math.E + 1))) / 3;
    expectClose([value(supConLoss(z, [0, 0, 1], { temperature: 1, baseTemperature: 1 }))], [expected], 1e-6);
    z.dispose();
  });

  it('is 0 for one image with two views (its only other row is its positive)', () => {
    const z = tf.tensor3d(normaliseRows([1, 2, 3, -1, 0, 2], 2, 3), [1, 2, 3]);
    expect(Math.abs(value(supConLoss(z, [4])))).toBeLessThan(1e-6);
    expect(Math.abs(value(supConLoss(z)))).toBeLessThan(1e-6);
    z.dispose();
  });

  it('gradient matches finite differences (supervised and SimCLR)', () => {
    const [n, v, d] = [3, 2, 3];
    const f = normaliseRows(randomArray(n * v * d, 99), n * v, d);
    const labels = [0, 1, 0];
    checkGradient(
      (x) => supConLoss(x, labels, { temperature: 0.5, baseTemperature: 0.07 }),
      (x) => refFromNVD(x, n, v, d, labels, 0.5, 0.07),
      f,
      [n, v, d],
    );
    checkGradient((x) => supConLoss(x, undefined, { temperature: 0.2 }), (x) => refFromNVD(x, n, v, d, null, 0.2, 0.07), f, [n, v, d]);
  });

  it('edge cases: every label the same, a class with a single image, identical features: finite with gradient', () => {
    const [n, v, d] = [4, 2, 5];
    const f = normaliseRows(randomArray(n * v * d, 3), n * v, d);
    const ft = tf.tensor3d(f, [n, v, d]);
    for (const labels of [
      [2, 2, 2, 2],
      [0, 0, 0, 1],
    ]) {
      expectClose([value(supConLoss(ft, labels))], [refFromNVD(f, n, v, d, labels)], 1e-4);
      const g = tf.grad((x: Tensor) => supConLoss(x, labels))(ft);
      expectFinite(g);
      g.dispose();
    }
    // Identical rows: every logit is 1/T, so every log-prob is -log(M - 1) and the loss is (T / base) log(M - 1).
    const same = tf.tensor3d(Array.from({ length: n * v }, () => [0.6, 0.8, 0, 0, 0]).flat(), [n, v, d]);
    expectClose([value(supConLoss(same, [0, 1, 0, 1]))], [Math.log(n * v - 1)], 1e-5);
    const g = tf.grad((x: Tensor) => supConLoss(x, [0, 1, 0, 1]))(same);
    expectFinite(g);
    tf.dispose([ft, same, g]);
  });

  it('stays finite on unnormalised features of norm 100 (logits ~1e5)', () => {
    const f = randomArray(4 * 2 * 3, 8).map((x) => x * 100);
    const ft = tf.tensor3d(f, [4, 2, 3]);
    const v = supConLoss(ft, [0, 1, 1, 0]);
    expectFinite(v);
    const g = tf.grad((x: Tensor) => supConLoss(x, [0, 1, 1, 0]))(ft);
    expectFinite(g);
    tf.dispose([ft, v, g]);
  });

  it('leaks nothing under tf.tidy and under tf.variableGrads', () => {
    const fv = tf.variable(tf.tensor3d(normaliseRows(randomArray(24, 4), 8, 3), [4, 2, 3]));
    const before = tf.memory().numTensors;
    tf.tidy(() => supConLoss(fv, [0, 1, 0, 1])).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const { value: v, grads } = tf.variableGrads(() => supConLoss(fv, tf.tensor1d([0, 1, 0, 1], 'int32')), [fv]);
    expectFinite(grads[fv.name]!);
    v.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    fv.dispose();
  });
});

describe('supConLoss2N (the CDS layout: rows j and j + N are two views of image j)', () => {
  it('equals supConLoss on the [N, 2, D] reshaping and the reference', () => {
    const [n, d] = [5, 6];
    const z = normaliseRows(randomArray(2 * n * d, 12), 2 * n, d); // already view-major [2N, D]
    const labels = [0, 1, 2, 1, 0];
    const zt = tf.tensor2d(z, [2 * n, d]);
    const nvd = tf.tidy(() => tf.transpose(tf.reshape(zt, [2, n, d]), [1, 0, 2]));
    const info = rowsInfo(n, 2, labels);
    const expected = refSupCon(toMat(z, 2 * n, d), info.image, info.label, 0.07, 0.07);
    expectClose([value(supConLoss2N(zt, labels))], [expected], 1e-4);
    expectClose([value(supConLoss(nvd, labels))], [expected], 1e-4);
    const simclr = refSupCon(toMat(z, 2 * n, d), info.image, null, 0.07, 0.07);
    expectClose([value(supConLoss2N(zt))], [simclr], 1e-4);
    tf.dispose([zt, nvd]);
  });

  it('supports V = 3 blocks via options.views', () => {
    const [n, v, d] = [4, 3, 3];
    const z = normaliseRows(randomArray(n * v * d, 13), n * v, d);
    const labels = [1, 1, 0, 2];
    const info = rowsInfo(n, v, labels);
    const zt = tf.tensor2d(z, [n * v, d]);
    expectClose([value(supConLoss2N(zt, labels, { views: 3 }))], [refSupCon(toMat(z, n * v, d), info.image, info.label, 0.07, 0.07)], 1e-4);
    zt.dispose();
  });

  it('semi-supervised: label -1 rows only have their other view as positive, and are positives of no one else', () => {
    const [n, d] = [6, 4];
    const z = normaliseRows(randomArray(2 * n * d, 14), 2 * n, d);
    const labels = [0, -1, 0, 1, -1, 1];
    const zt = tf.tensor2d(z, [2 * n, d]);
    const info = rowsInfo(n, 2, labels);
    const expected = refSupCon(toMat(z, 2 * n, d), info.image, info.label, 0.07, 0.07);
    expectClose([value(supConLoss2N(zt, labels))], [expected], 1e-4);
    // All unlabelled = SimCLR; all labelled with distinct labels = SimCLR too.
    const simclr = refSupCon(toMat(z, 2 * n, d), info.image, null, 0.07, 0.07);
    expectClose([value(supConLoss2N(zt, [-1, -1, -1, -1, -1, -1]))], [simclr], 1e-4);
    expectClose([value(supConLoss2N(zt, [0, 1, 2, 3, 4, 5]))], [simclr], 1e-4);
    // And differs from treating -1 as an ordinary class.
    const asClass = refSupCon(toMat(z, 2 * n, d), info.image, [0, 5, 0, 1, 5, 1, 0, 5, 0, 1, 5, 1], 0.07, 0.07);
    expect(Math.abs(asClass - expected)).toBeGreaterThan(1e-3);
    checkGradient((x) => supConLoss2N(x, labels, { temperature: 0.3 }), (x) => {
      return refSupCon(toMat(x, 2 * n, d), info.image, info.label, 0.3, 0.07);
    }, z, [2 * n, d]);
    zt.dispose();
  });

  it('refuses a label count that is not N and rows that do not split into views', () => {
    const zt = tf.zeros([6, 2]);
    expect(() => supConLoss2N(zt, [0, 1])).toThrow(/3 labels/);
    expect(() => supConLoss2N(zt, undefined, { views: 4 })).toThrow(/views/);
    zt.dispose();
  });
});
