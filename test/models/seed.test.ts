import { beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../helpers.js';
import { setSeed } from '../../src/runtime/index.js';
import { buildModel } from '../../src/models/index.js';
import type { BuildOptions } from '../../src/models/index.js';

/** Every weight of a freshly built model, by name (the model is disposed). */
function weightsOf(name: string, options: BuildOptions): Map<string, Float32Array> {
  const m = buildModel(name, options);
  const out = new Map<string, Float32Array>();
  for (const w of m.net.weights) out.set(w.originalName, w.read().dataSync() as Float32Array);
  m.net.dispose();
  return out;
}

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

beforeAll(async () => {
  await useWasm();
});

describe('seeded weight init', () => {
  for (const name of ['resnet8', 'ShuffleV1', 'MobileNetV2']) {
    it(`${name}: same seed -> identical weights, different seed -> every kernel differs`, () => {
      const a = weightsOf(name, { seed: 11, numClasses: 10 });
      const b = weightsOf(name, { seed: 11, numClasses: 10 });
      const c = weightsOf(name, { seed: 12, numClasses: 10 });
      expect([...a.keys()]).toEqual([...b.keys()]);
      for (const [k, v] of a) expect(same(v, b.get(k)!), k).toBe(true);
      const kernels = [...a.keys()].filter((k) => /kernel$/.test(k));
      expect(kernels.length).toBeGreaterThan(5);
      for (const k of kernels) expect(same(a.get(k)!, c.get(k)!), k).toBe(false);
      // Each layer draws its own seed: no two kernels of the same shape start equal.
      const first = a.get(kernels[0]!)!;
      for (const k of kernels.slice(1)) expect(same(first, a.get(k)!), k).toBe(false);
    });
  }

  it('without a seed, draws from the global random source (reproducible through setSeed)', () => {
    setSeed(5);
    const a = weightsOf('resnet8', {});
    setSeed(5);
    const b = weightsOf('resnet8', {});
    const c = weightsOf('resnet8', {});
    for (const [k, v] of a) expect(same(v, b.get(k)!), k).toBe(true);
    expect(same(b.get('stem_conv/kernel')!, c.get('stem_conv/kernel')!)).toBe(false);
  });

  it("conv init is PyTorch's kaiming_normal_(fan_out): a full normal of std sqrt(2 / fan_out), not a truncated one", () => {
    const w = weightsOf('resnet20', { seed: 1 }).get('stage3_block2_conv2/kernel')!;
    const sigma = Math.sqrt(2 / (3 * 3 * 64)); // 0.0589
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    // 36 864 draws: the sample std is within ~0.0002 of sigma (tfjs's truncated 'normal' gives 0.88 sigma = 0.0518).
    expect(std).toBeGreaterThan(0.985 * sigma);
    expect(std).toBeLessThan(1.015 * sigma);
    // A normal puts 4.55% of its mass beyond 2 sigma; a normal truncated at 2 sigma puts none there.
    const tails = w.filter((v) => Math.abs(v) > 2 * sigma).length / w.length;
    expect(tails).toBeGreaterThan(0.04);
    expect(tails).toBeLessThan(0.051);
  });
});
