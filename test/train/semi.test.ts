import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Random } from '../../src/runtime/index.js';
import { appendUnlabeled, loadTrainTest, DataError } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { buildModel } from '../../src/models/index.js';
import { wrapStudent } from '../../src/student/index.js';
import { crossEntropy } from '../../src/losses/index.js';
import { fit, train } from '../../src/train/index.js';
import type { MethodRun, StepContext } from '../../src/methods/index.js';

let data: { train: Dataset; test: Dataset };
let extra: Dataset;

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadTrainTest('fashion-mnist-slice', { limit: 60, testLimit: 20 });
  extra = (await loadTrainTest('fashion-mnist-slice', { limit: 100 })).train;
});

describe('semi-supervised data', () => {
  it('appends an unlabelled set with a mask and refuses images of another shape', async () => {
    const merged = appendUnlabeled(data.train, extra);
    expect(merged.size).toBe(160);
    expect(Array.from(merged.labeled!.slice(0, 60)).every((m) => m === 1)).toBe(true);
    expect(Array.from(merged.labeled!.slice(60)).every((m) => m === 0)).toBe(true);
    expect(merged.images.subarray(60 * 784, 61 * 784)).toEqual(extra.images.subarray(0, 784));
    const rgb = (await loadTrainTest('synthetic:28x28x3:10:40')).train;
    expect(() => appendUnlabeled(data.train, rgb)).toThrow(DataError);
    expect(() => appendUnlabeled(data.train, rgb)).toThrow(/28x28x3 but the labelled ones are 28x28x1/);
  });

  it('the loop hides the labels of unlabelled images from the method (-1) and lists the labelled rows', async () => {
    const merged = appendUnlabeled(data.train, extra);
    const seen: { labels: Int32Array; rows: Int32Array; indices: Int32Array }[] = [];
    const spy: MethodRun = {
      parts: [],
      lossTerms: (ctx: StepContext) => {
        seen.push({ labels: ctx.labels.dataSync() as Int32Array, rows: ctx.labeledRows, indices: ctx.sampleIndices });
        // Unsupervised stand-in: CE towards class 0 on every row, so the step has a gradient.
        return { ce: crossEntropy(ctx.student.logits, new Int32Array(ctx.batchSize)) };
      },
      dispose: () => undefined,
    };
    const student = wrapStudent(buildModel('resnet8', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), { heads: 'none' });
    const result = await fit({
      student,
      method: spy,
      needs: { teacher: false, views: 1, heads: 'none' },
      train: merged,
      test: data.test,
      epochs: 1,
      batchSize: 32,
      optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, schedule: { kind: 'constant' }, warmupEpochs: 0 },
      seed: 3,
      methodRng: new Random(1),
    });
    expect(seen.length).toBe(5);
    let unlabelledSeen = 0;
    for (const step of seen) {
      step.indices.forEach((row, i) => {
        if (merged.labeled![row]) {
          expect(step.labels[i]).toBe(merged.labels[row]);
          expect(step.rows).toContain(i);
        } else {
          expect(step.labels[i]).toBe(-1);
          expect(step.rows).not.toContain(i);
          unlabelledSeen++;
        }
      });
    }
    expect(unlabelledSeen).toBeGreaterThan(50);
    result.student.dispose();
  });

  it('cds trains with a separate unlabelled set', async () => {
    const r = await train({
      model: 'resnet8',
      method: 'cds',
      data,
      unlabeledData: extra,
      epochs: 1,
      batchSize: 32,
      maxStepsPerEpoch: 2,
      lr: 0.01,
    });
    expect(Number.isFinite(r.last!.train.contrastive)).toBe(true);
    r.student.dispose();
  });
});
