import { beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../helpers.js';
import { tf } from '../../src/runtime/index.js';
import { buildModel } from '../../src/models/index.js';

beforeAll(async () => {
  await useWasm();
});

describe('zoo models are trainable end to end', () => {
  // The families with the zoo's own layers (grouped conv, channel slice/shuffle), depthwise convs and both shortcut kinds.
  for (const name of ['resnet8', 'wrn_16_1', 'MobileNetV2', 'ShuffleV1', 'ShuffleV2']) {
    it(`${name}: every trainable weight gets a finite gradient, non-zero for every kernel (training mode)`, () => {
      const m = buildModel(name, { seed: 1, numClasses: 4, inputShape: [16, 16, 3] });
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 3);
      const { value, grads } = tf.variableGrads(() => {
        const outs = m.net.apply(x, { training: true }) as tf.Tensor[];
        const logits = outs[outs.length - 1]!;
        return tf.losses.softmaxCrossEntropy(tf.oneHot([0, 3], 4), logits) as tf.Scalar;
      }, m.net.trainableWeights.map((w) => w.read() as tf.Variable));
      expect(Number.isFinite(value.dataSync()[0]!)).toBe(true);
      const names = Object.keys(grads);
      expect(names.length).toBe(m.net.trainableWeights.length);
      for (const k of names) {
        const stats = tf.tidy(() => {
          const g = grads[k]!.abs();
          return tf.stack([g.max(), g.sum()]);
        });
        const [max, sum] = stats.dataSync();
        stats.dispose();
        expect(Number.isFinite(sum!), k).toBe(true);
        // A BN beta whose output only feeds (through linear layers) another training-mode BN gets an exactly zero
        // gradient (the next BN removes any per-channel shift), as in PyTorch; kernels must all receive a signal.
        if (/kernel/.test(k)) expect(max!, k).toBeGreaterThan(0);
      }
      tf.dispose([x, value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      m.net.dispose();
    });
  }
});
