import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/runtime/random.js';
import {
  countPerClass,
  FASHION_MNIST_CLASSES,
  fashionSliceDir,
  loadDataset,
  loadTrainTest,
  readIdxDataset,
} from '../../src/data/index.js';
import { idxBytes, tempDir, writeIdxSplit, rejection } from './fixtures.js';

const FULL = '/usr/share/datasets/fashion-mnist';
const FULL_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

describe('full Fashion-MNIST', () => {
  beforeAll(() => {
    const missing = FULL_FILES.filter((f) => !existsSync(join(FULL, f)));
    if (missing.length > 0) {
      throw new Error(
        `This test needs the full Fashion-MNIST in ${FULL} (missing ${missing.join(', ')}): ` +
          'run `apt-get install dataset-fashion-mnist` (CI installs it).',
      );
    }
  });

  it('loads 60000 / 10000 images, 6000 / 1000 per class, 28x28x1, matching the files byte for byte', async () => {
    const { train, test } = await loadTrainTest('fashion-mnist', { searchDirs: [FULL] });
    expect(train.size).toBe(60000);
    expect(test.size).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect(train.inputShape).toEqual([28, 28, 1]);
    expect(test.inputShape).toEqual([28, 28, 1]);
    expect(countPerClass(train)).toEqual(new Array(10).fill(6000));
    expect(countPerClass(test)).toEqual(new Array(10).fill(1000));
    expect(train.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(train.note).toBeUndefined();
    expect(train.source).toContain(FULL);

    // The first test image and label, read independently from the gz files.
    const raw = gunzipSync(readFileSync(join(FULL, 't10k-images-idx3-ubyte.gz')));
    let expectedSum = 0;
    for (let i = 16; i < 16 + 784; i++) expectedSum += raw[i]!;
    let sum = 0;
    for (let i = 0; i < 784; i++) sum += test.images[i]!;
    expect(sum).toBe(expectedSum);
    expect(expectedSum).toBeGreaterThan(0);
    const rawLabels = gunzipSync(readFileSync(join(FULL, 't10k-labels-idx1-ubyte.gz')));
    expect(test.labels[0]).toBe(rawLabels[8]);
    expect(test.labels[9999]).toBe(rawLabels[8 + 9999]);

    // Normalisation from the training split (the well-known 0.2860 / 0.3530), shared by the test split.
    expect(train.mean[0]).toBeCloseTo(0.286, 3);
    expect(train.std[0]).toBeCloseTo(0.353, 3);
    expect(test.mean).toEqual(train.mean);
    expect(test.std).toEqual(train.std);
  });

  it('the bundled slice is the first 600 / 100 images of each class of the full set', async () => {
    const full = await loadDataset('fashion-mnist', { searchDirs: [FULL], split: 'test' });
    const slice = await loadDataset('fashion-mnist-slice', { split: 'test' });
    expect(slice.size).toBe(1000);
    expect(countPerClass(slice)).toEqual(new Array(10).fill(100));
    // limit (stratified) picks the first images of each class in file order: the same rule as the slice.
    const limited = await loadDataset('fashion-mnist', { searchDirs: [FULL], split: 'test', limit: 1000 });
    expect(Buffer.compare(Buffer.from(limited.images), Buffer.from(slice.images))).toBe(0);
    expect(Array.from(limited.labels)).toEqual(Array.from(slice.labels));
    expect(full.mean).toEqual((await loadDataset('fashion-mnist', { searchDirs: [FULL] })).mean);
  });
});

describe('Fashion-MNIST slice and fallback', () => {
  it('fashion-mnist-slice: 6000 / 1000, 600 / 100 per class', async () => {
    const { train, test } = await loadTrainTest('fashion-mnist-slice');
    expect(train.size).toBe(6000);
    expect(test.size).toBe(1000);
    expect(countPerClass(train)).toEqual(new Array(10).fill(600));
    expect(countPerClass(test)).toEqual(new Array(10).fill(100));
    expect(train.name).toBe('fashion-mnist-slice');
    expect(train.source).toContain('fashion-mnist-slice');
    expect(train.mean).toHaveLength(1);
    expect(train.std[0]).toBeGreaterThan(0);
  });

  it('fashion-mnist without the full set falls back to the slice and says so', async () => {
    const empty = tempDir();
    const ds = await loadDataset('fashion-mnist', { searchDirs: [empty] });
    expect(ds.size).toBe(6000);
    expect(ds.source).toContain(fashionSliceDir());
    expect(ds.note).toMatch(/full Fashion-MNIST not found \(looked in .*cds-data-.*\); using the bundled slice/);
    expect(ds.note).toContain('apt-get install dataset-fashion-mnist');
  });

  it('limit: stratified (equal per class, file order) or first-N', async () => {
    const strat = await loadDataset('fashion-mnist-slice', { split: 'test', limit: 105 });
    expect(strat.size).toBe(105);
    // 10 per class, the remainder of 5 to the lowest class indices.
    expect(countPerClass(strat)).toEqual([11, 11, 11, 11, 11, 10, 10, 10, 10, 10]);
    expect(strat.note).toContain('limited to 105 of 1000 test images (stratified)');
    const all = await loadDataset('fashion-mnist-slice', { split: 'test' });
    const first = await loadDataset('fashion-mnist-slice', { split: 'test', limit: 50, limitMode: 'first' });
    expect(Array.from(first.labels)).toEqual(Array.from(all.labels.subarray(0, 50)));
    expect(Buffer.compare(Buffer.from(first.images), Buffer.from(all.images.subarray(0, 50 * 784)))).toBe(0);
    // Normalisation comes from the full training split, whatever the limit.
    expect(first.mean).toEqual(all.mean);
  });

  it('labeledFraction: seeded, stratified labelled / unlabelled mask on the training split', async () => {
    const a = await loadDataset('fashion-mnist-slice', { labeledFraction: 0.1, rng: new Random(7) });
    const b = await loadDataset('fashion-mnist-slice', { labeledFraction: 0.1, rng: new Random(7) });
    const c = await loadDataset('fashion-mnist-slice', { labeledFraction: 0.1, rng: new Random(8) });
    expect(a.labeled).toBeDefined();
    const perClass = new Array(10).fill(0);
    a.labeled!.forEach((m, i) => (perClass[a.labels[i]!] += m));
    expect(perClass).toEqual(new Array(10).fill(60));
    expect(Array.from(a.labeled!)).toEqual(Array.from(b.labeled!));
    expect(Array.from(a.labeled!)).not.toEqual(Array.from(c.labeled!));
    const test = await loadDataset('fashion-mnist-slice', { split: 'test', labeledFraction: 0.1 });
    expect(test.labeled).toBeUndefined();
  });

  it('given mean/std are used as they are; wrong lengths are refused', async () => {
    const ds = await loadDataset('fashion-mnist-slice', { split: 'test', mean: [0.5], std: [0.25] });
    expect(ds.mean).toEqual([0.5]);
    expect(ds.std).toEqual([0.25]);
    const err = await rejection(loadDataset('fashion-mnist-slice', { mean: [0.5, 0.5, 0.5], std: [1, 1, 1] }));
    expect(err.message).toContain('one value per channel (1)');
  });
});

describe('IDX reader (mnist:DIR, kmnist:DIR)', () => {
  it('reads gzipped and plain files, both file name spellings', async () => {
    const dir = tempDir();
    const { images, labels } = writeIdxSplit(dir, 'train', 30, { gzip: true });
    writeIdxSplit(dir, 't10k', 12, { gzip: false, sep: '.' });
    const train = await loadDataset(`mnist:${dir}`);
    expect(train.name).toBe('mnist');
    expect(train.size).toBe(30);
    expect(train.inputShape).toEqual([4, 5, 1]);
    expect(Array.from(train.images)).toEqual(Array.from(images));
    expect(Array.from(train.labels)).toEqual(Array.from(labels));
    expect(train.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const test = await loadDataset(`kmnist:${dir}`, { split: 'test' });
    expect(test.size).toBe(12);
    expect(test.classNames[0]).toBe('o');
    expect(test.source).toContain('t10k-images.idx3-ubyte');
  });

  it('a missing dataset says where it looked and what it expected', async () => {
    const dir = tempDir();
    const err = await rejection(loadDataset(`mnist:${dir}`));
    expect(err.message).toContain(dir);
    expect(err.message).toContain('expected train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]');
    expect(err.message).toContain('Put the MNIST files');
    const fashion = await rejection(loadDataset(`fashion-mnist:${dir}`, { split: 'test' }));
    expect(fashion.message).toBe(
      `${dir}: no test split found: expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in this ` +
        `directory. Put the Fashion-MNIST files (train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], ` +
        `t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]) in ${dir}, or install them with ` +
        '`apt-get install dataset-fashion-mnist` (then use the spec fashion-mnist)',
    );
    const noDir = await rejection(loadDataset('mnist'));
    expect(noDir.message).toContain("needs a directory: mnist:DIR");
  });

  it('refuses a wrong magic number, naming the file and the expected magic', async () => {
    const dir = tempDir();
    writeIdxSplit(dir, 'train', 10);
    // An image file where the labels file should be.
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes(0x803, [10, 1, 1], new Uint8Array(10))));
    const err = await rejection(readIdxDataset(dir, { split: 'train' }));
    expect(err.message).toContain('train-labels-idx1-ubyte.gz: wrong magic number 0x00000803; expected 0x00000801');
    expect(err.path).toContain('train-labels-idx1-ubyte.gz');
  });

  it('refuses a truncated file (plain and gzipped)', async () => {
    const dir = tempDir();
    writeIdxSplit(dir, 'train', 10, { gzip: false });
    const file = join(dir, 'train-images-idx3-ubyte');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 7));
    const err = await rejection(readIdxDataset(dir, { split: 'train' }));
    expect(err.message).toBe(`${file}: truncated: expected 200 bytes of images data (10 x 4 x 5) after the header, found 193`);

    const gzDir = tempDir();
    writeIdxSplit(gzDir, 'train', 10, { gzip: true });
    const gzFile = join(gzDir, 'train-images-idx3-ubyte.gz');
    const gz = readFileSync(gzFile);
    writeFileSync(gzFile, gz.subarray(0, gz.length - 20));
    const gzErr = await rejection(readIdxDataset(gzDir, { split: 'train' }));
    expect(gzErr.message).toContain(`${gzFile}: not a valid gzip file, truncated or corrupt`);
  });

  it('refuses an image / label count mismatch and out-of-range labels', async () => {
    const dir = tempDir();
    writeIdxSplit(dir, 'train', 10);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes(0x801, [9], new Uint8Array(9))));
    const err = await rejection(readIdxDataset(dir, { split: 'train' }));
    expect(err.message).toContain('train-labels-idx1-ubyte.gz: 9 labels, but');
    expect(err.message).toContain('has 10 images; expected one label per image');

    const dir2 = tempDir();
    mkdirSync(dir2, { recursive: true });
    writeIdxSplit(dir2, 'train', 10);
    writeFileSync(join(dir2, 'train-labels-idx1-ubyte.gz'), gzipSync(idxBytes(0x801, [10], new Uint8Array(10).fill(12))));
    const err2 = await rejection(readIdxDataset(dir2, { split: 'train' }));
    expect(err2.message).toContain('label 12 at index 0; expected a class index below 10');
  });

  it('refuses an unknown spec, listing the known ones', async () => {
    const err = await rejection(loadDataset('imagenet'));
    expect(err.message).toContain("unknown dataset 'imagenet'; expected one of fashion-mnist");
    expect(err.message).not.toContain('\n');
  });
});
