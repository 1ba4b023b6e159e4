import { DataError } from './errors.js';
import type { Dataset, RawImageData } from './types.js';

/** Per-channel mean and (population) standard deviation of uint8 NHWC pixels, on the [0, 1] scale (x / 255). */
export function channelStats(images: Uint8Array, channels: number): { mean: number[]; std: number[] } {
  // A 256-bin histogram per channel: one pass, then exact sums in float64.
  const hist = new Float64Array(256 * channels);
  for (let i = 0; i < images.length; ) {
    for (let c = 0; c < channels; c++, i++) hist[c * 256 + images[i]!]! += 1;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let n = 0;
    let s = 0;
    let s2 = 0;
    for (let v = 0; v < 256; v++) {
      const k = hist[c * 256 + v]!;
      const x = v / 255;
      n += k;
      s += k * x;
      s2 += k * x * x;
    }
    const m = n > 0 ? s / n : 0;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / n - m * m, 0)));
  }
  return { mean, std };
}

/** Check user-given normalisation against the channel count; std of 0 would divide by zero. */
export function checkStats(mean: readonly number[], std: readonly number[], channels: number): void {
  if (mean.length !== channels || std.length !== channels) {
    throw new DataError(
      `mean/std need one value per channel (${channels}), got mean of ${mean.length} and std of ${std.length}`,
    );
  }
  if (!mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
    throw new DataError(`mean must be finite and std positive, got mean [${mean.join(', ')}], std [${std.join(', ')}]`);
  }
}

/** Number of images per class. */
export function classCounts(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]! += 1;
  return counts;
}

/**
 * Row indices for a limit of `limit` images, in file order.
 * 'stratified': equal shares per class (classes with fewer images give all they have and the rest is shared among
 * the others; a remainder goes to the lowest class indices), taking each class's first images in file order.
 * 'first': the first `limit` rows. Both are deterministic (no randomness).
 */
export function limitIndices(labels: Int32Array, classes: number, limit: number, mode: 'stratified' | 'first'): Int32Array {
  const n = labels.length;
  const total = Math.min(Math.max(0, Math.floor(limit)), n);
  if (mode === 'first') return Int32Array.from({ length: total }, (_, i) => i);
  const counts = classCounts(labels, classes);
  const quota = new Array<number>(classes).fill(0);
  let remaining = total;
  let open = counts.map((_, k) => k).filter((k) => counts[k]! > 0);
  while (remaining > 0 && open.length > 0) {
    const share = Math.floor(remaining / open.length);
    if (share === 0) {
      for (const k of open.slice(0, remaining)) quota[k]! += 1;
      break;
    }
    const next: number[] = [];
    for (const k of open) {
      const give = Math.min(share, counts[k]! - quota[k]!);
      quota[k]! += give;
      remaining -= give;
      if (quota[k]! < counts[k]!) next.push(k);
    }
    open = next;
  }
  const taken = new Array<number>(classes).fill(0);
  const out = new Int32Array(total);
  let o = 0;
  for (let i = 0; i < n && o < total; i++) {
    const k = labels[i]!;
    if (taken[k]! < quota[k]!) {
      taken[k]! += 1;
      out[o++] = i;
    }
  }
  return out;
}

/** Copy rows `indices` of raw image data (images, labels, coarse labels) into new arrays. */
export function selectRows<T extends RawImageData | Dataset>(data: T, indices: Int32Array): T {
  const [h, w, c] = data.inputShape;
  const px = h * w * c;
  const images = new Uint8Array(indices.length * px);
  indices.forEach((row, i) => images.set(data.images.subarray(row * px, (row + 1) * px), i * px));
  const pick = (a: Int32Array): Int32Array => Int32Array.from(indices, (row) => a[row]!);
  const out: Record<string, unknown> = { ...data, images, labels: pick(data.labels) };
  if (data.coarseLabels) out['coarseLabels'] = pick(data.coarseLabels);
  if ('size' in data) out['size'] = indices.length;
  if ('labeled' in data && data.labeled) {
    const mask = data.labeled;
    out['labeled'] = Uint8Array.from(indices, (row) => mask[row]!);
  }
  return out as T;
}
