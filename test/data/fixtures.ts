// Helpers that write small dataset files in temporary directories for the data tests.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { DataError } from '../../src/data/index.js';

export function tempDir(prefix = 'cds-data-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function idxBytes(magic: number, dims: number[], body: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(body)]);
}

/** Write an MNIST-style split: n images of h x w, image i filled with value (i * 7) % 256, label i % classes. */
export function writeIdxSplit(
  dir: string,
  prefix: 'train' | 't10k',
  n: number,
  options: { h?: number; w?: number; classes?: number; gzip?: boolean; sep?: '-' | '.' } = {},
): { images: Uint8Array; labels: Uint8Array } {
  const { h = 4, w = 5, classes = 10, gzip = true, sep = '-' } = options;
  mkdirSync(dir, { recursive: true });
  const images = new Uint8Array(n * h * w);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    for (let p = 0; p < h * w; p++) images[i * h * w + p] = (i * 7 + p) % 256;
  }
  const write = (kind: string, bytes: Buffer): void => {
    const name = join(dir, `${prefix}-${kind.replace('-', sep)}-ubyte${gzip ? '.gz' : ''}`);
    writeFileSync(name, gzip ? gzipSync(bytes) : bytes);
  };
  write('images-idx3', idxBytes(0x803, [n, h, w], images));
  write('labels-idx1', idxBytes(0x801, [n], labels));
  return { images, labels };
}

/** CIFAR image bytes (CHW planes) for record r: R = (y*32 + x + r) % 256, G = 100 + r, B = 200 - r. */
export function cifarPlanes(r: number): Uint8Array {
  const out = new Uint8Array(3072);
  for (let p = 0; p < 1024; p++) {
    out[p] = (p + r) % 256;
    out[1024 + p] = 100 + r;
    out[2048 + p] = 200 - r;
  }
  return out;
}

export function cifarRecords(labelBytes: number[][], first = 0): Buffer {
  const parts: Buffer[] = [];
  labelBytes.forEach((lb, i) => parts.push(Buffer.from(lb), Buffer.from(cifarPlanes(first + i))));
  return Buffer.concat(parts);
}

/** The DataError a promise rejects with (fails the test if it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error('expected a DataError, but the promise resolved');
}
