/** Classification metrics computed on the host from logits (plain arrays, so they are exact and testable by hand). */

export interface ClassificationMetrics {
  readonly top1: number;
  readonly top5: number;
  /** Expected calibration error, 15 equal-width confidence bins. */
  readonly ece: number;
  /** Mean negative log-likelihood of the true class. */
  readonly nll: number;
  readonly count: number;
}

/** Accumulates metrics over batches of logits [B, C] (row-major) and int32 labels [B]. */
export class MetricsAccumulator {
  private readonly bins: number;
  private readonly binCount: Float64Array;
  private readonly binConfidence: Float64Array;
  private readonly binCorrect: Float64Array;
  private correct1 = 0;
  private correct5 = 0;
  private nllSum = 0;
  private count = 0;

  constructor(bins = 15) {
    this.bins = bins;
    this.binCount = new Float64Array(bins);
    this.binConfidence = new Float64Array(bins);
    this.binCorrect = new Float64Array(bins);
  }

  add(logits: Float32Array, labels: Int32Array, numClasses: number): void {
    const batch = labels.length;
    if (logits.length !== batch * numClasses) {
      throw new Error(`metrics: ${logits.length} logits for ${batch} labels x ${numClasses} classes`);
    }
    for (let b = 0; b < batch; b++) {
      const row = logits.subarray(b * numClasses, (b + 1) * numClasses);
      const label = labels[b]!;
      let max = -Infinity;
      let argmax = 0;
      for (let c = 0; c < numClasses; c++) {
        if (row[c]! > max) {
          max = row[c]!;
          argmax = c;
        }
      }
      let sumExp = 0;
      for (let c = 0; c < numClasses; c++) sumExp += Math.exp(row[c]! - max);
      const logSumExp = max + Math.log(sumExp);
      const confidence = 1 / sumExp; // softmax of the argmax
      const trueLogit = row[label]!;
      this.nllSum += logSumExp - trueLogit;
      // Top-5: fewer than five classes score strictly higher than the true one.
      let higher = 0;
      for (let c = 0; c < numClasses; c++) if (row[c]! > trueLogit) higher++;
      if (argmax === label) this.correct1++;
      if (higher < 5) this.correct5++;
      const bin = Math.min(this.bins - 1, Math.floor(confidence * this.bins));
      this.binCount[bin]! += 1;
      this.binConfidence[bin]! += confidence;
      this.binCorrect[bin]! += argmax === label ? 1 : 0;
      this.count++;
    }
  }

  result(): ClassificationMetrics {
    const n = this.count;
    if (n === 0) return { top1: 0, top5: 0, ece: 0, nll: 0, count: 0 };
    let ece = 0;
    for (let i = 0; i < this.bins; i++) {
      const c = this.binCount[i]!;
      if (c > 0) ece += (c / n) * Math.abs(this.binCorrect[i]! / c - this.binConfidence[i]! / c);
    }
    return { top1: this.correct1 / n, top5: this.correct5 / n, ece, nll: this.nllSum / n, count: n };
  }
}
