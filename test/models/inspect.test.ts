import { beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../helpers.js';
import { tf } from '../../src/runtime/index.js';
import { buildModel, inspect } from '../../src/models/index.js';
import { GroupedConv2D } from '../../src/models/layers.js';

beforeAll(async () => {
  await useWasm();
});

describe('inspect', () => {
  it('counts shapes, parameters and MACs of a small hand-built model', () => {
    const inp = tf.input({ shape: [8, 8, 3], name: 'input' });
    let x = tf.layers.conv2d({ name: 'stem_conv', filters: 4, kernelSize: 3, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.depthwiseConv2d({
      name: 'stage1_dw',
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      depthMultiplier: 2,
      useBias: false,
    }).apply(x) as tf.SymbolicTensor;
    x = new GroupedConv2D({ name: 'stage1_gconv', filters: 6, kernelSize: 1, groups: 2 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({ name: 'head_pool' }).apply(x) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head_fc', units: 5 }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: out, name: 'tiny' });

    const r = inspect(model);
    const byName = new Map(r.layers.map((l) => [l.name, l]));
    // conv 3x3, 3 -> 4, 'same' on 8x8: 8*8 * 3*3 * 3 * 4 MACs; 3*3*3*4 + 4 params
    expect(byName.get('stem_conv')).toMatchObject({ outputShape: [8, 8, 4], macs: 6912, trainableParams: 112, totalParams: 112 });
    // BN: gamma, beta train; moving mean, variance only in the total; no MACs
    expect(byName.get('stem_bn')).toMatchObject({ outputShape: [8, 8, 4], macs: 0, trainableParams: 8, totalParams: 16 });
    // depthwise 3x3 stride 2, multiplier 2: 4*4 * 3*3 * 4 * 2
    expect(byName.get('stage1_dw')).toMatchObject({ outputShape: [4, 4, 8], macs: 1152, trainableParams: 72 });
    // grouped 1x1, 8 -> 6 in 2 groups: 4*4 * 1*1 * (8/2) * 6
    expect(byName.get('stage1_gconv')).toMatchObject({ className: 'CdsGroupedConv2D', outputShape: [4, 4, 6], macs: 384, trainableParams: 24 });
    expect(byName.get('head_pool')).toMatchObject({ outputShape: [6], macs: 0, trainableParams: 0 });
    // dense 6 -> 5
    expect(byName.get('head_fc')).toMatchObject({ outputShape: [5], macs: 30, trainableParams: 35 });
    expect(r.macs).toBe(6912 + 1152 + 384 + 30);
    expect(r.trainableParams).toBe(112 + 8 + 72 + 24 + 35);
    expect(r.nonTrainableParams).toBe(8);
    expect(r.totalParams).toBe(r.trainableParams + 8);
    expect(r.totalParams).toBe(model.countParams());
    expect(r.inputShape).toEqual([8, 8, 3]);
    expect(r.name).toBe('tiny');
    expect(r.features).toBeUndefined();
    expect(r.groups.map((g) => [g.name, g.layers, g.macs, g.trainableParams])).toEqual([
      ['input', 1, 0, 0],
      ['stem', 2, 6912, 120],
      ['stage1', 2, 1536, 96],
      ['head', 2, 30, 35],
    ]);
    expect(r.groups[2]!.outputShape).toEqual([4, 4, 6]);
    // A frozen layer has no trainable parameters.
    model.getLayer('head_fc').trainable = false;
    expect(inspect(model).trainableParams).toBe(112 + 8 + 72 + 24);
    model.dispose();
  });

  it('resnet20: 40,818,944 MACs per image, stage breakdown and feature taps', () => {
    const m = buildModel('resnet20', { seed: 1 });
    const r = inspect(m);
    // By hand: stem 32*32*9*3*16 = 442,368; stage1 6 convs 32*32*9*16*16 = 14,155,776; stage2 16*16*9*16*32 +
    // 5 * 16*16*9*32*32 + 1x1 shortcut 16*16*16*32 = 13,107,200; stage3 likewise at 8x8 = 13,107,200; fc 64*100.
    expect(r.groups.find((g) => g.name === 'stem')!.macs).toBe(442_368);
    expect(r.groups.find((g) => g.name === 'stage1')!.macs).toBe(14_155_776);
    expect(r.groups.find((g) => g.name === 'stage2')!.macs).toBe(13_107_200);
    expect(r.groups.find((g) => g.name === 'stage3')!.macs).toBe(13_107_200);
    expect(r.groups.find((g) => g.name === 'head')!.macs).toBe(6_400);
    expect(r.macs).toBe(40_818_944);
    expect(r.trainableParams).toBe(278_324);
    // BN moving statistics (mean + variance per channel) are in the total only.
    const bnChannels = m.net.layers
      .filter((l) => l.getClassName() === 'BatchNormalization')
      .reduce((s, l) => s + (l.outputShape as number[])[3]!, 0);
    expect(r.nonTrainableParams).toBe(2 * bnChannels);
    expect(r.totalParams).toBe(m.net.countParams());
    expect(r.groups.find((g) => g.name === 'stage2')!.outputShape).toEqual([16, 16, 32]);
    expect(r.features).toEqual([
      { index: 0, layerName: 'stem_relu', shape: [32, 32, 16], isStage: false },
      { index: 1, layerName: 'stage1_block3_relu', shape: [32, 32, 16], isStage: true },
      { index: 2, layerName: 'stage2_block3_relu', shape: [16, 16, 32], isStage: true },
      { index: 3, layerName: 'stage3_block3_relu', shape: [8, 8, 64], isStage: true },
    ]);
    expect(r.pooledDim).toBe(64);
    expect(r.name).toBe('resnet20');
    m.net.dispose();
  });

  it('counts depthwise and grouped convs of the zoo models', () => {
    const m = buildModel('ShuffleV1', { seed: 1 });
    const r = inspect(m);
    const conv1 = r.layers.find((l) => l.name === 'stage2_block2_conv1')!;
    // 480 -> 120 in 3 groups at 8x8: 8*8 * 160 * 120
    expect(conv1).toMatchObject({ className: 'CdsGroupedConv2D', outputShape: [8, 8, 120], macs: 64 * 160 * 120, trainableParams: 160 * 120 });
    const dw = r.layers.find((l) => l.name === 'stage2_block1_conv2')!;
    // depthwise 3x3 stride 2 on 60 channels, 16x16 -> 8x8
    expect(dw).toMatchObject({ className: 'DepthwiseConv2D', outputShape: [8, 8, 60], macs: 64 * 9 * 60 });
    expect(r.trainableParams).toBe(949_258);
    m.net.dispose();
  });
});
