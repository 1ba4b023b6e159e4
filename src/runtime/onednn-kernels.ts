/**
 * Native kernels of the `onednn` backend (see onednn.ts). Each reads its inputs' Float32Arrays straight from the cpu
 * backend's storage and writes a fresh Float32Array the backend then owns. Anything a native kernel does not cover
 * (non-float32 dtypes, NCHW, PReLU, batch broadcasting it cannot express, empty tensors) runs the cpu backend's JS
 * kernel, so results never depend on coverage. Each kernel is checked against the cpu backend in test/runtime.
 */
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** The backend a native kernel runs on (see OnednnBackend): the cpu backend plus an output pool. */
interface PooledBackend extends MathBackendCPU {
  alloc(length: number): Float32Array;
  disown(values: unknown): void;
}

/**
 * Run a cpu (JS) kernel on the onednn backend. Any output that is a view of an input's buffer under a new tensor (the
 * cpu backend slices by subarray) pins that buffer, so the output pool never recycles memory a live tensor still reads.
 */
export function runCpuKernel(kernelFunc: KernelFunc, args: Args): TensorInfo | TensorInfo[] {
  const out = kernelFunc(args);
  const backend = args.backend as PooledBackend;
  const inputIds = new Set(Object.values(args.inputs).map((t) => (t as TensorInfo).dataId));
  for (const t of Array.isArray(out) ? out : [out]) {
    if (!inputIds.has(t.dataId)) backend.disown(backend.data.get(t.dataId)?.values);
  }
  return out;
}
import { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;
type Args = Parameters<KernelFunc>[0];

/** The functions native/src/addon.cc exports. Arrays are read and written in place. */
export interface OnednnAddon {
  conv(kind: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, bias: Float32Array | null, dims: Int32Array, act: number, alpha: number): void;
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, bias: Float32Array | null, dims: Int32Array, act: number, alpha: number): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, reduced: number, inner: number): void;
  tile(x: Float32Array, out: Float32Array, inShape: Int32Array, outShape: Int32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, out: Float32Array, eps: number): void;
  gatherNd(params: Float32Array, indices: Int32Array, out: Float32Array, sliceSize: number, strides: Int32Array): boolean;
  copyBlock(src: Float32Array, srcShape: Int32Array, srcBegin: Int32Array, dst: Float32Array, dstShape: Int32Array, dstBegin: Int32Array, block: Int32Array): void;
  batchNormGrad(x: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array | null, dy: Float32Array, eps: number, dx: Float32Array, dmean: Float32Array, dvariance: Float32Array, dscale: Float32Array, doffset: Float32Array): void;
  bnTrain(x: Float32Array, scale: Float32Array | null, offset: Float32Array | null, y: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): void;
  bnTrainGrad(x: Float32Array, scale: Float32Array | null, mean: Float32Array, variance: Float32Array, dy: Float32Array, dmean: Float32Array | null, dvariance: Float32Array | null, eps: number, dx: Float32Array, dscale: Float32Array, doffset: Float32Array): void;
  sgdMomentum(value: Float32Array, grad: Float32Array, accum: Float32Array, newValue: Float32Array, newAccum: Float32Array, negLr: number, momentum: number, weightDecay: number): void;
  pool(op: 0 | 1, x: Float32Array, out: Float32Array, dims: Int32Array): void;
  poolGrad(op: 0 | 1, dy: Float32Array, x: Float32Array | null, dx: Float32Array, dims: Int32Array): void;
  setThreads(n: number): void;
  /** 1: activations stay NHWC (default); 0: oneDNN picks their layout too (reorders each call). */
  setLayout(mode: number): void;
  /** convImplementations: the distinct oneDNN implementations of the convolutions run so far (e.g. jit_wino_4x3:avx512_core). */
  info(): { version: string; isa: string; threads: number; cachedPrimitives: number; convImplementations: string[] };
}

const BACKEND = 'onednn';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function floatValues(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | undefined {
  if (t == null || t.dtype !== 'float32') return undefined;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array ? v : undefined;
}

/** A kernel that runs `native` when it returns a result and the cpu backend's kernel otherwise. */
function withFallback(kernelName: string, native: (args: Args, backend: PooledBackend) => TensorInfo | undefined): tf.KernelConfig {
  const cpu = tf.getKernel(kernelName, 'cpu');
  if (cpu == null) throw new Error(`onednn: the cpu backend has no ${kernelName} kernel to fall back on`);
  return {
    kernelName,
    backendName: BACKEND,
    kernelFunc: (args) => native(args, args.backend as PooledBackend) ?? (runCpuKernel(cpu.kernelFunc, args) as TensorInfo),
  };
}

function result(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ------------------------------------------------------------------ convolutions

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

/** Conv geometry as the addon wants it: N IH IW IC OH OW OC KH KW SH SW DH DW PT PL PB PR G. */
function convDims(xShape: number[], filterShape: number[], attrs: ConvAttrs, depthwise: boolean): Int32Array | undefined {
  if (attrs.dataFormat === 'NCHW') return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
  );
  const p = info.padInfo;
  // The far-side padding that makes oneDNN's output size tfjs' (tfjs sizes numeric padding of non-square kernels by
  // the filter height, and 'same' may pad one more row than the last window reads): zeros either way.
  // A negative value (the last rows are never read) becomes 0: oneDNN floors (in + padding - kernel) / stride too.
  const far = (inn: number, k: number, dil: number, s: number, near: number, out: number): number => Math.max(0, (out - 1) * s + (k - 1) * dil + 1 - inn - near);
  const bottom = far(info.inHeight, info.filterHeight, info.dilationHeight, info.strideHeight, p.top, info.outHeight);
  const right = far(info.inWidth, info.filterWidth, info.dilationWidth, info.strideWidth, p.left, info.outWidth);
  const dims = [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    p.top, p.left, bottom, right, depthwise ? info.inChannels : 1,
  ];
  if (dims.some((d) => !Number.isInteger(d)) || sizeOf(dims.slice(0, 7)) === 0) return undefined;
  const fits = (inn: number, k: number, dil: number, s: number, pl: number, pr: number, out: number): boolean =>
    pl >= 0 && Math.floor((inn + pl + pr - ((k - 1) * dil + 1)) / s) + 1 === out;
  if (!fits(info.inHeight, info.filterHeight, info.dilationHeight, info.strideHeight, p.top, bottom, info.outHeight)) return undefined;
  if (!fits(info.inWidth, info.filterWidth, info.dilationWidth, info.strideWidth, p.left, right, info.outWidth)) return undefined;
  return Int32Array.from(dims);
}

function convForward(kernelName: string, depthwise: boolean, fused: boolean, addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const a = attrs as unknown as ConvAttrs;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    if (x == null || filter == null || preluActivationWeights != null) return undefined;
    const act = fused ? ACTIVATIONS[a.activation ?? 'linear'] : 0;
    if (act === undefined) return undefined;
    const xv = floatValues(backend, x);
    const fv = floatValues(backend, filter);
    if (!xv || !fv) return undefined;
    const dims = convDims(x.shape, filter.shape, a, depthwise);
    if (!dims) return undefined;
    let bv: Float32Array | null = null;
    if (fused && bias != null) {
      const b = floatValues(backend, bias);
      if (!b || b.length !== dims[6]) return undefined;
      bv = b;
    }
    const outShape = [dims[0]!, dims[4]!, dims[5]!, dims[6]!];
    const out = backend.alloc(sizeOf(outShape));
    addon.conv(0, xv, fv, out, bv, dims, act, a.leakyreluAlpha ?? 0.2);
    return result(backend, outShape, out);
  });
}

function convBackpropInput(kernelName: string, depthwise: boolean, addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const a = attrs as unknown as ConvAttrs & { inputShape: number[] };
    const { dy, filter } = inputs as Record<string, TensorInfo | undefined>;
    const dyv = floatValues(backend, dy);
    const fv = floatValues(backend, filter);
    if (!dyv || !fv || !filter) return undefined;
    const dims = convDims(a.inputShape, filter.shape, a, depthwise);
    if (!dims) return undefined;
    const dx = backend.alloc(sizeOf(a.inputShape));
    addon.conv(1, dyv, fv, dx, null, dims, 0, 0);
    return result(backend, [...a.inputShape], dx);
  });
}

function convBackpropFilter(kernelName: string, depthwise: boolean, addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const a = attrs as unknown as ConvAttrs & { filterShape: number[] };
    const { x, dy } = inputs as Record<string, TensorInfo | undefined>;
    const xv = floatValues(backend, x);
    const dyv = floatValues(backend, dy);
    if (!xv || !dyv || !x) return undefined;
    const dims = convDims(x.shape, a.filterShape, a, depthwise);
    if (!dims) return undefined;
    const dw = backend.alloc(sizeOf(a.filterShape));
    addon.conv(2, xv, dyv, dw, null, dims, 0, 0);
    return result(backend, [...a.filterShape], dw);
  });
}

// ------------------------------------------------------------------ matmul

function matMul(kernelName: 'BatchMatMul' | '_FusedMatMul', addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const at = attrs as unknown as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    if (!a || !b || preluActivationWeights != null) return undefined;
    const av = floatValues(backend, a);
    const bv = floatValues(backend, b);
    if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const act = kernelName === '_FusedMatMul' ? ACTIVATIONS[at.activation ?? 'linear'] : 0;
    if (act === undefined) return undefined;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = at.transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const K = at.transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const K2 = at.transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const N = at.transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (K !== K2 || M * N * K === 0) return undefined;
    const batchShapeA = a.shape.slice(0, -2);
    const batchShapeB = b.shape.slice(0, -2);
    const batchA = sizeOf(batchShapeA);
    const batchB = sizeOf(batchShapeB);
    let batchShape: number[];
    if (batchA === batchB && batchShapeA.join() === batchShapeB.join()) batchShape = batchShapeA;
    else if (batchB === 1) batchShape = batchShapeA.length >= batchShapeB.length ? batchShapeA : [...batchShapeB.slice(0, batchShapeB.length - batchShapeA.length), ...batchShapeA];
    else if (batchA === 1) batchShape = batchShapeB.length >= batchShapeA.length ? batchShapeB : [...batchShapeA.slice(0, batchShapeA.length - batchShapeB.length), ...batchShapeB];
    else return undefined;
    let biasValues: Float32Array | null = null;
    if (bias != null) {
      const bb = floatValues(backend, bias);
      if (!bb || bb.length !== N || bias.shape[bias.shape.length - 1] !== N) return undefined;
      biasValues = bb;
    }
    const outShape = [...batchShape, M, N];
    const out = backend.alloc(sizeOf(outShape));
    addon.matmul(av, bv, out, biasValues, Int32Array.from([batchA, batchB, M, K, N, at.transposeA ? 1 : 0, at.transposeB ? 1 : 0]), act, at.leakyreluAlpha ?? 0.2);
    return result(backend, outShape, out);
  });
}

// ------------------------------------------------------------------ element-wise

/**
 * The broadcast of a and b as a dense loop: the output shape, and the coalesced loop shape with each operand's
 * strides (0 along broadcast axes). Adjacent axes merge when both operands walk them contiguously.
 */
export function broadcastLoop(aShape: readonly number[], bShape: readonly number[]): {
  outShape: number[];
  loop: number[];
  aStrides: number[];
  bStrides: number[];
} {
  const outShape = tf.backend_util.assertAndGetBroadcastShape([...aShape], [...bShape]);
  const r = outShape.length;
  const strides = (shape: readonly number[]): number[] => {
    const padded = [...new Array<number>(r - shape.length).fill(1), ...shape];
    const s = new Array<number>(r).fill(0);
    let acc = 1;
    for (let k = r - 1; k >= 0; k--) {
      s[k] = padded[k] === 1 && outShape[k] !== 1 ? 0 : acc;
      acc *= padded[k]!;
    }
    return s;
  };
  const as = strides(aShape);
  const bs = strides(bShape);
  const loop: number[] = [];
  const la: number[] = [];
  const lb: number[] = [];
  for (let k = 0; k < r; k++) {
    const n = outShape[k]!;
    if (n === 1) continue;
    const last = loop.length - 1;
    if (last >= 0 && la[last] === as[k]! * n && lb[last] === bs[k]! * n) {
      loop[last] = loop[last]! * n;
      la[last] = as[k]!;
      lb[last] = bs[k]!;
    } else {
      loop.push(n);
      la.push(as[k]!);
      lb.push(bs[k]!);
    }
  }
  if (loop.length === 0) return { outShape, loop: [1], aStrides: [0], bStrides: [0] };
  return { outShape, loop, aStrides: la, bStrides: lb };
}

const BINARY: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };

function binary(kernelName: string, addon: OnednnAddon): tf.KernelConfig {
  const op = BINARY[kernelName]!;
  return withFallback(kernelName, ({ inputs }, backend) => {
    const { a, b } = inputs as Record<string, TensorInfo | undefined>;
    const av = floatValues(backend, a);
    const bv = floatValues(backend, b);
    if (!av || !bv || !a || !b || av.length === 0 || bv.length === 0) return undefined;
    const plan = broadcastLoop(a.shape, b.shape);
    const out = backend.alloc(sizeOf(plan.outShape));
    addon.binary(op, av, bv, out, Int32Array.from(plan.loop), Int32Array.from(plan.aStrides), Int32Array.from(plan.bStrides));
    return result(backend, plan.outShape, out);
  });
}

function addN(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('AddN', ({ inputs }, backend) => {
    const tensors = inputs as unknown as TensorInfo[];
    if (tensors.length < 2) return undefined;
    const shape = tensors[0]!.shape;
    const values: Float32Array[] = [];
    for (const t of tensors) {
      const v = floatValues(backend, t);
      if (!v || t.shape.join() !== shape.join() || v.length === 0) return undefined;
      values.push(v);
    }
    const n = values[0]!.length;
    const loop = Int32Array.from([n]);
    const one = Int32Array.from([1]);
    const out = backend.alloc(n);
    addon.binary(0, values[0]!, values[1]!, out, loop, one, one);
    for (let i = 2; i < values.length; i++) addon.binary(0, out, values[i]!, out, loop, one, one);
    return result(backend, [...shape], out);
  });
}

const UNARY: Record<string, number> = {
  Relu: 0, Relu6: 1, Step: 2, Neg: 3, Exp: 4, Log: 5, Sqrt: 6, Rsqrt: 7, Square: 8, Abs: 9, Sigmoid: 10, Tanh: 11, Reciprocal: 12,
};

function unary(kernelName: string, addon: OnednnAddon): tf.KernelConfig {
  const op = UNARY[kernelName]!;
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    if (!xv || !x || xv.length === 0) return undefined;
    const out = backend.alloc(xv.length);
    const alpha = kernelName === 'Step' ? ((attrs as { alpha?: number } | undefined)?.alpha ?? 0) : 0;
    addon.unary(op, xv, out, alpha);
    return result(backend, [...x.shape], out);
  });
}

// ------------------------------------------------------------------ reductions, tile

const REDUCE: Record<string, number> = { Sum: 0, Max: 1, Min: 2, Mean: 3 };

/** A reduction over `axes` of `shape` as [outer, reduced, inner] when the reduced axes (size-1 axes ignored) are adjacent. */
export function reductionBlock(shape: readonly number[], axes: readonly number[]): { outer: number; reduced: number; inner: number } | undefined {
  const set = new Set(axes);
  let outer = 1;
  let reduced = 1;
  let inner = 1;
  let phase = 0; // 0 before the reduced block, 1 inside, 2 after
  for (let k = 0; k < shape.length; k++) {
    const n = shape[k]!;
    if (n === 1) continue;
    if (set.has(k)) {
      if (phase === 2) return undefined;
      phase = 1;
      reduced *= n;
    } else if (phase === 0) {
      outer *= n;
    } else {
      phase = 2;
      inner *= n;
    }
  }
  return { outer, reduced, inner };
}

function reduction(kernelName: string, addon: OnednnAddon): tf.KernelConfig {
  const op = REDUCE[kernelName]!;
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    if (!xv || !x || xv.length === 0) return undefined;
    const at = attrs as { axis?: number | number[] | null; reductionIndices?: number | number[] | null; keepDims?: boolean };
    // Max names its axes reductionIndices; null or undefined means every axis.
    const spec = kernelName === 'Max' ? at.reductionIndices : at.axis;
    const axes = tf.util.parseAxisParam(spec ?? (null as unknown as number[]), x.shape);
    const block = reductionBlock(x.shape, axes);
    if (!block) return undefined;
    const outShape = at.keepDims ? x.shape.map((n, k) => (axes.includes(k) ? 1 : n)) : x.shape.filter((_, k) => !axes.includes(k));
    const out = backend.alloc(block.outer * block.inner);
    addon.reduce(op, xv, out, block.outer, block.reduced, block.inner);
    return result(backend, outShape, out);
  });
}

function tile(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('Tile', ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    const reps = (attrs as { reps: number[] }).reps;
    if (!xv || !x || xv.length === 0 || x.shape.length === 0 || reps.length !== x.shape.length) return undefined;
    const outShape = x.shape.map((n, k) => n * reps[k]!);
    const out = backend.alloc(sizeOf(outShape));
    if (out.length === 0) return undefined;
    addon.tile(xv, out, Int32Array.from(x.shape), Int32Array.from(outShape));
    return result(backend, outShape, out);
  });
}

// ------------------------------------------------------------------ slice, pad

function slice(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('Slice', ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    if (!xv || !x || x.shape.length === 0) return undefined;
    const a = attrs as { begin: number | number[]; size: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, a.begin, a.size);
    tf.slice_util.assertParamsValid(x as unknown as tf.Tensor, begin, size);
    const out = backend.alloc(sizeOf(size));
    if (out.length === 0) return undefined;
    const zeros = Int32Array.from(size.map(() => 0));
    addon.copyBlock(xv, Int32Array.from(x.shape), Int32Array.from(begin), out, Int32Array.from(size), zeros, Int32Array.from(size));
    return result(backend, size, out);
  });
}

function padV2(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('PadV2', ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    if (!xv || !x || x.shape.length === 0 || xv.length === 0) return undefined;
    const a = attrs as { paddings: Array<[number, number]>; constantValue: number };
    const outShape = x.shape.map((n, k) => a.paddings[k]![0] + n + a.paddings[k]![1]);
    const out = backend.alloc(sizeOf(outShape));
    out.fill(a.constantValue);
    const zeros = Int32Array.from(x.shape.map(() => 0));
    addon.copyBlock(xv, Int32Array.from(x.shape), zeros, out, Int32Array.from(outShape), Int32Array.from(a.paddings.map((p) => p[0])), Int32Array.from(x.shape));
    return result(backend, outShape, out);
  });
}

// ------------------------------------------------------------------ gather

/** GatherNd of float32 params by int32 indices (the augmentation's crops and flips: one row per output pixel). */
function gatherNd(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('GatherNd', ({ inputs }, backend) => {
    const { params, indices } = inputs as Record<string, TensorInfo | undefined>;
    const pv = floatValues(backend, params);
    const iv = indices?.dtype === 'int32' ? backend.data.get(indices.dataId)?.values : undefined;
    if (!pv || !params || !indices || !(iv instanceof Int32Array) || pv.length === 0 || iv.length === 0) return undefined;
    const [resultShape, numSlices, sliceSize, strides] = tf.backend_util.prepareAndValidate(params as tf.Tensor, indices as tf.Tensor);
    if (numSlices === 0 || sliceSize === 0) return undefined;
    const out = backend.alloc(numSlices * sliceSize);
    // An index out of range: the cpu kernel runs instead and throws tfjs' own error.
    if (!addon.gatherNd(pv, iv, out, sliceSize, Int32Array.from(strides))) return undefined;
    return result(backend, resultShape, out);
  });
}

// ------------------------------------------------------------------ batch norm, pooling

function batchNorm(addon: OnednnAddon): tf.KernelConfig {
  return withFallback('FusedBatchNorm', ({ inputs, attrs }, backend) => {
    const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>;
    const xv = floatValues(backend, x);
    const mv = floatValues(backend, mean);
    const vv = floatValues(backend, variance);
    if (!xv || !mv || !vv || !x || xv.length === 0 || mv.length === 0 || vv.length === 0) return undefined;
    const ov = offset != null ? floatValues(backend, offset) : null;
    const sv = scale != null ? floatValues(backend, scale) : null;
    if (ov === undefined || sv === undefined || ov?.length === 0 || sv?.length === 0) return undefined;
    const out = backend.alloc(xv.length);
    addon.batchNorm(xv, mv, vv, ov, sv, out, (attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001);
    return result(backend, [...x.shape], out);
  });
}

/** The onednn-only kernel behind the batch-norm gradient (see `registerOnednnGradients`). */
export const BATCH_NORM_GRAD_KERNEL = 'CdsOnednnFusedBatchNormGrad';

/** Per-channel parameters of x [..., C]: rank 1, length C. */
function perChannel(x: TensorInfo, p: TensorInfo | undefined): boolean {
  return p != null && p.dtype === 'float32' && p.shape.length === 1 && p.shape[0] === x.shape[x.shape.length - 1];
}

function batchNormGrad(addon: OnednnAddon): tf.KernelConfig {
  return {
    kernelName: BATCH_NORM_GRAD_KERNEL,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as PooledBackend;
      const { x, mean, variance, scale, dy } = inputs as Record<string, TensorInfo | undefined>;
      const get = (t: TensorInfo | undefined): Float32Array => {
        const v = floatValues(backend, t);
        if (!v) throw new Error(`${BATCH_NORM_GRAD_KERNEL}: expected float32 inputs`);
        return v;
      };
      const xv = get(x);
      const c = mean!.shape[0]!;
      const dx = backend.alloc(xv.length);
      const [dmean, dvariance, dscale, doffset] = [0, 1, 2, 3].map(() => backend.alloc(c)) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      addon.batchNormGrad(xv, get(mean), get(variance), scale ? get(scale) : null, get(dy), eps, dx, dmean, dvariance, dscale, doffset);
      return [result(backend, [...x!.shape], dx), ...[dmean, dvariance, dscale, doffset].map((o) => result(backend, [c], o))];
    },
  };
}

/**
 * The onednn-only kernel for a batch-norm layer in training mode, x [..., C] channels last with per-channel scale and
 * offset [C]: outputs [y, mean, variance], the batch mean and biased variance over every axis but the last (what
 * tf.moments gives) and y = (x - mean) * scale / sqrt(variance + eps) + offset. One native call (three passes over x)
 * where tfjs-layers runs Mean, Sub, Square, Mean and FusedBatchNorm; its gradient is BATCH_NORM_TRAINING_GRAD_KERNEL.
 * Attribute: varianceEpsilon.
 */
export const BATCH_NORM_TRAINING_KERNEL = 'CdsOnednnBatchNormTraining';
/** The gradient of BATCH_NORM_TRAINING_KERNEL: inputs x, scale, mean, variance, dy, dmean, dvariance; outputs dx, dscale, doffset. */
export const BATCH_NORM_TRAINING_GRAD_KERNEL = 'CdsOnednnBatchNormTrainingGrad';

function floatInputs(backend: PooledBackend, kernelName: string, inputs: Record<string, TensorInfo | undefined>, names: string[]): Float32Array[] {
  return names.map((name) => {
    const v = floatValues(backend, inputs[name]);
    if (!v) throw new Error(`${kernelName}: expected a float32 ${name}`);
    return v;
  });
}

function batchNormTraining(addon: OnednnAddon): tf.KernelConfig {
  return {
    kernelName: BATCH_NORM_TRAINING_KERNEL,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as PooledBackend;
      const named = inputs as Record<string, TensorInfo | undefined>;
      const [xv, sv, ov] = floatInputs(backend, BATCH_NORM_TRAINING_KERNEL, named, ['x', 'scale', 'offset']) as [Float32Array, Float32Array, Float32Array];
      const x = named['x']!;
      const c = x.shape[x.shape.length - 1]!;
      if (x.shape.length < 2 || sv.length !== c || ov.length !== c || xv.length === 0) {
        throw new Error(`${BATCH_NORM_TRAINING_KERNEL}: expected x [..., C] and scale, offset [C]`);
      }
      const y = backend.alloc(xv.length);
      const mean = backend.alloc(c);
      const variance = backend.alloc(c);
      addon.bnTrain(xv, sv, ov, y, mean, variance, (attrs as { varianceEpsilon: number }).varianceEpsilon);
      return [result(backend, [...x.shape], y), result(backend, [c], mean), result(backend, [c], variance)];
    },
  };
}

function batchNormTrainingGrad(addon: OnednnAddon): tf.KernelConfig {
  return {
    kernelName: BATCH_NORM_TRAINING_GRAD_KERNEL,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as PooledBackend;
      const named = inputs as Record<string, TensorInfo | undefined>;
      const [xv, sv, mv, vv, dyv] = floatInputs(backend, BATCH_NORM_TRAINING_GRAD_KERNEL, named, ['x', 'scale', 'mean', 'variance', 'dy']) as Float32Array[];
      const optional = (name: string): Float32Array | null => (named[name] != null ? floatInputs(backend, BATCH_NORM_TRAINING_GRAD_KERNEL, named, [name])[0]! : null);
      const c = mv!.length;
      const dx = backend.alloc(xv!.length);
      const dscale = backend.alloc(c);
      const doffset = backend.alloc(c);
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      addon.bnTrainGrad(xv!, sv!, mv!, vv!, dyv!, optional('dmean'), optional('dvariance'), eps, dx, dscale, doffset);
      return [result(backend, [...named['x']!.shape], dx), result(backend, [c], dscale), result(backend, [c], doffset)];
    },
  };
}

/**
 * The onednn-only kernel of one SGD-momentum step with weight decay for one variable (see src/train/optimizer.ts):
 * inputs value, grad, accumulation (one shape); attrs learningRate, momentum, weightDecay; outputs [newValue,
 * newAccumulation]. The same float32 operations in the same order as the tfjs ops it replaces, so bit-identical.
 */
export const SGD_MOMENTUM_KERNEL = 'CdsSgdMomentum';

function sgdMomentum(addon: OnednnAddon): tf.KernelConfig {
  return {
    kernelName: SGD_MOMENTUM_KERNEL,
    backendName: BACKEND,
    kernelFunc: ({ inputs, attrs, backend: b }) => {
      const backend = b as PooledBackend;
      const named = inputs as Record<string, TensorInfo | undefined>;
      const [vv, gv, av] = floatInputs(backend, SGD_MOMENTUM_KERNEL, named, ['value', 'grad', 'accumulation']) as [Float32Array, Float32Array, Float32Array];
      if (gv.length !== vv.length || av.length !== vv.length) throw new Error(`${SGD_MOMENTUM_KERNEL}: value, grad and accumulation differ in size`);
      const a = attrs as { learningRate: number; momentum: number; weightDecay: number };
      const value = backend.alloc(vv.length);
      const accumulation = backend.alloc(vv.length);
      // tfjs keeps -learningRate as a float32 scalar; Math.fround gives the addon that same number.
      addon.sgdMomentum(vv, gv, av, value, accumulation, Math.fround(-a.learningRate), Math.fround(a.momentum), Math.fround(a.weightDecay));
      const shape = [...named['value']!.shape];
      return [result(backend, shape, value), result(backend, [...shape], accumulation)];
    },
  };
}

/** The onednn-only kernel behind the ReLU gradient: dy where x > 0, else 0 (one pass instead of Step + Multiply). */
export const RELU_GRAD_KERNEL = 'CdsOnednnReluGrad';
/** The onednn-only kernel behind the Square gradient: dy * 2x (one pass instead of two Multiplies). */
export const SQUARE_GRAD_KERNEL = 'CdsOnednnSquareGrad';

function gradKernel(kernelName: string, op: number, addon: OnednnAddon): tf.KernelConfig {
  return {
    kernelName,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend: b }) => {
      const backend = b as PooledBackend;
      const { dy, x } = inputs as Record<string, TensorInfo>;
      const dyv = floatValues(backend, dy);
      const xv = floatValues(backend, x);
      if (!dyv || !xv || dyv.length !== xv.length) throw new Error(`${kernelName}: expected float32 dy and x of one shape`);
      const out = backend.alloc(xv.length);
      const loop = Int32Array.from([xv.length]);
      const one = Int32Array.from([1]);
      addon.binary(op, dyv, xv, out, loop, one, one);
      return result(backend, [...x!.shape], out);
    },
  };
}

/**
 * Register `gradFunc` for `kernelName`, used while the onednn backend is active and `gradFunc` returns a result;
 * otherwise tfjs' own gradient runs unchanged (other backends see no difference).
 */
function overrideGradient(kernelName: string, gradFunc: (...args: Parameters<tf.GradFunc>) => ReturnType<tf.GradFunc> | undefined): void {
  const original = tf.getGradient(kernelName);
  if (original == null) return;
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => (tf.getBackend() === BACKEND ? gradFunc(dy, saved, attrs) : undefined) ?? original.gradFunc(dy, saved, attrs),
  });
}

let gradientRegistered = false;

/**
 * Gradients that run as single native passes while the onednn backend is active (registered once per process):
 * - FusedBatchNorm, for per-channel statistics of a float32 channels-last input (what tfjs-layers'
 *   BatchNormalization trains with): all five gradients in one kernel (two passes over x instead of about sixteen);
 * - Relu: dy where x > 0 (tfjs: Step, then Multiply); Square: dy * 2x (tfjs: two Multiplies);
 * - Mean: dy / n tiled back over the reduced axes (tfjs: ones of x's shape, Multiply, RealDiv).
 * On any other backend, and for any other shapes or dtypes, tfjs' own gradient runs unchanged.
 */
export function registerOnednnGradients(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING_KERNEL,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, scale, mean, variance] = saved as tf.Tensor[];
      const [dy, dmean, dvariance] = dys as Array<tf.Tensor | null>;
      // Computed once here (tfjs calls each closure in its own tidy): the backward scope frees the unused ones.
      const [dx, dscale, doffset] = tf.engine().runKernel(
        BATCH_NORM_TRAINING_GRAD_KERNEL,
        { x: x!, scale: scale!, mean: mean!, variance: variance!, dy: dy!, ...(dmean ? { dmean } : {}), ...(dvariance ? { dvariance } : {}) },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      return { x: () => dx!, scale: () => dscale!, offset: () => doffset! };
    },
  });
  overrideGradient('FusedBatchNorm', (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved as tf.Tensor[];
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    const fits =
      x != null && x.dtype === 'float32' && grad.dtype === 'float32' && x.shape.length >= 2 &&
      perChannel(x, mean) && perChannel(x, variance) && (scale == null || perChannel(x, scale));
    if (!fits) return undefined;
    // Computed here, not in the closures: tfjs runs each closure in its own tidy, which would free the others' outputs.
    // The backward pass's scope frees whichever gradients are not used.
    const [dx, dmean, dvariance, dscale, doffset] = tf.engine().runKernel(
      BATCH_NORM_GRAD_KERNEL,
      { x: x!, mean: mean!, variance: variance!, dy: grad, ...(scale ? { scale } : {}) },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    return { x: () => dx!, mean: () => dmean!, variance: () => dvariance!, scale: () => dscale!, offset: () => doffset! };
  });
  // ReLU: dy where x > 0 in one native pass (tfjs: Step, then Multiply).
  overrideGradient('Relu', (dy, saved) => {
    const [x] = saved as tf.Tensor[];
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    if (x == null || x.dtype !== 'float32' || grad.dtype !== 'float32' || x.size !== grad.size || x.size === 0) return undefined;
    return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: grad, x }, {}) as tf.Tensor };
  });
  // Square: dy * 2x in one native pass (tfjs: two Multiplies).
  overrideGradient('Square', (dy, saved) => {
    const [x] = saved as tf.Tensor[];
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    if (x == null || x.dtype !== 'float32' || grad.dtype !== 'float32' || x.size !== grad.size || x.size === 0) return undefined;
    return { x: () => tf.engine().runKernel(SQUARE_GRAD_KERNEL, { dy: grad, x }, {}) as tf.Tensor };
  });
  // Mean: dy / n broadcast back over the reduced axes in one native tile (tfjs: ones of x's shape, Multiply, RealDiv).
  overrideGradient('Mean', (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const grad = Array.isArray(dy) ? dy[0]! : dy;
    if (x == null || x.dtype !== 'float32' || grad.dtype !== 'float32' || x.rank === 0) return undefined;
    const axes = tf.util.parseAxisParam((attrs as { axis?: number | number[] | null }).axis ?? (null as unknown as number[]), x.shape);
    const kept = x.shape.map((n, k) => (axes.includes(k) ? 1 : n));
    const count = axes.reduce((a, k) => a * x.shape[k]!, 1);
    return { x: () => tf.tile(tf.reshape(tf.div(grad, count), kept), x.shape.map((n, k) => (axes.includes(k) ? n : 1))) };
  });
  gradientRegistered = true;
}

/** What the fast path reads of a tfjs-layers BatchNormalization layer. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: { read(): tf.Tensor } | null;
  beta?: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(v: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(v: tf.Tensor): void };
}
type LayerCall = (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

let batchNormPatched = false;

/**
 * Route tfjs-layers' BatchNormalization in training mode through BATCH_NORM_TRAINING_KERNEL while the onednn backend
 * is active (patched once per process on the layer class tfjs-layers registered). Same maths as tfjs-layers'
 * `normalizeBatchInTraining` (batch mean, biased variance, then the moving averages updated as its ops would), in one
 * native kernel forward and one backward instead of about a dozen element-wise kernels and full-size temporaries.
 * Every other case (another backend, inference, an axis other than the last, no scale or no offset, non-float32 input)
 * runs tfjs-layers' own code unchanged.
 */
export function patchBatchNormalizationTraining(): void {
  if (batchNormPatched) return;
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
  if (entry == null) return;
  const proto = (entry[0] as unknown as { prototype: { call: LayerCall } }).prototype;
  const original = proto.call;
  proto.call = function (this: BatchNormLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const fits =
      kwargs?.['training'] === true && tf.getBackend() === BACKEND && input instanceof tf.Tensor && input.dtype === 'float32' &&
      input.rank >= 2 && input.size > 0 && (this.axis === -1 || this.axis === input.rank - 1) && this.gamma != null && this.beta != null;
    if (!fits) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const [y, mean, variance] = tf.engine().runKernel(
        BATCH_NORM_TRAINING_KERNEL,
        { x: input!, scale: this.gamma!.read(), offset: this.beta!.read() },
        { varianceEpsilon: this.epsilon },
      ) as tf.Tensor[];
      // tfjs-layers' doMovingAverage, orig - (orig - value) * (1 - momentum), on the C statistics in JS with float32
      // arithmetic (Math.fround after each operation: the same bits as its three float32 kernels) and off the gradient
      // tape, as moving statistics are: six kernel calls fewer per layer and step.
      const decay = Math.fround(1 - this.momentum);
      const movingAverage = (variable: BatchNormLayer['movingMean'], value: tf.Tensor): void => {
        const orig = variable.read();
        const o = orig.dataSync() as Float32Array;
        const v = value.dataSync() as Float32Array;
        const next = new Float32Array(o.length);
        for (let k = 0; k < o.length; k++) next[k] = Math.fround(o[k]! - Math.fround(Math.fround(o[k]! - v[k]!) * decay));
        variable.write(tf.tensor(next, orig.shape, 'float32'));
      };
      movingAverage(this.movingMean, mean!);
      movingAverage(this.movingVariance, variance!);
      return y!;
    });
  };
  batchNormPatched = true;
}

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolDims(xShape: number[], a: PoolAttrs): Int32Array | undefined {
  const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const dims = [
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
  ];
  if (sizeOf(dims.slice(0, 6)) === 0) return undefined;
  return Int32Array.from(dims);
}

function pool(kernelName: 'MaxPool' | 'AvgPool', addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)['x'];
    const xv = floatValues(backend, x);
    if (!xv || !x || x.shape.length !== 4) return undefined;
    const dims = poolDims(x.shape, attrs as unknown as PoolAttrs);
    if (!dims) return undefined;
    const outShape = [dims[0]!, dims[4]!, dims[5]!, dims[3]!];
    const out = backend.alloc(sizeOf(outShape));
    addon.pool(kernelName === 'MaxPool' ? 0 : 1, xv, out, dims);
    return result(backend, outShape, out);
  });
}

function poolGrad(kernelName: 'MaxPoolGrad' | 'AvgPoolGrad', addon: OnednnAddon): tf.KernelConfig {
  return withFallback(kernelName, ({ inputs, attrs }, backend) => {
    const { dy, input } = inputs as Record<string, TensorInfo | undefined>;
    const dyv = floatValues(backend, dy);
    const xv = floatValues(backend, input);
    if (!dyv || !xv || !input || input.shape.length !== 4) return undefined;
    const dims = poolDims(input.shape, attrs as unknown as PoolAttrs);
    if (!dims) return undefined;
    const dx = backend.alloc(xv.length);
    addon.poolGrad(kernelName === 'MaxPoolGrad' ? 0 : 1, dyv, kernelName === 'MaxPoolGrad' ? xv : null, dx, dims);
    return result(backend, [...input.shape], dx);
  });
}

/** Every native kernel config for the 'onednn' backend. Needs the cpu backend's kernels registered (fallbacks). */
export function onednnKernelConfigs(addon: OnednnAddon): tf.KernelConfig[] {
  return [
    convForward('Conv2D', false, false, addon),
    convForward('FusedConv2D', false, true, addon),
    convForward('DepthwiseConv2dNative', true, false, addon),
    convForward('FusedDepthwiseConv2D', true, true, addon),
    convBackpropInput('Conv2DBackpropInput', false, addon),
    convBackpropInput('DepthwiseConv2dNativeBackpropInput', true, addon),
    convBackpropFilter('Conv2DBackpropFilter', false, addon),
    convBackpropFilter('DepthwiseConv2dNativeBackpropFilter', true, addon),
    matMul('BatchMatMul', addon),
    matMul('_FusedMatMul', addon),
    ...Object.keys(BINARY).map((k) => binary(k, addon)),
    addN(addon),
    ...Object.keys(UNARY).map((k) => unary(k, addon)),
    ...Object.keys(REDUCE).map((k) => reduction(k, addon)),
    tile(addon),
    slice(addon),
    padV2(addon),
    gatherNd(addon),
    batchNorm(addon),
    batchNormGrad(addon),
    batchNormTraining(addon),
    batchNormTrainingGrad(addon),
    sgdMomentum(addon),
    gradKernel(RELU_GRAD_KERNEL, 7, addon),
    gradKernel(SQUARE_GRAD_KERNEL, 8, addon),
    pool('MaxPool', addon),
    pool('AvgPool', addon),
    poolGrad('MaxPoolGrad', addon),
    poolGrad('AvgPoolGrad', addon),
  ];
}
