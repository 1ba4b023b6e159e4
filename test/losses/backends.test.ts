/**
 * The same losses on the pure-JS cpu backend, against wasm: equal values and gradients (the cpu backend aliases
 * TypedArrays it is given and counts references differently, so stopGradient and the CRD bank copies are checked
 * here too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/runtime/index.js';
import type { Tensor } from '../../src/runtime/tf.js';
import { Random } from '../../src/runtime/random.js';
import {
  CrdMemoryBank,
  attentionTransferLoss,
  crdLoss,
  crossEntropy,
  deepSupervisionLoss,
  dkdLoss,
  featureL2,
  fitnetLoss,
  kdLoss,
  pktLoss,
  rkdLoss,
  similarityPreservingLoss,
  softTargetCrossEntropy,
  stopGradient,
  supConLoss2N,
} from '../../src/losses/index.js';
import { useWasm } from '../helpers.js';
import { checkTrainerCall, expectClose, normaliseRows, randomArray } from './ref.js';

type Case = [string, number[], number[], (s: Tensor, t: Tensor) => Tensor];

const logits: [number[], number[]] = [randomArray(4 * 6, 1, -3, 3), [4, 6]];
const teacherLogits = randomArray(4 * 6, 2, -3, 3);
const mapS: [number[], number[]] = [randomArray(2 * 4 * 4 * 3, 3), [2, 4, 4, 3]];
const mapT = randomArray(2 * 2 * 2 * 5, 4);
const feats = randomArray(4 * 5, 5);
const featsT = randomArray(4 * 7, 6);
const z = normaliseRows(randomArray(8 * 4, 7), 8, 4);

const CASES: Case[] = [
  ['crossEntropy', logits[0], logits[1], (s) => crossEntropy(s, [0, 5, 2, 2], { labelSmoothing: 0.1 })],
  ['softTargetCrossEntropy', logits[0], logits[1], (s, t) => softTargetCrossEntropy(s, t)],
  ['kdLoss', logits[0], logits[1], (s, t) => kdLoss(s, t)],
  ['dkdLoss', logits[0], logits[1], (s, t) => dkdLoss(s, t, [0, 5, 2, 2])],
  ['deepSupervisionLoss', logits[0], logits[1], (s, t) => deepSupervisionLoss([s], t, [0, 5, 2, 2], { klWeight: 1 })],
  ['featureL2', logits[0], logits[1], (s, t) => featureL2(s, t)],
  ['fitnetLoss', logits[0], logits[1], (s, t) => fitnetLoss(s, t)],
  ['attentionTransferLoss', mapS[0], mapS[1], (s, t) => attentionTransferLoss(s, t)],
  ['similarityPreservingLoss', mapS[0], mapS[1], (s, t) => similarityPreservingLoss(s, t)],
  ['rkdLoss', feats, [4, 5], (s, t) => rkdLoss(s, t)],
  ['pktLoss', feats, [4, 5], (s, t) => pktLoss(s, t)],
  ['supConLoss2N', z, [8, 4], (s) => supConLoss2N(s, [0, 1, -1, 0])],
];

function teacherFor(name: string): Tensor {
  if (name === 'attentionTransferLoss' || name === 'similarityPreservingLoss') return tf.tensor4d(mapT, [2, 2, 2, 5]);
  if (name === 'rkdLoss' || name === 'pktLoss') return tf.tensor2d(featsT, [4, 7]);
  return tf.tensor2d(teacherLogits, [4, 6]);
}

/** Value and student gradient of every case on the current backend. */
function run(): Map<string, { value: number; grad: Float32Array }> {
  const out = new Map<string, { value: number; grad: Float32Array }>();
  for (const [name, data, shape, loss] of CASES) {
    const init = tf.tensor(data, shape);
    const s = tf.variable(init);
    init.dispose();
    const t = teacherFor(name);
    const { value, grads } = tf.variableGrads(() => loss(tf.mul(s, 1), t) as never, [s]);
    out.set(name, { value: value.dataSync()[0]!, grad: Float32Array.from(grads[s.name]!.dataSync()) });
    value.dispose();
    tf.dispose(grads);
    tf.dispose([s, t]);
  }
  return out;
}

let onWasm: Map<string, { value: number; grad: Float32Array }>;
let onCpu: Map<string, { value: number; grad: Float32Array }> | null = null;

let fromWasm: Tensor;

beforeAll(async () => {
  await useWasm();
  onWasm = run();
  fromWasm = tf.tensor1d([7, 8]);
  await tf.setBackend('cpu');
  await tf.ready();
});

afterAll(async () => {
  await useWasm();
});

describe('cpu backend', () => {
  it('runs on cpu', () => {
    expect(tf.getBackend()).toBe('cpu');
  });

  it.each(CASES.map((c) => [c[0]]))('%s: same value and gradient as wasm; teacher gets none; no leaks', (name) => {
    onCpu ??= run();
    const w = onWasm.get(name)!;
    const c = onCpu.get(name)!;
    expectClose([c.value], [w.value], 1e-4, 1e-7);
    expectClose(c.grad, w.grad, 1e-3, 1e-6);
    const [, data, shape, loss] = CASES.find((x) => x[0] === name)!;
    const s = tf.tensor(data, shape);
    const t = teacherFor(name);
    if (name !== 'crossEntropy' && name !== 'supConLoss2N') checkTrainerCall(loss, s, t);
    tf.dispose([s, t]);
  });

  it('stopGradient keeps its data after the original is disposed, and is disposed by tidy', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    const y = stopGradient(x);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    const a = tf.tensor1d([4, 5]);
    const n = tf.memory().numTensors;
    tf.tidy(() => {
      stopGradient(a);
    });
    expect(tf.memory().numTensors).toBe(n);
    expect(Array.from(a.dataSync())).toEqual([4, 5]);
    a.dispose();
  });

  it('stopGradient of a tensor still held by the wasm backend after switching to cpu', () => {
    const before = tf.memory().numTensors;
    const y = stopGradient(fromWasm);
    fromWasm.dispose();
    expect(Array.from(y.dataSync())).toEqual([7, 8]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  it('CRD: an update inside the gradient closure does not change that step\'s gradient (the bank is copied)', () => {
    for (const scoring of ['gather', 'dense'] as const) {
      const make = () => new CrdMemoryBank({ numSamples: 30, dim: 4, numNegatives: 40, rng: new Random(1) });
      const e = tf.tensor2d(normaliseRows(randomArray(12, 8), 3, 4), [3, 4]);
      const idx = [0, 1, 2];
      const cidx = make().sampleNegatives(idx, 40, new Random(4));
      const gradWith = (updateInside: boolean) => {
        const memory = make();
        tf.tidy(() => crdLoss(e, e, memory, idx, { contrastIdx: cidx, scoring })); // fixes Z
        const v = tf.variable(e.clone());
        const { value, grads } = tf.variableGrads(() => {
          const l = crdLoss(tf.mul(v, 1), e, memory, idx, { contrastIdx: cidx, scoring });
          if (updateInside) memory.update(idx, tf.mul(e, -1), tf.mul(e, -1));
          return l;
        }, [v]);
        const g = Float32Array.from(grads[v.name]!.dataSync());
        tf.dispose([value, v]);
        tf.dispose(grads);
        return g;
      };
      expectClose(gradWith(true), gradWith(false), 1e-6, 1e-9);
      e.dispose();
    }
  });
});
