import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { isDirectory, isFile, readMaybeGzipped } from './files.js';
import type { RawImageData, Split } from './types.js';

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const IMAGE_BYTES = 3 * PIXELS;

/**
 * CIFAR binary records -> NHWC. Each record is `labelBytes` label bytes then 1024 R, 1024 G, 1024 B bytes
 * (each plane row-major 32x32).
 */
function decodeRecords(
  file: string,
  data: Uint8Array,
  labelBytes: number,
  images: Uint8Array,
  labelArrays: Int32Array[],
  start: number,
): number {
  const record = labelBytes + IMAGE_BYTES;
  if (data.length === 0 || data.length % record !== 0) {
    const whole = Math.floor(data.length / record);
    throw new DataError(
      `${file}: ${data.length} bytes is not a whole number of ${record}-byte CIFAR records ` +
        `(${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + 3072 pixels); truncated after ${whole} records?`,
      file,
    );
  }
  const n = data.length / record;
  for (let r = 0; r < n; r++) {
    const base = r * record;
    for (let k = 0; k < labelBytes; k++) labelArrays[k]![start + r] = data[base + k]!;
    const src = base + labelBytes;
    let dst = (start + r) * IMAGE_BYTES;
    for (let p = 0; p < PIXELS; p++) {
      images[dst++] = data[src + p]!;
      images[dst++] = data[src + PIXELS + p]!;
      images[dst++] = data[src + 2 * PIXELS + p]!;
    }
  }
  return n;
}

async function readNames(file: string): Promise<string[] | undefined> {
  if (!(await isFile(file))) return undefined;
  const text = await readFile(file, 'utf8');
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function checkLabels(file: string, labels: Int32Array, count: number, what: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= count) {
      throw new DataError(`${file}: ${what} label ${labels[i]} in record ${i}; expected a class index below ${count}`, file);
    }
  }
}

/** `dir` itself, or the directory the official archive unpacks to inside it. */
async function resolveDir(dir: string, archiveDir: string, marker: string): Promise<string> {
  if (await isFile(join(dir, marker))) return dir;
  if (await isFile(join(dir, archiveDir, marker))) return join(dir, archiveDir);
  if (!(await isDirectory(dir))) {
    throw new DataError(`${dir}: directory not found`, dir);
  }
  return dir;
}

async function readAll(files: string[]): Promise<Uint8Array[]> {
  const missing: string[] = [];
  for (const f of files) if (!(await isFile(f))) missing.push(f);
  if (missing.length > 0) {
    throw new DataError(`${missing.join(', ')}: missing; expected ${files.join(', ')}`, missing[0]);
  }
  return Promise.all(files.map((f) => readMaybeGzipped(f)));
}

/**
 * CIFAR-10 binary version: `data_batch_1.bin`..`data_batch_5.bin` (train) or `test_batch.bin` (test), records of
 * 1 label byte + 3072 pixel bytes; class names from `batches.meta.txt` (the standard ten names when it is absent).
 * `dir` may be the directory holding the files or the one holding `cifar-10-batches-bin/`.
 */
export async function readCifar10(dir: string, split: Split): Promise<RawImageData> {
  const root = await resolveDir(dir, 'cifar-10-batches-bin', split === 'train' ? 'data_batch_1.bin' : 'test_batch.bin');
  const files =
    split === 'train' ? [1, 2, 3, 4, 5].map((i) => join(root, `data_batch_${i}.bin`)) : [join(root, 'test_batch.bin')];
  const buffers = await readAll(files);
  const record = 1 + IMAGE_BYTES;
  const total = buffers.reduce((a, b) => a + Math.floor(b.length / record), 0);
  const images = new Uint8Array(total * IMAGE_BYTES);
  const labels = new Int32Array(total);
  const metaFile = join(root, 'batches.meta.txt');
  const names = await readNames(metaFile);
  const classNames = names ?? [...CIFAR10_CLASSES];
  let at = 0;
  buffers.forEach((data, i) => {
    const n = decodeRecords(files[i]!, data, 1, images, [labels], at);
    checkLabels(files[i]!, labels.subarray(at, at + n), classNames.length, 'class');
    at += n;
  });
  return {
    images,
    labels,
    classNames,
    inputShape: [SIDE, SIDE, 3],
    source: files.length > 1 ? `${join(root, 'data_batch_{1..5}.bin')}` : files[0]!,
    ...(names === undefined ? { note: `${metaFile} not found; using the standard CIFAR-10 class names` } : {}),
  };
}

export interface ReadCifar100Options {
  /** Which label is `labels`: the 100 fine classes (default) or the 20 coarse superclasses. */
  readonly labels?: 'fine' | 'coarse';
}

/**
 * CIFAR-100 binary version: `train.bin` / `test.bin`, records of coarse label byte + fine label byte + 3072 pixel
 * bytes; names from `fine_label_names.txt` / `coarse_label_names.txt` (numbers when absent). `labels` are the fine
 * labels unless `labels: 'coarse'`; the coarse labels are always returned in `coarseLabels`.
 * `dir` may be the directory holding the files or the one holding `cifar-100-binary/`.
 */
export async function readCifar100(dir: string, split: Split, options: ReadCifar100Options = {}): Promise<RawImageData> {
  const root = await resolveDir(dir, 'cifar-100-binary', `${split}.bin`);
  const file = join(root, `${split}.bin`);
  const [data] = await readAll([file]);
  const n = Math.floor(data!.length / (2 + IMAGE_BYTES));
  const images = new Uint8Array(n * IMAGE_BYTES);
  const coarse = new Int32Array(n);
  const fine = new Int32Array(n);
  decodeRecords(file, data!, 2, images, [coarse, fine], 0);
  const notes: string[] = [];
  const numbered = (k: number): string[] => Array.from({ length: k }, (_, i) => String(i));
  const fineFile = join(root, 'fine_label_names.txt');
  const coarseFile = join(root, 'coarse_label_names.txt');
  let fineNames = await readNames(fineFile);
  let coarseNames = await readNames(coarseFile);
  if (fineNames === undefined) {
    fineNames = numbered(100);
    notes.push(`${fineFile} not found; fine classes are named by number`);
  }
  if (coarseNames === undefined) {
    coarseNames = numbered(20);
    notes.push(`${coarseFile} not found; coarse classes are named by number`);
  }
  checkLabels(file, fine, fineNames.length, 'fine');
  checkLabels(file, coarse, coarseNames.length, 'coarse');
  const useCoarse = options.labels === 'coarse';
  return {
    images,
    labels: useCoarse ? coarse : fine,
    classNames: useCoarse ? coarseNames : fineNames,
    inputShape: [SIDE, SIDE, 3],
    source: file,
    coarseLabels: coarse,
    coarseClassNames: coarseNames,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}
