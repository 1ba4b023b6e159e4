/**
 * The onednn backend's native kernels against the pure-JS cpu backend: each case runs the same ops (forward and
 * gradients) on both and requires max |onednn - cpu| <= 1e-4 x max |cpu|, and that the native addon actually ran
 * (a fallback to the JS kernel would compare cpu with itself). Odd shapes throughout: strides 1/2, same/valid/explicit
 * padding, non-square kernels, batch 1, channel counts not divisible by 8.
 * Where the addon is not built these tests cannot run: in CI (CI=true) that is a failure; elsewhere the file checks that
 * asking for onednn says how to install it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../helpers.js';
import { tf, initBackend, Random } from '../../src/runtime/index.js';
import { loadOnednn } from '../../src/runtime/onednn.js';
import { BATCH_NORM_TRAINING_KERNEL } from '../../src/runtime/onednn-kernels.js';
import type { OnednnAddon } from '../../src/runtime/onednn-kernels.js';

const load = loadOnednn();

function randomArray(n: number, rng: Random, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Counts calls of each addon function (the kernels look them up on the addon object at call time). */
const calls = new Map<string, number>();
function countCalls(addon: OnednnAddon): void {
  const target = addon as unknown as Record<string, unknown>;
  for (const name of ['conv', 'matmul', 'binary', 'unary', 'reduce', 'tile', 'batchNorm', 'batchNormGrad', 'bnTrain', 'bnTrainGrad', 'pool', 'poolGrad', 'copyBlock', 'gatherNd']) {
    const f = target[name] as (...args: unknown[]) => unknown;
    target[name] = (...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return f(...args);
    };
  }
}

/**
 * Run `f` on the cpu backend and on onednn with the same inputs (plain arrays, rebuilt per backend) and compare every
 * output. `native` names the addon functions that must have run on onednn.
 */
async function compare(what: string, inputs: Array<{ shape: number[]; lo?: number; hi?: number }>, f: (...xs: tf.Tensor[]) => tf.Tensor[], native: string[], seed = 1): Promise<void> {
  const rng = new Random(seed);
  const data = inputs.map((i) => randomArray(size(i.shape), rng, i.lo, i.hi));
  const run = (): Float32Array[] =>
    tf.tidy(() => {
      const xs = inputs.map((i, k) => tf.tensor(data[k]!, i.shape));
      return f(...xs).map((t) => t.dataSync() as Float32Array);
    });
  await tf.setBackend('cpu');
  const ref = run();
  await tf.setBackend('onednn');
  calls.clear();
  const got = run();
  for (const name of native) expect(calls.get(name) ?? 0, `${what}: addon.${name} ran`).toBeGreaterThan(0);
  expect(got.length).toBe(ref.length);
  got.forEach((g, k) => {
    expect(g.length, `${what} output ${k} size`).toBe(ref[k]!.length);
    expect(relativeError(g, ref[k]!), `${what} output ${k}`).toBeLessThanOrEqual(1e-4);
    expect(g.every(Number.isFinite), `${what} output ${k} finite`).toBe(true);
  });
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  batch: number;
  h: number;
  w: number;
  cIn: number;
  cOut: number;
  kH: number;
  kW: number;
  stride: number | [number, number];
  pad: Pad;
  dilation?: number;
}

const explicit: Pad = [[0, 0], [1, 2], [0, 1], [0, 0]];
const convCases: ConvCase[] = [];
for (const batch of [1, 3])
  for (const [kH, kW] of [[1, 1], [3, 3], [3, 2], [1, 5]] as const)
    for (const stride of [1, 2, [2, 1]] as const)
      for (const pad of ['same', 'valid', 1, explicit] as Pad[]) {
        // tfjs sizes numeric padding with the stride height on both axes; with unequal strides its output is cropped
        // in a way no padding reproduces, and the JS kernel runs (covered by the explicit-padding cases instead).
        if (typeof pad === 'number' && Array.isArray(stride)) continue;
        convCases.push({ batch, h: 9, w: 7, cIn: 5, cOut: 13, kH, kW, stride: stride as ConvCase['stride'], pad });
      }
convCases.push({ batch: 2, h: 8, w: 8, cIn: 3, cOut: 6, kH: 3, kW: 3, stride: 1, pad: 'same', dilation: 2 });
// At most 16 output pixels: the addon lets oneDNN pick a blocked activation layout (reorders around the call).
for (const [stride, pad] of [[1, 'same'], [2, 'same'], [1, 'valid'], [2, explicit]] as const) {
  convCases.push({ batch: 3, h: 4, w: 5, cIn: 19, cOut: 21, kH: 3, kW: 2, stride, pad });
}
convCases.push({ batch: 1, h: 4, w: 4, cIn: 33, cOut: 17, kH: 1, kW: 1, stride: 2, pad: 'valid' });
// 3x3 stride 1 with 32+ channels each side (too few rows here for oneDNN to pick Winograd: see the Winograd test).
convCases.push({ batch: 2, h: 9, w: 10, cIn: 33, cOut: 35, kH: 3, kW: 3, stride: 1, pad: 'same' });

const skipAddonCheck = !load.ok && process.env['CI'] !== 'true';

if (skipAddonCheck) {
  describe('onednn kernels (addon not built here)', () => {
    it('asking for onednn rejects with the install command', async () => {
      await expect(initBackend('onednn')).rejects.toThrow(/apt-get install libdnnl-dev.*npm rebuild cds-distill/);
    });
  });
} else {
  describe('onednn native kernels match the cpu backend', () => {
    beforeAll(async () => {
      expect(load.ok, load.ok ? '' : `the oneDNN addon must be built in CI: ${load.reason}`).toBe(true);
      expect(await initBackend('onednn')).toBe('onednn');
      countCalls((tf.backend() as unknown as { addon: OnednnAddon }).addon);
    });

    it(`conv2d forward, input and filter gradients: ${convCases.length} geometries`, async () => {
      for (const [i, c] of convCases.entries()) {
        const outShape = (): number[] => tf.tidy(() => tf.conv2d(tf.zeros([c.batch, c.h, c.w, c.cIn]) as tf.Tensor4D, tf.zeros([c.kH, c.kW, c.cIn, c.cOut]) as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1).shape);
        await tf.setBackend('cpu');
        const out = outShape();
        await compare(
          `conv2d ${JSON.stringify(c)}`,
          [{ shape: [c.batch, c.h, c.w, c.cIn] }, { shape: [c.kH, c.kW, c.cIn, c.cOut] }, { shape: out }],
          (x, w, r) => {
            const conv = (xx: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1);
            // tfjs has no gradient for dilated convolutions: forward only there.
            if ((c.dilation ?? 1) > 1) return [conv(x!, w!)];
            const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx, ww), r!)))([x!, w!]);
            return [conv(x!, w!), dx!, dw!];
          },
          ['conv'],
          i + 1,
        );
      }
    });

    it('3x3 stride-1 convolutions oneDNN runs with Winograd: forward and both gradients match a float64 reference', async () => {
      // oneDNN picks Winograd (with the addon's convolution_auto) only for enough rows and channels in multiples of 16;
      // the cpu backend would take minutes on this size, so the reference is a plain float64 loop.
      const [N, H, W, C, O] = [64, 8, 9, 32, 48];
      const rng = new Random(91);
      const x = randomArray(N * H * W * C, rng);
      const f = randomArray(9 * C * O, rng, -0.2, 0.2);
      const r = randomArray(N * H * W * O, rng);
      const y = new Float64Array(N * H * W * O);
      const dx = new Float64Array(N * H * W * C);
      const df = new Float64Array(9 * C * O);
      for (let n = 0; n < N; n++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++)
            for (let kh = 0; kh < 3; kh++) {
              const ih = h + kh - 1;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < 3; kw++) {
                const iw = w + kw - 1;
                if (iw < 0 || iw >= W) continue;
                const xo = ((n * H + ih) * W + iw) * C;
                const yo = ((n * H + h) * W + w) * O;
                const fo = (kh * 3 + kw) * C * O;
                for (let c = 0; c < C; c++) {
                  const xv = x[xo + c]!;
                  let g = 0;
                  for (let o = 0; o < O; o++) {
                    const fv = f[fo + c * O + o]!;
                    y[yo + o] += xv * fv;
                    g += r[yo + o]! * fv;
                    df[fo + c * O + o] += xv * r[yo + o]!;
                  }
                  dx[xo + c] += g;
                }
              }
            }
      const [gy, gdx, gdf] = tf.tidy(() => {
        const xt = tf.tensor4d(x, [N, H, W, C]);
        const ft = tf.tensor4d(f, [3, 3, C, O]);
        const conv = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D => tf.conv2d(a, b, 1, 'same');
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), tf.tensor4d(r, [N, H, W, O]))))([xt, ft]);
        return [conv(xt, ft), ...grads].map((t) => t.dataSync() as Float32Array);
      });
      expect(relativeError(gy!, y), 'forward').toBeLessThanOrEqual(1e-4);
      expect(relativeError(gdx!, dx), 'input gradient').toBeLessThanOrEqual(1e-4);
      expect(relativeError(gdf!, df), 'filter gradient').toBeLessThanOrEqual(1e-4);
      const impls = (tf.backend() as unknown as { addon: OnednnAddon }).addon.info().convImplementations;
      expect(impls.some((name) => name.includes('wino')), `Winograd ran (${impls.join(', ')})`).toBe(true);
    });

    it('fused conv2d with bias and each activation, and its gradients', async () => {
      for (const activation of ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const) {
        for (const [stride, pad] of [[1, 'same'], [2, 'valid'], [2, 1]] as const) {
          await compare(
            `fusedConv2d ${activation} stride ${stride} pad ${pad}`,
            [{ shape: [2, 9, 7, 5] }, { shape: [3, 2, 5, 11] }, { shape: [11] }],
            (x, w, b) => {
              const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Tensor =>
                tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: stride, pad, bias: bb, activation, leakyreluAlpha: 0.3 });
              const y = f(x!, w!, b!);
              const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(f(xx, ww, bb))))([x!, w!, b!]);
              return [y, ...grads];
            },
            ['conv'],
          );
        }
      }
    });

    it('depthwise conv2d forward and both gradients (multipliers 1 and 2, odd geometries)', async () => {
      let seed = 100;
      for (const batch of [1, 2])
        for (const [kH, kW] of [[3, 3], [2, 3]] as const)
          for (const stride of [1, 2] as const)
            for (const pad of ['same', 'valid', 1] as const)
              for (const mult of [1, 2]) {
                const xShape: [number, number, number, number] = [batch, 8, 7, 5];
                const wShape: [number, number, number, number] = [kH, kW, 5, mult];
                await tf.setBackend('cpu');
                const out = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(wShape) as tf.Tensor4D, stride, pad).shape);
                await compare(
                  `depthwise ${JSON.stringify({ batch, kH, kW, stride, pad, mult })}`,
                  [{ shape: xShape }, { shape: wShape }, { shape: out }],
                  (x, w, r) => {
                    const conv = (xx: tf.Tensor, ww: tf.Tensor): tf.Tensor => tf.depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad);
                    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx, ww), r!)))([x!, w!]);
                    return [conv(x!, w!), dx!, dw!];
                  },
                  ['conv'],
                  seed++,
                );
              }
    });

    it('matMul and fused matMul with transposes, batches and broadcast batches, and gradients', async () => {
      const shapes: Array<[number[], number[], boolean, boolean]> = [
        [[5, 7], [7, 3], false, false],
        [[7, 5], [7, 3], true, false],
        [[5, 7], [3, 7], false, true],
        [[7, 5], [3, 7], true, true],
        [[4, 5, 7], [4, 7, 3], false, false],
        [[4, 7, 5], [1, 3, 7], true, true],
        [[1, 5, 7], [4, 7, 3], false, false],
      ];
      for (const [aShape, bShape, tA, tB] of shapes) {
        await compare(
          `matMul ${aShape} x ${bShape} tA=${tA} tB=${tB}`,
          [{ shape: aShape }, { shape: bShape }],
          (a, b) => {
            const y = tf.matMul(a!, b!, tA, tB);
            // tfjs' BatchMatMul gradient does not reduce over broadcast batches: forward only there.
            if (size(aShape.slice(0, -2)) !== size(bShape.slice(0, -2))) return [y];
            const [da, db] = tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(tf.matMul(aa, bb, tA, tB))))([a!, b!]);
            return [y, da!, db!];
          },
          ['matmul'],
        );
      }
      for (const activation of ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const) {
        await compare(
          `fused matMul ${activation}`,
          [{ shape: [6, 9] }, { shape: [11, 9] }, { shape: [11] }],
          (a, b, bias) => {
            const f = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor): tf.Tensor =>
              tf.fused.matMul({ a: aa as tf.Tensor2D, b: bb as tf.Tensor2D, transposeB: true, bias: cc, activation, leakyreluAlpha: 0.3 });
            return [f(a!, b!, bias!), ...tf.grads((aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.square(f(aa, bb, cc))))([a!, b!, bias!])];
          },
          ['matmul'],
        );
      }
    });

    it('batch norm in training (moments + batchNorm) forward and gradients, and the inference form', async () => {
      for (const shape of [[1, 5, 3, 13], [3, 4, 4, 6], [7, 10]]) {
        const c = shape[shape.length - 1]!;
        const axes = shape.map((_, k) => k).slice(0, -1);
        await compare(
          `batchNorm ${shape}`,
          [{ shape }, { shape: [c], lo: 0.5, hi: 1.5 }, { shape: [c] }, { shape }],
          (x, gamma, beta, r) => {
            const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
              const { mean, variance } = tf.moments(xx, axes);
              return tf.batchNorm(xx, mean, variance, b, g, 1e-5);
            };
            return [f(x!, gamma!, beta!), ...tf.grads((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(xx, g, b), r!)))([x!, gamma!, beta!])];
          },
          ['batchNorm', 'batchNormGrad', 'reduce', 'binary'],
        );
        await compare(
          `batchNorm inference ${shape}`,
          [{ shape }, { shape: [c] }, { shape: [c], lo: 0.1, hi: 2 }, { shape: [c] }, { shape: [c] }],
          (x, m, v, b, g) => [tf.batchNorm(x!, m!, v!, b!, g!, 1e-3), tf.batchNorm(x!, m!, v!)],
          ['batchNorm'],
        );
      }
    });

    it('fused batch norm in training mode (one kernel: statistics, normalisation, all gradients) matches moments + batchNorm', async () => {
      // [8, 33, 17, 37] is large enough for the kernels' chunked (threaded) sums.
      for (const shape of [[1, 5, 3, 13], [3, 4, 4, 6], [7, 10], [2, 3, 9], [8, 33, 17, 37]]) {
        const c = shape[shape.length - 1]!;
        const axes = shape.map((_, k) => k).slice(0, -1);
        // On onednn the fused kernel; on cpu (the reference) tfjs-layers' composite. The loss also reads the mean and
        // the variance, so the kernel's gradient through those two outputs is checked too.
        const parts = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor[] => {
          if (tf.getBackend() === 'onednn') {
            return tf.engine().runKernel(BATCH_NORM_TRAINING_KERNEL, { x, scale: g, offset: b }, { varianceEpsilon: 1e-3 }) as tf.Tensor[];
          }
          const { mean, variance } = tf.moments(x, axes);
          return [tf.batchNorm(x, mean, variance, b, g, 1e-3), mean, variance];
        };
        await compare(
          `fused batchNorm training ${shape}`,
          [{ shape, lo: 2, hi: 5 }, { shape: [c], lo: 0.5, hi: 1.5 }, { shape: [c] }, { shape }, { shape: [c] }, { shape: [c] }],
          (x, gamma, beta, r, u, w) => {
            const loss = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar => {
              const [y, mean, variance] = parts(xx, g, b);
              return tf.addN([tf.sum(tf.mul(y!, r!)), tf.sum(tf.mul(mean!, u!)), tf.sum(tf.mul(variance!, w!))]) as tf.Scalar;
            };
            const outputOnly = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(parts(xx, g, b)[0]!, r!));
            return [
              ...parts(x!, gamma!, beta!),
              ...tf.grads(loss)([x!, gamma!, beta!]),
              ...tf.grads(outputOnly)([x!, gamma!, beta!]),
            ];
          },
          ['bnTrain', 'bnTrainGrad'],
        );
      }
    });

    it("tfjs-layers' BatchNormalization in training runs the fused kernel on onednn: same output, gradients, moving statistics as cpu", async () => {
      for (const shape of [[3, 5, 7, 6], [1, 4, 5, 3], [9, 11]]) {
        const c = shape[shape.length - 1]!;
        const rng = new Random(40 + shape.length);
        const xData = randomArray(size(shape), rng, -2, 3);
        const rData = randomArray(size(shape), rng);
        const weights = [randomArray(c, rng, 0.5, 1.5), randomArray(c, rng), randomArray(c, rng), randomArray(c, rng, 0.5, 2)];
        const run = (): Float32Array[] => {
          const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
          layer.build(shape);
          layer.setWeights(weights.map((w) => tf.tensor(w)));
          const x = tf.variable(tf.tensor(xData, shape));
          const [gamma, beta] = layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val) as [tf.Variable, tf.Variable];
          const before = tf.memory().numTensors;
          const { value, grads } = tf.variableGrads(
            () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, tf.tensor(rData, shape))) as tf.Scalar,
            [x, gamma, beta],
          );
          const results = [
            value.dataSync() as Float32Array,
            ...[x, gamma, beta].map((v) => grads[v.name]!.dataSync() as Float32Array),
            // moving mean and variance after the update
            ...layer.getWeights().slice(2).map((w) => w.dataSync() as Float32Array),
            (layer.apply(x, { training: false }) as tf.Tensor).dataSync() as Float32Array,
          ];
          tf.dispose([value, ...Object.values(grads)]);
          // Only the inference output above is left (one tensor).
          expect(tf.memory().numTensors - before).toBeLessThanOrEqual(1);
          x.dispose();
          // (a layer applied only to concrete tensors cannot be disposed as a layer)
          for (const w of layer.weights) w.dispose();
          return results;
        };
        await tf.setBackend('cpu');
        const ref = tf.tidy(run);
        await tf.setBackend('onednn');
        calls.clear();
        const got = tf.tidy(run);
        expect(calls.get('bnTrain') ?? 0, 'the fused kernel ran').toBe(1);
        expect(calls.get('bnTrainGrad') ?? 0, 'its gradient ran').toBe(1);
        expect(got.length).toBe(ref.length);
        got.forEach((g, k) => expect(relativeError(g, ref[k]!), `layer ${shape} output ${k}`).toBeLessThanOrEqual(1e-4));
      }
    });

    it("the fused path's moving averages are bit-identical to tfjs-layers' ops on the same batch statistics", () => {
      const shape = [5, 3, 4, 7];
      const rng = new Random(12);
      const xData = randomArray(size(shape), rng, -1, 4);
      const start = [randomArray(7, rng), randomArray(7, rng, 0.5, 2)];
      tf.tidy(() => {
        const layer = tf.layers.batchNormalization({ momentum: 0.9 });
        layer.build(shape);
        const [gamma, beta] = layer.getWeights();
        layer.setWeights([gamma!, beta!, tf.tensor(start[0]!), tf.tensor(start[1]!)]);
        const x = tf.tensor(xData, shape);
        layer.apply(x, { training: true });
        const [, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING_KERNEL, { x, scale: gamma!, offset: beta! }, { varianceEpsilon: 1e-3 }) as tf.Tensor[];
        const ops = (orig: Float32Array, value: tf.Tensor): Float32Array => {
          const o = tf.tensor(orig);
          return tf.sub(o, tf.mul(tf.sub(o, value), 1 - 0.9)).dataSync() as Float32Array;
        };
        const moving = layer.getWeights().slice(2).map((w) => w.dataSync() as Float32Array);
        expect(Array.from(moving[0]!)).toEqual(Array.from(ops(start[0]!, mean!)));
        expect(Array.from(moving[1]!)).toEqual(Array.from(ops(start[1]!, variance!)));
        expect(Array.from(moving[0]!)).not.toEqual(Array.from(start[0]!));
        for (const w of layer.weights) w.dispose();
      });
    });

    it('max and average pooling and their gradients', async () => {
      let seed = 300;
      for (const batch of [1, 2])
        for (const [f, s] of [[2, 2], [3, 2], [3, 1], [[2, 3], [1, 2]]] as const)
          for (const pad of ['same', 'valid'] as const) {
            const xShape = [batch, 7, 9, 5];
            for (const kind of ['max', 'avg'] as const) {
              const pool = (x: tf.Tensor): tf.Tensor =>
                kind === 'max' ? tf.maxPool(x as tf.Tensor4D, f as [number, number], s as [number, number], pad) : tf.avgPool(x as tf.Tensor4D, f as [number, number], s as [number, number], pad);
              await tf.setBackend('cpu');
              const out = tf.tidy(() => pool(tf.zeros(xShape)).shape);
              await compare(
                `${kind}Pool ${JSON.stringify({ batch, f, s, pad })}`,
                [{ shape: xShape }, { shape: out }],
                (x, r) => [pool(x!), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(pool(xx), r!)))(x!)],
                ['pool', 'poolGrad'],
                seed++,
              );
            }
          }
    });

    it('element-wise binary ops with broadcasting, AddN', async () => {
      const pairs: Array<[number[], number[]]> = [
        [[3, 5, 7], [3, 5, 7]],
        [[3, 5, 7], [7]],
        [[7], [3, 5, 7]],
        [[3, 1, 7], [1, 5, 1]],
        [[2, 3, 4, 13], [1, 1, 1, 13]],
        [[2, 3, 4, 13], []],
        [[], [5]],
        [[6, 1], [6, 6]],
        [[70000], [70000]],
      ];
      const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
        ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div],
        ['maximum', tf.maximum], ['minimum', tf.minimum], ['squaredDifference', tf.squaredDifference],
      ];
      for (const [aShape, bShape] of pairs) {
        for (const [name, op] of ops) {
          await compare(
            `${name} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}`,
            [{ shape: aShape, lo: 0.5, hi: 2 }, { shape: bShape, lo: 0.5, hi: 2 }],
            (a, b) =>
              // tfjs' Maximum/Minimum/SquaredDifference gradients do not reduce over broadcast axes: forward only there.
              (name === 'maximum' || name === 'minimum' || name === 'squaredDifference') && aShape.join() !== bShape.join()
                ? [op(a!, b!)]
                : [op(a!, b!), ...tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.sum(op(aa, bb)))([a!, b!])],
            ['binary'],
          );
        }
      }
      await compare('addN', [{ shape: [4, 5] }, { shape: [4, 5] }, { shape: [4, 5] }], (a, b, c) => [tf.addN([a!, b!, c!])], ['binary']);
    });

    it('element-wise unary ops and their gradients', async () => {
      const ops: Array<[string, (x: tf.Tensor) => tf.Tensor, number, number]> = [
        ['relu', tf.relu, -1, 1], ['relu6', tf.relu6, -2, 8], ['step', (x) => tf.step(x, 0.3), -1, 1], ['neg', tf.neg, -1, 1],
        ['exp', tf.exp, -2, 2], ['log', tf.log, 0.1, 3], ['sqrt', tf.sqrt, 0.1, 3], ['rsqrt', tf.rsqrt, 0.1, 3],
        ['square', tf.square, -2, 2], ['abs', tf.abs, -1, 1], ['sigmoid', tf.sigmoid, -4, 4], ['tanh', tf.tanh, -3, 3],
        ['reciprocal', tf.reciprocal, 0.5, 2],
      ];
      for (const shape of [[3, 5, 7], [70000]]) {
        for (const [name, op, lo, hi] of ops) {
          await compare(`${name} ${shape}`, [{ shape, lo, hi }], (x) => [op(x!), tf.grad((xx: tf.Tensor) => tf.sum(op(xx)))(x!)], ['unary']);
        }
      }
    });

    it('reductions (sum, mean, max, min) over axis blocks, keepDims, and tile', async () => {
      const cases: Array<[number[], number | number[] | undefined]> = [
        [[3, 5, 7], undefined], [[3, 5, 7], 0], [[3, 5, 7], 1], [[3, 5, 7], 2], [[3, 5, 7], [0, 1]], [[3, 5, 7], [1, 2]],
        [[2, 3, 4, 13], [0, 1, 2]], [[4, 1, 6], [0, 2]], [[100000, 3], 0], [[3, 100000], 1],
      ];
      for (const [shape, axis] of cases) {
        for (const keepDims of [false, true]) {
          await compare(
            `reductions ${shape} axis ${JSON.stringify(axis)} keepDims ${keepDims}`,
            [{ shape }],
            (x) => [tf.sum(x!, axis, keepDims), tf.mean(x!, axis, keepDims), tf.max(x!, axis, keepDims), tf.min(x!, axis, keepDims)],
            ['reduce'],
          );
        }
      }
      await compare('tile', [{ shape: [1, 1, 1, 5] }, { shape: [2, 3, 1] }], (a, b) => [tf.tile(a!, [2, 3, 4, 1]), tf.tile(b!, [1, 2, 3])], ['tile']);
    });

    it("onednn's own gradients for ReLU, Square and Mean match tfjs' (cpu)", async () => {
      for (const [shape, axis] of [[[2, 5, 3, 7], [0, 1, 2]], [[4, 9], 1], [[6], undefined]] as Array<[number[], number | number[] | undefined]>) {
        await compare(
          `relu and mean gradients ${shape} axis ${JSON.stringify(axis)}`,
          [{ shape }, { shape }],
          (x, r) => [
            tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.relu(xx), r!)))(x!),
            tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.square(xx), r!)))(x!),
            tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.mean(tf.mul(xx, r!), axis))))(x!),
            tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.mean(tf.mul(xx, r!), axis, true))))(x!),
          ],
          ['binary', 'tile'],
        );
      }
    });

    it('gatherNd (the augmentation crops and flips) on rows, sub-tensors and single elements; bad indices throw as on cpu', async () => {
      const rng = new Random(77);
      const params = randomArray(6 * 5 * 7, rng);
      const pick = (n: number, k: number, dims: number[]): Int32Array =>
        Int32Array.from({ length: n * k }, (_, i) => Math.floor(rng.uniform(0, dims[i % k]!)));
      // index sets large and small: the large one (70 000 rows of 7) takes the threaded path
      const cases: Array<{ idx: Int32Array; shape: number[] }> = [
        { idx: pick(13, 1, [6]), shape: [13, 1] },
        { idx: pick(70000, 2, [6, 5]), shape: [70000, 2] },
        { idx: pick(4, 3, [6, 5, 7]), shape: [4, 1, 3] },
      ];
      const run = (): Float32Array[] =>
        tf.tidy(() => cases.map((c) => tf.gatherND(tf.tensor(params, [6, 5, 7]), tf.tensor(c.idx, c.shape, 'int32')).dataSync() as Float32Array));
      await tf.setBackend('cpu');
      const ref = run();
      await tf.setBackend('onednn');
      calls.clear();
      const got = run();
      expect(calls.get('gatherNd') ?? 0).toBe(cases.length);
      got.forEach((g, k) => expect(relativeError(g, ref[k]!), `gatherNd case ${k}`).toBe(0));
      const before = tf.memory().numTensors;
      expect(() => tf.tidy(() => tf.gatherND(tf.tensor(params, [6, 5, 7]), tf.tensor([[2], [6]], [2, 1], 'int32')))).toThrow(/Invalid indices/);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('slice and pad (the crops and zero padding around convolutions)', async () => {
      await compare(
        'slice, pad',
        [{ shape: [2, 6, 7, 5] }],
        (x) => [
          tf.slice(x!, [1, 1, 2, 0], [1, 4, 3, 5]),
          tf.slice(x!, [0, 0, 0, 1], [2, 6, 7, 3]),
          tf.pad(x!, [[0, 0], [1, 1], [2, 0], [0, 0]]),
          tf.pad(x!, [[1, 0], [0, 0], [0, 1], [0, 2]], 0.5),
          tf.grad((xx: tf.Tensor) => tf.sum(tf.square(tf.slice(xx, [0, 1, 1, 0], [2, 4, 5, 5]))))(x!),
        ],
        ['copyBlock'],
      );
    });
  });
}
