import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { train } from '../../src/train/index.js';
import { evaluateModel } from '../../src/train/saved-models.js';
import { exportRun } from '../../src/train/export-run.js';

// Training runs on wasm (fast). Plain tfjs in Node runs the cpu backend, so the toolkit's own evaluation of the run is
// repeated here on cpu too: the child computes with the same kernels and must get exactly that top-1. The figure the
// run logged (on wasm) may differ from it only by a near-tie flipping between backends, at most one image.
const LIMITS = { limit: 480, testLimit: 50 };
let root: string;
let data: { train: Dataset; test: Dataset };

// The child imports nothing but @tensorflow/tfjs: reads model.json + weights.bin with fs (plain tfjs cannot load
// file:// in Node), feeds raw uint8 pixels as float32 and reports top-1 and the class names from the metadata.
const CHILD = `
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, imagesFile, labelsFile, n, h, w, c] = process.argv.slice(1);
const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const weights = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
const model = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: json.modelTopology,
  weightSpecs: json.weightsManifest[0].weights,
  weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  userDefinedMetadata: json.userDefinedMetadata,
}));
const pixels = readFileSync(imagesFile);
const labels = readFileSync(labelsFile);
const x = tf.tensor4d(Float32Array.from(pixels), [Number(n), Number(h), Number(w), Number(c)]);
const predicted = model.predict(x).argMax(-1).dataSync();
let correct = 0;
for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[i]) correct++;
const meta = model.getUserDefinedMetadata();
console.log(JSON.stringify({ top1: correct / predicted.length, backend: tf.getBackend(), classNames: meta.classNames, mean: meta.mean, std: meta.std }));
`;

beforeAll(async () => {
  await initBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'cds-export-raw-'));
  data = await loadTrainTest('fashion-mnist-slice', LIMITS);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the exported student in plain @tensorflow/tfjs', () => {
  it('takes raw pixels and reproduces the top-1 the run reported (and names its classes)', async () => {
    const runDir = join(root, 'run');
    const result = await train({
      model: 'resnet8', data: 'fashion-mnist-slice', ...LIMITS, method: 'ce', epochs: 1, batchSize: 16, lr: 0.02, schedule: 'constant', seed: 3, out: runDir,
    });
    result.student.dispose();
    const reported = result.best!.top1;
    // A short run, but far from chance (10%) so that a wrong preprocessing would show.
    expect(reported).toBeGreaterThan(0.2);
    const exported = await exportRun(runDir, join(root, 'export'));
    expect(exported.input).toBe('raw');
    await initBackend('cpu');
    const onCpu = await evaluateModel(runDir, undefined, { latencyRuns: 0 });
    expect(onCpu).toMatchObject({ testSet: 'run', normalization: 'model' });
    expect(onCpu.metrics.count).toBe(LIMITS.testLimit);
    expect(Math.abs(onCpu.metrics.top1 - reported)).toBeLessThanOrEqual(1 / LIMITS.testLimit + 1e-12);

    const { test } = data;
    const imagesFile = join(root, 'images.u8');
    const labelsFile = join(root, 'labels.u8');
    writeFileSync(imagesFile, test.images);
    writeFileSync(labelsFile, Uint8Array.from(test.labels));
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', CHILD, exported.dir, imagesFile, labelsFile, String(test.size), ...test.inputShape.map(String)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const child = JSON.parse(out.trim().split('\n').pop()!) as { top1: number; backend: string; classNames: string[]; mean: number[]; std: number[] };
    expect(child.backend).toBe('cpu');
    expect(child.top1).toBe(onCpu.metrics.top1);
    expect(child.classNames).toEqual(test.classNames);
    expect(child.mean).toEqual(test.mean);
    expect(child.std).toEqual(test.std);
  });
});
