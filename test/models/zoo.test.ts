import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../helpers.js';
import { tf } from '../../src/runtime/index.js';
import { ModelError, buildModel, listModels, type TappedModel } from '../../src/models/index.js';

/**
 * Copied from /work/shared/spec/zoo.md (the independent spec): trainable parameters at 100 and 10 classes, feature
 * shapes (C x H x W) at 32x32x3 input, then the pooled width.
 */
const ZOO_TABLE = `
| resnet8 | 83,892 | 78,042 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet14 | 181,108 | 175,258 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet20 | 278,324 | 272,474 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet32 | 472,756 | 466,906 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet44 | 667,188 | 661,338 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet56 | 861,620 | 855,770 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet110 | 1,736,564 | 1,730,714 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| resnet8x4 | 1,233,540 | 1,210,410 | 32x32x32 64x32x32 128x16x16 256x8x8 256 |
| resnet32x4 | 7,433,860 | 7,410,730 | 32x32x32 64x32x32 128x16x16 256x8x8 256 |
| wrn_16_1 | 180,916 | 175,066 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| wrn_16_2 | 703,284 | 691,674 | 16x32x32 32x32x32 64x16x16 128x8x8 128 |
| wrn_40_1 | 569,780 | 563,930 | 16x32x32 16x32x32 32x16x16 64x8x8 64 |
| wrn_40_2 | 2,255,156 | 2,243,546 | 16x32x32 32x32x32 64x16x16 128x8x8 128 |
| vgg8 | 3,965,028 | 3,918,858 | 64x32x32 128x16x16 256x8x8 512x4x4 512x4x4 512 |
| vgg11 | 9,277,284 | 9,231,114 | 64x32x32 128x16x16 256x8x8 512x4x4 512x4x4 512 |
| vgg13 | 9,462,180 | 9,416,010 | 64x32x32 128x16x16 256x8x8 512x4x4 512x4x4 512 |
| MobileNetV2 | 812,836 | 697,546 | 16x16x16 12x16x16 16x8x8 48x4x4 160x2x2 1280 |
| ShuffleV1 | 949,258 | 862,768 | 24x32x32 240x16x16 480x8x8 960x4x4 960 |
| ShuffleV2 | 1,355,528 | 1,263,278 | 24x32x32 116x16x16 232x8x8 464x4x4 1024 |
| ResNet50 | 23,705,252 | 23,520,842 | 64x32x32 256x32x32 512x16x16 1024x8x8 2048x4x4 2048 |
`;

interface Expected {
  name: string;
  params100: number;
  params10: number;
  /** [H, W, C] */
  features: [number, number, number][];
  pooled: number;
}

function parseTable(table: string): Expected[] {
  return table
    .trim()
    .split('\n')
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim()).filter((c) => c.length > 0);
      const shapes = cells[3]!.split(/\s+/);
      const pooled = Number(shapes.pop());
      return {
        name: cells[0]!,
        params100: Number(cells[1]!.replace(/,/g, '')),
        params10: Number(cells[2]!.replace(/,/g, '')),
        features: shapes.map((s) => {
          const [c, h, w] = s.split('x').map(Number) as [number, number, number];
          return [h, w, c];
        }),
        pooled,
      };
    });
}

const EXPECTED: Expected[] = [
  ...parseTable(ZOO_TABLE),
  // ResNet18-CIFAR of CDS (DESIGN.md section 4 and zoo.md header).
  {
    name: 'resnet18',
    params100: 11_220_132,
    params10: 11_173_962,
    features: [
      [32, 32, 64],
      [32, 32, 64],
      [16, 16, 128],
      [8, 8, 256],
      [4, 4, 512],
    ],
    pooled: 512,
  },
];

function trainableParams(m: TappedModel): number {
  return m.net.trainableWeights.reduce((s, w) => s + w.shape.reduce<number>((a, d) => a * (d ?? 1), 1), 0);
}

/** Forward a batch of 2 and return the outputs' shapes and whether every value is finite. */
function forward(m: TappedModel, seed: number): { shapes: number[][]; finite: boolean } {
  const [h, w, c] = m.inputShape;
  const outs = tf.tidy(() => {
    const x = tf.randomNormal([2, h, w, c], 0, 1, 'float32', seed);
    return m.net.predict(x) as tf.Tensor[];
  });
  const shapes = outs.map((o) => o.shape);
  const finite = outs.every((o) => {
    const v = o.dataSync();
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
    return true;
  });
  tf.dispose(outs);
  return { shapes, finite };
}

let baseline = 0;
beforeAll(async () => {
  await useWasm();
  baseline = tf.memory().numTensors;
});

afterAll(() => {
  // Every model built here was disposed: the engine is back where it started.
  expect(tf.memory().numTensors).toBe(baseline);
});

describe('model zoo', () => {
  it('lists every zoo.md architecture plus resnet18', () => {
    expect(listModels()).toEqual(EXPECTED.map((e) => e.name));
  });

  for (const e of EXPECTED) {
    it(`${e.name}: parameters, feature shapes and forward pass match zoo.md`, () => {
      const before = tf.memory().numTensors;
      const m = buildModel(e.name, { numClasses: 100, seed: 1 });
      try {
        expect(m.name).toBe(e.name);
        expect(trainableParams(m)).toBe(e.params100);
        expect(m.featureShapes).toEqual(e.features);
        expect(m.pooledDim).toBe(e.pooled);
        expect(m.stageIndices).toEqual(e.features.map((_, i) => i).slice(1));
        expect(m.inputShape).toEqual([32, 32, 3]);
        expect(m.numClasses).toBe(100);
        expect(m.net.outputs.length).toBe(e.features.length + 2);
        const { shapes, finite } = forward(m, 7);
        expect(shapes).toEqual([...e.features.map((f) => [2, ...f]), [2, e.pooled], [2, 100]]);
        expect(finite).toBe(true);
      } finally {
        m.net.dispose();
      }
      const m10 = buildModel(e.name, { numClasses: 10, seed: 1 });
      try {
        expect(trainableParams(m10)).toBe(e.params10);
      } finally {
        m10.net.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('resnet18 with one input channel at 10 classes has 11,172,810 parameters and runs on 28x28x1', () => {
    const m = buildModel('resnet18', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    try {
      expect(trainableParams(m)).toBe(11_172_810);
      expect(m.featureShapes).toEqual([
        [28, 28, 64],
        [28, 28, 64],
        [14, 14, 128],
        [7, 7, 256],
        [4, 4, 512],
      ]);
      expect(m.stageIndices).toEqual([1, 2, 3, 4]);
      const { shapes, finite } = forward(m, 1);
      expect(shapes.slice(-2)).toEqual([
        [2, 512],
        [2, 10],
      ]);
      expect(finite).toBe(true);
    } finally {
      m.net.dispose();
    }
  });

  // 28x28x1: the same blocks; feature shapes follow from the input (stride-2 layers give ceil(H/2)).
  const small: [string, [number, number, number][], number][] = [
    ['resnet8', [[28, 28, 16], [28, 28, 16], [14, 14, 32], [7, 7, 64]], 64],
    ['wrn_16_2', [[28, 28, 16], [28, 28, 32], [14, 14, 64], [7, 7, 128]], 128],
    ['vgg8', [[28, 28, 64], [14, 14, 128], [7, 7, 256], [3, 3, 512], [3, 3, 512]], 512],
    ['MobileNetV2', [[14, 14, 16], [14, 14, 12], [7, 7, 16], [4, 4, 48], [2, 2, 160]], 1280],
    ['ShuffleV1', [[28, 28, 24], [14, 14, 240], [7, 7, 480], [4, 4, 960]], 960],
    ['ShuffleV2', [[28, 28, 24], [14, 14, 116], [7, 7, 232], [4, 4, 464]], 1024],
  ];
  for (const [name, features, pooled] of small) {
    it(`${name} builds and runs on 28x28x1`, () => {
      const m = buildModel(name, { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
      try {
        expect(m.inputShape).toEqual([28, 28, 1]);
        expect(m.featureShapes).toEqual(features);
        const { shapes, finite } = forward(m, 2);
        expect(shapes).toEqual([...features.map((f) => [2, ...f]), [2, pooled], [2, 10]]);
        expect(finite).toBe(true);
      } finally {
        m.net.dispose();
      }
    });
  }

  it('accepts case-insensitive names and aliases', () => {
    const cases: [string, string][] = [
      ['mobilenetv2', 'MobileNetV2'],
      ['mobile_half', 'MobileNetV2'],
      ['shufflev1', 'ShuffleV1'],
      ['SHUFFLEV2', 'ShuffleV2'],
      ['resnet50', 'ResNet50'],
      ['ResNet18', 'resnet18'],
      ['WRN-16-1', 'wrn_16_1'],
      ['vgg8_bn', 'vgg8'],
    ];
    for (const [alias, canonical] of cases) {
      const m = buildModel(alias, { seed: 1, inputShape: [8, 8, 1], numClasses: 2 });
      expect(m.name).toBe(canonical);
      m.net.dispose();
    }
  });

  it('refuses an unknown name with a ModelError listing the valid names', () => {
    let err: unknown;
    try {
      buildModel('resnet9000');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain("'resnet9000'");
    for (const name of listModels()) expect(msg).toContain(name);
  });

  it('refuses invalid options with a ModelError, before allocating weights', () => {
    const before = tf.memory().numTensors;
    expect(() => buildModel('resnet8', { numClasses: 0 })).toThrow(ModelError);
    expect(() => buildModel('resnet8', { numClasses: 2.5 })).toThrow(ModelError);
    expect(() => buildModel('resnet8', { inputShape: [32, 32] as unknown as [number, number, number] })).toThrow(ModelError);
    expect(() => buildModel('resnet8', { inputShape: [32, 0, 3] })).toThrow(ModelError);
    expect(() => buildModel('resnet8', { seed: Number.NaN })).toThrow(ModelError);
    expect(() => buildModel('vgg8', { inputShape: [4, 4, 3] })).toThrow(/at least 8x8/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
