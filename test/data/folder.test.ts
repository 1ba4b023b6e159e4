import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { loadDataset, loadTrainTest, readImageFolder } from '../../src/data/index.js';
import { tempDir, rejection } from './fixtures.js';

type Pixel = (y: number, x: number) => [number, number, number];

function rgba(w: number, h: number, pixel: Pixel): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = pixel(y, x);
      data.set([r, g, b, 255], (y * w + x) * 4);
    }
  }
  return data;
}

function writePng(file: string, w: number, h: number, pixel: Pixel): void {
  const png = new PNG({ width: w, height: h });
  rgba(w, h, pixel).copy(png.data);
  writeFileSync(file, PNG.sync.write(png));
}

function writeJpeg(file: string, w: number, h: number, pixel: Pixel): void {
  writeFileSync(file, jpeg.encode({ width: w, height: h, data: rgba(w, h, pixel) }, 95).data);
}

const red: Pixel = () => [200, 30, 40];
const ramp: Pixel = (y, x) => [x * 10, y * 10, 100];

describe('image folder reader', () => {
  it('reads PNG and JPEG files, classes sorted, files sorted, NHWC RGB', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'zebra'));
    mkdirSync(join(root, 'apple'));
    writePng(join(root, 'zebra', 'b.png'), 8, 6, ramp);
    writePng(join(root, 'zebra', 'a.png'), 8, 6, red);
    writeJpeg(join(root, 'apple', 'x.JPG'), 8, 6, () => [40, 160, 220]);
    writeFileSync(join(root, 'apple', 'notes.txt'), 'not an image');
    const ds = await readImageFolder(root);
    expect(ds.classNames).toEqual(['apple', 'zebra']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 1]);
    expect(ds.inputShape).toEqual([6, 8, 3]);
    const at = (n: number, y: number, x: number): number[] => Array.from(ds.images.subarray(((n * 6 + y) * 8 + x) * 3, ((n * 6 + y) * 8 + x) * 3 + 3));
    // JPEG is lossy: close to the colour.
    at(0, 2, 3).forEach((v, c) => expect(Math.abs(v - [40, 160, 220][c]!)).toBeLessThanOrEqual(4));
    expect(at(1, 5, 7)).toEqual([200, 30, 40]); // zebra/a.png first
    expect(at(2, 5, 7)).toEqual([70, 50, 100]); // zebra/b.png: the ramp
    expect(at(2, 0, 0)).toEqual([0, 0, 100]);
  });

  it('resizes to a given size (bilinear) and detects gray images (1 channel)', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    writePng(join(root, 'a', '1.png'), 4, 4, () => [90, 90, 90]);
    writePng(join(root, 'b', '1.png'), 8, 8, (_y, x) => [x < 4 ? 0 : 200, x < 4 ? 0 : 200, x < 4 ? 0 : 200]);
    const ds = await loadDataset(`folder:${root}`, { imageSize: 2 });
    expect(ds.inputShape).toEqual([2, 2, 1]);
    expect(Array.from(ds.images)).toEqual([90, 90, 90, 90, 0, 200, 0, 200]);
    expect(ds.mean).toHaveLength(1);
    const rgb = await loadDataset(`folder:${root}`, { imageSize: [3, 5], channels: 3 });
    expect(rgb.inputShape).toEqual([3, 5, 3]);
    expect(rgb.size).toBe(2);
  });

  it('train/ and test/ subfolders give two splits with the training size', async () => {
    const root = tempDir();
    for (const split of ['train', 'test']) {
      for (const cls of ['cat', 'dog']) {
        mkdirSync(join(root, split, cls), { recursive: true });
        writePng(join(root, split, cls, '0.png'), split === 'train' ? 6 : 12, split === 'train' ? 6 : 12, ramp);
      }
    }
    const { train, test } = await loadTrainTest(`folder:${root}`);
    expect(train.inputShape).toEqual([6, 6, 3]);
    expect(test.inputShape).toEqual([6, 6, 3]);
    expect(test.classNames).toEqual(['cat', 'dog']);
    expect(test.mean).toEqual(train.mean);

    const flat = tempDir();
    mkdirSync(join(flat, 'only'));
    writePng(join(flat, 'only', '0.png'), 4, 4, red);
    const err = await rejection(loadDataset(`folder:${flat}`, { split: 'test' }));
    expect(err.message).toContain('no test split');
  });

  it('refuses an empty class folder, naming it', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    writePng(join(root, 'a', '1.png'), 4, 4, red);
    writeFileSync(join(root, 'b', 'readme.txt'), 'no images here');
    const err = await rejection(readImageFolder(root));
    expect(err.message).toBe(`${join(root, 'b')}: empty class folder; expected at least one .png, .jpg or .jpeg image`);
  });

  it('refuses an undecodable image, naming the file', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'a'));
    writePng(join(root, 'a', '1.png'), 4, 4, red);
    writeFileSync(join(root, 'a', '2.png'), 'this is not a png');
    const err = await rejection(readImageFolder(root));
    expect(err.message).toBe(`${join(root, 'a', '2.png')}: cannot decode image: not a PNG or JPEG file (unrecognised header)`);

    // A PNG header with a corrupt body.
    const good = PNG.sync.write(Object.assign(new PNG({ width: 4, height: 4 }), {}));
    writeFileSync(join(root, 'a', '2.png'), good.subarray(0, 40));
    const err2 = await rejection(readImageFolder(root));
    expect(err2.message).toContain(`${join(root, 'a', '2.png')}: cannot decode PNG image (`);

    const jpg = tempDir();
    mkdirSync(join(jpg, 'a'));
    writeFileSync(join(jpg, 'a', '1.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3]));
    const err3 = await rejection(readImageFolder(jpg));
    expect(err3.message).toContain(`${join(jpg, 'a', '1.jpg')}: cannot decode JPEG image (`);
  });

  it('refuses a root without class folders, or a missing root', async () => {
    const root = tempDir();
    const err = await rejection(readImageFolder(root));
    expect(err.message).toContain(`${root}: no class folders`);
    const err2 = await rejection(loadDataset(`folder:${join(root, 'missing')}`));
    expect(err2.message).toContain('missing: image folder not found');
  });
});
