import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import { buildModel } from '../../src/models/index.js';
import { fileSystemHandler } from '../../src/io/index.js';
import { normalize } from '../../src/data/index.js';
import {
  NORMALIZATION_LAYER,
  exportStudent,
  loadStudentBundle,
  readBundleInfo,
  saveStudentBundle,
  wrapStudent,
  type Student,
} from '../../src/student/index.js';
import { leakedTensors, relativeError, useWasm } from '../helpers.js';

let root: string;
let student: Student;
const spec = { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], classNames: Array.from({ length: 10 }, (_, i) => `c${i}`) };

/** Raw pixels: integers 0..255 as float32 [n, 32, 32, 3] (what a user has). */
function rawPixels(n: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.floor(tf.randomUniform([n, 32, 32, 3], 0, 256, 'float32', seed)) as tf.Tensor4D);
}

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-norm-'));
  student = wrapStudent(buildModel('resnet8', { inputShape: [32, 32, 3], numClasses: 10, seed: 3 }), { heads: 'projection', seed: 4 });
  // Move BN statistics off their initial values so the comparison is not trivial.
  tf.tidy(() => {
    student.trainNet.apply(normalize(rawPixels(8, 1), spec), { training: true });
  });
  student.setInputSpec(spec);
});

afterAll(async () => {
  student.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('saved students take raw pixels and normalise them inside', () => {
  it('the export, loaded with plain tf.loadLayersModel, maps raw pixels to the logits of the student on normalised inputs', async () => {
    const dir = path.join(root, 'export');
    const res = await exportStudent(student, dir);
    expect(res.input).toBe('raw');
    const json = JSON.parse(await readFile(res.modelFile, 'utf8'));
    const layers = json.modelTopology.config.layers;
    expect(layers[1]).toMatchObject({ name: NORMALIZATION_LAYER, class_name: 'DepthwiseConv2D' });
    expect(layers[1].config.trainable).toBe(false);
    expect(json.userDefinedMetadata).toEqual({
      input: 'raw', inputRange: [0, 255], inputShape: [32, 32, 3], mean: spec.mean, std: spec.std,
      normalizationLayer: NORMALIZATION_LAYER, classNames: spec.classNames,
    });
    const exported = await tf.loadLayersModel(fileSystemHandler(dir));
    expect(exported.getUserDefinedMetadata()).toMatchObject({ classNames: spec.classNames });
    // Normalisation weights are not trainable: the parameter count is the backbone's.
    expect(exported.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, d) => a * (d ?? 1), 1), 0))
      .toBe(student.countParams().backbone);
    const raw = rawPixels(4, 2);
    const got = exported.predict(raw) as tf.Tensor;
    // Reference: the toolkit's own normalisation (x / 255 - mean) / std, then the in-memory student.
    const ref = tf.tidy(() => student.inferenceModel().predict(normalize(raw, spec)) as tf.Tensor);
    expect(relativeError(got.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
    // Fed raw pixels, the in-memory student (which expects standardized inputs) gives something else entirely.
    const wrong = student.inferenceModel().predict(raw) as tf.Tensor;
    expect(relativeError(wrong.dataSync(), ref.dataSync())).toBeGreaterThan(0.1);
    tf.dispose([raw, got, ref, wrong]);
    exported.dispose();
  });

  it('a bundle records the normalisation; loading it takes the layer out again (standardized in, identical outputs)', async () => {
    const dir = path.join(root, 'bundle');
    await saveStudentBundle(student, dir, { epoch: 1 });
    const info = await readBundleInfo(dir);
    expect(info.version).toBe(2);
    expect(info.input).toEqual({ pixels: 'raw', mean: spec.mean, std: spec.std, normalizationLayer: NORMALIZATION_LAYER });
    expect(info.classNames).toEqual(spec.classNames);
    const loaded = await loadStudentBundle(dir);
    expect(loaded.inputSpec).toEqual(spec);
    expect(loaded.trainNet.layers.map((l) => l.name)).toEqual(student.trainNet.layers.map((l) => l.name));
    const x = tf.tidy(() => normalize(rawPixels(3, 5), spec));
    const a = student.trainNet.predict(x) as tf.Tensor[];
    const b = loaded.trainNet.predict(x) as tf.Tensor[];
    a.forEach((t, i) => expect(tf.tidy(() => tf.max(tf.abs(tf.sub(t, b[i]!))).dataSync()[0])).toBe(0));
    student.trainNet.weights.forEach((w, i) => expect(loaded.trainNet.weights[i]!.originalName).toBe(w.originalName));
    tf.dispose([x, ...a, ...b]);

    // Saved again from the loaded student: the same files (the layer is not inserted twice).
    const again = path.join(root, 'bundle-again');
    await saveStudentBundle(loaded, again, { epoch: 1 });
    expect(await readFile(path.join(again, 'weights.bin'))).toEqual(await readFile(path.join(dir, 'weights.bin')));
    expect(await readFile(path.join(again, 'model.json'), 'utf8')).toBe(await readFile(path.join(dir, 'model.json'), 'utf8'));
    loaded.dispose();
  });

  it('refuses a bundle.json and model.json that disagree about the input, naming the file', async () => {
    const dir = path.join(root, 'disagree');
    await saveStudentBundle(student, dir);
    const file = path.join(dir, 'bundle.json');
    const { input: _input, ...info } = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...info, version: 1 }));
    await expect(loadStudentBundle(dir)).rejects.toThrow(
      `${path.join(dir, 'model.json')}: the model normalises raw pixels itself, but bundle.json has no "input" (version 1)`);
    await writeFile(file, JSON.stringify({ ...info, input: { pixels: 'raw', mean: [0.5], std: [0.5], normalizationLayer: NORMALIZATION_LAYER } }));
    await expect(loadStudentBundle(dir)).rejects.toThrow(/"input" must be \{"pixels": "raw", "mean": \[3 numbers\]/);
  });

  it('saving and exporting leave no tensors behind', async () => {
    expect(await leakedTensors(async () => {
      await exportStudent(student, path.join(root, 'leak-export'));
      await saveStudentBundle(student, path.join(root, 'leak-bundle'));
    })).toBe(0);
  });

  it('refuses a normalisation of the wrong channel count or a zero std', () => {
    expect(() => student.setInputSpec({ mean: [0.5], std: [0.5] })).toThrow(/needs 3 finite means and 3 positive stds/);
    expect(() => student.setInputSpec({ mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(/positive stds/);
  });
});
