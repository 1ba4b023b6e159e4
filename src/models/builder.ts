/**
 * Layer helpers shared by the zoo's architectures: each call creates one named tfjs layer with its own seeded
 * initializer, applies it, and returns the symbolic output. Conventions (PyTorch parity):
 * - convs are bias-free unless asked; 3x3 stride-1 convs use 'same' (= PyTorch padding 1); strided k>1 convs and pools
 *   get an explicit symmetric ZeroPadding2D + 'valid', because tfjs 'same' pads only bottom/right on even inputs
 *   while PyTorch pads both sides (the sampled windows would differ from RepDistiller's);
 * - BatchNorm: momentum 0.9 (PyTorch 0.1), epsilon 1e-5, gamma 1, beta 0;
 * - conv init: He normal, fan-out (RepDistiller's kaiming_normal_(mode='fan_out') = normal(0, sqrt(2/(k*k*out))), ./init.ts);
 * - dense init: uniform(+-1/sqrt(fan_in)) weights (PyTorch's nn.Linear default), zero bias.
 */
import { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import { kaimingNormalFanOut } from './init.js';
import { ChannelShuffle, ChannelSlice, GroupedConv2D } from './layers.js';

export type ST = tf.SymbolicTensor;

export interface ConvSpec {
  readonly filters: number;
  readonly kernel: number;
  readonly stride?: number;
  /** Default false (the benchmark nets' convs are bias-free except VGG's). */
  readonly bias?: boolean;
  /** Default 1. */
  readonly groups?: number;
}

function apply(layer: tf.layers.Layer, x: ST | ST[]): ST {
  return layer.apply(x) as ST;
}

export class NetBuilder {
  constructor(private readonly rng: Random) {}

  /** He normal, fan-out (see ./init.ts); fanOut = kernel height x width x output channels (x depth multiplier). */
  private convInit(fanOut: number): ReturnType<typeof kaimingNormalFanOut> {
    return kaimingNormalFanOut(fanOut, this.rng.opSeed());
  }

  /** Symmetric zero padding when a strided k>1 window needs PyTorch's padding; returns the input and the tfjs padding mode. */
  private padFor(x: ST, name: string, kernel: number, stride: number): [ST, 'same' | 'valid'] {
    if (kernel === 1) return [x, 'valid'];
    if (stride === 1) return [x, 'same'];
    const p = (kernel - 1) / 2;
    return [apply(tf.layers.zeroPadding2d({ padding: p, name: `${name}_pad` }), x), 'valid'];
  }

  conv(x: ST, name: string, spec: ConvSpec): ST {
    const stride = spec.stride ?? 1;
    const groups = spec.groups ?? 1;
    const [input, padding] = this.padFor(x, name, spec.kernel, stride);
    if (groups > 1) {
      if (spec.bias) throw new Error('grouped convolution with bias is not supported');
      return apply(
        new GroupedConv2D({ name, filters: spec.filters, kernelSize: spec.kernel, strides: stride, padding, groups, seed: this.rng.opSeed() }),
        input,
      );
    }
    const useBias = spec.bias ?? false;
    return apply(
      tf.layers.conv2d({
        name,
        filters: spec.filters,
        kernelSize: spec.kernel,
        strides: stride,
        padding,
        useBias,
        kernelInitializer: this.convInit(spec.kernel * spec.kernel * spec.filters),
        ...(useBias ? { biasInitializer: 'zeros' as const } : {}),
      }),
      input,
    );
  }

  /** Depthwise conv (PyTorch groups = channels, one filter per channel), bias-free. */
  depthwise(x: ST, name: string, kernel: number, stride = 1): ST {
    const [input, padding] = this.padFor(x, name, kernel, stride);
    return apply(
      tf.layers.depthwiseConv2d({
        name,
        kernelSize: kernel,
        strides: stride,
        padding,
        depthMultiplier: 1,
        useBias: false,
        depthwiseInitializer: this.convInit(kernel * kernel),
      }),
      input,
    );
  }

  bn(x: ST, name: string): ST {
    return apply(tf.layers.batchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-5 }), x);
  }

  relu(x: ST, name: string): ST {
    return apply(tf.layers.activation({ name, activation: 'relu' }), x);
  }

  add(xs: ST[], name: string): ST {
    return apply(tf.layers.add({ name }), xs);
  }

  concat(xs: ST[], name: string): ST {
    return apply(tf.layers.concatenate({ name, axis: -1 }), xs);
  }

  maxPool(x: ST, name: string, size: number): ST {
    return apply(tf.layers.maxPooling2d({ name, poolSize: size, strides: size, padding: 'valid' }), x);
  }

  /** PyTorch AvgPool2d(kernel, stride, padding=(kernel-1)/2) with count_include_pad=True (zeros count in the mean). */
  avgPoolPadded(x: ST, name: string, kernel: number, stride: number): ST {
    const p = (kernel - 1) / 2;
    const padded = p > 0 ? apply(tf.layers.zeroPadding2d({ padding: p, name: `${name}_pad` }), x) : x;
    return apply(tf.layers.averagePooling2d({ name, poolSize: kernel, strides: stride, padding: 'valid' }), padded);
  }

  globalPool(x: ST, name: string): ST {
    return apply(tf.layers.globalAveragePooling2d({ name }), x);
  }

  dense(x: ST, name: string, units: number): ST {
    return apply(
      tf.layers.dense({
        name,
        units,
        kernelInitializer: tf.initializers.varianceScaling({
          scale: 1 / 3,
          mode: 'fanIn',
          distribution: 'uniform',
          seed: this.rng.opSeed(),
        }),
        biasInitializer: 'zeros',
      }),
      x,
    );
  }

  channelSlice(x: ST, name: string, start: number, size: number): ST {
    return apply(new ChannelSlice({ name, start, size }), x);
  }

  shuffle(x: ST, name: string, groups: number): ST {
    return apply(new ChannelShuffle({ name, groups }), x);
  }

  /** conv -> BN -> (ReLU): the names are `${prefix}conv${suffix}`, `${prefix}bn${suffix}`, `${prefix}relu${suffix}`. */
  convBn(x: ST, prefix: string, suffix: string, spec: ConvSpec, relu: boolean): ST {
    let y = this.conv(x, `${prefix}conv${suffix}`, spec);
    y = this.bn(y, `${prefix}bn${suffix}`);
    return relu ? this.relu(y, `${prefix}relu${suffix}`) : y;
  }
}

/** What an architecture function returns: the feature taps (stem first), the pooled feature and the logits. */
export interface NetOutputs {
  readonly features: ST[];
  readonly pooled: ST;
  readonly logits: ST;
}

export interface ArchContext {
  readonly b: NetBuilder;
  readonly input: ST;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
}
