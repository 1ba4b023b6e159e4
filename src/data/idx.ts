import { join } from 'node:path';
import { DataError } from './errors.js';
import { firstExisting, readMaybeGzipped } from './files.js';
import type { RawImageData, Split } from './types.js';

/** IDX magic numbers (big-endian uint32): 0x0000 08 NN = unsigned bytes, NN dimensions. */
const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
/** Kuzushiji-MNIST: the ten hiragana お き す つ な は ま や れ を, romanised. */
export const KMNIST_CLASSES = ['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'];

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function parseHeader(file: string, data: Uint8Array, magic: number, what: string): { dims: number[]; offset: number } {
  const ndim = magic & 0xff;
  const headerBytes = 4 + 4 * ndim;
  if (data.length < 4) {
    throw new DataError(`${file}: truncated IDX file (${data.length} bytes; expected an IDX ${what} file)`, file);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic) {
    throw new DataError(
      `${file}: wrong magic number ${hex(got)}; expected ${hex(magic)} (IDX ${what}: unsigned bytes, ${ndim} dimension${ndim > 1 ? 's' : ''})`,
      file,
    );
  }
  if (data.length < headerBytes) {
    throw new DataError(`${file}: truncated IDX header (${data.length} of ${headerBytes} bytes)`, file);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const body = data.length - headerBytes;
  if (body < expected) {
    throw new DataError(
      `${file}: truncated: expected ${expected} bytes of ${what} data (${dims.join(' x ')}) after the header, found ${body}`,
      file,
    );
  }
  if (body > expected) {
    throw new DataError(
      `${file}: ${body - expected} unexpected bytes after the ${dims.join(' x ')} ${what} data; expected exactly ${expected}`,
      file,
    );
  }
  return { dims, offset: headerBytes };
}

/** Read an IDX3 ubyte image file (gzipped or not): N x H x W uint8 -> NHWC with C = 1. */
export async function readIdxImages(file: string): Promise<{ images: Uint8Array; shape: [number, number, number] }> {
  const data = await readMaybeGzipped(file);
  const { dims, offset } = parseHeader(file, data, IMAGES_MAGIC, 'images');
  const [n, h, w] = dims as [number, number, number];
  // Copy out of the (possibly much larger) decompression buffer so it can be freed.
  return { images: data.slice(offset, offset + n * h * w), shape: [n, h, w] };
}

/** Read an IDX1 ubyte label file (gzipped or not). */
export async function readIdxLabels(file: string): Promise<Int32Array> {
  const data = await readMaybeGzipped(file);
  const { dims, offset } = parseHeader(file, data, LABELS_MAGIC, 'labels');
  return Int32Array.from(data.subarray(offset, offset + dims[0]!));
}

/** File name stems of a split, as MNIST-style datasets name them. */
const PREFIX: Record<Split, string> = { train: 'train', test: 't10k' };

function candidates(dir: string, stem: string, kind: 'images-idx3' | 'labels-idx1'): string[] {
  const out: string[] = [];
  for (const sep of ['-', '.']) {
    const base = join(dir, `${stem}-${kind.replace('-', sep)}-ubyte`);
    out.push(`${base}.gz`, base);
  }
  return out;
}

/** The image and label files of a split in `dir`, or undefined when either is missing. */
export async function findIdxFiles(dir: string, split: Split): Promise<{ images: string; labels: string } | undefined> {
  const images = await firstExisting(candidates(dir, PREFIX[split], 'images-idx3'));
  const labels = await firstExisting(candidates(dir, PREFIX[split], 'labels-idx1'));
  return images !== undefined && labels !== undefined ? { images, labels } : undefined;
}

export function idxFileNames(split: Split): string {
  return `${PREFIX[split]}-images-idx3-ubyte[.gz] and ${PREFIX[split]}-labels-idx1-ubyte[.gz]`;
}

export interface ReadIdxOptions {
  readonly split: Split;
  /** Class names; the default is '0'..'9' (MNIST). Labels must be smaller than their count. */
  readonly classNames?: string[];
  /** How to get the data, appended to the "not found" message. */
  readonly howToGet?: string;
}

/**
 * Read an MNIST-style dataset split (MNIST, Fashion-MNIST, KMNIST) from `dir`:
 * `train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`, or `t10k-*` for the test split
 * (the `train-images.idx3-ubyte` spelling is accepted too).
 */
export async function readIdxDataset(dir: string, options: ReadIdxOptions): Promise<RawImageData> {
  const classNames = options.classNames ?? MNIST_CLASSES;
  const files = await findIdxFiles(dir, options.split);
  if (files === undefined) {
    throw new DataError(
      `${dir}: no ${options.split} split found: expected ${idxFileNames(options.split)} in this directory` +
        (options.howToGet ? `. ${options.howToGet}` : ''),
      dir,
    );
  }
  const [{ images, shape }, labels] = await Promise.all([readIdxImages(files.images), readIdxLabels(files.labels)]);
  if (labels.length !== shape[0]) {
    throw new DataError(
      `${files.labels}: ${labels.length} labels, but ${files.images} has ${shape[0]} images; expected one label per image`,
      files.labels,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classNames.length) {
      throw new DataError(
        `${files.labels}: label ${labels[i]} at index ${i}; expected a class index below ${classNames.length}`,
        files.labels,
      );
    }
  }
  return {
    images,
    labels,
    classNames: [...classNames],
    inputShape: [shape[1], shape[2], 1],
    source: `${files.images} + ${files.labels}`,
  };
}
