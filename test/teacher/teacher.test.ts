import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import { buildModel } from '../../src/models/index.js';
import { fileSystemHandler } from '../../src/io/index.js';
import { saveStudentBundle, wrapStudent, type Student } from '../../src/student/index.js';
import { TeacherError, loadTeacher, type Teacher } from '../../src/teacher/index.js';
import { leakedTensors, useWasm } from '../helpers.js';

type ST = tf.SymbolicTensor;
let root: string;

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-teacher-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

function disposeOutputs(o: { features: tf.Tensor[]; pooled: tf.Tensor; logits: tf.Tensor; projections?: tf.Tensor[] }): void {
  tf.dispose([...o.features, o.pooled, o.logits, ...(o.projections ?? [])]);
}

/**
 * A plain-tfjs teacher (no zoo): 32x32 stem, a residual downsampling block (stride-2 conv + stride-2 1x1 shortcut,
 * both reading r1), a conv at 16x16, a max-pool, a conv + BN at 8x8, GAP, dense to 10 classes.
 */
function plainTeacherModel(): tf.LayersModel {
  let seed = 100;
  const conv = (x: ST, name: string, filters: number, kernelSize: number, strides = 1): ST =>
    tf.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same',
      kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }).apply(x) as ST;
  const relu = (x: ST, name: string): ST => tf.layers.activation({ name, activation: 'relu' }).apply(x) as ST;
  const bn = (x: ST, name: string): ST =>
    tf.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-5,
      movingMeanInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed++ }),
      movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }) }).apply(x) as ST;
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  const r1 = relu(conv(input, 'c1', 8, 3), 'r1');
  const main = bn(conv(r1, 'c2', 16, 3, 2), 'bn2');
  const short = conv(r1, 'short', 16, 1, 2);
  const r2 = relu(tf.layers.add({ name: 'add2' }).apply([main, short]) as ST, 'r2');
  const r3 = relu(conv(r2, 'c3', 16, 3), 'r3');
  const p3 = tf.layers.maxPooling2d({ name: 'pool3', poolSize: 2 }).apply(r3) as ST;
  const r4 = relu(bn(conv(p3, 'c4', 32, 3), 'bn4'), 'r4');
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(r4) as ST;
  const logits = tf.layers.dense({ name: 'fc', units: 10,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }) }).apply(gap) as ST;
  return tf.model({ inputs: input, outputs: logits, name: 'plain_teacher' });
}

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<Error> {
  try {
    await p;
  } catch (err) {
    for (const part of parts) expect((err as Error).message).toContain(part);
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('LayersModel teacher from a model.json', () => {
  let dir: string;
  let original: tf.LayersModel;
  let teacher: Teacher;

  beforeAll(async () => {
    dir = path.join(root, 'plain');
    original = plainTeacherModel();
    await original.save(fileSystemHandler(dir));
    teacher = await loadTeacher(path.join(dir, 'model.json'), { expectedClasses: 10 });
  });

  it('finds the stages automatically: the last layer before each downsampling, plus the last spatial layer', () => {
    expect(teacher.kind).toBe('layers');
    expect(teacher.featureNames).toEqual(['r1', 'r3', 'r4']);
    expect(teacher.featureShapes).toEqual([[32, 32, 8], [16, 16, 16], [8, 8, 32]]);
    expect(teacher.stageIndices).toEqual([0, 1, 2]);
    expect(teacher.numClasses).toBe(10);
    expect(teacher.pooledDim).toBe(32);
    expect(teacher.inputShape).toEqual([32, 32, 3]);
    expect(teacher.hasProjections).toBe(false);
  });

  it('gives the same values as the original model, in inference mode, without leaks', async () => {
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const out = teacher.forward(x);
    const probe = tf.model({ inputs: original.inputs, outputs: ['r1', 'r3', 'r4'].map((n) => original.getLayer(n).output as ST) });
    const ref = probe.predict(x) as tf.Tensor[];
    ref.forEach((r, i) => expect(maxAbsDiff(r, out.features[i]!)).toBe(0));
    const logits = original.predict(x) as tf.Tensor;
    expect(maxAbsDiff(logits, out.logits)).toBe(0);
    const gap = tf.mean(ref[2]!, [1, 2]);
    expect(maxAbsDiff(gap, out.pooled)).toBeLessThan(1e-6);
    expect(out.projections).toBeUndefined();
    tf.dispose([...ref, logits, gap]);
    disposeOutputs(out);
    expect(await leakedTensors(() => disposeOutputs(teacher.forward(x)))).toBe(0);
    x.dispose();
  });

  it('stays bit-identical while a zoo student distils from it', async () => {
    expect(teacher.weights.every((w) => (w as tf.Variable).trainable === false)).toBe(true);
    const teacherIds = new Set(teacher.weights.map((w) => (w as tf.Variable).name));
    const snapshot = teacher.weights.map((w) => w.clone());
    const student: Student = wrapStudent(buildModel('resnet8', { numClasses: 10, seed: 3 }), { heads: 'projection', seed: 4 });
    const studentBefore = student.trainableWeights.map((w) => w.read().clone());
    const opt = tf.train.sgd(0.05);
    const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([1, 3, 5, 7], 'int32'), 10).toFloat() as tf.Tensor2D;
    const teacherOut0 = teacher.forward(x);
    const before = tf.memory().numTensors;
    for (let step = 0; step < 2; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const t = teacher.forward(x);
        const s = student.forward(x, true);
        const kd = tf.mean(tf.square(tf.sub(s.logits, t.logits)));
        return tf.add(kd, tf.losses.softmaxCrossEntropy(y, s.logits)) as tf.Scalar;
      });
      expect(Object.keys(grads).filter((k) => teacherIds.has(k))).toEqual([]);
      // Only the student's weights get gradients (its heads are not in this loss).
      expect(Object.keys(grads).sort()).toEqual(student.backboneWeights.map((w) => w.name).sort());
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    // The teacher: every weight (BN moving statistics included) bit-identical, same outputs.
    teacher.weights.forEach((w, i) => {
      expect(Buffer.from((w.dataSync() as Float32Array).buffer).equals(Buffer.from((snapshot[i]!.dataSync() as Float32Array).buffer))).toBe(true);
    });
    const teacherOut1 = teacher.forward(x);
    expect(maxAbsDiff(teacherOut0.logits, teacherOut1.logits)).toBe(0);
    // The student did learn.
    expect(student.trainableWeights.some((w, i) => maxAbsDiff(w.read(), studentBefore[i]!) > 0)).toBe(true);
    tf.dispose([...snapshot, ...studentBefore, x, y]);
    disposeOutputs(teacherOut0);
    disposeOutputs(teacherOut1);
    opt.dispose();
    student.dispose();
  });

  it('takes stage, pooled and logits layers by name', async () => {
    const t = await loadTeacher(dir, { stageLayers: ['r2', 'r4'], pooledLayer: 'gap', logitsLayer: 'fc' });
    expect(t.featureNames).toEqual(['r2', 'r4']);
    expect(t.featureShapes).toEqual([[16, 16, 16], [8, 8, 32]]);
    const x = tf.ones([1, 32, 32, 3]) as tf.Tensor4D;
    const out = t.forward(x);
    expect(out.pooled.shape).toEqual([1, 32]);
    disposeOutputs(out);
    x.dispose();
    t.dispose();
  });

  it('refuses unknown stage names (listing valid ones), non-spatial stages, a wrong class count, missing paths', async () => {
    const file = path.join(dir, 'model.json');
    const e1 = await rejects(loadTeacher(dir, { stageLayers: ['r1', 'relu_9'] }),
      `stage layer "relu_9" is not a layer of ${file}; valid layer names include: `, 'r1', 'c1');
    expect(e1).toBeInstanceOf(TeacherError);
    await rejects(loadTeacher(dir, { stageLayers: ['gap'] }), `stage layer "gap" of ${file} outputs shape [null,32]`,
      'expected a spatial feature');
    await rejects(loadTeacher(dir, { logitsLayer: 'nope' }), `logits layer "nope" is not a layer of ${file}`);
    const e2 = await rejects(loadTeacher(dir, { expectedClasses: 100 }),
      `teacher ${file} predicts 10 classes, but the data/student has 100`);
    expect(e2).toBeInstanceOf(TeacherError);
    const missing = path.join(root, 'does-not-exist');
    await rejects(loadTeacher(missing), `teacher path ${missing} does not exist`);
    const empty = path.join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await rejects(loadTeacher(empty), `teacher directory ${empty} holds no model: looked for bundle.json`,
      'best/bundle.json', 'checkpoint/bundle.json', 'checkpoint/student/bundle.json', 'model.json');
  });
});

describe('softmax outputs', () => {
  it('looks through a final softmax (Dense with softmax activation, or a softmax layer) to the logits', async () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const c = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same',
      kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as ST;
    const g = tf.layers.globalAveragePooling2d({}).apply(c) as ST;
    const fc = tf.layers.dense({ units: 5, activation: 'softmax', biasInitializer: tf.initializers.randomNormal({ seed: 2 }),
      kernelInitializer: tf.initializers.heNormal({ seed: 3 }) });
    const probs = fc.apply(g) as ST;
    const model = tf.model({ inputs: input, outputs: probs });
    const t = await loadTeacher(model);
    const x = tf.randomNormal([2, 4, 4, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
    const out = t.forward(x);
    const pre = tf.tidy(() => {
      const gap = tf.model({ inputs: input, outputs: g }).predict(x) as tf.Tensor2D;
      const [k, b] = fc.getWeights();
      return tf.add(tf.matMul(gap, k as tf.Tensor2D), b!);
    });
    expect(maxAbsDiff(out.logits, pre)).toBeLessThan(1e-6);
    expect(t.numClasses).toBe(5);
    disposeOutputs(out);

    const linear = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.heNormal({ seed: 5 }) }).apply(g) as ST;
    const sm = tf.layers.activation({ activation: 'softmax' }).apply(linear) as ST;
    const t2 = await loadTeacher(tf.model({ inputs: input, outputs: sm }));
    const out2 = t2.forward(x);
    const ref = tf.model({ inputs: input, outputs: linear }).predict(x) as tf.Tensor;
    expect(maxAbsDiff(out2.logits, ref)).toBe(0);
    disposeOutputs(out2);
    tf.dispose([x, pre, ref]);
  });
});

describe('tf.sequential teacher', () => {
  it("finds LeNet's stages: 'valid' 5x5 convs trim but do not downsample; pools do", async () => {
    const m = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 5, activation: 'relu', name: 'c1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
      tf.layers.conv2d({ filters: 8, kernelSize: 5, activation: 'relu', name: 'c2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'p2' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 10, activation: 'softmax', name: 'fc' }),
    ] });
    const dir = path.join(root, 'lenet');
    await m.save(fileSystemHandler(dir));
    const t = await loadTeacher(dir, { expectedClasses: 10 });
    expect(t.featureNames).toEqual(['c1', 'c2', 'p2']);
    expect(t.featureShapes).toEqual([[24, 24, 4], [8, 8, 8], [4, 4, 8]]);
    expect(t.pooledDim).toBe(8);
    t.dispose();
    m.dispose();
  });
});

describe('bundle teacher', () => {
  let student: Student;
  let run: string;

  beforeAll(async () => {
    student = wrapStudent(buildModel('resnet8', { numClasses: 10, seed: 7 }), { heads: 'both', seed: 8 });
    run = path.join(root, 'run');
    // The checkpoint layout of src/train: checkpoint/student/ holds the bundle.
    await saveStudentBundle(student, path.join(run, 'checkpoint', 'student'), { which: 'checkpoint' });
    await saveStudentBundle(student, path.join(run, 'best'), { which: 'best' });
  });

  it('loads a run directory (best/ preferred over checkpoint/) with its projection heads, frozen', async () => {
    const t = await loadTeacher(run, { expectedClasses: 10 });
    expect(t.kind).toBe('bundle');
    expect(t.source).toBe(path.join(run, 'best'));
    expect(t.student!.meta).toEqual({ which: 'best' });
    expect(t.hasProjections).toBe(true);
    expect(t.featureShapes).toEqual(student.featureShapes);
    expect(t.stageIndices).toEqual([1, 2, 3]);
    expect(t.student!.trainNet.trainableWeights).toEqual([]);
    expect(t.weights.every((w) => (w as tf.Variable).trainable === false)).toBe(true);
    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const out = t.forward(x);
    const ref = student.forward(x, false);
    expect(out.projections).toHaveLength(3);
    out.projections!.forEach((p, i) => expect(maxAbsDiff(p, ref.projections![i]!)).toBe(0));
    out.features.forEach((f, i) => expect(maxAbsDiff(f, ref.features[i]!)).toBe(0));
    expect(maxAbsDiff(out.logits, ref.logits)).toBe(0);
    disposeOutputs(out);
    tf.dispose([...ref.features, ref.pooled, ref.logits, ...ref.projections!, ...ref.auxLogits!]);
    expect(await leakedTensors(() => disposeOutputs(t.forward(x)))).toBe(0);
    x.dispose();
    t.dispose();

    await rm(path.join(run, 'best'), { recursive: true });
    const t2 = await loadTeacher(run);
    expect(t2.student!.meta).toEqual({ which: 'checkpoint' });
    expect(t2.source).toBe(path.join(run, 'checkpoint', 'student'));
    t2.dispose();
    await rejects(loadTeacher(path.join(run, 'checkpoint'), { expectedClasses: 100 }),
      `teacher ${path.join(run, 'checkpoint', 'student')} predicts 10 classes, but the data/student has 100`);
  });
});

/** A hand-written GraphDef: conv 3x3 (same) -> relu -> conv 3x3 stride 2 (same) -> relu -> mean -> matmul + bias. */
async function writeGraphModel(dir: string, w: { w1: Float32Array; w2: Float32Array; wfc: Float32Array; bfc: Float32Array }): Promise<void> {
  const F = { type: 'DT_FLOAT' };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const constNode = (name: string, dims: number[], dtype = 'DT_FLOAT') => ({
    name, op: 'Const',
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } },
  });
  const conv = (name: string, inputs: string[], stride: number) => ({
    name, op: 'Conv2D', input: inputs,
    attr: { T: F, strides: { list: { i: ['1', String(stride), String(stride), '1'] } }, padding: { s: b64('SAME') },
      data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } }, use_cudnn_on_gpu: { b: true } },
  });
  const json = {
    format: 'graph-model',
    generatedBy: 'hand',
    convertedBy: 'test',
    modelTopology: {
      node: [
        { name: 'image', op: 'Placeholder',
          attr: { dtype: F, shape: { shape: { dim: [{ size: '-1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } } },
        constNode('w1', [3, 3, 3, 4]),
        conv('block1/conv', ['image', 'w1'], 1),
        { name: 'block1/relu', op: 'Relu', input: ['block1/conv'], attr: { T: F } },
        constNode('w2', [3, 3, 4, 6]),
        conv('block2/conv', ['block1/relu', 'w2'], 2),
        { name: 'block2/relu', op: 'Relu', input: ['block2/conv'], attr: { T: F } },
        constNode('axes', [2], 'DT_INT32'),
        { name: 'pool', op: 'Mean', input: ['block2/relu', 'axes'], attr: { T: F, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
        constNode('wfc', [6, 5]),
        { name: 'fc/matmul', op: 'MatMul', input: ['pool', 'wfc'], attr: { T: F, transpose_a: { b: false }, transpose_b: { b: false } } },
        constNode('bfc', [5]),
        { name: 'logits', op: 'BiasAdd', input: ['fc/matmul', 'bfc'], attr: { T: F, data_format: { s: b64('NHWC') } } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [{
      paths: ['group1-shard1of1.bin'],
      weights: [
        { name: 'w1', shape: [3, 3, 3, 4], dtype: 'float32' },
        { name: 'w2', shape: [3, 3, 4, 6], dtype: 'float32' },
        { name: 'axes', shape: [2], dtype: 'int32' },
        { name: 'wfc', shape: [6, 5], dtype: 'float32' },
        { name: 'bfc', shape: [5], dtype: 'float32' },
      ],
    }],
  };
  await mkdir(dir, { recursive: true });
  const parts = [w.w1, w.w2, new Int32Array([1, 2]), w.wfc, w.bfc].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(parts));
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
}

describe('GraphModel teacher', () => {
  it('exposes the named stage tensors with the values tf computes directly', async () => {
    const dir = path.join(root, 'graph');
    const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 0.5, 'float32', seed);
    const [w1, w2, wfc, bfc] = [rnd([3, 3, 3, 4], 1), rnd([3, 3, 4, 6], 2), rnd([6, 5], 3), rnd([5], 4)];
    await writeGraphModel(dir, { w1: w1!.dataSync() as Float32Array, w2: w2!.dataSync() as Float32Array,
      wfc: wfc!.dataSync() as Float32Array, bfc: bfc!.dataSync() as Float32Array });
    const t = await loadTeacher(dir, { stageNodes: ['block1/relu', 'block2/relu'], expectedClasses: 5 });
    expect(t.kind).toBe('graph');
    expect(t.featureNames).toEqual(['block1/relu', 'block2/relu']);
    expect(t.featureShapes).toEqual([[8, 8, 4], [4, 4, 6]]);
    expect(t.numClasses).toBe(5);
    expect(t.pooledDim).toBe(6);
    expect(t.inputShape).toEqual([8, 8, 3]);
    const x = tf.randomNormal([3, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const out = t.forward(x);
    const ref = tf.tidy(() => {
      const f1 = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'));
      const f2 = tf.relu(tf.conv2d(f1, w2 as tf.Tensor4D, 2, 'same'));
      const pooled = tf.mean(f2, [1, 2]);
      return [f1, f2, pooled, tf.add(tf.matMul(pooled, wfc as tf.Tensor2D), bfc!)];
    });
    expect(maxAbsDiff(out.features[0]!, ref[0]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.features[1]!, ref[1]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.pooled, ref[2]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.logits, ref[3]!)).toBeLessThan(1e-5);
    disposeOutputs(out);
    expect(await leakedTensors(() => disposeOutputs(t.forward(x)))).toBe(0);

    // The graph's own pooled node gives the same pooled feature.
    const t2 = await loadTeacher(path.join(dir, 'model.json'), { stageNodes: ['block1/relu', 'block2/relu'], pooledNode: 'pool', logitsNode: 'logits' });
    const out2 = t2.forward(x);
    expect(maxAbsDiff(out2.pooled, ref[2]!)).toBeLessThan(1e-5);
    disposeOutputs(out2);
    t2.dispose();
    tf.dispose([x, w1!, w2!, wfc!, bfc!, ...ref]);

    // Bad names and class counts.
    await rejects(loadTeacher(dir, { stageNodes: ['block1/relu', 'block3/relu'] }),
      `stage node "block3/relu" is not a node of ${path.join(dir, 'model.json')}; valid node names include: `,
      'block1/relu', 'block2/conv');
    // No stage nodes: a logits-only teacher (kd, dkd), see graph-teacher.test.ts.
    const logitsOnly = await loadTeacher(dir, {});
    expect(logitsOnly.stageIndices).toEqual([]);
    logitsOnly.dispose();
    await rejects(loadTeacher(dir, { stageNodes: ['block1/relu'], logitsNode: 'out' }), 'logits node "out" is not a node of');
    await rejects(loadTeacher(dir, { stageNodes: ['pool'] }), 'stage node "pool"', 'has shape [1,6]');
    await rejects(loadTeacher(dir, { stageNodes: ['block1/relu'], expectedClasses: 10 }),
      'predicts 5 classes, but the data/student has 10');
    t.dispose();
  });
});
