import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, Random } from '../../src/runtime/index.js';

/** A model that exercises every supplied kernel: conv (strided too), depthwise, batch norm. */
function smallConvNet(seed: number): tf.LayersModel {
  const rng = new Random(seed);
  const init = () => tf.initializers.heNormal({ seed: rng.opSeed() });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init() }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, useBias: false, depthwiseInitializer: init() }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, kernelInitializer: init() }),
      tf.layers.batchNormalization(),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 4, kernelInitializer: init() }),
    ],
  });
}

describe('training on wasm', () => {
  beforeAll(async () => {
    expect(await initBackend('wasm')).toBe('wasm');
  });

  it('keeps the engine tensor count flat across 20 steps and lowers the loss', () => {
    const model = smallConvNet(3);
    const optimizer = tf.train.momentum(0.2, 0.9);
    const rng = new Random(5);
    const n = 16;
    const labels = Array.from({ length: n }, (_, i) => i % 4);
    // Class-dependent images: a bright quadrant per class plus noise.
    const pixels = new Float32Array(n * 16 * 16 * 3);
    for (let i = 0; i < n; i++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++)
          for (let c = 0; c < 3; c++) {
            const quadrant = (y < 8 ? 0 : 2) + (x < 8 ? 0 : 1);
            pixels[((i * 16 + y) * 16 + x) * 3 + c] = (quadrant === labels[i] ? 1 : 0) + 0.3 * rng.normal();
          }
    const xs = tf.tensor4d(pixels, [n, 16, 16, 3]);
    const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 4);
    const step = (): number => {
      const loss = optimizer.minimize(() => {
        const logits = model.apply(xs, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar;
      }, true);
      const value = loss!.dataSync()[0]!;
      loss!.dispose();
      return value;
    };
    const first = step();
    const countAfterFirst = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 19; i++) last = step();
    expect(tf.memory().numTensors).toBe(countAfterFirst);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first * 0.5);
    tf.dispose([xs, ys]);
    optimizer.dispose();
    model.dispose();
  });
});
