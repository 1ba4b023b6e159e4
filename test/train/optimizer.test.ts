/**
 * The training loop's optimizer (SgdMomentumOptimizer): on the cpu backend it is tfjs' MomentumOptimizer after the
 * loop's old `g + weightDecay * value` step, bit for bit; on onednn its fused native kernel gives the same bits again.
 * Odd variable shapes, a learning-rate change between steps, weight decay 0 and 5e-4, tensor count flat.
 * Where the oneDNN addon is not built (and not in CI) only the cpu half runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, initBackend, Random } from '../../src/runtime/index.js';
import { loadOnednn } from '../../src/runtime/onednn.js';
import type { OnednnAddon } from '../../src/runtime/onednn-kernels.js';
import { SgdMomentumOptimizer } from '../../src/train/optimizer.js';

const SHAPES = [[3, 3, 5, 7], [13], [1], [4, 9], [70000]];
const STEPS = 3;

function arrays(seed: number): { values: Float32Array[]; grads: Float32Array[][] } {
  const rng = new Random(seed);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.uniform(-2, 2));
  const sizes = SHAPES.map((s) => s.reduce((a, b) => a * b, 1));
  return { values: sizes.map(fill), grads: Array.from({ length: STEPS }, () => sizes.map(fill)) };
}

/**
 * Run STEPS updates on fresh variables; `update` applies one step's gradients. Returns the final values and momentum
 * slots, and checks that nothing is left behind but the variables and slots.
 */
function train(
  seed: number,
  makeOptimizer: () => tf.Optimizer,
  update: (opt: tf.Optimizer, vars: tf.Variable[], grads: tf.Tensor[]) => void,
): Float32Array[] {
  const { values, grads } = arrays(seed);
  const vars = values.map((v, i) => tf.variable(tf.tensor(v, SHAPES[i]!)));
  const opt = makeOptimizer();
  const lrs = [0.1, 0.05, 0.3];
  let before = 0;
  for (let s = 0; s < STEPS; s++) {
    (opt as tf.SGDOptimizer).setLearningRate(lrs[s]!);
    if (s === 1) before = tf.memory().numTensors;
    const g = grads[s]!.map((a, i) => tf.tensor(a, SHAPES[i]!));
    update(opt, vars, g);
    tf.dispose(g);
  }
  expect(tf.memory().numTensors, 'tensor count flat over steps').toBe(before);
  const slots = (opt as unknown as { accumulations: Array<{ variable: tf.Variable }> }).accumulations.map((a) => a.variable);
  const out = [...vars, ...slots].map((v) => v.dataSync().slice() as Float32Array);
  tf.dispose(vars);
  opt.dispose();
  return out;
}

const named = (vars: tf.Variable[], grads: tf.Tensor[]): tf.NamedTensorMap => Object.fromEntries(vars.map((v, i) => [v.name, grads[i]!]));

/** The loop's update before the fused optimizer: weight decay added op by op, then tfjs' MomentumOptimizer. */
function oldPath(weightDecay: number) {
  return (opt: tf.Optimizer, vars: tf.Variable[], grads: tf.Tensor[]): void => {
    const decayed = tf.tidy(() => grads.map((g, i) => (weightDecay !== 0 ? tf.add(g, tf.mul(vars[i]!, weightDecay)) : g.clone())));
    opt.applyGradients(named(vars, decayed));
    tf.dispose(decayed);
  };
}

const fused = (opt: tf.Optimizer, vars: tf.Variable[], grads: tf.Tensor[]): void => opt.applyGradients(named(vars, grads));

function expectIdentical(got: Float32Array[], ref: Float32Array[], what: string): void {
  expect(got.length).toBe(ref.length);
  got.forEach((g, k) => {
    let differing = 0;
    for (let i = 0; i < g.length; i++) if (!Object.is(g[i], ref[k]![i])) differing++;
    expect(differing, `${what}: array ${k}, elements not bit-identical`).toBe(0);
  });
}

describe('SgdMomentumOptimizer on cpu (the plain tfjs ops)', () => {
  beforeAll(async () => {
    expect(await initBackend('cpu')).toBe('cpu');
  });

  for (const wd of [0, 5e-4]) {
    it(`is MomentumOptimizer after g + ${wd} x value, bit for bit`, () => {
      const ref = train(7, () => tf.train.momentum(0.1, 0.9), oldPath(wd));
      const got = train(7, () => new SgdMomentumOptimizer(0.1, 0.9, wd), fused);
      expectIdentical(got, ref, `cpu, weight decay ${wd}`);
      // and the update moved the values (a test that cannot pass by doing nothing)
      const { values } = arrays(7);
      expect(got[0]!.some((v, i) => v !== values[0]![i])).toBe(true);
    });
  }

  it('keeps the slots of a MomentumOptimizer checkpoint (same names and order)', async () => {
    const v = tf.variable(tf.ones([2, 3]));
    const opt = new SgdMomentumOptimizer(0.1, 0.9, 5e-4);
    opt.applyGradients({ [v.name]: tf.onesLike(v) });
    const weights = await opt.getWeights();
    expect(weights.map((w) => w.name)).toEqual(['iter', `${v.name}/momentum`]);
    expect(SgdMomentumOptimizer.className).toBe('Momentum');
    tf.dispose([v, weights[0]!.tensor]);
    opt.dispose();
  });
});

const load = loadOnednn();

describe.runIf(load.ok || process.env['CI'] === 'true')('SgdMomentumOptimizer on onednn (one fused kernel per variable)', () => {
  let ran = 0;
  beforeAll(async () => {
    expect(load.ok, load.ok ? '' : `the oneDNN addon must be built in CI: ${load.reason}`).toBe(true);
    expect(await initBackend('onednn')).toBe('onednn');
    const addon = (tf.backend() as unknown as { addon: OnednnAddon }).addon;
    const f = addon.sgdMomentum.bind(addon);
    addon.sgdMomentum = (...args) => {
      ran++;
      f(...args);
    };
  });

  for (const wd of [0, 5e-4]) {
    it(`gives the same bits as the tfjs ops on cpu (weight decay ${wd})`, async () => {
      await tf.setBackend('cpu');
      const ref = train(11, () => tf.train.momentum(0.1, 0.9), oldPath(wd));
      await tf.setBackend('onednn');
      ran = 0;
      const got = train(11, () => new SgdMomentumOptimizer(0.1, 0.9, wd), fused);
      expect(ran, 'the native kernel ran once per variable and step').toBe(SHAPES.length * STEPS);
      expectIdentical(got, ref, `onednn, weight decay ${wd}`);
    });
  }
});
