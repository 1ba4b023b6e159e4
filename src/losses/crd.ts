/**
 * Contrastive Representation Distillation: Tian, Krishnan & Isola, "Contrastive Representation Distillation",
 * ICLR 2020. Loss math and memory bank as in RepDistiller's `crd/` (CRDLoss, ContrastMemory, ContrastLoss).
 *
 * The student and teacher embedding heads (linear to 128-d, L2-normalised) are trainable parts owned by the method;
 * this file takes their outputs. Both embeddings receive gradients here: the teacher's embedding head is trained by
 * the teacher-anchored half of the loss (as in RepDistiller), so only the teacher *backbone* feature that feeds it must
 * be frozen, which the method does.
 *
 * Memory bank. Two banks [numSamples, dim] (plain Float32Arrays, never trainable): `student` holds the students'
 * embeddings of every training sample (RepDistiller's memory_v1), `teacher` the teacher's (memory_v2). Initialised
 * uniform in [-s, s], s = 1 / sqrt(dim / 3). After each step, `update` moves the rows of the batch's samples to
 * normalise(momentum * row + (1 - momentum) * embedding).
 *
 * Per step (B samples with dataset indices `idx`, K negatives):
 *   contrastIdx = memory.sampleNegatives(idx)               // [B * (K + 1)], row b = [idx_b, K negative indices]
 *   loss = crdLoss(embS, embT, memory, idx, { contrastIdx }) // inside the gradient closure
 *   memory.update(idx, embS, embT)                          // after the loss (may be in the same closure)
 * Scores: s_b,k = <teacherBank[contrastIdx_b,k], embS_b> (student anchors) and <studentBank[..], embT_b> (teacher
 * anchors); P = exp(s / T) / Z. NCE (RepDistiller's ContrastLoss, Eq. 18) with noise probability Pn = 1 / numSamples and
 * m = K: loss = -(1 / B) sum_b [log(P_b0 / (P_b0 + m Pn + 1e-7)) + sum_k log(m Pn / (P_bk + m Pn + 1e-7))], summed over
 * the two anchors' sides. Computed in log space (softplus), equal to RepDistiller's form.
 *
 * Normalisation constant Z: as in RepDistiller, each side's Z is estimated once, on the first batch the loss sees, as
 * mean(exp(s / T)) over that batch's B x (K + 1) scores times numSamples, then kept fixed (a constant, no gradient) for
 * the rest of training. It is part of the state (-1 until estimated) so a resumed run keeps the same Z.
 *
 * Negatives: uniform over all samples with replacement (RepDistiller's AliasMethod on uniform unigrams), so K may
 * exceed the dataset size; a negative may coincide with the positive, as there. With `sampleLabels` given, negatives
 * are drawn (still with replacement) only from samples of other classes, like RepDistiller's CIFAR-100 loader in
 * 'exact' mode (which samples without replacement when the pool is large enough).
 */
import { tf } from '../runtime/tf.js';
import type { Scalar, Tensor } from '../runtime/tf.js';
import { getRandom } from '../runtime/random.js';
import type { Random } from '../runtime/random.js';
import { asFloat, expectRank } from './util.js';
import type { LabelsLike } from './util.js';

/** Added to the denominators of the NCE posteriors, as RepDistiller's ContrastLoss. */
const NCE_EPS = 1e-7;

export interface CrdMemoryOptions {
  /** Number of training samples (rows of each bank). */
  numSamples: number;
  /** Embedding width. Default 128. */
  dim?: number;
  /** Negatives per positive, K. Default 16384. */
  numNegatives?: number;
  /** NCE temperature. Default 0.07. */
  temperature?: number;
  /** Bank momentum. Default 0.5. */
  momentum?: number;
  /** Class of every training sample ([numSamples]); when given, negatives come from other classes only. */
  sampleLabels?: Int32Array | readonly number[];
  /** Source for the banks' initial values. Default: the toolkit's global random source. */
  rng?: Random;
}

/** Everything a checkpoint needs to restore the memory exactly. The arrays are copies. */
export interface CrdMemoryState {
  numSamples: number;
  dim: number;
  numNegatives: number;
  temperature: number;
  momentum: number;
  /** Z of the student-anchored scores; -1 until estimated. */
  zStudent: number;
  /** Z of the teacher-anchored scores; -1 until estimated. */
  zTeacher: number;
  /** Student bank, row-major [numSamples, dim]. */
  memoryStudent: Float32Array;
  /** Teacher bank, row-major [numSamples, dim]. */
  memoryTeacher: Float32Array;
}

function toIndexArray(x: LabelsLike, what: string, bound: number): Int32Array {
  let arr: Int32Array;
  if (x instanceof tf.Tensor) arr = Int32Array.from(x.dataSync());
  else arr = Int32Array.from(x as ArrayLike<number>);
  for (const i of arr) {
    if (!(i >= 0 && i < bound)) throw new Error(`${what}: index ${i} outside [0, ${bound})`);
  }
  return arr;
}

function embeddingValues(e: Tensor | Float32Array, rows: number, dim: number, what: string): Float32Array {
  const values = e instanceof Float32Array ? e : (e.dataSync() as Float32Array);
  if (values.length !== rows * dim) throw new Error(`${what}: expected ${rows} x ${dim} values, got ${values.length}`);
  return values;
}

export class CrdMemoryBank {
  readonly numSamples: number;
  readonly dim: number;
  readonly numNegatives: number;
  readonly temperature: number;
  readonly momentum: number;
  private memoryStudent: Float32Array;
  private memoryTeacher: Float32Array;
  private zStudent = -1;
  private zTeacher = -1;
  private readonly sampleLabels: Int32Array | null;
  private readonly classCounts: Map<number, number> | null;

  constructor(options: CrdMemoryOptions) {
    const { numSamples } = options;
    if (!(Number.isInteger(numSamples) && numSamples >= 1)) throw new Error(`numSamples must be >= 1, got ${numSamples}`);
    this.numSamples = numSamples;
    this.dim = options.dim ?? 128;
    this.numNegatives = options.numNegatives ?? 16384;
    this.temperature = options.temperature ?? 0.07;
    this.momentum = options.momentum ?? 0.5;
    if (!(Number.isInteger(this.numNegatives) && this.numNegatives >= 1)) {
      throw new Error(`numNegatives must be >= 1, got ${this.numNegatives}`);
    }
    const rng = options.rng ?? getRandom();
    const stdv = 1 / Math.sqrt(this.dim / 3);
    this.memoryStudent = new Float32Array(numSamples * this.dim);
    this.memoryTeacher = new Float32Array(numSamples * this.dim);
    for (let i = 0; i < this.memoryStudent.length; i++) this.memoryStudent[i] = rng.uniform(-stdv, stdv);
    for (let i = 0; i < this.memoryTeacher.length; i++) this.memoryTeacher[i] = rng.uniform(-stdv, stdv);
    if (options.sampleLabels) {
      if (options.sampleLabels.length !== numSamples) {
        throw new Error(`sampleLabels has ${options.sampleLabels.length} entries, expected ${numSamples}`);
      }
      this.sampleLabels = Int32Array.from(options.sampleLabels);
      this.classCounts = new Map();
      for (const c of this.sampleLabels) this.classCounts.set(c, (this.classCounts.get(c) ?? 0) + 1);
    } else {
      this.sampleLabels = null;
      this.classCounts = null;
    }
  }

  /** The fixed normalisation constants (-1 = not yet estimated). */
  get z(): { student: number; teacher: number } {
    return { student: this.zStudent, teacher: this.zTeacher };
  }

  /**
   * Indices [B * (K + 1)] for a batch with dataset indices `batchIndices`: row b is [batchIndices[b], K negatives],
   * the negatives uniform with replacement (from other classes when `sampleLabels` was given).
   */
  sampleNegatives(batchIndices: LabelsLike, k: number = this.numNegatives, rng: Random = getRandom()): Int32Array {
    const idx = toIndexArray(batchIndices, 'sampleNegatives', this.numSamples);
    const n = this.numSamples;
    const out = new Int32Array(idx.length * (k + 1));
    for (let b = 0; b < idx.length; b++) {
      const row = b * (k + 1);
      out[row] = idx[b]!;
      const labels = this.sampleLabels;
      const cls = labels ? labels[idx[b]!]! : 0;
      const exclusive = labels !== null && this.classCounts!.get(cls)! < n;
      for (let j = 1; j <= k; j++) {
        let pick = rng.int(n);
        if (exclusive) while (labels[pick] === cls) pick = rng.int(n);
        out[row + j] = pick;
      }
    }
    return out;
  }

  /**
   * The NCE loss of one side (RepDistiller's ContrastLoss on ContrastMemory's output): anchors `emb` [B, dim] of
   * `anchorSide` scored against the *other* side's bank at `contrastIdx`, with that anchor side's Z (estimated here on
   * first use). Used by `crdLoss`, which sums the two sides.
   *
   * Two equal ways to get the B x (K + 1) scores (`scoring`): 'gather' copies those bank rows into a tensor and does
   * one batched matMul; 'dense' scores the anchors against every bank row ([n, dim] x [dim, B]) and picks the drawn
   * ones, with a custom gradient (scatter-add in JS + one matMul: tf's gather gradient needs UnsortedSegmentSum, which
   * wasm lacks; and no B x (K + 1) x dim copy, 537 MB at CIFAR's defaults). 'auto' takes 'gather' when K + 1 < n and
   * that copy is at most 2^22 values, else 'dense'.
   */
  nceLoss(
    emb: Tensor,
    anchorSide: 'student' | 'teacher',
    contrastIdx: Int32Array,
    scoring: 'auto' | 'gather' | 'dense' = 'auto',
  ): Scalar {
    expectRank(emb, 2, 'CRD embedding [B, dim]');
    const [b, dim] = emb.shape as [number, number];
    if (dim !== this.dim) throw new Error(`CRD embedding width ${dim}, memory bank width ${this.dim}`);
    if (contrastIdx.length % b !== 0 || contrastIdx.length < 2 * b) {
      throw new Error(`contrastIdx length ${contrastIdx.length} is not B x (K + 1) with B = ${b}, K >= 1`);
    }
    const cols = contrastIdx.length / b;
    const k = cols - 1;
    const n = this.numSamples;
    const bank = anchorSide === 'student' ? this.memoryTeacher : this.memoryStudent;
    const useGather = scoring === 'gather' || (scoring === 'auto' && cols < n && b * cols * dim <= 1 << 22);
    const temperature = this.temperature;
    // log(m Pn + eps) and log(m Pn), Pn = 1 / n, m = K.
    const logC = Math.log(k / n + NCE_EPS);
    const logMPn = Math.log(k / n);
    return tf.tidy(() => {
      const e = asFloat(emb);
      const scores = useGather
        ? gatheredScores(e, bank, contrastIdx, cols)
        : denseScores(e, bank, contrastIdx, cols, n);
      const logZ = this.logZ(anchorSide, scores);
      const logP = tf.sub(tf.div(scores, temperature), logZ);
      const logDenominator = tf.add(tf.softplus(tf.sub(logP, logC)), logC); // log(P + m Pn + eps)
      const first = new Float32Array(b * cols);
      for (let r = 0; r < b; r++) first[r * cols] = 1;
      const positive = tf.tensor2d(first, [b, cols]);
      const perScore = tf.add(
        tf.mul(positive, tf.sub(logP, logDenominator)), // log(P / (P + m Pn + eps))
        tf.mul(tf.sub(1, positive), tf.sub(logMPn, logDenominator)), // log(m Pn / (P + m Pn + eps))
      );
      return tf.div(tf.neg(tf.sum(perScore)), b) as Scalar;
    });
  }

  /**
   * log Z of one anchor side: on first use, RepDistiller's estimate mean(exp(s / T)) * numSamples over the batch's
   * B x (K + 1) scores; fixed afterwards.
   */
  private logZ(side: 'student' | 'teacher', scores: Tensor): number {
    let z = side === 'student' ? this.zStudent : this.zTeacher;
    if (z < 0) {
      const mean = tf.tidy(() => tf.mean(tf.exp(tf.div(scores, this.temperature))));
      const value = mean.dataSync()[0]!;
      mean.dispose();
      z = value * this.numSamples;
      if (!(z > 0 && Number.isFinite(z))) throw new Error(`CRD: could not estimate Z (got ${z})`);
      if (side === 'student') this.zStudent = z;
      else this.zTeacher = z;
    }
    return Math.log(z);
  }

  /**
   * Momentum update of the batch's rows: row = normalise(momentum * row + (1 - momentum) * embedding), the student
   * bank from embS and the teacher bank from embT ([B, dim] tensors or row-major Float32Arrays). Every new row is
   * computed from the old banks before any is written; for a repeated index the last occurrence wins (as torch's
   * index_copy_). Reads the embeddings synchronously.
   */
  update(indices: LabelsLike, embS: Tensor | Float32Array, embT: Tensor | Float32Array): void {
    const idx = toIndexArray(indices, 'CrdMemoryBank.update', this.numSamples);
    const dim = this.dim;
    const sides: Array<[Float32Array, Float32Array]> = [
      [this.memoryStudent, embeddingValues(embS, idx.length, dim, 'CrdMemoryBank.update student embeddings')],
      [this.memoryTeacher, embeddingValues(embT, idx.length, dim, 'CrdMemoryBank.update teacher embeddings')],
    ];
    const m = this.momentum;
    for (const [bank, emb] of sides) {
      const fresh = new Float32Array(idx.length * dim);
      for (let b = 0; b < idx.length; b++) {
        let sq = 0;
        for (let d = 0; d < dim; d++) {
          const v = m * bank[idx[b]! * dim + d]! + (1 - m) * emb[b * dim + d]!;
          fresh[b * dim + d] = v;
          sq += v * v;
        }
        const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
        for (let d = 0; d < dim; d++) fresh[b * dim + d] = fresh[b * dim + d]! * inv;
      }
      for (let b = 0; b < idx.length; b++) bank.set(fresh.subarray(b * dim, (b + 1) * dim), idx[b]! * dim);
    }
  }

  getState(): CrdMemoryState {
    return {
      numSamples: this.numSamples,
      dim: this.dim,
      numNegatives: this.numNegatives,
      temperature: this.temperature,
      momentum: this.momentum,
      zStudent: this.zStudent,
      zTeacher: this.zTeacher,
      memoryStudent: this.memoryStudent.slice(),
      memoryTeacher: this.memoryTeacher.slice(),
    };
  }

  /** Restore a state from `getState` (arrays are copied). Its sizes must match this memory's. */
  setState(state: CrdMemoryState): void {
    if (state.numSamples !== this.numSamples || state.dim !== this.dim) {
      throw new Error(
        `CRD memory state is ${state.numSamples} x ${state.dim}, this memory is ${this.numSamples} x ${this.dim}`,
      );
    }
    const size = this.numSamples * this.dim;
    if (state.memoryStudent.length !== size || state.memoryTeacher.length !== size) {
      throw new Error(`CRD memory state banks must have ${size} values`);
    }
    this.memoryStudent = Float32Array.from(state.memoryStudent);
    this.memoryTeacher = Float32Array.from(state.memoryTeacher);
    this.zStudent = state.zStudent;
    this.zTeacher = state.zTeacher;
  }
}

/** Scores [B, cols] from the bank rows at contrastIdx, copied into a [B, cols, dim] tensor: one batched matMul. */
function gatheredScores(e: Tensor, bank: Float32Array, contrastIdx: Int32Array, cols: number): Tensor {
  const [b, dim] = e.shape as [number, number];
  const rows = new Float32Array(b * cols * dim);
  for (let r = 0; r < b * cols; r++) rows.set(bank.subarray(contrastIdx[r]! * dim, (contrastIdx[r]! + 1) * dim), r * dim);
  return tf.reshape(tf.matMul(tf.tensor3d(rows, [b, cols, dim]), tf.expandDims(e, 2)), [b, cols]);
}

/**
 * Scores [B, cols] from all n bank rows: forward bank [n, dim] x e^T [dim, B], then the drawn entries picked out;
 * gradient: the upstream values scatter-added (in JS) into a [B, n] matrix times the bank [n, dim]. No matMul here
 * transposes an operand (transposed matMuls are several times slower on wasm). The bank is copied, so later updates of
 * the memory do not change a pending backward pass.
 */
function denseScores(e: Tensor, bank: Float32Array, contrastIdx: Int32Array, cols: number, n: number): Tensor {
  const [b, dim] = e.shape as [number, number];
  const flat = new Int32Array(b * cols);
  for (let r = 0; r < b; r++) for (let j = 0; j < cols; j++) flat[r * cols + j] = contrastIdx[r * cols + j]! * b + r;
  const rowsCopy = bank.slice();
  const op = tf.customGrad((x, save) => {
    const rows = tf.tensor2d(rowsCopy, [n, dim]);
    (save as tf.GradSaveFunc)([rows]);
    // The pick is done in JS: tf.gather of ~1M from ~3M values takes ~160 ms on wasm, a read and a loop ~15 ms.
    const all = tf.matMul(rows, tf.transpose(x as Tensor)).dataSync(); // [n, B]
    const picked = new Float32Array(b * cols);
    for (let r = 0; r < b * cols; r++) picked[r] = all[flat[r]!]!;
    const value = tf.tensor2d(picked, [b, cols]);
    const gradFunc = (dy: Tensor, saved: Tensor[]) => {
      const upstream = dy.dataSync();
      const dense = new Float32Array(b * n);
      for (let r = 0; r < b; r++) {
        for (let j = 0; j < cols; j++) dense[r * n + contrastIdx[r * cols + j]!]! += upstream[r * cols + j]!;
      }
      return tf.matMul(tf.tensor2d(dense, [b, n]), saved[0]!);
    };
    return { value, gradFunc };
  });
  return op(e);
}

export interface CrdLossOptions {
  /** Indices from `memory.sampleNegatives(indices)`; drawn with the global random source when omitted. */
  contrastIdx?: Int32Array;
  /** How scores are computed (same values): see `CrdMemoryBank.nceLoss`. Default 'auto'. */
  scoring?: 'auto' | 'gather' | 'dense';
}

/**
 * CRD loss for embeddings embS, embT [B, dim] (outputs of the embedding heads, L2-normalised) of the samples with
 * dataset indices `indices` [B]: the student-anchored NCE (against the teacher bank) plus the teacher-anchored one
 * (against the student bank). The first call fixes Z (see the file comment). Does not update the banks: call
 * `memory.update(indices, embS, embT)` after it.
 */
export function crdLoss(
  embS: Tensor,
  embT: Tensor,
  memory: CrdMemoryBank,
  indices: LabelsLike,
  options: CrdLossOptions = {},
): Scalar {
  const cidx = options.contrastIdx ?? memory.sampleNegatives(indices);
  if (embT.shape[0] !== embS.shape[0]) throw new Error('crdLoss: batch sizes differ');
  for (const i of cidx) {
    if (!(i >= 0 && i < memory.numSamples)) throw new Error(`crdLoss: contrast index ${i} outside [0, ${memory.numSamples})`);
  }
  return tf.tidy(() =>
    tf.add(memory.nceLoss(embS, 'student', cidx, options.scoring), memory.nceLoss(embT, 'teacher', cidx, options.scoring)),
  ) as Scalar;
}
