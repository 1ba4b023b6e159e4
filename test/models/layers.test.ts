import { beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../helpers.js';
import { Random, tf } from '../../src/runtime/index.js';
import { buildModel } from '../../src/models/index.js';
import { NetBuilder } from '../../src/models/builder.js';
import { ChannelShuffle, ChannelSlice, GroupedConv2D } from '../../src/models/layers.js';

beforeAll(async () => {
  await useWasm();
});

/** Apply a layer in a one-layer model; `inspect` sees the built layer before the model (and layer) are disposed. */
function run(layer: tf.layers.Layer, x: tf.Tensor, inspect?: () => void): number[] {
  const inp = tf.input({ shape: x.shape.slice(1) });
  const model = tf.model({ inputs: inp, outputs: layer.apply(inp) as tf.SymbolicTensor });
  const y = model.predict(x) as tf.Tensor;
  const out = Array.from(y.dataSync());
  inspect?.();
  y.dispose();
  model.dispose();
  return out;
}

/** A [1, 1, 1, C] tensor whose channel c holds c. */
function channelIds(c: number): tf.Tensor {
  return tf.tensor4d(Array.from({ length: c }, (_, i) => i), [1, 1, 1, c]);
}

describe('zoo layers', () => {
  it('ChannelShuffle permutes channels as PyTorch view(N,g,C/g,H,W).permute(0,2,1,3,4)', () => {
    const x = channelIds(6);
    expect(run(new ChannelShuffle({ groups: 2 }), x)).toEqual([0, 3, 1, 4, 2, 5]);
    expect(run(new ChannelShuffle({ groups: 3 }), x)).toEqual([0, 2, 4, 1, 3, 5]);
    x.dispose();
  });

  it('ChannelSlice takes channels [start, start + size)', () => {
    const x = channelIds(6);
    expect(run(new ChannelSlice({ start: 2, size: 3 }), x)).toEqual([2, 3, 4]);
    x.dispose();
  });

  it('GroupedConv2D equals a full convolution with a block-diagonal kernel', () => {
    const layer = new GroupedConv2D({ filters: 4, kernelSize: 3, padding: 'same', groups: 2, seed: 3 });
    const x = tf.randomNormal([2, 5, 5, 6], 0, 1, 'float32', 1);
    let want: number[] = [];
    const got = run(layer, x, () => {
      expect(layer.weights[0]!.shape).toEqual([3, 3, 3, 4]);
      const y = tf.tidy(() => {
        const k = layer.weights[0]!.read() as tf.Tensor4D; // [3, 3, 3, 4]: group 0 -> filters 0-1, group 1 -> 2-3
        const zeros = tf.zeros([3, 3, 3, 2]);
        const [k0, k1] = tf.split(k, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
        const full = tf.concat([tf.concat([k0, zeros], 3), tf.concat([zeros, k1], 3)], 2) as tf.Tensor4D; // [3,3,6,4]
        return tf.conv2d(x as tf.Tensor4D, full, 1, 'same');
      });
      want = Array.from(y.dataSync());
      y.dispose();
    });
    expect(got.length).toBe(want.length);
    expect(got.length).toBe(2 * 5 * 5 * 4);
    for (let i = 0; i < got.length; i++) expect(got[i]!).toBeCloseTo(want[i]!, 4);
    x.dispose();
  });

  it('strided 3x3 convs pad symmetrically like PyTorch padding=1, and the V1 shortcut pool counts the padding', () => {
    const b = new NetBuilder(new Random(1));
    const inp = tf.input({ shape: [4, 4, 1] });
    const conv = b.conv(inp, 'c', { filters: 1, kernel: 3, stride: 2 });
    const pool = b.avgPoolPadded(inp, 'p', 3, 2);
    const model = tf.model({ inputs: inp, outputs: [conv, pool] });
    const convLayer = model.getLayer('c');
    const kernel = convLayer.getWeights()[0]!;
    const ones = tf.ones(kernel.shape);
    convLayer.setWeights([ones]);
    ones.dispose();
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
    const [c, p] = model.predict(x) as tf.Tensor[];
    // PyTorch: out[0,0] sums rows/cols -1..1 -> x[0..1][0..1] = 0+1+4+5; out[1,1] sums rows/cols 1..3.
    const cv = Array.from(c!.dataSync());
    expect(c!.shape).toEqual([1, 2, 2, 1]);
    expect(cv[0]).toBeCloseTo(0 + 1 + 4 + 5, 4);
    expect(cv[3]).toBeCloseTo([5, 6, 7, 9, 10, 11, 13, 14, 15].reduce((s, v) => s + v, 0), 4);
    // AvgPool2d(3, 2, padding 1, count_include_pad=True): the corner window divides 4 values by 9.
    const pv = Array.from(p!.dataSync());
    expect(pv[0]).toBeCloseTo((0 + 1 + 4 + 5) / 9, 5);
    tf.dispose([x, c!, p!]);
    model.dispose();
  });

  it('zoo models with custom layers save and load back with identical outputs', async () => {
    for (const name of ['ShuffleV1', 'ShuffleV2']) {
      const m = buildModel(name, { seed: 2, numClasses: 10, inputShape: [16, 16, 3] });
      let artifacts: tf.io.ModelArtifacts | undefined;
      await m.net.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
      const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 4);
      const a = m.net.predict(x) as tf.Tensor[];
      const b = loaded.predict(x) as tf.Tensor[];
      expect(b.length).toBe(a.length);
      const la = a[a.length - 1]!.dataSync();
      const lb = b[b.length - 1]!.dataSync();
      for (let i = 0; i < la.length; i++) expect(lb[i]!).toBeCloseTo(la[i]!, 5);
      const classes = loaded.layers.map((l) => l.getClassName());
      expect(classes).toContain('CdsChannelShuffle');
      tf.dispose([x, ...a, ...b]);
      m.net.dispose();
      loaded.dispose();
    }
  });
});
