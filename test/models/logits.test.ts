// One rule for logits (issue 12, item 2): the same weights exported with and without a final softmax give the same
// metrics in evaluate() and eval, and the same teacher logits, for LayersModels and GraphModels.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { graphLogitsNode, logitsPredictor } from '../../src/models/index.js';
import { evaluate } from '../../src/train/evaluate.js';
import { MetricsAccumulator } from '../../src/train/metrics.js';
import { evaluateModel } from '../../src/train/saved-models.js';
import { fileSystemHandler, loadGraphModelFromDir } from '../../src/io/index.js';
import { loadTeacher } from '../../src/teacher/index.js';
import { leakedTensors } from '../helpers.js';

let test: Dataset;
let root: string;

beforeAll(async () => {
  await initBackend('cpu');
  ({ test } = await loadTrainTest('synthetic:6x6x3:5:50'));
  root = await mkdtemp(path.join(tmpdir(), 'cds-logits-'));
});

type Ending = 'logits' | 'dense-softmax' | 'softmax-layer' | 'activation-softmax';

/**
 * conv 3x3 (4) -> relu -> global average pool -> dense 5, ending as asked. Same seeds, so the same weights; the
 * weights are scaled up so the model is confident (softmax applied twice then visibly flattens the probabilities).
 */
function classifier(ending: Ending): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ seed: 1, stddev: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({
    units: 5,
    activation: ending === 'dense-softmax' ? 'softmax' : 'linear',
    kernelInitializer: tf.initializers.randomNormal({ seed: 2, stddev: 3 }),
    biasInitializer: tf.initializers.randomNormal({ seed: 3, stddev: 1 }),
  }).apply(x) as tf.SymbolicTensor;
  if (ending === 'softmax-layer') x = tf.layers.softmax().apply(x) as tf.SymbolicTensor;
  if (ending === 'activation-softmax') x = tf.layers.activation({ activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

/** Metrics of logits computed directly (conv -> relu -> mean -> matmul + bias), independent of the rule. */
function directMetrics(model: tf.LayersModel, data: Dataset): { logits: ReturnType<MetricsAccumulator['result']>; probs: ReturnType<MetricsAccumulator['result']> } {
  const [k, b, w, bias] = model.getWeights();
  const h = data.inputShape;
  const x = tf.tidy(() => {
    const raw = tf.tensor4d(Float32Array.from(data.images), [data.size, h[0], h[1], h[2]]).div(255);
    return raw.sub(tf.tensor1d(data.mean)).div(tf.tensor1d(data.std)) as tf.Tensor4D;
  });
  const logits = tf.tidy(() => tf.add(tf.matMul(tf.mean(tf.relu(tf.add(tf.conv2d(x, k as tf.Tensor4D, 1, 'same'), b!)), [1, 2]), w as tf.Tensor2D), bias!));
  const probs = tf.softmax(logits);
  const a = new MetricsAccumulator(15);
  a.add(logits.dataSync() as Float32Array, data.labels, 5);
  const p = new MetricsAccumulator(15);
  p.add(probs.dataSync() as Float32Array, data.labels, 5);
  tf.dispose([x, logits, probs]);
  return { logits: a.result(), probs: p.result() };
}

function expectSameMetrics(a: ReturnType<typeof evaluate>, b: ReturnType<typeof evaluate>): void {
  expect(a.count).toBe(b.count);
  expect(a.top1).toBe(b.top1);
  expect(a.top5).toBe(b.top5);
  expect(a.ece).toBeCloseTo(b.ece, 5);
  expect(a.nll).toBeCloseTo(b.nll, 5);
}

describe('a final softmax is looked through', () => {
  it('evaluate(): equal top-k, ECE and NLL for the same weights ending in logits or in any kind of softmax', async () => {
    const ref = classifier('logits');
    const direct = directMetrics(ref, test);
    const onLogits = evaluate(ref, test);
    expectSameMetrics(onLogits, direct.logits);
    // Reading probabilities as logits (the old behaviour) gives other ECE and NLL: the check below can fail.
    expect(Math.abs(direct.probs.nll - direct.logits.nll)).toBeGreaterThan(0.05);
    expect(Math.abs(direct.probs.ece - direct.logits.ece)).toBeGreaterThan(0.05);
    for (const ending of ['dense-softmax', 'softmax-layer', 'activation-softmax'] as const) {
      const m = classifier(ending);
      expect(logitsPredictor(m).softmax).toBeDefined();
      expectSameMetrics(evaluate(m, test), onLogits);
      expect(await leakedTensors(() => evaluate(m, test))).toBe(0);
      m.dispose();
    }
    expect(logitsPredictor(ref).softmax).toBeUndefined();
    // A Sequential model (the usual Keras export) ending in Dense(softmax), with the same weights.
    const seq = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    seq.setWeights(ref.getWeights());
    expect(logitsPredictor(seq).softmax).toMatch(/softmax activation/);
    expectSameMetrics(evaluate(seq, test), onLogits);
    expect(await leakedTensors(() => evaluate(seq, test))).toBe(0);
    seq.dispose();
    ref.dispose();
  });

  it('eval (evaluateModel on saved files) and loadTeacher: the softmax export equals the logits export', async () => {
    const metrics: ReturnType<typeof evaluate>[] = [];
    const teacherLogits: Float32Array[] = [];
    const x = tf.randomNormal([3, 6, 6, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    for (const ending of ['logits', 'dense-softmax'] as const) {
      const m = classifier(ending);
      const dir = path.join(root, ending);
      await m.save(fileSystemHandler(dir));
      m.dispose();
      metrics.push((await evaluateModel(path.join(dir, 'model.json'), test, { latencyRuns: 0 })).metrics);
      const t = await loadTeacher(path.join(dir, 'model.json'), { expectedClasses: 5 });
      const out = t.forward(x);
      teacherLogits.push(out.logits.dataSync() as Float32Array);
      tf.dispose([...out.features, out.pooled, out.logits]);
      t.dispose();
    }
    expectSameMetrics(metrics[1]!, metrics[0]!);
    teacherLogits[1]!.forEach((v, i) => expect(v).toBeCloseTo(teacherLogits[0]![i]!, 5));
    x.dispose();
  });

  it('GraphModels: a final Softmax node (behind Identity) is looked through by evaluate(), eval and loadTeacher', async () => {
    const rnd = (shape: number[], seed: number, std: number): Float32Array => {
      const t = tf.randomNormal(shape, 0, std, 'float32', seed);
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    };
    const weights = { w1: rnd([3, 3, 3, 4], 11, 1), wfc: rnd([4, 5], 12, 3), bfc: rnd([5], 13, 1) };
    const plain = path.join(root, 'graph-logits');
    const withSoftmax = path.join(root, 'graph-softmax');
    await writeGraph(plain, weights, false);
    await writeGraph(withSoftmax, weights, true);
    const g0 = await loadGraphModelFromDir(plain);
    const g1 = await loadGraphModelFromDir(withSoftmax);
    expect(g1.outputNodes[0]).toMatch(/^Identity/);
    const m0 = evaluate(g0, test);
    const m1 = evaluate(g1, test);
    expectSameMetrics(m1, m0);
    // And against the directly computed metrics of the same weights.
    const x = tf.tidy(() => tf.tensor4d(Float32Array.from(test.images), [test.size, 6, 6, 3]).div(255).sub(tf.tensor1d(test.mean)).div(tf.tensor1d(test.std)) as tf.Tensor4D);
    const logits = tf.tidy(() => tf.add(tf.matMul(tf.mean(tf.relu(tf.conv2d(x, tf.tensor4d(weights.w1, [3, 3, 3, 4]), 1, 'same')), [1, 2]), tf.tensor2d(weights.wfc, [4, 5])), tf.tensor1d(weights.bfc)));
    const acc = new MetricsAccumulator(15);
    acc.add(logits.dataSync() as Float32Array, test.labels, 5);
    expectSameMetrics(m0, acc.result());
    expect(await leakedTensors(() => evaluate(g1, test))).toBe(0);
    g0.dispose();
    g1.dispose();
    // eval (evaluateModel) reads graph models too: the same metrics for both exports, their float weights as parameters.
    for (const dir of [plain, withSoftmax]) {
      const before = tf.memory().numTensors;
      const r = await evaluateModel(dir, test, { latencyRuns: 2 });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.kind).toBe('graph');
      expect(r.params).toBe(108 + 20 + 5);
      expect(r.latencyMs).toBeGreaterThan(0);
      expectSameMetrics(r.metrics, m0);
    }
    const other = (await loadTrainTest('synthetic:6x6x3:3:30')).test;
    await expect(evaluateModel(plain, other, { latencyRuns: 0 })).rejects.toThrow(/outputs shape \[1, 5\] but synthetic has 3 classes/);
    const bigger = (await loadTrainTest('synthetic:8x8x3:5:50')).test;
    await expect(evaluateModel(plain, bigger, { latencyRuns: 0 })).rejects.toThrow(/takes 6x6x3 inputs but synthetic images are 8x8x3/);

    // The default logits node, and a softmax node named as the logits, are both looked through.
    const want = logits.slice([0], [4]);
    const x4 = x.slice([0], [4]);
    for (const logitsNode of [undefined, 'probs']) {
      const t = await loadTeacher(withSoftmax, { stageNodes: ['relu'], expectedClasses: 5, ...(logitsNode ? { logitsNode } : {}) });
      const out = t.forward(x4 as tf.Tensor4D);
      const got = out.logits.dataSync();
      (want.dataSync() as Float32Array).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      tf.dispose([...out.features, out.pooled, out.logits]);
      t.dispose();
    }
    tf.dispose([want, x4, x, logits]);
  });

  it('graphLogitsNode: through Identity (and control inputs) to a Softmax; anything else is the output itself', () => {
    const nodes = [
      { name: 'logits', op: 'BiasAdd', input: ['mm', 'b'] },
      { name: 'probs', op: 'Softmax', input: ['logits:0', '^init'] },
      { name: 'Identity', op: 'Identity', input: ['probs'] },
      { name: 'other', op: 'Relu', input: ['logits'] },
    ];
    expect(graphLogitsNode(nodes, 'Identity')).toBe('logits');
    expect(graphLogitsNode(nodes, 'Identity:0')).toBe('logits');
    expect(graphLogitsNode(nodes, 'probs')).toBe('logits');
    expect(graphLogitsNode(nodes, 'other')).toBe('other');
    expect(graphLogitsNode(nodes, 'logits')).toBe('logits');
    expect(graphLogitsNode([], 'out')).toBe('out');
  });
});

/** image -> conv 3x3 'relu' -> mean -> matmul + bias ('logits'), optionally -> Softmax -> Identity (like a converted SavedModel). */
async function writeGraph(dir: string, w: { w1: Float32Array; wfc: Float32Array; bfc: Float32Array }, softmax: boolean): Promise<void> {
  const F = { type: 'DT_FLOAT' };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const constNode = (name: string, dims: number[], dtype = 'DT_FLOAT') => ({
    name, op: 'Const',
    attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } },
  });
  const nodes: unknown[] = [
    { name: 'image', op: 'Placeholder', attr: { dtype: F, shape: { shape: { dim: [{ size: '-1' }, { size: '6' }, { size: '6' }, { size: '3' }] } } } },
    constNode('w1', [3, 3, 3, 4]),
    { name: 'conv', op: 'Conv2D', input: ['image', 'w1'],
      attr: { T: F, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') },
        dilations: { list: { i: ['1', '1', '1', '1'] } } } },
    { name: 'relu', op: 'Relu', input: ['conv'], attr: { T: F } },
    constNode('axes', [2], 'DT_INT32'),
    { name: 'pool', op: 'Mean', input: ['relu', 'axes'], attr: { T: F, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    constNode('wfc', [4, 5]),
    { name: 'mm', op: 'MatMul', input: ['pool', 'wfc'], attr: { T: F, transpose_a: { b: false }, transpose_b: { b: false } } },
    constNode('bfc', [5]),
    { name: 'logits', op: 'BiasAdd', input: ['mm', 'bfc'], attr: { T: F, data_format: { s: b64('NHWC') } } },
    ...(softmax
      ? [{ name: 'probs', op: 'Softmax', input: ['logits'], attr: { T: F } }, { name: 'Identity', op: 'Identity', input: ['probs'], attr: { T: F } }]
      : []),
  ];
  const json = {
    format: 'graph-model',
    generatedBy: 'hand',
    convertedBy: 'test',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{
      paths: ['group1-shard1of1.bin'],
      weights: [
        { name: 'w1', shape: [3, 3, 3, 4], dtype: 'float32' },
        { name: 'axes', shape: [2], dtype: 'int32' },
        { name: 'wfc', shape: [4, 5], dtype: 'float32' },
        { name: 'bfc', shape: [5], dtype: 'float32' },
      ],
    }],
  };
  await mkdir(dir, { recursive: true });
  const parts = [w.w1, new Int32Array([1, 2]), w.wfc, w.bfc].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), Buffer.concat(parts));
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
}
