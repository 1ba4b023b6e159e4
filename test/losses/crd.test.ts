import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { Random } from '../../src/runtime/random.js';
import { CrdMemoryBank, crdLoss } from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { expectClose, expectFinite, normaliseRows, numericGrad, randomArray, refCrdSide, refCrdZ, toMat, value } from './ref.js';
import type { Mat } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

function banks(memory: CrdMemoryBank): { student: Mat; teacher: Mat } {
  const s = memory.getState();
  return {
    student: toMat(Array.from(s.memoryStudent), s.numSamples, s.dim),
    teacher: toMat(Array.from(s.memoryTeacher), s.numSamples, s.dim),
  };
}

/** The reference loss (RepDistiller transcribed) with given Z's: student anchors vs teacher bank + the reverse. */
function refLoss(embS: number[], embT: number[], memory: CrdMemoryBank, cidx: Int32Array, zS: number, zT: number): number {
  const { student, teacher } = banks(memory);
  const b = cidx.length / (memory.numNegatives + 1);
  const d = memory.dim;
  const ci = Array.from(cidx);
  return (
    refCrdSide(toMat(embS, b, d), teacher, ci, memory.temperature, zS, memory.numSamples) +
    refCrdSide(toMat(embT, b, d), student, ci, memory.temperature, zT, memory.numSamples)
  );
}

describe('CrdMemoryBank', () => {
  it('initialises both banks uniform in [-1/sqrt(dim/3), 1/sqrt(dim/3)], reproducibly from the seed', () => {
    const a = new CrdMemoryBank({ numSamples: 50, dim: 12, rng: new Random(3) });
    const b = new CrdMemoryBank({ numSamples: 50, dim: 12, rng: new Random(3) });
    const c = new CrdMemoryBank({ numSamples: 50, dim: 12, rng: new Random(4) });
    const stdv = 1 / Math.sqrt(12 / 3);
    const sa = a.getState();
    for (const bank of [sa.memoryStudent, sa.memoryTeacher]) {
      expect(bank.length).toBe(600);
      expect(Math.max(...bank)).toBeLessThanOrEqual(stdv);
      expect(Math.min(...bank)).toBeGreaterThanOrEqual(-stdv);
      expect(Math.max(...bank)).toBeGreaterThan(0.8 * stdv);
    }
    expect(Array.from(b.getState().memoryStudent)).toEqual(Array.from(sa.memoryStudent));
    expect(Array.from(c.getState().memoryStudent)).not.toEqual(Array.from(sa.memoryStudent));
    expect(sa.zStudent).toBe(-1);
    expect(sa).toMatchObject({ numSamples: 50, dim: 12, numNegatives: 16384, temperature: 0.07, momentum: 0.5 });
  });

  it('sampleNegatives: positive first, K uniform negatives with replacement (K > dataset works), seeded', () => {
    const memory = new CrdMemoryBank({ numSamples: 7, dim: 4, numNegatives: 40, rng: new Random(1) });
    const idx = memory.sampleNegatives([3, 0, 6], undefined, new Random(9));
    expect(idx.length).toBe(3 * 41);
    expect([idx[0], idx[41], idx[82]]).toEqual([3, 0, 6]);
    const counts = new Array(7).fill(0);
    for (let b = 0; b < 3; b++) for (let k = 1; k <= 40; k++) counts[idx[b * 41 + k]!]++;
    expect(counts.reduce((a, v) => a + v, 0)).toBe(120);
    for (const c of counts) expect(c).toBeGreaterThan(3); // every sample drawn, ~17 each
    expect(Array.from(memory.sampleNegatives([3, 0, 6], 40, new Random(9)))).toEqual(Array.from(idx));
    expect(memory.sampleNegatives(tf.tensor1d([1, 2], 'int32'), 5, new Random(2)).length).toBe(12);
    expect(() => memory.sampleNegatives([7])).toThrow(/outside/);
  });

  it('sampleNegatives with sampleLabels draws negatives from other classes only (falls back to all when one class)', () => {
    const labels = [0, 0, 1, 1, 2, 2, 2, 0];
    const memory = new CrdMemoryBank({ numSamples: 8, dim: 2, numNegatives: 30, sampleLabels: labels });
    const idx = memory.sampleNegatives([0, 4, 3], undefined, new Random(5));
    for (let b = 0; b < 3; b++) {
      const cls = labels[idx[b * 31]!];
      for (let k = 1; k <= 30; k++) expect(labels[idx[b * 31 + k]!]).not.toBe(cls);
    }
    const single = new CrdMemoryBank({ numSamples: 3, dim: 2, numNegatives: 5, sampleLabels: [1, 1, 1] });
    expect(single.sampleNegatives([0], undefined, new Random(1)).length).toBe(6);
  });

  it('update: momentum 0.5 then renormalise, from the old rows; a repeated index keeps its last occurrence', () => {
    const memory = new CrdMemoryBank({ numSamples: 6, dim: 3, numNegatives: 2, rng: new Random(7) });
    const before = banks(memory);
    const embS = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const embT = [0.6, 0.8, 0, 0, 0.6, 0.8, 1, 0, 0];
    memory.update([2, 5, 2], tf.tensor2d(embS, [3, 3]), new Float32Array(embT));
    const after = banks(memory);
    const expectRow = (old: number[], e: number[]) => {
      const v = old.map((x, i) => 0.5 * x + 0.5 * e[i]!);
      const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
      return v.map((x) => x / n);
    };
    expectClose(after.student[2]!, expectRow(before.student[2]!, embS.slice(6, 9)), 1e-5);
    expectClose(after.student[5]!, expectRow(before.student[5]!, embS.slice(3, 6)), 1e-5);
    expectClose(after.teacher[2]!, expectRow(before.teacher[2]!, embT.slice(6, 9)), 1e-5);
    expectClose(after.teacher[5]!, expectRow(before.teacher[5]!, embT.slice(3, 6)), 1e-5);
    for (const i of [0, 1, 3, 4]) expect(after.student[i]).toEqual(before.student[i]);
    expect(() => memory.update([1], new Float32Array(2), new Float32Array(3))).toThrow(/expected 1 x 3/);
  });

  it('getState / setState round-trip; the state is a copy; sizes are checked', () => {
    const memory = new CrdMemoryBank({ numSamples: 5, dim: 4, numNegatives: 3, rng: new Random(2) });
    const embS = tf.tensor2d(normaliseRows(randomArray(8, 1), 2, 4), [2, 4]);
    const embT = tf.tensor2d(normaliseRows(randomArray(8, 2), 2, 4), [2, 4]);
    const cidx = memory.sampleNegatives([0, 1], 3, new Random(1));
    value(crdLoss(embS, embT, memory, [0, 1], { contrastIdx: cidx })); // fixes Z
    const state = memory.getState();
    expect(state.zStudent).toBeGreaterThan(0);
    state.memoryStudent[0] = 123; // mutating the copy does not touch the bank
    expect(memory.getState().memoryStudent[0]).not.toBe(123);
    state.memoryStudent[0] = memory.getState().memoryStudent[0]!;
    const first = value(crdLoss(embS, embT, memory, [0, 1], { contrastIdx: cidx }));
    memory.update([0, 1], embS, embT);
    expect(value(crdLoss(embS, embT, memory, [0, 1], { contrastIdx: cidx }))).not.toBeCloseTo(first, 5);
    const restored = new CrdMemoryBank({ numSamples: 5, dim: 4, numNegatives: 3, rng: new Random(99) });
    restored.setState(state);
    expect(value(crdLoss(embS, embT, restored, [0, 1], { contrastIdx: cidx }))).toBe(first);
    expect(restored.z).toEqual({ student: state.zStudent, teacher: state.zTeacher });
    expect(() => new CrdMemoryBank({ numSamples: 6, dim: 4 }).setState(state)).toThrow(/5 x 4/);
    tf.dispose([embS, embT]);
  });
});

describe('crdLoss', () => {
  // [numSamples, B, K, dim]: the first scores every bank row (B (K+1) > n), the second gathers rows.
  const CASES: Array<[number, number, number, number]> = [
    [10, 4, 16, 8],
    [300, 3, 5, 6],
    [64, 8, 31, 16],
  ];

  it.each(CASES)('matches RepDistiller (Z from the first batch, then fixed) for n=%i, B=%i, K=%i, dim=%i', (n, b, k, d) => {
    const memory = new CrdMemoryBank({ numSamples: n, dim: d, numNegatives: k, rng: new Random(n) });
    const indices = Array.from({ length: b }, (_, i) => (i * 7) % n);
    const s = normaliseRows(randomArray(b * d, n + 1), b, d);
    const t = normaliseRows(randomArray(b * d, n + 2), b, d);
    const cidx = memory.sampleNegatives(indices, k, new Random(b));
    const { student, teacher } = banks(memory);
    const ci = Array.from(cidx);
    const zS = refCrdZ(toMat(s, b, d), teacher, ci, 0.07, n);
    const zT = refCrdZ(toMat(t, b, d), student, ci, 0.07, n);
    const st = tf.tensor2d(s, [b, d]);
    const tt = tf.tensor2d(t, [b, d]);
    const got = value(crdLoss(st, tt, memory, indices, { contrastIdx: cidx }));
    expectClose([memory.z.student, memory.z.teacher], [zS, zT], 1e-4);
    expectClose([got], [refLoss(s, t, memory, cidx, zS, zT)], 1e-4);
    // Both ways of scoring give the same value.
    for (const scoring of ['gather', 'dense'] as const) {
      expectClose([value(crdLoss(st, tt, memory, indices, { contrastIdx: cidx, scoring }))], [got], 1e-5);
    }
    // A second batch keeps Z.
    const s2 = normaliseRows(randomArray(b * d, n + 3), b, d);
    const st2 = tf.tensor2d(s2, [b, d]);
    const cidx2 = memory.sampleNegatives(indices, k, new Random(b + 1));
    const got2 = value(crdLoss(st2, tt, memory, indices, { contrastIdx: cidx2 }));
    expectClose([memory.z.student, memory.z.teacher], [zS, zT], 1e-4);
    expectClose([got2], [refLoss(s2, t, memory, cidx2, zS, zT)], 1e-4);
    tf.dispose([st, tt, st2]);
  });

  it('gradients w.r.t. both embeddings match finite differences (both embedding heads train, as in RepDistiller)', () => {
    const [n, b, k, d] = [12, 3, 20, 4];
    const memory = new CrdMemoryBank({ numSamples: n, dim: d, numNegatives: k, rng: new Random(5), temperature: 0.5 });
    const indices = [1, 5, 9];
    const s = normaliseRows(randomArray(b * d, 71), b, d);
    const t = normaliseRows(randomArray(b * d, 72), b, d);
    const cidx = memory.sampleNegatives(indices, k, new Random(3));
    const st = tf.tensor2d(s, [b, d]);
    const tt = tf.tensor2d(t, [b, d]);
    value(crdLoss(st, tt, memory, indices, { contrastIdx: cidx })); // fixes Z
    const { student: zS, teacher: zT } = memory.z;
    const numS = numericGrad((x) => refLoss(x, t, memory, cidx, zS, zT), s);
    const numT = numericGrad((x) => refLoss(s, x, memory, cidx, zS, zT), t);
    for (const scoring of ['gather', 'dense'] as const) {
      const [gs, gt] = tf.grads((a: Tensor, c: Tensor) => crdLoss(a, c, memory, indices, { contrastIdx: cidx, scoring }))([
        st,
        tt,
      ]);
      expectClose(gs!.dataSync(), numS, 2e-3, 1e-5);
      expectClose(gt!.dataSync(), numT, 2e-3, 1e-5);
      tf.dispose([gs!, gt!]);
    }
    tf.dispose([st, tt]);
  });

  it('the default K = 16384 works on a dataset of 50 (sampling with replacement); finite; no leaks', () => {
    const memory = new CrdMemoryBank({ numSamples: 50, dim: 128, rng: new Random(1) });
    const indices = [0, 10, 20, 30];
    const sv = tf.variable(tf.tensor2d(normaliseRows(randomArray(4 * 128, 5), 4, 128), [4, 128]));
    const tv = tf.variable(tf.tensor2d(normaliseRows(randomArray(4 * 128, 6), 4, 128), [4, 128]));
    const before = tf.memory().numTensors;
    for (let step = 0; step < 2; step++) {
      const { value: v, grads } = tf.variableGrads(() => {
        const embS = tf.mul(sv, 1);
        const embT = tf.mul(tv, 1);
        const loss = crdLoss(embS, embT, memory, indices); // negatives from the global random source
        memory.update(indices, embS, embT);
        return loss;
      }, [sv, tv]);
      expectFinite(v);
      expectFinite(grads[sv.name]!);
      expectFinite(grads[tv.name]!);
      v.dispose();
      tf.dispose(grads);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([sv, tv]);
  });

  it('identical embeddings for the whole batch, and the same index twice: finite value and gradients', () => {
    const memory = new CrdMemoryBank({ numSamples: 20, dim: 8, numNegatives: 64, rng: new Random(2) });
    const row = normaliseRows(randomArray(8, 9), 1, 8);
    const e = tf.tensor2d([...row, ...row, ...row], [3, 8]);
    const [gs, gt] = tf.grads((a: Tensor, c: Tensor) => crdLoss(a, c, memory, [4, 4, 7]))([e, e]);
    expectFinite(gs!);
    expectFinite(gt!);
    const v = crdLoss(e, e, memory, [4, 4, 7]);
    expectFinite(v);
    memory.update([4, 4, 7], e, e);
    for (const x of memory.getState().memoryStudent) expect(Number.isFinite(x)).toBe(true);
    tf.dispose([e, gs!, gt!, v]);
  });

  it('refuses out-of-range contrast indices and a width that does not match the bank', () => {
    const memory = new CrdMemoryBank({ numSamples: 4, dim: 3, numNegatives: 2 });
    const e = tf.zeros([1, 3]);
    expect(() => crdLoss(e, e, memory, [0], { contrastIdx: new Int32Array([0, 1, 4]) })).toThrow(/outside/);
    const wide = tf.zeros([1, 5]);
    expect(() => crdLoss(wide, wide, memory, [0])).toThrow(/width/);
    tf.dispose([e, wide]);
  });
});
