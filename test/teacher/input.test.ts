import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import { buildModel } from '../../src/models/index.js';
import { fileSystemHandler } from '../../src/io/index.js';
import { normalize, packageRoot } from '../../src/data/index.js';
import { exportStudent, saveStudentBundle, wrapStudent, type Student } from '../../src/student/index.js';
import { loadTeacher, TeacherError, type Teacher } from '../../src/teacher/index.js';
import { leakedTensors, relativeError, useWasm } from '../helpers.js';

// The data's normalisation (what the toolkit's batches are standardized with) and the teacher's own, different one.
const data = { mean: [0.3, 0.4, 0.5], std: [0.2, 0.25, 0.3] };
const own = { mean: [0.45, 0.44, 0.41], std: [0.27, 0.26, 0.28] };
let root: string;
let student: Student;
let raw: tf.Tensor4D;

function logitsOf(t: Teacher, x: tf.Tensor4D): Float32Array {
  const out = t.forward(x);
  const v = out.logits.dataSync() as Float32Array;
  tf.dispose([...out.features, out.pooled, out.logits, ...(out.projections ?? [])]);
  return v;
}

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  const y = model.predict(x) as tf.Tensor;
  const v = y.dataSync() as Float32Array;
  y.dispose();
  return v;
}

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-teacher-input-'));
  student = wrapStudent(buildModel('resnet8', { inputShape: [16, 16, 3], numClasses: 4, seed: 11 }), { heads: 'none', seed: 12 });
  raw = tf.tidy(() => tf.floor(tf.randomUniform([3, 16, 16, 3], 0, 256, 'float32', 5)) as tf.Tensor4D);
});

afterAll(async () => {
  raw.dispose();
  student.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('the teacher is fed what it expects', () => {
  it('a plain model.json declared raw, unit or {mean, std}: the batches are converted back to that', async () => {
    const file = path.join(root, 'plain', 'model.json');
    await student.inferenceModel().save(fileSystemHandler(file));
    const model = student.inferenceModel();
    const batch = normalize(raw, data);
    const cases: [Parameters<typeof loadTeacher>[1], tf.Tensor][] = [
      [{ input: 'raw' }, raw],
      [{ input: 'unit' }, tf.div(raw, 255)],
      [{ input: own }, normalize(raw, own)],
      [{ input: 'standardized' }, batch],
      [{}, batch],
    ];
    for (const [options, expectedInput] of cases) {
      const teacher = await loadTeacher(file, { ...options, dataNormalization: data });
      expect(relativeError(logitsOf(teacher, batch), predict(model, expectedInput)), JSON.stringify(options)).toBeLessThan(1e-5);
      teacher.dispose();
    }
    tf.dispose([batch, ...cases.map((c) => c[1]).filter((t) => t !== raw && t !== batch)]);
  });

  it("a bundle saved with its own normalisation gets the data's batches restandardized with it, by default", async () => {
    student.setInputSpec(own);
    const dir = path.join(root, 'bundle');
    await saveStudentBundle(student, dir);
    const exported = path.join(root, 'exported');
    await exportStudent(student, exported);
    student.inputSpec = undefined;
    const batch = normalize(raw, data);
    const reference = predict(student.inferenceModel(), normalize(raw, own));
    for (const where of [dir, path.join(exported, 'model.json')]) {
      const teacher = await loadTeacher(where, { dataNormalization: data });
      expect(teacher.input).toEqual(own);
      expect(teacher.describeInput()).toMatch(/^standardized with its own mean \[0\.4500, 0\.4400, 0\.4100\]/);
      expect(relativeError(logitsOf(teacher, batch), reference), where).toBeLessThan(1e-5);
      // 'raw' says the same thing as its files: accepted.
      const same = await loadTeacher(where, { input: 'raw', dataNormalization: data });
      expect(same.input).toEqual(own);
      same.dispose();
      expect(await leakedTensors(() => logitsOf(teacher, batch))).toBe(0);
      teacher.dispose();
    }
    // Anything else contradicts its files: one line naming the teacher.
    await expect(loadTeacher(dir, { input: 'unit', dataNormalization: data })).rejects.toThrow(TeacherError);
    await expect(loadTeacher(dir, { input: 'unit', dataNormalization: data })).rejects.toThrow(
      /takes raw pixels and normalises them itself .* input "unit" contradicts its files/);
    tf.dispose(batch);
  });

  it('raw or unit without the data normalisation is refused; a wrong channel count too', async () => {
    const file = path.join(root, 'plain', 'model.json');
    await expect(loadTeacher(file, { input: 'raw' })).rejects.toThrow(/expects raw pixels \(0\.\.255\): pass dataNormalization/);
    await expect(loadTeacher(file, { input: { mean: [0.5], std: [0.5] }, dataNormalization: data })).rejects.toThrow(
      /needs 3 means and 3 positive stds/);
  });

  it('the bundled demo teacher (saved before normalisation was stored) is fed the batches as they are, bit for bit', async () => {
    const dir = path.join(packageRoot(), 'teachers', 'resnet20-fashion-cds');
    const teacher = await loadTeacher(dir, { dataNormalization: { mean: [0.286], std: [0.353] } });
    expect(teacher.input).toBe('standardized');
    const x = tf.randomNormal([2, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const direct = predict(teacher.student!.inferenceModel(), x);
    expect(Array.from(logitsOf(teacher, x))).toEqual(Array.from(direct));
    x.dispose();
    teacher.dispose();
  });
});
