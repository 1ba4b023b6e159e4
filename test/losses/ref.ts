/**
 * Plain-JavaScript (float64, number arrays, no tf) reference implementations of the losses, written from the formulas
 * of the papers / RepDistiller / mdistiller, plus test helpers: seeded data, central-difference gradients and the
 * tf-side gradient / leak checks.
 */
import { expect } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';

export type Mat = number[][];

// ---------------------------------------------------------------------------------------------------------------
// Data

/** mulberry32: a tiny seeded generator, independent of the toolkit's. */
export function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi), rounded to float32 so tf and the reference see the same inputs. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rand(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

export function toMat(flat: readonly number[], rows: number, cols: number): Mat {
  return Array.from({ length: rows }, (_, i) => flat.slice(i * cols, (i + 1) * cols));
}

export function flatten(m: Mat): number[] {
  return m.flat();
}

/** Rows scaled to unit norm, rounded to float32. */
export function normaliseRows(flat: readonly number[], rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows; i++) {
    const row = flat.slice(i * cols, (i + 1) * cols);
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    for (const v of row) out.push(Math.fround(v / norm));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Small numeric helpers

export function logSoftmaxRow(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

export function softmaxRow(row: readonly number[]): number[] {
  return logSoftmaxRow(row).map(Math.exp);
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm(a: readonly number[]): number {
  return Math.sqrt(dot(a, a));
}

function smoothL1(d: number): number {
  const a = Math.abs(d);
  return a < 1 ? 0.5 * d * d : a - 0.5;
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

// ---------------------------------------------------------------------------------------------------------------
// Logit losses

export function refCrossEntropy(logits: Mat, labels: readonly number[], smoothing = 0): number {
  const c = logits[0]!.length;
  return mean(
    logits.map((row, b) => {
      const lp = logSoftmaxRow(row);
      let s = 0;
      for (let k = 0; k < c; k++) s += ((k === labels[b] ? 1 - smoothing : 0) + smoothing / c) * lp[k]!;
      return -s;
    }),
  );
}

export function refSoftTargetCE(s: Mat, t: Mat, T: number): number {
  return mean(
    s.map((row, b) => {
      const pt = softmaxRow(t[b]!.map((v) => v / T));
      const lps = logSoftmaxRow(row.map((v) => v / T));
      return -pt.reduce((acc, p, k) => acc + p * lps[k]!, 0);
    }),
  );
}

/** KL(p || q) = sum p log(p / q) with 0 log 0 = 0. */
function kl(p: readonly number[], q: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) s += p[i]! * Math.log(p[i]! / q[i]!);
  return s;
}

export function refKd(s: Mat, t: Mat, T: number): number {
  return (T * T * s.reduce((acc, row, b) => acc + kl(softmaxRow(t[b]!.map((v) => v / T)), softmaxRow(row.map((v) => v / T))), 0)) / s.length;
}

/** mdistiller's dkd_loss, transcribed: probabilities, cat_mask, and the -1000 target mask for NCKD. */
export function refDkd(s: Mat, t: Mat, labels: readonly number[], alpha: number, beta: number, T: number): number {
  let tckd = 0;
  let nckd = 0;
  for (let b = 0; b < s.length; b++) {
    const y = labels[b]!;
    const ps = softmaxRow(s[b]!.map((v) => v / T));
    const pt = softmaxRow(t[b]!.map((v) => v / T));
    const cat = (p: number[]) => [p[y]!, p.reduce((acc, v, k) => (k === y ? acc : acc + v), 0)];
    tckd += kl(cat(pt), cat(ps));
    const ps2 = softmaxRow(s[b]!.map((v, k) => v / T - (k === y ? 1000 : 0)));
    const pt2 = softmaxRow(t[b]!.map((v, k) => v / T - (k === y ? 1000 : 0)));
    nckd += kl(pt2, ps2);
  }
  const scale = (T * T) / s.length;
  return alpha * tckd * scale + beta * nckd * scale;
}

// ---------------------------------------------------------------------------------------------------------------
// Contrastive

/**
 * SupCon over rows z [M, D] given per-row image ids and per-row labels (null = SimCLR, -1 = unlabelled): for each
 * anchor i, -mean over positives p of (z_i.z_p / T - log sum_{k != i} exp(z_i.z_k / T)), times T / baseT; mean.
 */
export function refSupCon(
  z: Mat,
  imageOfRow: readonly number[],
  labelOfRow: readonly number[] | null,
  T: number,
  baseT: number,
): number {
  const m = z.length;
  let total = 0;
  for (let i = 0; i < m; i++) {
    let denom = 0;
    for (let k = 0; k < m; k++) if (k !== i) denom += Math.exp(dot(z[i]!, z[k]!) / T);
    const logDenom = Math.log(denom);
    let sum = 0;
    let count = 0;
    for (let p = 0; p < m; p++) {
      if (p === i) continue;
      const sameImage = imageOfRow[p] === imageOfRow[i];
      const sameLabel =
        labelOfRow !== null && labelOfRow[i]! >= 0 && labelOfRow[p]! >= 0 && labelOfRow[i] === labelOfRow[p];
      if (sameImage || sameLabel) {
        sum += dot(z[i]!, z[p]!) / T - logDenom;
        count++;
      }
    }
    total += count > 0 ? -(T / baseT) * (sum / count) : 0;
  }
  return total / m;
}

// ---------------------------------------------------------------------------------------------------------------
// Features (NHWC flat arrays)

export function refFeatureL2(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

export function refMse(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

export interface Map4 {
  data: readonly number[];
  shape: [number, number, number, number];
}

/** PyTorch adaptive_avg_pool2d on an NHWC flat array, written as explicit windows. */
export function refAdaptivePool(x: Map4, oh: number, ow: number): Map4 {
  const [b, h, w, c] = x.shape;
  const out: number[] = new Array(b * oh * ow * c).fill(0);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < oh; i++) {
      const h0 = Math.floor((i * h) / oh);
      const h1 = Math.ceil(((i + 1) * h) / oh);
      for (let j = 0; j < ow; j++) {
        const w0 = Math.floor((j * w) / ow);
        const w1 = Math.ceil(((j + 1) * w) / ow);
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let y = h0; y < h1; y++) for (let xx = w0; xx < w1; xx++) s += x.data[((n * h + y) * w + xx) * c + ch]!;
          out[((n * oh + i) * ow + j) * c + ch] = s / ((h1 - h0) * (w1 - w0));
        }
      }
    }
  return { data: out, shape: [b, oh, ow, c] };
}

function refAttention(x: Map4, p: number): Mat {
  const [b, h, w, c] = x.shape;
  const maps: Mat = [];
  for (let n = 0; n < b; n++) {
    const row: number[] = [];
    for (let pos = 0; pos < h * w; pos++) {
      let s = 0;
      for (let ch = 0; ch < c; ch++) s += Math.abs(x.data[(n * h * w + pos) * c + ch]!) ** p;
      row.push(s / c);
    }
    const nr = Math.max(norm(row), 1e-12);
    maps.push(row.map((v) => v / nr));
  }
  return maps;
}

export function refAttentionTransfer(s: Map4, t: Map4, p = 2): number {
  let fs = s;
  let ft = t;
  if (s.shape[1] > t.shape[1]) fs = refAdaptivePool(s, t.shape[1], t.shape[2]);
  else if (s.shape[1] < t.shape[1]) ft = refAdaptivePool(t, s.shape[1], s.shape[2]);
  const as = refAttention(fs, p);
  const at = refAttention(ft, p);
  const diffs: number[] = [];
  for (let n = 0; n < as.length; n++) for (let k = 0; k < as[n]!.length; k++) diffs.push((as[n]![k]! - at[n]![k]!) ** 2);
  return mean(diffs);
}

export function refSimilarity(s: Mat, t: Mat): number {
  const b = s.length;
  const gram = (f: Mat) =>
    f.map((fi) => {
      const row = f.map((fj) => dot(fi, fj));
      const nr = Math.max(norm(row), 1e-12);
      return row.map((v) => v / nr);
    });
  const gs = gram(s);
  const gt = gram(t);
  let sum = 0;
  for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) sum += (gt[i]![j]! - gs[i]![j]!) ** 2;
  return sum / (b * b);
}

// ---------------------------------------------------------------------------------------------------------------
// Relational

export function refRkd(s: Mat, t: Mat, wd = 25, wa = 50): number {
  const b = s.length;
  const dist = (f: Mat) => {
    const d = f.map((fi) => f.map((fj) => norm(fi.map((v, k) => v - fj[k]!))));
    let sum = 0;
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) if (i !== j) sum += d[i]![j]!;
    const mu = sum / (b * (b - 1));
    return d.map((row) => row.map((v) => v / mu));
  };
  const ds = dist(s);
  const dt = dist(t);
  let lossD = 0;
  for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) lossD += smoothL1(ds[i]![j]! - dt[i]![j]!);
  lossD /= b * b;
  const angle = (f: Mat, i: number, j: number, k: number) => {
    const u = f[j]!.map((v, d) => v - f[i]![d]!);
    const v = f[k]!.map((x, d) => x - f[i]![d]!);
    const nu = Math.max(norm(u), 1e-12);
    const nv = Math.max(norm(v), 1e-12);
    return dot(u, v) / (nu * nv);
  };
  let lossA = 0;
  for (let i = 0; i < b; i++)
    for (let j = 0; j < b; j++) for (let k = 0; k < b; k++) lossA += smoothL1(angle(s, i, j, k) - angle(t, i, j, k));
  lossA /= b * b * b;
  return wd * lossD + wa * lossA;
}

export function refPkt(s: Mat, t: Mat, eps = 1e-7): number {
  const probs = (f: Mat) => {
    const u = f.map((row) => {
      const nr = norm(row);
      return row.map((v) => v / (nr + eps));
    });
    return u.map((ui) => {
      const row = u.map((uj) => (dot(ui, uj) + 1) / 2);
      const sum = row.reduce((a, v) => a + v, 0);
      return row.map((v) => v / sum);
    });
  };
  const ps = probs(s);
  const pt = probs(t);
  const terms: number[] = [];
  for (let i = 0; i < s.length; i++)
    for (let j = 0; j < s.length; j++) terms.push(pt[i]![j]! * Math.log((pt[i]![j]! + eps) / (ps[i]![j]! + eps)));
  return mean(terms);
}

// ---------------------------------------------------------------------------------------------------------------
// CRD (RepDistiller's ContrastMemory forward + ContrastLoss, transcribed)

export function refCrdSide(
  anchors: Mat,
  bank: Mat,
  contrastIdx: readonly number[],
  T: number,
  Z: number,
  nData: number,
): number {
  const b = anchors.length;
  const cols = contrastIdx.length / b;
  const m = cols - 1;
  const pn = 1 / nData;
  const eps = 1e-7;
  let sum = 0;
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < cols; k++) {
      const p = Math.exp(dot(bank[contrastIdx[i * cols + k]!]!, anchors[i]!) / T) / Z;
      sum += k === 0 ? Math.log(p / (p + m * pn + eps)) : Math.log((m * pn) / (p + m * pn + eps));
    }
  }
  return -sum / b;
}

/** RepDistiller's Z: mean(exp(scores / T)) over the B x (K + 1) scores, times nData. */
export function refCrdZ(anchors: Mat, bank: Mat, contrastIdx: readonly number[], T: number, nData: number): number {
  const b = anchors.length;
  const cols = contrastIdx.length / b;
  let s = 0;
  for (let i = 0; i < b; i++) for (let k = 0; k < cols; k++) s += Math.exp(dot(bank[contrastIdx[i * cols + k]!]!, anchors[i]!) / T);
  return (s / (b * cols)) * nData;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

/** Central differences of f at x in float64, step h. */
export function numericGrad(f: (x: number[]) => number, x: readonly number[], h = 1e-6): number[] {
  const g: number[] = [];
  const xx = x.slice();
  for (let i = 0; i < x.length; i++) {
    const v = xx[i]!;
    xx[i] = v + h;
    const fp = f(xx);
    xx[i] = v - h;
    const fm = f(xx);
    xx[i] = v;
    g.push((fp - fm) / (2 * h));
  }
  return g;
}

/** Expect two arrays to agree within atol + rtol * max|expected|, and `actual` to be all finite. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, atol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const tol = atol + rtol * scale;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < actual.length; i++) {
    expect(Number.isFinite(actual[i]!), `element ${i} is ${actual[i]}`).toBe(true);
    const err = Math.abs(actual[i]! - expected[i]!);
    if (err > worst) {
      worst = err;
      worstAt = i;
    }
  }
  expect(
    worst,
    `max error ${worst} at ${worstAt} (actual ${actual[worstAt]}, expected ${expected[worstAt]}), tolerance ${tol}`,
  ).toBeLessThanOrEqual(tol);
}

/** A scalar loss's value as a number; disposes the tensor. */
export function value(t: Tensor): number {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/**
 * Gradient of `loss(x)` w.r.t. x (a flat float32 input of `shape`) from tf, against central differences of the
 * float64 reference `ref`; also checks the value.
 */
export function checkGradient(
  loss: (x: Tensor) => Tensor,
  ref: (x: number[]) => number,
  x: readonly number[],
  shape: number[],
  opts: { rtol?: number; atol?: number; h?: number } = {},
): void {
  const xt = tf.tensor(x as number[], shape);
  const g = tf.grad((v: Tensor) => loss(v) as never)(xt);
  const analytic = g.dataSync().slice();
  const val = value(loss(xt));
  g.dispose();
  xt.dispose();
  expectClose([val], [ref(x.slice())], 1e-4, 1e-6);
  expectClose(analytic, numericGrad(ref, x, opts.h), opts.rtol ?? 2e-3, opts.atol ?? 1e-5);
}

/** All values of a tensor finite. */
export function expectFinite(t: Tensor): void {
  const values = t.dataSync();
  for (let i = 0; i < values.length; i++) expect(Number.isFinite(values[i]!), `element ${i} is ${values[i]}`).toBe(true);
}

/**
 * The way a trainer calls a loss: `tf.variableGrads` over [student, teacher] variables, the teacher passing through
 * an op first (like a frozen teacher's output). Checks: the loss value and the student gradient are finite, no
 * gradient exists for the teacher, and nothing leaks once value and gradients are disposed.
 */
export function checkTrainerCall(
  loss: (student: Tensor, teacher: Tensor) => Tensor,
  student: Tensor,
  teacher: Tensor,
): void {
  const sv = tf.variable(student.clone(), true);
  const tv = tf.variable(teacher.clone(), true);
  const before = tf.memory().numTensors;
  const { value: v, grads } = tf.variableGrads(() => loss(tf.mul(sv, 1), tf.mul(tv, 1)) as never, [sv, tv]);
  expectFinite(v);
  expect(grads[sv.name], 'student gradient').toBeDefined();
  expectFinite(grads[sv.name]!);
  expect(grads[tv.name], 'teacher gradient').toBeUndefined();
  v.dispose();
  tf.dispose(grads);
  expect(tf.memory().numTensors - before, 'leaked tensors').toBe(0);
  sv.dispose();
  tv.dispose();
}
