import { beforeAll, describe, expect, it } from 'vitest';
import { leakedTensors, useWasm } from '../helpers.js';
import { tf } from '../../src/runtime/tf.js';
import { Random } from '../../src/runtime/random.js';
import { Batcher, DataError, disposeBatch, loadDataset, loadTrainTest, makeSynthetic, normalize, subsetDataset } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';

let ds: Dataset;

beforeAll(async () => {
  await useWasm();
  ds = await loadDataset('synthetic:6x5x3:4:103', { seed: 3 });
});

function drain(b: Batcher): Int32Array[] {
  const out: Int32Array[] = [];
  for (const batch of b.epochBatches()) {
    out.push(batch.indices);
    disposeBatch(batch);
  }
  return out;
}

describe('synthetic data', () => {
  it('is deterministic per seed, balanced and shaped as asked', async () => {
    const a = makeSynthetic({ shape: [8, 8, 1], classes: 5, count: 50, seed: 1 });
    const b = makeSynthetic({ shape: [8, 8, 1], classes: 5, count: 50, seed: 1 });
    const c = makeSynthetic({ shape: [8, 8, 1], classes: 5, count: 50, seed: 2 });
    expect(a.images.length).toBe(50 * 64);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(b.images))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.images), Buffer.from(c.images))).not.toBe(0);
    expect(Array.from(a.labels.subarray(0, 6))).toEqual([0, 1, 2, 3, 4, 0]);
    expect(ds.size).toBe(103);
    expect(ds.inputShape).toEqual([6, 5, 3]);
    const { train, test } = await loadTrainTest('synthetic');
    expect(train.size).toBe(2000);
    expect(test.size).toBe(400);
    expect(train.inputShape).toEqual([32, 32, 3]);
    await expect(loadDataset('synthetic:32x32:10')).rejects.toThrow(/bad synthetic spec/);
  });

  it('is learnable: nearest class centroid on two gradient-energy features beats chance by far', () => {
    const [h, w] = [28, 28];
    const features = (d: ReturnType<typeof makeSynthetic>): number[][] =>
      Array.from(d.labels, (_, i) => {
        let gx = 0;
        let gy = 0;
        const o = i * h * w;
        for (let y = 0; y < h - 1; y++) {
          for (let x = 0; x < w - 1; x++) {
            gx += Math.abs(d.images[o + y * w + x + 1]! - d.images[o + y * w + x]!);
            gy += Math.abs(d.images[o + (y + 1) * w + x]! - d.images[o + y * w + x]!);
          }
        }
        return [gx / 1000, gy / 1000];
      });
    const train = makeSynthetic({ shape: [h, w, 1], classes: 10, count: 500, seed: 1 });
    const test = makeSynthetic({ shape: [h, w, 1], classes: 10, count: 200, seed: 2 });
    const ftrain = features(train);
    const centroids = Array.from({ length: 10 }, (_, k) => {
      const rows = ftrain.filter((_, i) => train.labels[i] === k);
      return [0, 1].map((j) => rows.reduce((a, r) => a + r[j]!, 0) / rows.length);
    });
    let correct = 0;
    features(test).forEach((f, i) => {
      const dist = centroids.map((c) => (c[0]! - f[0]!) ** 2 + (c[1]! - f[1]!) ** 2);
      if (dist.indexOf(Math.min(...dist)) === test.labels[i]) correct++;
    });
    expect(correct / 200).toBeGreaterThan(0.6);
  });
});

describe('Batcher', () => {
  it('covers every row once per epoch, keeps the last partial batch', () => {
    const b = new Batcher(ds, { batchSize: 10, seed: 1 });
    expect(b.numBatches).toBe(11);
    const batches = drain(b);
    expect(batches.map((x) => x.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    const seen = batches.flatMap((x) => Array.from(x)).sort((p, q) => p - q);
    expect(seen).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(b.epoch).toBe(1);
    expect(b.position).toBe(0);
    const dropped = new Batcher(ds, { batchSize: 10, seed: 1, dropLast: true });
    expect(drain(dropped).map((x) => x.length)).toEqual(new Array(10).fill(10));
  });

  it('yields normalised float32 images and int32 labels of the batch rows', () => {
    const b = new Batcher(ds, { batchSize: 7, seed: 2 });
    const batch = b.next();
    expect(batch.images.shape).toEqual([7, 6, 5, 3]);
    expect(batch.images.dtype).toBe('float32');
    expect(batch.labels.dtype).toBe('int32');
    expect(Array.from(batch.labels.dataSync())).toEqual(Array.from(batch.indices, (i) => ds.labels[i]!));
    const values = batch.images.dataSync();
    const row = batch.indices[3]!;
    const px = 6 * 5 * 3;
    for (const p of [0, 1, 2, 44, 89]) {
      const c = p % 3;
      const expected = (ds.images[row * px + p]! / 255 - ds.mean[c]!) / ds.std[c]!;
      expect(values[3 * px + p]).toBeCloseTo(expected, 5);
    }
    disposeBatch(batch);
  });

  it('raw batches are pixel scale, and normalize(raw) equals the normalised batch bit for bit', () => {
    const raw = new Batcher(ds, { batchSize: 16, seed: 5, format: 'raw' }).next();
    const norm = new Batcher(ds, { batchSize: 16, seed: 5 }).next();
    expect(Array.from(raw.indices)).toEqual(Array.from(norm.indices));
    const r = raw.images.dataSync();
    expect(r[0]).toBe(ds.images[raw.indices[0]! * 90]);
    const n2 = normalize(raw.images, ds);
    expect(Array.from(n2.dataSync())).toEqual(Array.from(norm.images.dataSync()));
    n2.dispose();
    disposeBatch(raw);
    disposeBatch(norm);
  });

  it('same seed, same batches; epochs differ; no shuffle keeps file order', () => {
    const a = new Batcher(ds, { batchSize: 20, seed: 9 });
    const b = new Batcher(ds, { batchSize: 20, rng: new Random(123) });
    const b2 = new Batcher(ds, { batchSize: 20, rng: new Random(123) });
    const e0 = drain(a);
    const e1 = drain(a);
    expect(e0.map((x) => Array.from(x))).not.toEqual(e1.map((x) => Array.from(x)));
    expect(drain(b).map((x) => Array.from(x))).toEqual(drain(b2).map((x) => Array.from(x)));
    const a2 = new Batcher(ds, { batchSize: 20, seed: 9 });
    expect(drain(a2).map((x) => Array.from(x))).toEqual(e0.map((x) => Array.from(x)));
    const plain = new Batcher(ds, { batchSize: 50, shuffle: false });
    expect(Array.from(drain(plain)[0]!)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('getState / setState (through JSON) resumes with exactly the same batches', () => {
    const a = new Batcher(ds, { batchSize: 8, seed: 77 });
    for (let i = 0; i < 17; i++) disposeBatch(a.next()); // into the second epoch (13 batches per epoch)
    const saved = JSON.parse(JSON.stringify(a.getState()));
    expect(saved).toEqual({ seed: 77, epoch: 1, position: 4 });
    const expected: number[][] = [];
    for (let i = 0; i < 15; i++) {
      const batch = a.next();
      expected.push(Array.from(batch.indices));
      disposeBatch(batch);
    }
    const b = new Batcher(ds, { batchSize: 8, seed: 1 });
    b.setState(saved);
    const got: number[][] = [];
    for (let i = 0; i < 15; i++) {
      const batch = b.next();
      got.push(Array.from(batch.indices));
      disposeBatch(batch);
    }
    expect(got).toEqual(expected);
    expect(() => b.setState({ seed: 1, epoch: 0, position: 13 })).toThrow(DataError);
  });

  it('passes the labelled mask through and leaks no tensors', async () => {
    const semi = await loadDataset('synthetic:6x5x3:4:103', { labeledFraction: 0.25, rng: new Random(1) });
    const b = new Batcher(semi, { batchSize: 32, seed: 4 });
    const leaked = await leakedTensors(() => {
      for (const batch of b.epochBatches()) {
        expect(Array.from(batch.labeled!)).toEqual(Array.from(batch.indices, (i) => semi.labeled![i]!));
        disposeBatch(batch);
      }
    });
    expect(leaked).toBe(0);
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
    const sub = subsetDataset(semi, [5, 2]);
    expect(sub.size).toBe(2);
    expect(Array.from(sub.labels)).toEqual([semi.labels[5], semi.labels[2]]);
    expect(() => new Batcher(sub, { batchSize: 4, dropLast: true })).toThrow(/fewer than one batch of 4/);
  });
});
