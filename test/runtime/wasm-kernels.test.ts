import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../helpers.js';
import { tf, initBackend, Random } from '../../src/runtime/index.js';

type Pad = 'same' | 'valid' | number;

function randomArray(n: number, rng: Random): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}


interface Case {
  batch: number;
  size: number;
  k: number;
  stride: number;
  pad: Pad;
  cIn: number;
  mult: number;
}

/** Gradients of sum(conv(x, w) * r) w.r.t. x and w, on the current backend, as plain arrays. */
function convGrads(c: Case, depthwise: boolean, seed: number): Float32Array[] {
  const rng = new Random(seed);
  const xShape: [number, number, number, number] = [c.batch, c.size, c.size + 1, c.cIn];
  const cOut = depthwise ? c.cIn * c.mult : 5;
  const wShape: [number, number, number, number] = [c.k, c.k, c.cIn, depthwise ? c.mult : cOut];
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(xShape.reduce((a, b) => a * b), rng), xShape);
    const w = tf.tensor4d(randomArray(wShape.reduce((a, b) => a * b), rng), wShape);
    const conv = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(xx, ww, c.stride, c.pad) : tf.conv2d(xx, ww, c.stride, c.pad);
    const outShape = conv(x, w).shape;
    const r = tf.tensor(randomArray(outShape.reduce((a, b) => a * b), rng), outShape);
    const grads = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D), r)))([x, w]);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

function cases(depthwise: boolean): Case[] {
  const out: Case[] = [];
  for (const batch of [1, 3])
    for (const size of [7, 8])
      for (const k of [1, 3, 5])
        for (const stride of [1, 2])
          for (const pad of ['same', 'valid', 1] as Pad[])
            for (const mult of depthwise ? [1, 2] : [1]) {
              if (pad === 'valid' && k > size) continue;
              out.push({ batch, size, k, stride, pad, cIn: 3, mult });
            }
  return out;
}

describe('wasm training kernels match the cpu backend', () => {
  beforeAll(async () => {
    expect(await initBackend('wasm')).toBe('wasm');
  });

  for (const depthwise of [false, true]) {
    const label = depthwise ? 'depthwiseConv2d' : 'conv2d';
    it(`${label}: input and filter gradients, ${cases(depthwise).length} geometries`, async () => {
      // All cpu references first, then all wasm results: switching backends with live tensors is fragile in tfjs.
      const all = cases(depthwise);
      await tf.setBackend('cpu');
      const refs = all.map((c, i) => convGrads(c, depthwise, i + 1));
      await tf.setBackend('wasm');
      all.forEach((c, i) => {
        const got = convGrads(c, depthwise, i + 1);
        const ref = refs[i]!;
        const what = `${label} ${JSON.stringify(c)}`;
        expect(got[0]!.length, what).toBe(ref[0]!.length);
        expect(relativeError(got[0]!, ref[0]!), `${what} d/dx`).toBeLessThanOrEqual(1e-4);
        expect(relativeError(got[1]!, ref[1]!), `${what} d/dw`).toBeLessThanOrEqual(1e-4);
      });
      await tf.setBackend('wasm');
    });
  }

  it('matMul with transposed operands and its gradients match the cpu backend', async () => {
    const compute = (): Float32Array[] => {
      const rng = new Random(11);
      const out: Float32Array[] = [];
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        tf.tidy(() => {
          const a = tf.tensor3d(randomArray(2 * 5 * 7, rng), ta ? [2, 7, 5] : [2, 5, 7]);
          const b = tf.tensor3d(randomArray(2 * 7 * 3, rng), tb ? [2, 3, 7] : [2, 7, 3]);
          const r = tf.tensor3d(randomArray(2 * 5 * 3, rng), [2, 5, 3]);
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb), r));
          out.push(tf.matMul(a, b, ta, tb).dataSync() as Float32Array);
          for (const g of tf.grads(f)([a, b])) out.push(g.dataSync() as Float32Array);
        });
      }
      return out;
    };
    await tf.setBackend('cpu');
    const ref = compute();
    await tf.setBackend('wasm');
    const got = compute();
    got.forEach((g, i) => expect(relativeError(g, ref[i]!), `output ${i}`).toBeLessThan(1e-5));
  });

  it('gather gradients (UnsortedSegmentSum) match the cpu backend, repeated indices included', async () => {
    const compute = (): Float32Array => {
      const rng = new Random(12);
      return tf.tidy(() => {
        const x = tf.tensor3d(randomArray(6 * 4 * 3, rng), [6, 4, 3]);
        const idx = tf.tensor1d([5, 0, 0, 3, 5, 5], 'int32');
        const r = tf.tensor3d(randomArray(6 * 4 * 3, rng), [6, 4, 3]);
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), r)))(x).dataSync() as Float32Array;
      });
    };
    await tf.setBackend('cpu');
    const ref = compute();
    await tf.setBackend('wasm');
    expect(relativeError(compute(), ref)).toBeLessThan(1e-6);
  });

  it('Identity and same-dtype Cast share data by reference count, and the data outlives the original', () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const backend = tf.engine().backend;
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    expect(y.dataId).toBe(x.dataId);
    expect(z.dataId).toBe(x.dataId);
    expect(backend.refCount(x.dataId)).toBe(3);
    x.dispose();
    y.dispose();
    expect(Array.from(z.dataSync())).toEqual([1, 2, 3, 4]);
    const asInt = tf.cast(z, 'int32');
    expect(asInt.dataId).not.toBe(z.dataId);
    expect(Array.from(asInt.dataSync())).toEqual([1, 2, 3, 4]);
    tf.dispose([z, asInt]);
  });

  it('the kernels are registered for wasm only', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeDefined();
    // The cpu backend keeps its own implementations.
    const cpuKernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
    expect(cpuKernel?.kernelFunc).not.toBe(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc);
  });

  it('the broadcasting batch-norm gradient equals the gradient of batch norm written with elementary ops', () => {
    const rng = new Random(7);
    const shape: [number, number, number, number] = [4, 5, 6, 3];
    const x = tf.tensor4d(randomArray(4 * 5 * 6 * 3, rng), shape);
    const scale = tf.tensor1d([0.5, 1.5, -2]);
    const offset = tf.tensor1d([0.1, -0.2, 0.3]);
    const r = tf.tensor4d(randomArray(4 * 5 * 6 * 3, rng), shape);
    const eps = 1e-3;
    const fused = (xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Scalar => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm(xx as tf.Tensor4D, mean, variance, o as tf.Tensor1D, s as tf.Tensor1D, eps), r));
    };
    const elementary = (xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor): tf.Scalar => {
      const { mean, variance } = tf.moments(xx, [0, 1, 2]);
      const y = tf.add(tf.mul(tf.mul(tf.sub(xx, mean), tf.rsqrt(tf.add(variance, eps))), s), o);
      return tf.sum(tf.mul(y, r));
    };
    for (const backend of ['wasm', 'cpu'] as const) {
      tf.setBackend(backend);
      const a = tf.grads(fused)([x, scale, offset]);
      const b = tf.grads(elementary)([x, scale, offset]);
      for (let i = 0; i < 3; i++) {
        expect(relativeError(a[i]!.dataSync() as Float32Array, b[i]!.dataSync() as Float32Array), `${backend} grad ${i}`).toBeLessThan(1e-4);
      }
      tf.dispose([...a, ...b]);
    }
    tf.setBackend('wasm');
    tf.dispose([x, scale, offset, r]);
  });
});
