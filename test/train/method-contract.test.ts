// The method contract's three hooks (issue 14, item 3): afterStep gets its own context with the tensors lossTerms
// kept for it (alive, with the values the loss saw), the run takes an optimizer factory (AdamW checked against the
// formula by hand), and a method declares its own view recipes (the loop feeds exactly those views).
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Random, tf } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset, ViewRecipe } from '../../src/data/index.js';
import { buildModel } from '../../src/models/index.js';
import { wrapStudent } from '../../src/student/index.js';
import { crossEntropy } from '../../src/losses/index.js';
import { ADAMW, fit, SGD, train } from '../../src/train/index.js';
import type { OptimizerConfig, TeacherModel } from '../../src/train/index.js';
import type { AfterStepContext, MethodNeeds, MethodRun, StepContext } from '../../src/methods/index.js';

let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadTrainTest('synthetic:8x8x3:3:24', { testLimit: 6 });
});

const OPTIMIZER: OptimizerConfig = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'constant' }, warmupEpochs: 0 };

function student(): ReturnType<typeof wrapStudent> {
  return wrapStudent(buildModel('resnet8', { inputShape: [8, 8, 3], numClasses: 3, seed: 1 }), { heads: 'none', seed: 2 });
}

async function fitWith(method: MethodRun, needs: MethodNeeds, extra: { teacher?: TeacherModel; optimizer?: OptimizerConfig } = {}) {
  return fit({
    student: student(),
    method,
    needs,
    train: data.train,
    test: data.test,
    epochs: 1,
    batchSize: 8,
    optimizer: extra.optimizer ?? OPTIMIZER,
    seed: 5,
    methodRng: new Random(1),
    ...(extra.teacher ? { teacher: extra.teacher } : {}),
  });
}

function ce(ctx: StepContext): tf.Scalar {
  return crossEntropy(ctx.student.logits, ctx.labels.dataSync() as Int32Array);
}

describe('afterStep', () => {
  it('gets the tensors lossTerms kept, alive and with the values the loss saw; the loop disposes them', async () => {
    const inLoss: Float32Array[] = [];
    const inAfter: { values: Float32Array; indices: Int32Array; batchSize: number }[] = [];
    const keptTensors: tf.Tensor[] = [];
    const method: MethodRun = {
      parts: [],
      lossTerms: (ctx) => {
        const pooled = tf.mul(ctx.student.pooled, 2);
        inLoss.push(pooled.dataSync() as Float32Array);
        ctx.keepForAfterStep('pooled', pooled);
        return { ce: ce(ctx) };
      },
      afterStep: (ctx: AfterStepContext) => {
        const t = ctx.kept['pooled']!;
        keptTensors.push(t);
        expect(t.isDisposed).toBe(false);
        inAfter.push({ values: t.dataSync() as Float32Array, indices: ctx.sampleIndices, batchSize: ctx.batchSize });
      },
      dispose: () => undefined,
    };
    const before = tf.memory().numTensors;
    const result = await fitWith(method, { teacher: false, views: 1, heads: 'none' });
    result.student.dispose();
    expect(inAfter).toHaveLength(3);
    inAfter.forEach((step, i) => {
      expect(step.values).toEqual(inLoss[i]);
      expect(step.batchSize).toBe(8);
      expect(step.indices).toHaveLength(8);
    });
    expect(keptTensors.every((t) => t.isDisposed)).toBe(true);
    // Nothing left behind: the kept tensors are the loop's to free.
    expect(tf.memory().numTensors - before).toBe(0);
  }, 60_000);
});

describe('the optimizer factory', () => {
  it('AdamW: one step of w <- w (1 - lr wd) - lr m^ / (sqrt(v^) + eps), checked by hand; SGD adds the decay to the gradient', () => {
    const lr = 0.1;
    const wd = 0.5;
    const w0 = [1.5, -2, 0.25];
    const g = [0.3, -0.2, 0];
    const w = tf.variable(tf.tensor1d(w0), true, 'adamw_w');
    const adamw = ADAMW.create({ lr, momentum: 0.9, weightDecay: wd });
    for (let step = 1; step <= 2; step++) {
      const grad = tf.tensor1d(g);
      adamw.applyGradients({ adamw_w: grad });
      grad.dispose();
    }
    // By hand (float64), per element: decay, then Adam's bias-corrected step (PyTorch's AdamW, step by step).
    const expected = w0.map((x0, i) => {
      let x = x0;
      let m = 0;
      let v = 0;
      for (let t = 1; t <= 2; t++) {
        x *= 1 - lr * wd;
        m = 0.9 * m + 0.1 * g[i]!;
        v = 0.999 * v + 0.001 * g[i]! ** 2;
        x -= (lr * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
      }
      return x;
    });
    const got = Array.from(w.dataSync());
    got.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5));
    adamw.setLearningRate(0.01);
    adamw.dispose();
    w.dispose();
    // SGD: w <- w - lr (g + wd w) on the first step (momentum buffer starts at 0), by hand.
    const ws = tf.variable(tf.tensor1d(w0), true, 'sgd_w');
    const sgd = SGD.create({ lr, momentum: 0.9, weightDecay: wd });
    const grad = tf.tensor1d(g);
    sgd.applyGradients({ sgd_w: grad });
    grad.dispose();
    Array.from(ws.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(w0[i]! - lr * (g[i]! + wd * w0[i]!), 6));
    sgd.dispose();
    ws.dispose();
  });

  it('a run takes it: --optimizer adamw trains, records it in config.json, and differs from SGD', async () => {
    const common = { data, model: 'resnet8', method: 'ce', epochs: 1, batchSize: 8, seed: 3, evalBatchSize: 8 } as const;
    const adam = await train({ ...common, optimizer: 'adamw' });
    const sgd = await train(common);
    expect(adam.config).toMatchObject({ optimizer: 'adamw', lr: 1e-3, weightDecay: 0.01 });
    expect(sgd.config).toMatchObject({ optimizer: 'sgd', lr: 0.1, weightDecay: 5e-4 });
    expect(Number.isFinite(adam.metrics[0]!.train['loss']!)).toBe(true);
    const a = adam.student.trainableWeights[0]!.read().dataSync();
    const s = sgd.student.trainableWeights[0]!.read().dataSync();
    expect(Array.from(a)).not.toEqual(Array.from(s));
    adam.student.dispose();
    sgd.student.dispose();
  }, 60_000);
});

describe("a method's own view recipes", () => {
  /** A frozen stand-in teacher that records what the loop feeds it (the student gets the same rows). */
  function recordingTeacher(seen: Float32Array[]): TeacherModel {
    return {
      numClasses: 3,
      featureShapes: [],
      stageIndices: [],
      pooledDim: 1,
      hasProjections: false,
      forward: (x) => {
        seen.push(x.dataSync() as Float32Array);
        const n = x.shape[0];
        return { features: [], pooled: tf.zeros([n, 1]), logits: tf.zeros([n, 3]) } as unknown as ReturnType<TeacherModel['forward']>;
      },
    };
  }

  /** (x / 255 - mean) / std of dataset rows `indices`, flipped left-right when `flip`: computed here, in float64. */
  function expectedInput(indices: Int32Array, flip: boolean): number[] {
    const [h, w, c] = data.train.inputShape as [number, number, number];
    const out: number[] = [];
    for (const row of indices) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sx = flip ? w - 1 - x : x;
          for (let k = 0; k < c; k++) {
            const v = data.train.images[((row * h + y) * w + sx) * c + k]!;
            out.push((v / 255 - data.train.mean[k]!) / data.train.std[k]!);
          }
        }
      }
    }
    return out;
  }

  for (const [name, recipe, flip] of [
    ['no augmentation', {}, false],
    ['always flipped', { flip: { p: 1 } }, true],
  ] as [string, ViewRecipe, boolean][]) {
    it(`the loop feeds the declared view (${name}), not the default crop + flip`, async () => {
      const seen: Float32Array[] = [];
      const rows: Int32Array[] = [];
      const method: MethodRun = {
        parts: [],
        lossTerms: (ctx) => {
          rows.push(ctx.sampleIndices);
          return { ce: ce(ctx) };
        },
        dispose: () => undefined,
      };
      const needs: MethodNeeds = { teacher: true, views: 1, heads: 'none', teacherFeatures: 'logits', viewRecipes: () => [recipe] };
      const result = await fitWith(method, needs, { teacher: recordingTeacher(seen) });
      result.student.dispose();
      expect(seen).toHaveLength(3);
      seen.forEach((input, i) => {
        const want = expectedInput(rows[i]!, flip);
        expect(input.length).toBe(want.length);
        let worst = 0;
        input.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[j]!))));
        expect(worst).toBeLessThan(1e-4);
      });
    }, 60_000);
  }

  it('a declared pair of views makes 2N rows; the wrong number of recipes is refused', async () => {
    const seen: Float32Array[] = [];
    const method: MethodRun = { parts: [], lossTerms: (ctx) => ({ ce: ce(ctx) }), dispose: () => undefined };
    const pair: MethodNeeds = { teacher: true, views: 2, heads: 'none', teacherFeatures: 'logits', viewRecipes: () => [{}, { flip: { p: 1 } }] };
    const r = await fitWith({ ...method, lossTerms: (ctx) => ({ ce: crossEntropy(ctx.student.logits.slice(0, ctx.batchSize), ctx.labels.dataSync() as Int32Array) }) }, pair, { teacher: recordingTeacher(seen) });
    r.student.dispose();
    expect(seen[0]!.length).toBe(2 * 8 * 8 * 8 * 3);
    const wrong: MethodNeeds = { teacher: false, views: 2, heads: 'none', viewRecipes: () => [{}] };
    await expect(fitWith(method, wrong)).rejects.toThrow('the method declares 1 view recipes for 2 views');
  }, 60_000);
});
