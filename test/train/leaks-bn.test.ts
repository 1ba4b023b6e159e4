import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { buildModel } from '../../src/models/index.js';
import { wrapStudent } from '../../src/student/index.js';
import { loadTeacher } from '../../src/teacher/index.js';
import { distill, evaluate, train } from '../../src/train/index.js';

let data: { train: Dataset; test: Dataset };
// The leak checks count tensors, which do not depend on the image size: 8x8 synthetic images keep 50 steps cheap.
let small: { train: Dataset; test: Dataset };

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadTrainTest('fashion-mnist-slice', { limit: 400, testLimit: 50 });
  small = await loadTrainTest('synthetic:8x8x1:10:400');
});

describe('no tensor leaks across training steps', () => {
  for (const [method, heads] of [['cds-kd', 'projection'], ['crd', 'none']] as const) {
    it(`${method}: the engine's tensor count after 50 steps equals that after 1`, async () => {
      const teacherNet = wrapStudent(buildModel('resnet8', { inputShape: [8, 8, 1], numClasses: 10, seed: 3 }), { heads, seed: 4 });
      const teacher = await loadTeacher(teacherNet);
      const counts = new Map<number, number>();
      const result = await distill({
        teacher,
        student: 'resnet8',
        method,
        data: small,
        epochs: 1,
        batchSize: 8,
        maxStepsPerEpoch: 50,
        lr: 0.01,
        methodOptions: method === 'crd' ? { negatives: 256 } : {},
        onStep: (p) => counts.set(p.step, tf.memory().numTensors),
      });
      expect(counts.size).toBe(50);
      expect(counts.get(50)).toBe(counts.get(1));
      result.student.dispose();
      teacherNet.dispose();
    });
  }
});

describe('batch-norm moving statistics', () => {
  it('change during training and are what evaluation uses', async () => {
    const result = await train({ model: 'resnet8', method: 'ce', data, epochs: 1, batchSize: 16, maxStepsPerEpoch: 5, lr: 0.05, seed: 1 });
    const student = result.student;
    const bn = student.trainNet.getLayer('stem_bn');
    const [, , movingMean, movingVar] = bn.getWeights();
    const mean = movingMean!.dataSync();
    const variance = movingVar!.dataSync();
    // Fresh statistics are 0 / 1; five training steps move every channel.
    expect(Array.from(mean).every((m) => m !== 0)).toBe(true);
    expect(Array.from(variance).every((v) => v !== 1)).toBe(true);

    const model = student.inferenceModel();
    const trained = evaluate(model, data.test);
    // Evaluation equals a forward pass in inference mode...
    const x = tf.tidy(() => tf.div(tf.sub(tf.div(tf.tensor4d(data.test.images, [data.test.size, 28, 28, 1], 'float32'), 255), data.test.mean[0]!), data.test.std[0]!));
    const logits = student.forward(x as tf.Tensor4D, false).logits;
    const predicted = Array.from(logits.argMax(1).dataSync());
    const top1 = predicted.filter((p, i) => p === data.test.labels[i]).length / data.test.size;
    expect(trained.top1).toBeCloseTo(top1, 10);
    // ...and resetting the moving statistics changes what it computes.
    bn.setWeights([bn.getWeights()[0]!, bn.getWeights()[1]!, tf.zerosLike(movingMean!), tf.onesLike(movingVar!)]);
    expect(evaluate(model, data.test).nll).not.toBeCloseTo(trained.nll, 6);
    tf.dispose([x, logits]);
    student.dispose();
  });
});
