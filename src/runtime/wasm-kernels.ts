/**
 * Training kernels for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter or
 * DepthwiseConv2dNativeBackpropInput, so no convolution can train on it. We register them for 'wasm' only, composed
 * from kernels wasm runs fast (XNNPACK matMul and convolutions). Registering kernels rather than gradients covers every
 * caller: tfjs-layers' Conv2D goes through the fused conv op, whose gradient calls the kernels directly.
 *
 * wasm's own Conv2DBackpropInput is replaced as well: a forward conv over the zero-inserted output gradient computes
 * the same sums several times faster. Each kernel is checked against the cpu backend in test/runtime.
 *
 * The forward convolutions (Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D) are wrapped too, and
 * get their padding explicitly ([[0, 0], [top, bottom], [left, right], [0, 0]]), which XNNPACK computes right:
 * - 'same': wasm 4.22 hands it to XNNPACK as its TensorFlow-SAME flag, which is wrong whenever the filter is not 1x1
 *   and, on some axis, (ceil(in / stride) - 1) * stride + (k - 1) * dilation + 1 < in (the stride skips past the
 *   filter's reach, so TF pads 0 there): e.g. a 1x3 filter, stride 2 on 8x8 gives all zeros. We pass the padding tfjs
 *   itself computes for 'same' (what the cpu backend applies).
 * - a number p: tfjs-core sizes the output with the filter height and stride height on both axes, so with a
 *   non-square filter or unequal strides the output buffer is too small; wasm then writes past it and corrupts its
 *   heap ("memory access out of bounds" from then on). We pass p on every side, which sizes the output correctly.
 * test/runtime/wasm-conv-forward.test.ts sweeps filter shapes, strides, paddings, dilations and inputs against cpu.
 */
import { tf } from './tf.js';
import type { Tensor4D } from './tf.js';

type TensorInfo = tf.TensorInfo;
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = [number, number];

interface PadInfo {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  pad: PadInfo;
}

function asPair(v: number | number[] | undefined, fallback: number): Pair {
  if (v == null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0] ?? fallback, v[1] ?? v[0] ?? fallback];
}

function geometry(
  xShape: number[],
  filterShape: number[],
  strides: number | number[],
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as Pair,
    1,
    // A number p means p on every side; tfjs-core would size the output from the filter height and stride height
    // alone (wrong for non-square filters or unequal strides), so it is passed as the explicit padding it stands for.
    typeof pad === 'number' && pad > 0 ? [[0, 0], [pad, pad], [pad, pad], [0, 0]] : pad,
    dimRoundingMode,
    depthwise,
  );
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    outH: info.outHeight,
    outW: info.outWidth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    pad: { top: info.padInfo.top, bottom: info.padInfo.bottom, left: info.padInfo.left, right: info.padInfo.right },
  };
}

/** Pad (positive) or crop (negative) the spatial borders of an NHWC tensor. */
function padOrCrop(x: Tensor4D, top: number, bottom: number, left: number, right: number): Tensor4D {
  let out = x;
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    out = tf.pad(out, [
      [0, 0],
      [Math.max(top, 0), Math.max(bottom, 0)],
      [Math.max(left, 0), Math.max(right, 0)],
      [0, 0],
    ]);
  }
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = out.shape;
    const t = Math.max(-top, 0);
    const l = Math.max(-left, 0);
    out = tf.slice(out, [0, t, l, 0], [n, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c]);
  }
  return out;
}

/** Insert (s - 1) zeros between neighbouring pixels: [N, H, W, C] -> [N, (H-1)sH+1, (W-1)sW+1, C]. */
function insertZeros(x: Tensor4D, sH: number, sW: number): Tensor4D {
  const [n, h, w, c] = x.shape;
  let out = x;
  if (sH > 1) {
    const rows = tf.pad(tf.reshape(out, [n, h, 1, w * c]), [
      [0, 0],
      [0, 0],
      [0, sH - 1],
      [0, 0],
    ]);
    out = tf.slice(tf.reshape(rows, [n, h * sH, w, c]) as Tensor4D, [0, 0, 0, 0], [n, (h - 1) * sH + 1, w, c]);
  }
  if (sW > 1) {
    const hh = out.shape[1];
    const cols = tf.pad(tf.reshape(out, [n * hh, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sW - 1],
      [0, 0],
    ]);
    out = tf.slice(tf.reshape(cols, [n, hh, w * sW, c]) as Tensor4D, [0, 0, 0, 0], [n, hh, (w - 1) * sW + 1, c]);
  }
  return out;
}

/**
 * The output gradient laid out so that a stride-1 'valid' correlation with the spatially reversed filter gives the
 * input gradient: zeros inserted for the stride, padded by (k - 1 - pad) before and whatever reaches the input size after.
 */
function fullCorrelationInput(dy: Tensor4D, g: ConvGeometry): Tensor4D {
  const up = insertZeros(dy, g.strideH, g.strideW);
  const top = g.kH - 1 - g.pad.top;
  const left = g.kW - 1 - g.pad.left;
  const bottom = g.inH + g.kH - 1 - top - up.shape[1];
  const right = g.inW + g.kW - 1 - left - up.shape[2];
  return padOrCrop(up, top, bottom, left, right);
}

/**
 * A Tensor view of a kernel input. makeTensorFromTensorInfo does not take a backend reference, yet disposing the view
 * releases one; take it explicitly, or the tidy around the kernel would free the caller's data.
 */
function wrap(info: TensorInfo): tf.Tensor {
  const engine = tf.engine();
  const view = engine.makeTensorFromTensorInfo(info);
  engine.backend.incRef(info.dataId);
  return view;
}

/**
 * The padded input cut to exactly (k - 1) + (out - 1) * stride + 1 rows and columns: correlated with dy dilated by the
 * stride, it yields k outputs per axis (the filter gradient's spatial size).
 */
function filterWindowSource(x: Tensor4D, g: ConvGeometry, kH: number, kW: number): Tensor4D {
  return padOrCrop(
    x,
    g.pad.top,
    kH + (g.outH - 1) * g.strideH - g.inH - g.pad.top,
    g.pad.left,
    kW + (g.outW - 1) * g.strideW - g.inW - g.pad.left,
  );
}

/**
 * dW as one forward convolution: the input with batch and channels swapped ([Cin, H, W, N]) correlated with dy as the
 * filter ([OH, OW, N, Cout], dilated by the stride) gives [Cin, KH, KW, Cout]. Measured on wasm this is 2-5x faster
 * than im2col + matMul, whose window slices and concat dominated a training step.
 */
export function conv2dFilterGradient(
  x: Tensor4D,
  dy: Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, false);
    const [kH, kW] = filterShape;
    const src = filterWindowSource(x, g, kH, kW);
    const channelsAsBatch = tf.transpose(src, [3, 1, 2, 0]);
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]);
    const dw = tf.conv2d(channelsAsBatch, dyAsFilter, 1, 'valid', 'NHWC', [g.strideH, g.strideW]);
    return tf.transpose(dw, [1, 2, 0, 3]);
  });
}

/** dx as a forward conv of the zero-inserted, padded dy with the reversed filter (in/out channels swapped). */
export function conv2dInputGradient(
  dy: Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): Tensor4D {
  return tf.tidy(() => {
    const g = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, false);
    const src = fullCorrelationInput(dy, g);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(src, flipped, 1, 'valid');
  });
}

/**
 * Depthwise filter gradient: one depthwise convolution with the batch folded into the channels and dy as the filter,
 * dilated by the stride, then a sum over the batch.
 */
export function depthwiseFilterGradient(
  x: Tensor4D,
  dy: Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  return tf.tidy(() => {
    const g = geometry(x.shape, filterShape, strides, pad, dimRoundingMode, true);
    const [kH, kW, c, mult] = filterShape;
    const n = g.batch;
    const src = filterWindowSource(x, g, kH, kW);
    const [, hp, wp] = src.shape;
    const folded = tf.reshape(tf.transpose(src, [1, 2, 0, 3]), [1, hp, wp, n * c]);
    const dyFilter = tf.reshape(
      tf.transpose(tf.reshape(dy, [n, g.outH * g.outW, c * mult]), [1, 0, 2]),
      [g.outH, g.outW, n * c, mult],
    );
    const perImage = tf.depthwiseConv2d(folded as Tensor4D, dyFilter as tf.Tensor4D, 1, 'valid', 'NHWC', [g.strideH, g.strideW]);
    return tf.reshape(tf.sum(tf.reshape(perImage, [kH, kW, n, c * mult]), 2), filterShape);
  });
}

/** Depthwise input gradient: depthwise conv of the zero-inserted, padded dy with the reversed filter. */
export function depthwiseInputGradient(
  dy: Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): Tensor4D {
  return tf.tidy(() => {
    const g = geometry(inputShape, filter.shape, strides, pad, dimRoundingMode, true);
    const [kH, kW, c, mult] = filter.shape;
    const src = fullCorrelationInput(dy, g);
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kH, kW, c * mult, 1]) as tf.Tensor4D;
    const perOutput = tf.depthwiseConv2d(src, flipped, 1, 'valid');
    if (mult === 1) return perOutput;
    const [n, h, w] = perOutput.shape;
    return tf.reshape(tf.sum(tf.reshape(perOutput, [n * h * w * c, mult]), 1), [n, h, w, c]);
  });
}

interface ConvAttrs {
  strides: number | number[];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | number[];
  dataFormat?: 'NHWC' | 'NCHW';
  filterShape?: number[];
  inputShape?: number[];
}

function checkSupported(kernel: string, attrs: ConvAttrs): void {
  const [dh, dw] = asPair(attrs.dilations, 1);
  if (dh !== 1 || dw !== 1) throw new Error(`${kernel} on wasm: dilations other than 1 are not supported`);
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel} on wasm: only NHWC is supported`);
}

function kernel(
  kernelName: string,
  compute: (a: Tensor4D, b: Tensor4D, attrs: ConvAttrs) => tf.Tensor,
  inputNames: [string, string],
): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const a = inputs[inputNames[0]];
      const b = inputs[inputNames[1]];
      if (a == null || b == null) throw new Error(`${kernelName}: missing inputs ${inputNames.join(', ')}`);
      const convAttrs = attrs as unknown as ConvAttrs;
      checkSupported(kernelName, convAttrs);
      // Inside a kernel nothing is taped, so the composed ops leave no gradient trace; the result is a plain tensor
      // whose data the engine adopts.
      return tf.tidy(() => compute(wrap(a) as Tensor4D, wrap(b) as Tensor4D, convAttrs));
    },
  };
}

const trainingKernels: tf.KernelConfig[] = [
  kernel(
    'Conv2DBackpropFilter',
    (x, dy, a) => conv2dFilterGradient(x, dy, a.filterShape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode),
    ['x', 'dy'],
  ),
  kernel(
    'Conv2DBackpropInput',
    (dy, filter, a) =>
      conv2dInputGradient(dy, filter, a.inputShape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode),
    ['dy', 'filter'],
  ),
  kernel(
    'DepthwiseConv2dNativeBackpropFilter',
    (x, dy, a) => depthwiseFilterGradient(x, dy, a.filterShape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode),
    ['x', 'dy'],
  ),
  kernel(
    'DepthwiseConv2dNativeBackpropInput',
    (dy, filter, a) =>
      depthwiseInputGradient(dy, filter, a.inputShape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode),
    ['dy', 'filter'],
  ),
];

/** Swap the last two axes. */
function transposeLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(t, perm);
}

/**
 * wasm's BatchMatMul with a transposed operand is 5-50x slower than an explicit transpose followed by a plain
 * product (measured: [2048,512]^T x [512,512] 1654 ms vs 32 ms). Every dense layer's gradient multiplies by a
 * transpose, so wrap the kernel: transpose explicitly, then run wasm's own plain product.
 */
function explicitTransposeMatMul(original: tf.KernelConfig): tf.KernelConfig {
  return {
    // Keep wasm's setupFunc: it binds the compiled function when the backend starts.
    ...original,
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return original.kernelFunc(args);
      const { a, b } = args.inputs;
      if (a == null || b == null) throw new Error('BatchMatMul: missing inputs a, b');
      return tf.tidy(() => {
        const left = transposeA ? transposeLastTwo(wrap(a)) : wrap(a);
        const right = transposeB ? transposeLastTwo(wrap(b)) : wrap(b);
        return tf.matMul(left, right);
      });
    },
  };
}

/**
 * UnsortedSegmentSum (the gradient of gather) as one matMul with a one-hot matrix: out[s] = sum of rows whose id is s.
 * Ids outside [0, numSegments) select nothing, as the op specifies.
 */
const unsortedSegmentSum: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const { x, segmentIds } = inputs;
    if (x == null || segmentIds == null) throw new Error('UnsortedSegmentSum: missing inputs x, segmentIds');
    const { numSegments } = attrs as unknown as { numSegments: number };
    return tf.tidy(() => {
      const data = wrap(x);
      const ids = tf.cast(wrap(segmentIds), 'int32');
      const rows = data.shape[0]!;
      const rest = data.shape.slice(1);
      const flat = tf.reshape(data, [rows, -1]);
      const selector = tf.transpose(tf.cast(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, numSegments), 'float32'));
      const summed = tf.matMul(selector, tf.cast(flat, 'float32'));
      return tf.cast(tf.reshape(summed, [numSegments, ...rest]), data.dtype);
    });
  },
};

/**
 * wasm's Identity (and Cast to the same dtype) copy the data. The engine clones every tensor a gradient needs
 * (`saveTensorsForBackwardMode` -> Identity), so on wasm each saved activation existed twice: a resnet18 forward pass
 * held 37 MB per image instead of ~14. Tensors are immutable, so sharing the data with a reference count, as the cpu
 * backend does, is equivalent.
 */
function sharedIdentity(original: tf.KernelConfig, kernelName: 'Identity' | 'Cast'): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x;
      if (x == null) throw new Error(`${kernelName}: missing input x`);
      const dtype = kernelName === 'Cast' ? (args.attrs as unknown as { dtype: tf.DataType }).dtype : x.dtype;
      if (x.dtype === 'string' || dtype !== x.dtype) return original.kernelFunc(args);
      (args.backend as tf.KernelBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}

/**
 * tfjs-core's FusedBatchNorm gradient tiles 1/sqrt(var) to the input's full shape; `tile` is slow on wasm. The same
 * gradient with broadcasting is mathematically identical on every backend and halves a training step on wasm.
 */
const broadcastingBatchNormGradient: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const dyT = dy as tf.Tensor;
    const scaleValue = scale ?? tf.scalar(1);
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor): tf.Tensor =>
      tf.reshape(reductionAxes.length > 0 ? tf.sum(t, reductionAxes) : t, mean.shape);
    const rsqrtVar = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(dyT, scaleValue);
    return {
      x: () => tf.mul(dyT, tf.mul(rsqrtVar, scaleValue)),
      mean: () => reduce(tf.mul(tf.neg(rsqrtVar), dyTimesScale)),
      variance: () => reduce(tf.mul(tf.mul(tf.mul(tf.pow(rsqrtVar, 3), -0.5), xMinusMean), dyTimesScale)),
      scale: () => reduce(tf.mul(dyT, tf.mul(xMinusMean, rsqrtVar))),
      offset: () => reduce(dyT),
    };
  },
};

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

/**
 * The explicit padding tfjs computes for a 'same' convolution (NHWC): what the cpu backend applies, and what wasm
 * should have applied.
 */
export function samePadding(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | number[],
  dilations: number | number[] | undefined,
  depthwise: boolean,
): ExplicitPad {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as Pair,
    (dilations ?? 1) as Pair,
    'same',
    undefined,
    depthwise,
  );
  const p = info.padInfo;
  return [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

/** wasm's forward conv kernel, with 'same' and numeric padding passed as explicit padding (see the top comment). */
function explicitPadding(original: tf.KernelConfig, depthwise: boolean): tf.KernelConfig {
  return {
    // Keep wasm's setupFunc: it binds the compiled function when the backend starts.
    ...original,
    kernelFunc: (args) => {
      const attrs = args.attrs as unknown as { pad: Pad; strides: number | number[]; dilations?: number | number[]; dataFormat?: string };
      const { x, filter } = args.inputs;
      if (x == null || filter == null || attrs.dataFormat === 'NCHW') return original.kernelFunc(args);
      let pad: ExplicitPad;
      if (attrs.pad === 'same') pad = samePadding(x.shape, filter.shape, attrs.strides, attrs.dilations, depthwise);
      else if (typeof attrs.pad === 'number' && attrs.pad > 0) pad = [[0, 0], [attrs.pad, attrs.pad], [attrs.pad, attrs.pad], [0, 0]];
      else return original.kernelFunc(args);
      return original.kernelFunc({ ...args, attrs: { ...args.attrs, pad } as unknown as tf.NamedAttrMap });
    },
  };
}

/** The forward convolution kernels whose padding is passed explicitly on wasm, and whether each is depthwise. */
const FORWARD_CONVOLUTIONS: readonly [string, boolean][] = [
  ['Conv2D', false],
  ['FusedConv2D', false],
  ['DepthwiseConv2dNative', true],
  ['FusedDepthwiseConv2D', true],
];

let registered = false;

/**
 * Register the training kernels for 'wasm' (once; kernels another package already supplies are left alone), and wrap
 * wasm's forward convolutions so 'same' and numeric padding are computed right.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of trainingKernels) {
    if (config.kernelName === 'Conv2DBackpropInput') {
      // Replace wasm's own (slow) kernel with the forward-conv formulation.
      if (tf.getKernel(config.kernelName, 'wasm') != null) tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    } else if (tf.getKernel(config.kernelName, 'wasm') == null) {
      tf.registerKernel(config);
    }
  }
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') == null) tf.registerKernel(unsortedSegmentSum);
  for (const name of ['Identity', 'Cast'] as const) {
    const original = tf.getKernel(name, 'wasm');
    if (original != null) {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(sharedIdentity(original, name));
    }
  }
  for (const [name, depthwise] of FORWARD_CONVOLUTIONS) {
    const original = tf.getKernel(name, 'wasm');
    if (original != null) {
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(explicitPadding(original, depthwise));
    }
  }
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  if (matMul != null) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(explicitTransposeMatMul(matMul));
  }
  tf.registerGradient(broadcastingBatchNormGradient);
}
