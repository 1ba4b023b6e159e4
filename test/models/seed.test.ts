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

  it('conv init has the He fan-out scale', () => {
    const w = weightsOf('resnet20', { seed: 1 }).get('stage3_block2_conv2/kernel')!;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    // truncated normal with stddev sqrt(2 / (3*3*64)) = 0.0589 (truncation at 2 sigma shrinks it by ~12%)
    expect(std).toBeGreaterThan(0.045);
    expect(std).toBeLessThan(0.06);
  });
});
