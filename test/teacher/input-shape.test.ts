// A teacher's declared input is checked against the data, never overridden by it (issue 12, item 3); a teacher that
// declares no fixed size (null H/W) takes the data's.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { fileSystemHandler } from '../../src/io/index.js';
import { loadTeacher, TeacherError } from '../../src/teacher/index.js';
import { leakedTensors } from '../helpers.js';
import { cli, errorLines, tempDir } from '../cli/helpers.js';

const tmp = tempDir('teacher-shape');
afterAll(() => tmp.cleanup());

/** conv 3x3/2 (4) -> relu -> conv 3x3/2 (8) -> relu -> GAP -> dense 4, for inputs [h, w, c] (null = any size). */
function smallTeacher(h: number | null, w: number | null, c: number): tf.LayersModel {
  const input = tf.input({ shape: [h, w, c] as number[] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

const fixedFile = path.join(tmp.dir, 'fixed', 'model.json');
const anySizeFile = path.join(tmp.dir, 'any-size', 'model.json');

beforeAll(async () => {
  await initBackend('cpu');
  for (const [file, m] of [[fixedFile, smallTeacher(8, 8, 3)], [anySizeFile, smallTeacher(null, null, 3)]] as const) {
    await m.save(fileSystemHandler(path.dirname(file)));
    m.dispose();
  }
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TeacherError);
    return (err as Error).message;
  }
  throw new Error('expected a TeacherError');
}

describe('teacher input shape', () => {
  it('refuses data of another size or channel count than the teacher declares (file and in-memory models)', async () => {
    expect(await refusal(loadTeacher(fixedFile, { inputShape: [16, 16, 3] }))).toBe(
      `teacher ${fixedFile} takes 8x8x3 inputs but the data is 16x16x3; use data of the teacher's shape (or a teacher made for this data)`,
    );
    expect(await refusal(loadTeacher(fixedFile, { inputShape: [8, 8, 1] }))).toMatch(/takes 8x8x3 inputs but the data is 8x8x1/);
    const m = smallTeacher(8, 8, 3);
    expect(await refusal(loadTeacher(m, { inputShape: [16, 16, 3] }))).toMatch(/takes 8x8x3 inputs but the data is 16x16x3/);
    const ok = await loadTeacher(m, { inputShape: [8, 8, 3] });
    expect(ok.inputShape).toEqual([8, 8, 3]);
    ok.dispose();
    m.dispose();
  });

  it('a teacher declaring null H/W takes the data size, computing what the model computes', async () => {
    const m = smallTeacher(null, null, 3);
    const before = tf.memory().numTensors;
    for (const source of [anySizeFile, m]) {
      const t = await loadTeacher(source, { inputShape: [16, 12, 3], expectedClasses: 4 });
      expect(t.inputShape).toEqual([16, 12, 3]);
      expect(t.featureShapes).toEqual([[8, 6, 4], [4, 3, 8]]);
      // The same weights (the saved file was built with the same seeds) on the same input: the any-size model run
      // directly at 16x12.
      const x = tf.randomNormal([2, 16, 12, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const out = t.forward(x);
      const ref = m.predict(x) as tf.Tensor;
      expect(Array.from(out.logits.shape)).toEqual([2, 4]);
      const a = out.logits.dataSync();
      (ref.dataSync() as Float32Array).forEach((v, i) => expect(a[i]).toBeCloseTo(v, 5));
      tf.dispose([x, ...out.features, out.pooled, out.logits, ref]);
      t.dispose();
    }
    // Loading a file fixes a copy (disposed with the teacher); an in-memory model is left as it was.
    expect(m.inputs[0]!.shape).toEqual([null, null, null, 3]);
    expect(tf.memory().numTensors).toBe(before);
    // The channel count is declared: 1-channel data is refused (and the loaded model freed).
    expect(await refusal(loadTeacher(anySizeFile, { inputShape: [16, 16, 1] }))).toMatch(/takes \?x\?x3 inputs but the data is 16x16x1/);
    expect(await refusal(loadTeacher(fixedFile, { inputShape: [16, 16, 3] }))).toMatch(/takes 8x8x3 inputs/);
    expect(tf.memory().numTensors).toBe(before);
    // Without the data's shape, the unknown size is said.
    expect(await refusal(loadTeacher(anySizeFile))).toMatch(/declares input \?x\?x3 with unknown dimensions/);
    expect(await leakedTensors(async () => (await loadTeacher(anySizeFile, { inputShape: [8, 8, 3] })).dispose())).toBe(0);
    m.dispose();
  });
});

/** A GraphModel: image [-1, h, w, 3] (-1 = any size) -> conv 3x3 (4, 'relu') -> mean -> matmul (4 classes). */
function writeGraphTeacher(dir: string, h: number, w: number): string {
  const F = { type: 'DT_FLOAT' };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const constNode = (name: string, dims: number[], dtype = 'DT_FLOAT') => ({
    name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } },
  });
  const nodes = [
    { name: 'image', op: 'Placeholder', attr: { dtype: F, shape: { shape: { dim: [-1, h, w, 3].map((d) => ({ size: String(d) })) } } } },
    constNode('w1', [3, 3, 3, 4]),
    { name: 'conv', op: 'Conv2D', input: ['image', 'w1'], attr: { T: F, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } } } },
    { name: 'relu', op: 'Relu', input: ['conv'], attr: { T: F } },
    constNode('axes', [2], 'DT_INT32'),
    { name: 'pool', op: 'Mean', input: ['relu', 'axes'], attr: { T: F, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    constNode('wfc', [4, 4]),
    { name: 'logits', op: 'MatMul', input: ['pool', 'wfc'], attr: { T: F, transpose_a: { b: false }, transpose_b: { b: false } } },
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w1', shape: [3, 3, 3, 4], dtype: 'float32' }, { name: 'axes', shape: [2], dtype: 'int32' }, { name: 'wfc', shape: [4, 4], dtype: 'float32' }] }],
  }));
  const weights = [new Float32Array(108).map((_, i) => Math.sin(i)), new Int32Array([1, 2]), new Float32Array(16).map((_, i) => Math.cos(i))];
  writeFileSync(path.join(dir, 'w.bin'), Buffer.concat(weights.map((a) => Buffer.from(a.buffer))));
  return path.join(dir, 'model.json');
}

describe('graph teacher input shape', () => {
  it('a placeholder of any size takes the data size; declared sizes and channels are checked', async () => {
    const anySize = writeGraphTeacher(path.join(tmp.dir, 'graph-any'), -1, -1);
    const t = await loadTeacher(anySize, { stageNodes: ['relu'], inputShape: [10, 12, 3] });
    expect(t.inputShape).toEqual([10, 12, 3]);
    expect(t.featureShapes).toEqual([[10, 12, 4]]);
    t.dispose();
    expect(await refusal(loadTeacher(anySize, { stageNodes: ['relu'], inputShape: [10, 12, 1] }))).toMatch(/takes \?x\?x3 inputs but the data is 10x12x1/);
    const fixed = writeGraphTeacher(path.join(tmp.dir, 'graph-8'), 8, 8);
    expect(await refusal(loadTeacher(fixed, { stageNodes: ['relu'], inputShape: [16, 16, 3] }))).toMatch(/takes 8x8x3 inputs but the data is 16x16x3/);
    const ok = await loadTeacher(fixed, { stageNodes: ['relu'], inputShape: [8, 8, 3] });
    expect(ok.inputShape).toEqual([8, 8, 3]);
    ok.dispose();
  });
});

describe('cds-distill distill with a teacher of another input shape', () => {
  const TINY = ['--student', 'resnet8', '--method', 'kd', '--epochs', '1', '--max-steps', '1', '--batch-size', '8', '--backend', 'wasm'];

  it('exits 1 with one line, before training, for 16x16x3 and for 8x8x1 data', async () => {
    for (const [data, want] of [['synthetic:16x16x3:4:32', '16x16x3'], ['synthetic:8x8x1:4:32', '8x8x1']] as const) {
      const r = await cli(['distill', '--teacher', fixedFile, ...TINY, '--data', data, '--out', path.join(tmp.dir, `run-${want}`)]);
      expect(r.code, r.stderr).toBe(1);
      expect(errorLines(r)).toEqual([`error: teacher ${fixedFile} takes 8x8x3 inputs but the data is ${want}; use data of the teacher's shape (or a teacher made for this data)`]);
      expect(r.stderr).not.toMatch(/unexpected error|^\s+at /m);
      expect(r.stderr).not.toMatch(/step 1|epoch 1:/);
    }
  }, 120_000);

  it('distils from a teacher declaring null H/W on 16x16x3 data', async () => {
    const r = await cli(['distill', '--teacher', anySizeFile, ...TINY, '--data', 'synthetic:16x16x3:4:32', '--out', path.join(tmp.dir, 'run-any')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^epoch 1: /m);
  }, 120_000);
});
