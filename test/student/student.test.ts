import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import { buildModel } from '../../src/models/index.js';
import type { TappedModel } from '../../src/models/types.js';
import { ModelFileError, fileSystemHandler } from '../../src/io/index.js';
import {
  HEAD_PREFIX,
  countTrainableParams,
  countWeights,
  exportStudent,
  loadStudentBundle,
  planHeads,
  readBundleInfo,
  saveStudentBundle,
  wrapStudent,
  type Student,
} from '../../src/student/index.js';
import { leakedTensors, useWasm } from '../helpers.js';

let root: string;

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-student-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** One SGD step of CE on logits + CE on aux logits + a term on every projection, over all trainable weights. */
function trainStep(s: Student, x: tf.Tensor4D, y: tf.Tensor2D, opt: tf.Optimizer): void {
  const { value, grads } = tf.variableGrads(() => {
    const out = s.forward(x, true);
    let loss = tf.losses.softmaxCrossEntropy(y, out.logits) as tf.Scalar;
    for (const a of out.auxLogits ?? []) loss = tf.add(loss, tf.losses.softmaxCrossEntropy(y, a));
    for (const p of out.projections ?? []) loss = tf.add(loss, tf.mean(tf.matMul(p, p, false, true)));
    return loss;
  });
  opt.applyGradients(grads);
  tf.dispose([value, ...Object.values(grads)]);
}

describe('planHeads', () => {
  it('gives one block per remaining downsampling, mapping to the next stage widths (resnet20 stages)', () => {
    const plans = planHeads([[32, 32, 16], [32, 32, 16], [16, 16, 32], [8, 8, 64]], [1, 2, 3]);
    expect(plans.map((p) => p.blocks.map((b) => [b.inChannels, b.outChannels, b.stride]))).toEqual([
      [[16, 32, 2], [32, 64, 2]],
      [[32, 64, 2]],
      [],
    ]);
    expect(plans.map((p) => p.outDim)).toEqual([64, 64, 64]);
    expect(plans.map((p) => p.featureIndex)).toEqual([1, 2, 3]);
  });

  it('gives a stage already at the last resolution one stride-1 block (VGG stages), halves with ceil (28x28)', () => {
    const vgg = planHeads([[32, 32, 64], [16, 16, 128], [8, 8, 256], [4, 4, 512], [4, 4, 512]], [1, 2, 3, 4]);
    expect(vgg.map((p) => p.blocks.map((b) => [b.inChannels, b.outChannels, b.stride]))).toEqual([
      [[128, 256, 2], [256, 512, 2]],
      [[256, 512, 2]],
      [[512, 512, 1]],
      [],
    ]);
    const mnist = planHeads([[28, 28, 16], [14, 14, 32], [7, 7, 64], [4, 4, 128]], [0, 1, 2, 3]);
    expect(mnist[0]!.blocks.map((b) => b.outSize)).toEqual([[14, 14], [7, 7], [4, 4]]);
    expect(mnist[0]!.blocks.map((b) => b.outChannels)).toEqual([32, 64, 128]);
  });
});

describe('wrapStudent', () => {
  it('resnet18 with projection heads: 11,946,660 trainable parameters at 100 classes, heads 726,528', () => {
    const s = wrapStudent(buildModel('resnet18', { numClasses: 100, seed: 1 }), { heads: 'projection', seed: 2 });
    expect(countTrainableParams(s.trainNet)).toBe(11_946_660);
    expect(s.countParams()).toEqual({ backbone: 11_220_132, heads: 726_528, total: 11_946_660 });
    // Per stage, as published: 268,800 + 254,976 + 202,752.
    const perStage = [0, 1, 2].map((i) => countWeights(
      s.headLayers.filter((l) => l.name.startsWith(`${HEAD_PREFIX}head${i}_`)).flatMap((l) => l.trainableWeights)));
    expect(perStage).toEqual([268_800, 254_976, 202_752]);
    s.dispose();
  });

  it('builds each block as the CDS SepConv: dw3x3/2 -> pw (same width) -> BN -> ReLU -> dw3x3 -> pw -> BN -> ReLU, no biases', () => {
    const s = wrapStudent(buildModel('resnet8', { numClasses: 10, seed: 1 }), { heads: 'projection', seed: 3 });
    const block = s.headLayers.filter((l) => l.name.startsWith(`${HEAD_PREFIX}head1_b0_`));
    expect(block.map((l) => l.getClassName())).toEqual(['ZeroPadding2D', 'DepthwiseConv2D', 'Conv2D',
      'BatchNormalization', 'Activation', 'DepthwiseConv2D', 'Conv2D', 'BatchNormalization', 'Activation']);
    const cfg = block.map((l) => l.getConfig() as Record<string, any>);
    expect(cfg[1]!.strides).toEqual([2, 2]);
    expect(cfg[5]!.strides).toEqual([1, 1]);
    expect(cfg[2]!.filters).toBe(32); // stage 2 of resnet8 is 32 wide: the first pointwise keeps it
    expect(cfg[6]!.filters).toBe(64);
    for (const c of [cfg[1], cfg[2], cfg[5], cfg[6]]) expect(c!.use_bias ?? c!.useBias).toBe(false);
    expect(cfg[4]!.activation).toBe('relu');
    // The last stage's head is pooling alone (+ the L2 normalisation).
    expect(s.headLayers.filter((l) => l.name.startsWith(`${HEAD_PREFIX}head2_`)).map((l) => l.getClassName()))
      .toEqual(['GlobalAveragePooling2D']);
    s.dispose();
  });

  it("'both': outputs in the documented order, named forward, unit-norm projections, no leaks", async () => {
    const tapped = buildModel('resnet8', { numClasses: 10, seed: 1 });
    const s = wrapStudent(tapped, { heads: 'both', seed: 4 });
    expect(s.outputOrder).toEqual(['feature0', 'feature1', 'feature2', 'feature3', 'pooled', 'logits',
      'projection0', 'projection1', 'projection2', 'auxLogits0', 'auxLogits1']);
    expect(s.trainNet.outputs.map((o) => o.shape)).toEqual([
      [null, 32, 32, 16], [null, 32, 32, 16], [null, 16, 16, 32], [null, 8, 8, 64], [null, 64], [null, 10],
      [null, 64], [null, 64], [null, 64], [null, 10], [null, 10]]);
    // Heads: projection blocks (stage0: 16->32->64, stage1: 32->64) + two classifiers 64x10 + 10.
    const proj = wrapStudent(tapped, { heads: 'projection', seed: 4 }).countParams().heads;
    expect(s.countParams().heads).toBe(proj + 2 * (64 * 10 + 10));
    expect(s.countParams().backbone).toBe(78_042);
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const leaked = await leakedTensors(() => tf.tidy(() => {
      const out = s.forward(x, false);
      expect(out.features.map((f) => f.shape)).toEqual([[3, 32, 32, 16], [3, 32, 32, 16], [3, 16, 16, 32], [3, 8, 8, 64]]);
      expect(out.logits.shape).toEqual([3, 10]);
      expect(out.pooled.shape).toEqual([3, 64]);
      expect(out.auxLogits!.map((t) => t.shape)).toEqual([[3, 10], [3, 10]]);
      for (const p of out.projections!) {
        const norms = tf.norm(p, 'euclidean', 1).dataSync();
        for (const v of norms) expect(v).toBeCloseTo(1, 5);
      }
      // The last projection is the normalised global average of the last stage.
      const gap = tf.mean(out.features[3]!, [1, 2]);
      expect(maxAbsDiff(out.projections![2]!, tf.div(gap, tf.norm(gap, 'euclidean', 1, true)))).toBeLessThan(1e-6);
    }));
    expect(leaked).toBe(0);
    x.dispose();
    s.dispose();
  });

  it("'classifier' and 'none'", () => {
    const tapped = buildModel('resnet8', { numClasses: 10, seed: 1 });
    const c = wrapStudent(tapped, { heads: 'classifier', seed: 4 });
    expect(c.outputOrder.slice(6)).toEqual(['auxLogits0', 'auxLogits1']);
    const n = wrapStudent(tapped, { heads: 'none' });
    expect(n.outputOrder).toEqual(['feature0', 'feature1', 'feature2', 'feature3', 'pooled', 'logits']);
    expect(n.headWeights).toEqual([]);
    expect(n.countParams().total).toBe(78_042);
    const out = tf.tidy(() => n.forward(tf.zeros([1, 32, 32, 3]), false));
    expect(out.projections).toBeUndefined();
    expect(out.auxLogits).toBeUndefined();
    tf.dispose([...out.features, out.pooled, out.logits]);
    expect(() => wrapStudent(tapped, { heads: 'bogus' as never })).toThrow(/heads must be one of projection, classifier, both, none/);
    tapped.net.dispose();
  });

  it('is seeded: the same seed gives the same head weights', () => {
    const tapped = buildModel('resnet8', { numClasses: 10, seed: 1 });
    const a = wrapStudent(tapped, { heads: 'both', seed: 9 });
    const b = wrapStudent(tapped, { heads: 'both', seed: 9 });
    const wa = a.headWeights;
    const wb = b.headWeights;
    expect(wa.length).toBe(wb.length);
    wa.forEach((w, i) => expect(maxAbsDiff(w.read(), wb[i]!.read())).toBe(0));
    tapped.net.dispose();
  });
});

describe('bundles and export', () => {
  let tapped: TappedModel;
  let student: Student;
  const x = (): tf.Tensor4D => tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D;

  beforeAll(() => {
    tapped = buildModel('resnet8', { numClasses: 10, seed: 1 });
    student = wrapStudent(tapped, { heads: 'both', seed: 5 });
    // One training step so weights and BN moving statistics are not at their initial values.
    const input = x();
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10).toFloat() as tf.Tensor2D;
    const before = student.headWeights.map((w) => w.read().clone());
    const opt = tf.train.sgd(0.1);
    trainStep(student, input, y, opt);
    student.headWeights.forEach((w, i) => expect(maxAbsDiff(w.read(), before[i]!)).toBeGreaterThan(0));
    tf.dispose([input, y, ...before]);
    opt.dispose();
  });

  it('save -> load gives identical outputs (max abs diff 0), heads included', async () => {
    const dir = path.join(root, 'bundle');
    await saveStudentBundle(student, dir, { epoch: 3, note: 'test' });
    expect((await readdir(dir)).sort()).toEqual(['bundle.json', 'model.json', 'weights.bin']);
    expect((await readdir(root)).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
    const info = JSON.parse(await readFile(path.join(dir, 'bundle.json'), 'utf8'));
    expect(info).toMatchObject({
      format: 'cds-distill/student-bundle', version: 1, model: 'resnet8', inputShape: [32, 32, 3], numClasses: 10,
      featureShapes: [[32, 32, 16], [32, 32, 16], [16, 16, 32], [8, 8, 64]], stageIndices: [1, 2, 3], pooledDim: 64,
      heads: 'both', outputOrder: student.outputOrder, meta: { epoch: 3, note: 'test' },
    });
    const loaded = await loadStudentBundle(dir);
    expect(loaded.meta).toEqual({ epoch: 3, note: 'test' });
    expect(loaded.countParams()).toEqual(student.countParams());
    expect(loaded.headLayers.map((l) => l.name)).toEqual(student.headLayers.map((l) => l.name));
    const input = x();
    const a = student.trainNet.predict(input) as tf.Tensor[];
    const b = loaded.trainNet.predict(input) as tf.Tensor[];
    expect(b.length).toBe(a.length);
    a.forEach((t, i) => expect(maxAbsDiff(t, b[i]!)).toBe(0));
    // Non-trainable weights (BN moving statistics) round-trip too.
    student.trainNet.weights.forEach((w, i) => expect(maxAbsDiff(w.read(), loaded.trainNet.weights[i]!.read())).toBe(0));
    tf.dispose([input, ...a, ...b]);

    // Saving again replaces the bundle atomically.
    await saveStudentBundle(loaded, dir, { epoch: 4 });
    expect((await readBundleInfo(dir)).meta).toEqual({ epoch: 4 });
    expect((await readdir(root)).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
    loaded.dispose();
  });

  it('export drops every head and auxiliary layer and gives the same logits as the student in inference mode', async () => {
    const dir = path.join(root, 'export');
    const res = await exportStudent(student, dir);
    expect(res.modelFile).toBe(path.join(dir, 'model.json'));
    const json = JSON.parse(await readFile(res.modelFile, 'utf8'));
    const names: string[] = json.modelTopology.config.layers.map((l: any) => l.config.name);
    expect(names.filter((n) => n.startsWith(HEAD_PREFIX))).toEqual([]);
    expect(json.modelTopology.config.output_layers).toHaveLength(1);
    const exported = await tf.loadLayersModel(fileSystemHandler(dir));
    expect(exported.outputs).toHaveLength(1);
    expect(exported.outputs[0]!.shape).toEqual([null, 10]);
    expect(countTrainableParams(exported)).toBe(student.countParams().backbone);
    const input = x();
    const logits = exported.predict(input) as tf.Tensor;
    const out = student.forward(input, false);
    expect(maxAbsDiff(logits, out.logits)).toBe(0);
    tf.dispose([input, logits, ...out.features, out.pooled, out.logits, ...out.projections!, ...out.auxLogits!]);
    exported.dispose();
  });

  it('refuses a missing or inconsistent bundle.json, naming the file', async () => {
    const missing = path.join(root, 'no-bundle');
    await expect(loadStudentBundle(missing)).rejects.toThrow(ModelFileError);
    await expect(loadStudentBundle(missing)).rejects.toThrow(
      `${path.join(missing, 'bundle.json')} does not exist (expected a student bundle directory`);
    const dir = path.join(root, 'bad-bundle');
    await saveStudentBundle(student, dir);
    const file = path.join(dir, 'bundle.json');
    const info = JSON.parse(await readFile(file, 'utf8'));
    await writeFile(file, JSON.stringify({ ...info, heads: 'projection', outputOrder: info.outputOrder.slice(0, 9) }));
    await expect(loadStudentBundle(dir)).rejects.toThrow(/the model has 11 outputs, expected 9/);
    await writeFile(file, JSON.stringify({ ...info, format: 'something-else' }));
    await expect(loadStudentBundle(dir)).rejects.toThrow(`${file}: "format" is "something-else", expected "cds-distill/student-bundle"`);
  });
});
