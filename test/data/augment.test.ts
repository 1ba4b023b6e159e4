import { beforeAll, describe, expect, it } from 'vitest';
import { leakedTensors, useWasm } from '../helpers.js';
import { tf } from '../../src/runtime/tf.js';
import { Random } from '../../src/runtime/random.js';
import {
  augmentView,
  Batcher,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  cutout,
  DataError,
  disposeBatch,
  loadDataset,
  normalize,
  randomCrop,
  randomFlip,
  randomGrayscale,
  standardAugment,
  twoViews,
  view1Recipe,
  view2Recipe,
} from '../../src/data/index.js';
import type { CropOptions, Dataset } from '../../src/data/index.js';

let rgb: Dataset;
let fashion: Dataset;

beforeAll(async () => {
  await useWasm();
  rgb = await loadDataset('synthetic:32x32x3:10:64', { seed: 1 });
  fashion = await loadDataset('fashion-mnist-slice', { split: 'test', limit: 64 });
});

function rawBatch(ds: Dataset, n: number): tf.Tensor4D {
  const b = new Batcher(ds, { batchSize: n, shuffle: false, format: 'raw' }).next();
  b.labels.dispose();
  return b.images;
}

/** A batch whose pixels are all distinct and non-zero: value 1 + (i*H*W*C + p) % 250. */
function distinctBatch(n: number, h: number, w: number, c: number): tf.Tensor4D {
  const v = new Float32Array(n * h * w * c);
  for (let i = 0; i < v.length; i++) v[i] = 1 + (i % 250);
  return tf.tensor4d(v, [n, h, w, c]);
}

/** image i of an NHWC array as [h][w][c] nested arrays. */
function image(t: tf.Tensor4D, i: number): number[][][] {
  return (t.arraySync() as number[][][][])[i]!;
}

describe('geometric augmentation', () => {
  it('a flip is a mirror (p = 1), p = 0 leaves the batch unchanged', () => {
    const x = distinctBatch(3, 5, 7, 3);
    const f = randomFlip(x, new Random(1), { p: 1 });
    const mirror = tf.reverse(x, 2);
    expect(Array.from(f.dataSync())).toEqual(Array.from(mirror.dataSync()));
    const same = randomFlip(x, new Random(1), { p: 0 });
    expect(Array.from(same.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, f, mirror, same]);
  });

  it('a crop is a shifted window of the padded image', () => {
    const [n, h, w, c, pad] = [12, 6, 7, 2, 3];
    const x = distinctBatch(n, h, w, c);
    const y = randomCrop(x, new Random(5), { padding: pad, fill: 128 });
    expect(y.shape).toEqual([n, h, w, c]);
    const padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], 128);
    const offsets = new Set<string>();
    for (let i = 0; i < n; i++) {
      const out = JSON.stringify(image(y, i));
      let found: string | undefined;
      for (let dy = 0; dy <= 2 * pad && !found; dy++) {
        for (let dx = 0; dx <= 2 * pad && !found; dx++) {
          const win = tf.slice(padded, [i, dy, dx, 0], [1, h, w, c]);
          if (JSON.stringify((win.arraySync() as number[][][][])[0]) === out) found = `${dy},${dx}`;
          win.dispose();
        }
      }
      expect(found, `image ${i} is no window of its padded image`).toBeDefined();
      offsets.add(found!);
    }
    expect(offsets.size).toBeGreaterThan(3);
    tf.dispose([x, y, padded]);
  });

  it('cutout fills a size x size square (clipped at the border) with 0 in pixel space', () => {
    const [n, h, w, size] = [40, 12, 12, 4];
    const x = distinctBatch(n, h, w, 1);
    const y = cutout(x, new Random(3), { size, holes: 1 });
    const before = x.arraySync() as number[][][][];
    const after = y.arraySync() as number[][][][];
    let interior = 0;
    for (let i = 0; i < n; i++) {
      const zeros: [number, number][] = [];
      for (let r = 0; r < h; r++) {
        for (let q = 0; q < w; q++) {
          if (after[i]![r]![q]![0] === 0) zeros.push([r, q]);
          else expect(after[i]![r]![q]![0]).toBe(before[i]![r]![q]![0]);
        }
      }
      expect(zeros.length).toBeGreaterThan(0);
      const ys = zeros.map((z) => z[0]);
      const xs = zeros.map((z) => z[1]);
      const [y0, y1, x0, x1] = [Math.min(...ys), Math.max(...ys), Math.min(...xs), Math.max(...xs)];
      // A filled rectangle...
      expect(zeros.length).toBe((y1 - y0 + 1) * (x1 - x0 + 1));
      // ...of side `size`, or less where it touches the border.
      expect(y1 - y0 + 1 === size || y0 === 0 || y1 === h - 1).toBe(true);
      expect(x1 - x0 + 1 === size || x0 === 0 || x1 === w - 1).toBe(true);
      expect(y1 - y0 + 1).toBeLessThanOrEqual(size);
      expect(x1 - x0 + 1).toBeLessThanOrEqual(size);
      if (y1 - y0 + 1 === size && x1 - x0 + 1 === size) interior++;
    }
    expect(interior).toBeGreaterThan(10);
    tf.dispose([x, y]);
  });
});

describe('colour augmentation', () => {
  it('brightness scales each image by one factor in [0.6, 1.4], clipped to 255', () => {
    const x = tf.fill([20, 4, 4, 3], 100) as tf.Tensor4D;
    const y = colorJitter(x, new Random(2), { brightness: 0.4 });
    const v = y.arraySync() as number[][][][];
    const factors = v.map((img) => img[0]![0]![0]! / 100);
    v.forEach((img, i) => img.flat(2).forEach((p) => expect(p).toBeCloseTo(factors[i]! * 100, 3)));
    factors.forEach((f) => {
      expect(f).toBeGreaterThanOrEqual(0.6);
      expect(f).toBeLessThanOrEqual(1.4);
    });
    expect(new Set(factors.map((f) => f.toFixed(4))).size).toBeGreaterThan(10);
    const bright = tf.fill([5, 2, 2, 1], 250) as tf.Tensor4D;
    const yb = colorJitter(bright, new Random(4), { brightness: 0.9, p: 1 });
    expect(Math.max(...yb.dataSync())).toBeLessThanOrEqual(255);
    tf.dispose([x, y, bright, yb]);
  });

  it('hue keeps each pixel max and min (value and chroma) but changes colours; gray pixels are untouched by saturation', () => {
    const x = rawBatch(rgb, 8);
    const y = colorJitter(x, new Random(11), { hue: 0.1 });
    const maxIn = x.max(3);
    const maxOut = y.max(3);
    const minIn = x.min(3);
    const minOut = y.min(3);
    const dMax = tf.sub(maxIn, maxOut).abs().max().dataSync()[0]!;
    const dMin = tf.sub(minIn, minOut).abs().max().dataSync()[0]!;
    expect(dMax).toBeLessThan(1e-3);
    expect(dMin).toBeLessThan(1e-3);
    const changed = tf.sub(x, y).abs().max().dataSync()[0]!;
    expect(changed).toBeGreaterThan(5);

    const gray = tf.fill([4, 3, 3, 3], 77) as tf.Tensor4D;
    const sat = colorJitter(gray, new Random(1), { saturation: 0.4, hue: 0.1 });
    expect(tf.sub(sat, gray).abs().max().dataSync()[0]!).toBeLessThan(1e-3);
    tf.dispose([x, y, maxIn, maxOut, minIn, minOut, gray, sat]);
  });

  it('adjustHue / adjustSaturation / adjustContrast match a plain-JS torchvision reference', () => {
    const x = rawBatch(rgb, 4);
    const src = x.dataSync();
    const shifts = [0.1, -0.1, 0.37, -0.5];
    const hue = adjustHue(x, shifts).dataSync();
    const sat = adjustSaturation(x, [0, 0.6, 1, 1.4]).dataSync();
    const con = adjustContrast(x, [0.6, 1, 1.4, 0]).dataSync();
    const P = 32 * 32;
    const clip = (v: number): number => Math.min(255, Math.max(0, v));
    const grayOf = (o: number): number => 0.299 * src[o]! + 0.587 * src[o + 1]! + 0.114 * src[o + 2]!;
    let maxErr = 0;
    for (let i = 0; i < 4; i++) {
      let mean = 0;
      for (let p = 0; p < P; p++) mean += grayOf((i * P + p) * 3);
      mean /= P;
      for (let p = 0; p < P; p++) {
        const o = (i * P + p) * 3;
        const [r, g, b] = [src[o]!, src[o + 1]!, src[o + 2]!];
        // torchvision _rgb2hsv / _hsv2rgb
        const mx = Math.max(r, g, b);
        const mn = Math.min(r, g, b);
        const d = mx - mn;
        let h = d === 0 ? 0 : mx === r ? (g - b) / d : mx === g ? 2 + (b - r) / d : 4 + (r - g) / d;
        h = (((h / 6 + shifts[i]!) % 1) + 1) % 1;
        const s = mx === 0 ? 0 : d / mx;
        const hi = Math.floor(h * 6) % 6;
        const f = h * 6 - Math.floor(h * 6);
        const pp = mx * (1 - s);
        const q = mx * (1 - s * f);
        const t = mx * (1 - s * (1 - f));
        const rgbOut = [
          [mx, t, pp],
          [q, mx, pp],
          [pp, mx, t],
          [pp, q, mx],
          [t, pp, mx],
          [mx, pp, q],
        ][hi]!;
        const gr = grayOf(o);
        const sf = [0, 0.6, 1, 1.4][i]!;
        const cf = [0.6, 1, 1.4, 0][i]!;
        for (let c = 0; c < 3; c++) {
          maxErr = Math.max(maxErr, Math.abs(hue[o + c]! - rgbOut[c]!));
          maxErr = Math.max(maxErr, Math.abs(sat[o + c]! - clip(sf * src[o + c]! + (1 - sf) * gr)));
          maxErr = Math.max(maxErr, Math.abs(con[o + c]! - clip(cf * src[o + c]! + (1 - cf) * mean)));
        }
      }
    }
    expect(maxErr).toBeLessThan(2e-3);
    x.dispose();
  });

  it('p = 0 leaves the batch bit-identical; grayscale makes channels equal and is a no-op on 1 channel', () => {
    const x = rawBatch(rgb, 6);
    const none = colorJitter(x, new Random(1), { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0 });
    expect(Array.from(none.dataSync())).toEqual(Array.from(x.dataSync()));
    const g = randomGrayscale(x, new Random(1), { p: 1 });
    const [r, gg, b] = tf.split(g, 3, 3);
    expect(Array.from(r!.dataSync())).toEqual(Array.from(gg!.dataSync()));
    expect(Array.from(r!.dataSync())).toEqual(Array.from(b!.dataSync()));
    const mono = rawBatch(fashion, 4);
    const m2 = randomGrayscale(mono, new Random(1), { p: 1 });
    expect(Array.from(m2.dataSync())).toEqual(Array.from(mono.dataSync()));
    tf.dispose([x, none, g, r!, gg!, b!, mono, m2]);
  });
});

describe('twoViews and standardAugment', () => {
  for (const which of ['rgb 32x32x3', 'fashion 28x28x1'] as const) {
    it(`${which}: 2N normalised rows, deterministic per seed, views differ, no leaks`, () => {
      const ds = which.startsWith('rgb') ? rgb : fashion;
      const [h, w, c] = ds.inputShape;
      const x = rawBatch(ds, 16);
      const a = twoViews(x, new Random(42), ds);
      const b = twoViews(x, new Random(42), ds);
      const other = twoViews(x, new Random(43), ds);
      expect(a.shape).toEqual([32, h, w, c]);
      expect(a.dtype).toBe('float32');
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      expect(Array.from(a.dataSync())).not.toEqual(Array.from(other.dataSync()));
      const [v1, v2] = tf.split(a, 2, 0);
      expect(tf.sub(v1!, v2!).abs().mean().dataSync()[0]!).toBeGreaterThan(0.05);
      // Values within the normalised image of [0, 255].
      for (let ch = 0; ch < c; ch++) {
        const lo = (0 - ds.mean[ch]!) / ds.std[ch]!;
        const hi = (1 - ds.mean[ch]!) / ds.std[ch]!;
        const plane = tf.split(a, c, 3)[ch]!;
        expect(plane.min().dataSync()[0]!).toBeGreaterThanOrEqual(lo - 1e-4);
        expect(plane.max().dataSync()[0]!).toBeLessThanOrEqual(hi + 1e-4);
      }
      // View 1 has one cutout hole (black, 0 in pixel space) of the scaled size; view 2 none. On a constant image
      // (value 200, crop fill 128) only the hole can be black.
      const size = (view1Recipe(ds.inputShape).cutout || { size: 0 }).size;
      expect(size).toBe(c === 3 ? 16 : 14);
      const flat = tf.fill([16, h, w, c], 200) as tf.Tensor4D;
      // One-channel images pad with black by default (defaultCropFill); use grey padding here so black means "hole".
      const grey = (r: ReturnType<typeof view1Recipe>) => ({ ...r, crop: { ...(r.crop as CropOptions), fill: 128 } });
      expect((view1Recipe(ds.inputShape).crop as CropOptions).fill).toBe(c === 1 ? 0 : 128);
      const fv = twoViews(flat, new Random(7), {
        mean: new Array(c).fill(0),
        std: new Array(c).fill(1 / 255),
        view1: grey(view1Recipe(ds.inputShape)),
        view2: grey(view2Recipe(ds.inputShape)),
      });
      const fd = fv.dataSync();
      let fullHoles = 0;
      for (let i = 0; i < 32; i++) {
        let blacks = 0;
        for (let p = 0; p < h * w; p++) if (fd[(i * h * w + p) * c] === 0) blacks++;
        if (i < 16) {
          expect(blacks).toBeGreaterThan(0);
          expect(blacks).toBeLessThanOrEqual(size * size);
          if (blacks === size * size) fullHoles++;
        } else expect(blacks).toBe(0);
      }
      expect(fullHoles).toBeGreaterThan(3);
      tf.dispose([flat, fv]);
      tf.dispose([a, b, other, v1!, v2!]);
      const leaked = (() => {
        const before = tf.memory().numTensors;
        const t = twoViews(x, new Random(1), ds);
        const s = standardAugment(x, new Random(1), ds);
        expect(s.shape).toEqual([16, h, w, c]);
        tf.dispose([t, s]);
        return tf.memory().numTensors - before;
      })();
      expect(leaked).toBe(0);
      x.dispose();
    });
  }

  it('view 1 with cutout 0 has no hole; a cutout fraction scales the hole to the image', () => {
    const flat = tf.fill([32, 28, 28, 1], 200) as tf.Tensor4D;
    for (const [fraction, size] of [[0, 0], [0.25, 7]] as const) {
      const recipe = view1Recipe([28, 28, 1], fraction);
      const v = augmentView(flat, new Random(5), { ...recipe, crop: { ...(recipe.crop as CropOptions), fill: 128 } });
      const d = v.dataSync();
      let most = 0;
      for (let i = 0; i < 32; i++) {
        let blacks = 0;
        for (let p = 0; p < 28 * 28; p++) if (d[i * 28 * 28 + p] === 0) blacks++;
        most = Math.max(most, blacks);
      }
      expect(most, `cutout ${fraction}`).toBe(size * size);
      v.dispose();
    }
    expect(() => view1Recipe([28, 28, 1], 1.5)).toThrow(/view 1's cutout must be a fraction of the image side in \[0, 1\], got 1.5/);
    flat.dispose();
  });

  it('standardAugment is a (possibly mirrored) window of the 4-padded image, then normalised', () => {
    const x = rawBatch(rgb, 8);
    const s = standardAugment(x, new Random(9), rgb);
    const s2 = standardAugment(x, new Random(9), rgb);
    expect(Array.from(s.dataSync())).toEqual(Array.from(s2.dataSync()));
    const padded = normalize(tf.pad(x, [[0, 0], [4, 4], [4, 4], [0, 0]], 128) as tf.Tensor4D, rgb);
    let mirrored = 0;
    for (let i = 0; i < 8; i++) {
      const out = image(s, i);
      let found = false;
      for (let dy = 0; dy <= 8 && !found; dy++) {
        for (let dx = 0; dx <= 8 && !found; dx++) {
          const win = tf.slice(padded, [i, dy, dx, 0], [1, 32, 32, 3]);
          const flip = tf.reverse(win, 2);
          const close = (t: tf.Tensor): boolean => {
            const v = (t.arraySync() as number[][][][])[0]!;
            return v.every((row, r) => row.every((px, q) => px.every((val, ch) => Math.abs(val - out[r]![q]![ch]!) < 1e-5)));
          };
          if (close(win)) found = true;
          else if (close(flip)) {
            found = true;
            mirrored++;
          }
          tf.dispose([win, flip]);
        }
      }
      expect(found, `image ${i}`).toBe(true);
    }
    expect(mirrored).toBeGreaterThan(0);
    expect(mirrored).toBeLessThan(8);
    tf.dispose([x, s, s2, padded]);
  });

  it('the batch -> twoViews -> dispose loop leaks nothing; bad input is refused', async () => {
    const batcher = new Batcher(fashion, { batchSize: 16, seed: 1, format: 'raw' });
    const rng = new Random(5);
    const leaked = await leakedTensors(() => {
      for (const batch of batcher.epochBatches()) {
        const views = twoViews(batch.images, rng, { ...fashion, view2: view2Recipe(fashion.inputShape) });
        const labels = tf.concat([batch.labels, batch.labels]);
        expect(views.shape[0]).toBe(labels.shape[0]);
        tf.dispose([views, labels]);
        disposeBatch(batch);
      }
    });
    expect(leaked).toBe(0);
    const wrong = tf.zeros([2, 3, 3]);
    expect(() => twoViews(wrong as unknown as tf.Tensor4D, rng, fashion)).toThrow(DataError);
    wrong.dispose();
  });
});
