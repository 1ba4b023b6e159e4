import { mkdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, loadDataset, loadTrainTest, readCifar10, readCifar100 } from '../../src/data/index.js';
import { cifarRecords, tempDir, rejection } from './fixtures.js';

/** Pixel (y, x, c) of image n in an NHWC uint8 array of 32x32x3 images. */
function px(images: Uint8Array, n: number, y: number, x: number, c: number): number {
  return images[((n * 32 + y) * 32 + x) * 3 + c]!;
}

function writeCifar10(dir: string, options: { meta?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  // Batch b holds 3 records with labels (b + i) % 10; the test batch 4 records.
  for (let b = 1; b <= 5; b++) {
    writeFileSync(join(dir, `data_batch_${b}.bin`), cifarRecords([0, 1, 2].map((i) => [(b + i) % 10]), (b - 1) * 3));
  }
  writeFileSync(join(dir, 'test_batch.bin'), cifarRecords([[9], [8], [7], [6]], 100));
  if (options.meta ?? true) writeFileSync(join(dir, 'batches.meta.txt'), CIFAR10_CLASSES.map((c) => c.toUpperCase()).join('\n') + '\n\n');
}

describe('CIFAR-10 binary reader', () => {
  it('reads all training batches in order, CHW planes -> NHWC', async () => {
    const dir = tempDir();
    writeCifar10(dir);
    const ds = await readCifar10(dir, 'train');
    expect(ds.inputShape).toEqual([32, 32, 3]);
    expect(ds.labels.length).toBe(15);
    expect(ds.images.length).toBe(15 * 3072);
    expect(Array.from(ds.labels)).toEqual([1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7]);
    expect(ds.classNames[0]).toBe('AIRPLANE');
    for (const [n, y, x] of [
      [0, 0, 0],
      [4, 3, 17],
      [14, 31, 31],
    ] as const) {
      expect(px(ds.images, n, y, x, 0)).toBe((y * 32 + x + n) % 256);
      expect(px(ds.images, n, y, x, 1)).toBe(100 + n);
      expect(px(ds.images, n, y, x, 2)).toBe(200 - n);
    }
    const test = await readCifar10(dir, 'test');
    expect(Array.from(test.labels)).toEqual([9, 8, 7, 6]);
    expect(px(test.images, 2, 1, 2, 0)).toBe((32 + 2 + 102) % 256);
  });

  it('loadTrainTest(cifar10:DIR) finds cifar-10-batches-bin/ and uses the standard names without meta', async () => {
    const root = tempDir();
    writeCifar10(join(root, 'cifar-10-batches-bin'), { meta: false });
    const { train, test } = await loadTrainTest(`cifar10:${root}`);
    expect(train.name).toBe('cifar10');
    expect(train.size).toBe(15);
    expect(test.size).toBe(4);
    expect(train.classNames).toEqual(CIFAR10_CLASSES);
    expect(train.note).toContain('batches.meta.txt not found');
    expect(train.mean).toHaveLength(3);
    expect(train.mean[1]).toBeCloseTo((100 + 7) / 255, 6); // G plane is 100 + record index 0..14
    expect(test.mean).toEqual(train.mean);
  });

  it('refuses a truncated batch, naming it', async () => {
    const dir = tempDir();
    writeCifar10(dir);
    writeFileSync(join(dir, 'data_batch_3.bin'), cifarRecords([[1], [2]]).subarray(0, 3073 + 100));
    const err = await rejection(readCifar10(dir, 'train'));
    expect(err.message).toBe(
      `${join(dir, 'data_batch_3.bin')}: 3173 bytes is not a whole number of 3073-byte CIFAR records ` +
        '(1 label byte + 3072 pixels); truncated after 1 records?',
    );
  });

  it('refuses a missing batch (nothing half-loaded) and a label outside the classes', async () => {
    const dir = tempDir();
    writeCifar10(dir);
    unlinkSync(join(dir, 'data_batch_4.bin'));
    const err = await rejection(readCifar10(dir, 'train'));
    expect(err.message).toContain(`${join(dir, 'data_batch_4.bin')}: missing; expected`);

    const dir2 = tempDir();
    writeCifar10(dir2);
    writeFileSync(join(dir2, 'test_batch.bin'), cifarRecords([[3], [10]]));
    const err2 = await rejection(readCifar10(dir2, 'test'));
    expect(err2.message).toContain('test_batch.bin: class label 10 in record 1; expected a class index below 10');

    const err3 = await rejection(loadDataset(`cifar10:${join(dir2, 'nope')}`));
    expect(err3.message).toContain('nope: directory not found');
  });
});

describe('CIFAR-100 binary reader', () => {
  function writeCifar100(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train.bin'), cifarRecords([[3, 99], [19, 0], [0, 42]]));
    writeFileSync(join(dir, 'test.bin'), cifarRecords([[5, 7]], 50));
    writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `fine${i}`).join('\n'));
    writeFileSync(join(dir, 'coarse_label_names.txt'), Array.from({ length: 20 }, (_, i) => `coarse${i}`).join('\n'));
  }

  it('fine labels by default, coarse labels alongside or as labels', async () => {
    const dir = tempDir();
    writeCifar100(join(dir, 'cifar-100-binary'));
    const fine = await loadDataset(`cifar100:${dir}`);
    expect(fine.name).toBe('cifar100');
    expect(Array.from(fine.labels)).toEqual([99, 0, 42]);
    expect(Array.from(fine.coarseLabels!)).toEqual([3, 19, 0]);
    expect(fine.classNames).toHaveLength(100);
    expect(fine.classNames[99]).toBe('fine99');
    expect(fine.coarseClassNames![19]).toBe('coarse19');
    expect(px(fine.images, 2, 5, 6, 0)).toBe((5 * 32 + 6 + 2) % 256);
    expect(px(fine.images, 2, 5, 6, 2)).toBe(198);
    const coarse = await loadDataset(`cifar100:${dir}`, { cifar100Labels: 'coarse', split: 'test' });
    expect(Array.from(coarse.labels)).toEqual([5]);
    expect(coarse.classNames).toHaveLength(20);
    expect(px(coarse.images, 0, 0, 0, 1)).toBe(150);
  });

  it('refuses truncated records and out-of-range fine labels', async () => {
    const dir = tempDir();
    writeCifar100(dir);
    writeFileSync(join(dir, 'train.bin'), cifarRecords([[1, 1]]).subarray(0, 3000));
    const err = await rejection(readCifar100(dir, 'train'));
    expect(err.message).toContain('train.bin: 3000 bytes is not a whole number of 3074-byte CIFAR records (2 label bytes');
    writeFileSync(join(dir, 'test.bin'), cifarRecords([[1, 100]]));
    const err2 = await rejection(readCifar100(dir, 'test'));
    expect(err2.message).toContain('test.bin: fine label 100 in record 0; expected a class index below 100');
  });
});
