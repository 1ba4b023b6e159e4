/**
 * The few layers the zoo needs that tfjs-layers lacks: grouped convolution, channel slicing and channel shuffle.
 * Each is registered with tfjs serialization at import time, so a saved zoo model loads back with
 * `tf.loadLayersModel` once this module has been imported.
 */
import { tf } from '../runtime/tf.js';
import { kaimingNormalFanOut } from './init.js';

type Shape = (number | null)[];
type Kwargs = Record<string, unknown>;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) throw new Error(`expected one input tensor, got ${inputs.length}`);
    return inputs[0]!;
  }
  return inputs;
}

function singleShape(inputShape: Shape | Shape[]): Shape {
  if (inputShape.length > 0 && Array.isArray(inputShape[0])) {
    const shapes = inputShape as Shape[];
    if (shapes.length !== 1) throw new Error(`expected one input shape, got ${shapes.length}`);
    return shapes[0]!;
  }
  return inputShape as Shape;
}

function convOutSize(size: number | null, kernel: number, stride: number, padding: 'same' | 'valid'): number | null {
  if (size == null) return null;
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernel) / stride) + 1;
}

export interface GroupedConv2DArgs {
  readonly name?: string;
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides?: number;
  readonly padding?: 'same' | 'valid';
  readonly groups: number;
  /** Seed of the He-normal (fan-out) kernel init. */
  readonly seed?: number;
}

/**
 * Conv2D with `groups` (PyTorch `nn.Conv2d(groups=g)`, bias-free): the input channels are split into g groups, each
 * convolved with its own filters/g filters, the results concatenated. Kernel shape [k, k, Cin/g, filters], so the
 * parameter count equals PyTorch's.
 */
export class GroupedConv2D extends tf.layers.Layer {
  static className = 'CdsGroupedConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';
  readonly groups: number;
  readonly seed: number | undefined;
  private kernel: tf.LayerVariable | null = null;

  constructor(args: GroupedConv2DArgs) {
    super(args.name == null ? {} : { name: args.name });
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'valid';
    this.groups = args.groups;
    this.seed = args.seed;
    if (!(this.groups >= 1) || this.filters % this.groups !== 0) {
      throw new Error(`GroupedConv2D: filters ${this.filters} not divisible by groups ${this.groups}`);
    }
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const cin = shape[shape.length - 1];
    if (cin == null || cin % this.groups !== 0) {
      throw new Error(`GroupedConv2D: input channels ${cin} not divisible by groups ${this.groups}`);
    }
    const init = kaimingNormalFanOut(this.kernelSize * this.kernelSize * this.filters, this.seed ?? undefined);
    this.kernel = this.addWeight(
      'kernel',
      [this.kernelSize, this.kernelSize, cin / this.groups, this.filters],
      'float32',
      init,
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape);
    return [
      s[0] ?? null,
      convOutSize(s[1] ?? null, this.kernelSize, this.strides, this.padding),
      convOutSize(s[2] ?? null, this.kernelSize, this.strides, this.padding),
      this.filters,
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const kernel = this.kernel!.read() as tf.Tensor4D;
      if (this.groups === 1) return tf.conv2d(x, kernel, this.strides, this.padding);
      const xs = tf.split(x, this.groups, 3) as tf.Tensor4D[];
      const ks = tf.split(kernel, this.groups, 3) as tf.Tensor4D[];
      const outs = xs.map((xi, i) => tf.conv2d(xi, ks[i]!, this.strides, this.padding));
      return tf.concat(outs, 3);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      groups: this.groups,
    };
    if (this.seed != null) config['seed'] = this.seed;
    return { ...super.getConfig(), ...config };
  }
}

export interface ChannelSliceArgs {
  readonly name?: string;
  /** First channel taken. */
  readonly start: number;
  /** Number of channels taken. */
  readonly size: number;
}

/** Channels [start, start + size) of an NHWC tensor (PyTorch `x[:, start:start+size]`). */
export class ChannelSlice extends tf.layers.Layer {
  static className = 'CdsChannelSlice';
  readonly start: number;
  readonly size: number;

  constructor(args: ChannelSliceArgs) {
    super(args.name == null ? {} : { name: args.name });
    this.start = args.start;
    this.size = args.size;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape);
    const c = s[s.length - 1];
    if (c != null && this.start + this.size > c) {
      throw new Error(`ChannelSlice: channels [${this.start}, ${this.start + this.size}) out of range for ${c} channels`);
    }
    return [...s.slice(0, -1), this.size];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const begin = x.shape.map(() => 0);
      const size = x.shape.map(() => -1);
      begin[begin.length - 1] = this.start;
      size[size.length - 1] = this.size;
      return tf.slice(x, begin, size);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), start: this.start, size: this.size };
  }
}

export interface ChannelShuffleArgs {
  readonly name?: string;
  readonly groups: number;
}

/**
 * ShuffleNet channel shuffle on NHWC: channels viewed as [groups, C/groups], transposed, flattened back
 * (the NHWC equivalent of PyTorch's view(N, g, C/g, H, W).permute(0, 2, 1, 3, 4)). Uses a rank-4 transpose.
 */
export class ChannelShuffle extends tf.layers.Layer {
  static className = 'CdsChannelShuffle';
  readonly groups: number;

  constructor(args: ChannelShuffleArgs) {
    super(args.name == null ? {} : { name: args.name });
    this.groups = args.groups;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape);
    const c = s[s.length - 1];
    if (c != null && c % this.groups !== 0) {
      throw new Error(`ChannelShuffle: ${c} channels not divisible by groups ${this.groups}`);
    }
    return [...s];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, h, w, c] = x.shape as [number, number, number, number];
      const g = this.groups;
      if (g === 1) return x.clone();
      return tf.transpose(x.reshape([n, h * w, g, c / g]), [0, 1, 3, 2]).reshape([n, h, w, c]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups };
  }
}

/** Class names of the zoo's own layers (registered with tfjs serialization when this module loads). */
export const ZOO_LAYER_CLASSES: readonly string[] = [
  GroupedConv2D.className,
  ChannelSlice.className,
  ChannelShuffle.className,
];

tf.serialization.registerClass(GroupedConv2D);
tf.serialization.registerClass(ChannelSlice);
tf.serialization.registerClass(ChannelShuffle);
