import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/tf.js';
import { loadTeacher, teacherSelection } from '../../src/teacher/index.js';
import { checkTeacherFeatures, getMethod, listMethods, MethodError } from '../../src/methods/index.js';
import { evaluateTeacher } from '../../src/report/index.js';
import { distill } from '../../src/train/index.js';
import { leakedTensors, useWasm } from '../helpers.js';
import { graphWeights, writeGraphModel } from './graph-fixture.js';

let root: string;
let dir: string;
const w = graphWeights(3, 4, 5);

beforeAll(async () => {
  await useWasm();
  root = await mkdtemp(path.join(tmpdir(), 'cds-graph-teacher-'));
  dir = path.join(root, 'graph');
  await writeGraphModel(dir, [16, 16, 3], 4, w);
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The graph computed directly with tf ops: [block1/relu, block2/relu, pool, logits]. */
function reference(x: tf.Tensor4D): tf.Tensor[] {
  return tf.tidy(() => {
    const f1 = tf.relu(tf.conv2d(x, tf.tensor4d(w.w1, [3, 3, 3, 4]), 1, 'same'));
    const f2 = tf.relu(tf.conv2d(f1, tf.tensor4d(w.w2, [3, 3, 4, 6]), 2, 'same'));
    const pooled = tf.mean(f2, [1, 2]);
    return [f1, f2, pooled, tf.add(tf.matMul(pooled, tf.tensor2d(w.wfc, [6, 4])), tf.tensor1d(w.bfc))];
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('GraphModel teacher named the way the CLI names it', () => {
  it('no stages: a logits-only teacher; --teacher-logits picks the logits node before the final softmax', async () => {
    const x = tf.randomNormal([3, 16, 16, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const ref = reference(x);
    const t = await loadTeacher(dir, { ...teacherSelection({ logits: 'logits' }), expectedClasses: 4 });
    expect(t.featureShapes).toEqual([]);
    expect(t.stageIndices).toEqual([]);
    expect(t.pooledDim).toBe(0);
    const out = t.forward(x);
    expect(out.features).toEqual([]);
    expect(out.pooled.shape).toEqual([3, 0]);
    expect(maxAbsDiff(out.logits, ref[3]!)).toBeLessThan(1e-5);
    tf.dispose([out.pooled, out.logits]);
    expect(await leakedTensors(() => { const o = t.forward(x); tf.dispose([o.pooled, o.logits]); })).toBe(0);
    t.dispose();
    // Without --teacher-logits the model's output is used, looking through its final Softmax (the one rule for
    // logits, src/models/logits.ts): the same logits, never the probabilities.
    const probs = await loadTeacher(dir, {});
    const p = probs.forward(x);
    expect(maxAbsDiff(p.logits, ref[3]!)).toBeLessThan(1e-5);
    tf.dispose([p.pooled, p.logits]);
    probs.dispose();
    tf.dispose([x, ...ref]);
  });

  it('--teacher-stages names graph nodes (the layer option read as node names) with the values tf computes', async () => {
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const ref = reference(x);
    const t = await loadTeacher(dir, teacherSelection({ stages: ['block1/relu', 'block2/relu'], logits: 'logits' }));
    expect(t.featureNames).toEqual(['block1/relu', 'block2/relu']);
    expect(t.featureShapes).toEqual([[16, 16, 4], [8, 8, 6]]);
    expect(t.pooledDim).toBe(6);
    const out = t.forward(x);
    out.features.forEach((f, i) => expect(maxAbsDiff(f, ref[i]!)).toBeLessThan(1e-5));
    expect(maxAbsDiff(out.pooled, ref[2]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.logits, ref[3]!)).toBeLessThan(1e-5);
    tf.dispose([...out.features, out.pooled, out.logits, x, ...ref]);
    t.dispose();
    await expect(loadTeacher(dir, teacherSelection({ stages: ['block9/relu'] }))).rejects.toThrow(
      /stage node "block9\/relu" is not a node of .*valid node names include: .*block1\/relu/,
    );
    await expect(loadTeacher(dir, teacherSelection({ logits: 'nope' }))).rejects.toThrow(/logits node "nope" is not a node/);
  });

  it('methods declare what they read of the teacher; a logits-only teacher is refused by the others in one line', async () => {
    const t = await loadTeacher(dir, teacherSelection({ logits: 'logits' }));
    const logitOnly: string[] = [];
    for (const recipe of listMethods()) {
      if (!recipe.needs.teacher) continue;
      try {
        checkTeacherFeatures(recipe.name, recipe.needs, t, 'g/model.json');
        logitOnly.push(recipe.name);
      } catch (err) {
        expect(err).toBeInstanceOf(MethodError);
        const message = (err as Error).message;
        expect(message).not.toContain('\n');
        expect(message).toContain('--teacher-stages');
        expect(message.length).toBeLessThan(260);
      }
    }
    expect(logitOnly.sort()).toEqual(['dkd', 'kd']);
    t.dispose();
    // With stages every method is served.
    const staged = await loadTeacher(dir, teacherSelection({ stages: ['block1/relu', 'block2/relu'], logits: 'logits' }));
    for (const recipe of listMethods()) checkTeacherFeatures(recipe.name, recipe.needs, staged, 'g');
    expect(() => checkTeacherFeatures('crd', getMethod('crd').needs, staged, 'g')).not.toThrow();
    staged.dispose();
  });

  it("the teacher's evaluation (compare's top row) loads it the same way", async () => {
    const data = 'synthetic:16x16x3:4:40';
    const viaLogits = await evaluateTeacher(dir, data, { selection: { logits: 'logits' } });
    const viaProbs = await evaluateTeacher(dir, data, {});
    expect(viaLogits.count).toBe(8);
    // The final Softmax is looked through without --teacher-logits too: the same figures either way.
    expect(viaLogits.top1).toBe(viaProbs.top1);
    expect(viaLogits.nll).toBeCloseTo(viaProbs.nll, 5);
    expect(viaLogits.ece).toBeCloseTo(viaProbs.ece, 5);
  });

  it('a LayersModel teacher without spatial layers is logits-only too: kd distils from it, at is refused', async () => {
    const input = tf.input({ shape: [16, 16, 3] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const logits = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }).apply(flat) as tf.SymbolicTensor;
    const mlp = tf.model({ inputs: input, outputs: logits });
    const t = await loadTeacher(mlp);
    expect(t.stageIndices).toEqual([]);
    expect(t.pooledDim).toBe(0);
    const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    const out = t.forward(x);
    const ref = mlp.predict(x) as tf.Tensor;
    expect(maxAbsDiff(out.logits, ref)).toBeLessThan(1e-6);
    expect(out.pooled.shape).toEqual([2, 0]);
    tf.dispose([x, ref, out.pooled, out.logits]);
    const data = 'synthetic:16x16x3:4:40';
    const run = await distill({ teacher: t, student: 'resnet8', method: 'kd', data, epochs: 1, batchSize: 8, maxStepsPerEpoch: 2, lr: 0.01 });
    expect(run.metrics[0]!.train['kd']).toBeGreaterThan(0);
    run.student.dispose();
    const before = tf.memory().numTensors;
    await expect(distill({ teacher: t, student: 'resnet8', method: 'at', data, epochs: 1, batchSize: 8, maxStepsPerEpoch: 1 }))
      .rejects.toThrow(/method at needs the teacher's stage features: .*; teacher <memory> has no stages/);
    // Refused before anything was built.
    expect(tf.memory().numTensors - before).toBe(0);
    t.dispose();
    mlp.dispose();
  }, 60_000);
});
