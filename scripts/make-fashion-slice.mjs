#!/usr/bin/env node
// Writes data/fashion-mnist-slice/: a small, stratified slice of Fashion-MNIST in the original IDX format (gzipped),
// so the demo and the tests run on real images on a machine without the full dataset.
//
// Usage: node scripts/make-fashion-slice.mjs [SOURCE_DIR] [OUT_DIR]
//   SOURCE_DIR  the full Fashion-MNIST (default /usr/share/datasets/fashion-mnist, from Debian's dataset-fashion-mnist)
//   OUT_DIR     default data/fashion-mnist-slice (relative to the repository root)
//
// Selection: for each class, the first PER_CLASS images in file order (600 per class from the training file,
// 100 per class from the test file); the kept images stay in file order. Deterministic: rerunning gives the same bytes.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const out = resolve(process.argv[3] ?? join(here, '..', 'data', 'fashion-mnist-slice'));
const SPLITS = [
  { prefix: 'train', perClass: 600 },
  { prefix: 't10k', perClass: 100 },
];
const CLASSES = 10;

function readGz(file) {
  const raw = gunzipSync(readFileSync(file));
  return raw;
}

function writeIdx(file, magic, dims, body) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  // mtime is zero in Node's gzip header, so the output is byte-identical across runs.
  writeFileSync(file, gzipSync(Buffer.concat([header, body]), { level: 9 }));
}

mkdirSync(out, { recursive: true });
for (const { prefix, perClass } of SPLITS) {
  const images = readGz(join(source, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readGz(join(source, `${prefix}-labels-idx1-ubyte.gz`));
  if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) throw new Error('bad IDX magic');
  const n = images.readUInt32BE(4);
  const rows = images.readUInt32BE(8);
  const cols = images.readUInt32BE(12);
  const px = rows * cols;
  const counts = new Array(CLASSES).fill(0);
  const keep = [];
  for (let i = 0; i < n; i++) {
    const y = labels[8 + i];
    if (counts[y] < perClass) {
      counts[y]++;
      keep.push(i);
    }
  }
  if (counts.some((c) => c !== perClass)) throw new Error(`not enough images per class: ${counts}`);
  const imgBody = Buffer.alloc(keep.length * px);
  const lblBody = Buffer.alloc(keep.length);
  keep.forEach((src, dst) => {
    images.copy(imgBody, dst * px, 16 + src * px, 16 + (src + 1) * px);
    lblBody[dst] = labels[8 + src];
  });
  writeIdx(join(out, `${prefix}-images-idx3-ubyte.gz`), 0x803, [keep.length, rows, cols], imgBody);
  writeIdx(join(out, `${prefix}-labels-idx1-ubyte.gz`), 0x801, [keep.length], lblBody);
  console.log(`${prefix}: kept ${keep.length} of ${n} (${perClass} per class, first in file order; last source index ${keep.at(-1)})`);
}
console.log(`wrote ${out}`);
