import { beforeAll, describe, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { crossModelInfoNce } from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { checkGradient, checkTrainerCall, expectClose, expectFinite, normaliseRows, randomArray, toMat, value } from './ref.js';
import type { Mat } from './ref.js';

beforeAll(async () => {
  await useWasm();
});

/**
 * Float64 cross-model InfoNCE written from the formula: the student's row r, L2-normalised, against every teacher row
 * except the other views of the same image (c != r with c = r mod N); the positive is teacher row r.
 */
function refCrossModelInfoNce(s: Mat, t: Mat, n: number, temperature: number): number {
  let total = 0;
  for (let r = 0; r < s.length; r++) {
    const norm = Math.max(Math.sqrt(s[r]!.reduce((a, v) => a + v * v, 0)), 1e-12);
    const logits: number[] = [];
    for (let c = 0; c < t.length; c++) {
      if (c !== r && c % n === r % n) continue;
      logits.push(s[r]!.reduce((a, v, k) => a + (v / norm) * t[c]![k]!, 0) / temperature);
    }
    const positive = s[r]!.reduce((a, v, k) => a + (v / norm) * t[r]![k]!, 0) / temperature;
    const max = Math.max(...logits);
    total += max + Math.log(logits.reduce((a, v) => a + Math.exp(v - max), 0)) - positive;
  }
  return total / s.length;
}

const CASES: Array<[number, number, number, number]> = [
  // N images, V views, D, temperature
  [3, 2, 4, 0.5],
  [4, 1, 5, 1],
  [5, 2, 8, 0.07],
];

describe('crossModelInfoNce', () => {
  it.each(CASES)('matches the float64 reference and its gradient for N=%i V=%i D=%i T=%f', (n, v, d, temperature) => {
    const rows = n * v;
    const s = randomArray(rows * d, rows * 31 + d);
    const t = normaliseRows(randomArray(rows * d, rows * 17 + d + 1), rows, d);
    const tt = tf.tensor2d(t, [rows, d]);
    const st = tf.tensor2d(s, [rows, d]);
    expectClose([value(crossModelInfoNce(st, tt, n, temperature))], [refCrossModelInfoNce(toMat(s, rows, d), toMat(t, rows, d), n, temperature)], 1e-4);
    checkGradient(
      (x: Tensor) => crossModelInfoNce(x, tt, n, temperature),
      (x) => refCrossModelInfoNce(toMat(x, rows, d), toMat(t, rows, d), n, temperature),
      s,
      [rows, d],
      // A small T (0.07) sharpens the softmax; central differences need a smaller step there.
      { h: 1e-5 },
    );
    tt.dispose();
    st.dispose();
  });

  it('equals the hand-computed value on two images, two views (T = 1)', () => {
    // Teacher rows e1, e2, e1, e2; student rows 2 e1 (normalised to e1) and e2, e1, e2. Row 0's candidates are
    // teacher rows 0, 1, 3 (row 2 is the other view of image 0): logits 1, 0, 0 -> -log(e / (e + 2)).
    const t = tf.tensor2d([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
    const s = tf.tensor2d([2, 0, 0, 1, 1, 0, 0, 1], [4, 2]);
    const perRow = -Math.log(Math.E / (Math.E + 2));
    expectClose([value(crossModelInfoNce(s, t, 2, 1))], [perRow], 1e-5);
    t.dispose();
    s.dispose();
  });

  it('gives the teacher no gradient, leaks nothing and stays finite on an all-zero student row', () => {
    const rows = 4;
    const d = 3;
    const s = randomArray(rows * d, 5);
    for (let k = 0; k < d; k++) s[k] = 0;
    const student = tf.tensor2d(s, [rows, d]);
    const teacher = tf.tensor2d(normaliseRows(randomArray(rows * d, 6), rows, d), [rows, d]);
    checkTrainerCall((a, b) => crossModelInfoNce(a, b, 2, 0.07), student, teacher);
    const g = tf.grad((x: Tensor) => crossModelInfoNce(x, teacher, 2, 0.07))(student);
    // tf.norm's gradient at 0 is NaN (sqrt' = inf times 0); the safe norm keeps it finite (1/eps, as F.normalize).
    expectFinite(g);
    g.dispose();
    student.dispose();
    teacher.dispose();
  });
});
