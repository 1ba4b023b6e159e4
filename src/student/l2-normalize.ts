import { tf } from '../runtime/tf.js';

type Shape = (number | null)[];

export interface L2NormalizeArgs {
  readonly name?: string;
  /** Norms below this are replaced by it (x / max(||x||, epsilon)); default 1e-12. */
  readonly epsilon?: number;
}

/**
 * Row-wise L2 normalisation of a [B, D] tensor: x / max(||x||_2, epsilon) (PyTorch `F.normalize(x, dim=1)`).
 * Computed as x * rsqrt(max(sum x^2, epsilon^2)), whose gradient stays finite at x = 0 (sqrt's would be NaN).
 * Registered with tfjs serialization as 'CdsL2Normalize' when this module is imported.
 */
export class L2Normalize extends tf.layers.Layer {
  static className = 'CdsL2Normalize';
  readonly epsilon: number;

  constructor(args: L2NormalizeArgs = {}) {
    super(args.name == null ? {} : { name: args.name });
    this.epsilon = args.epsilon ?? 1e-12;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const sumSq = tf.sum(tf.square(x), -1, true);
      return tf.mul(x, tf.rsqrt(tf.maximum(sumSq, this.epsilon * this.epsilon)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(L2Normalize);
