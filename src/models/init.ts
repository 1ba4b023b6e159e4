/**
 * The one convolution initializer of the zoo and the projection heads: He (Kaiming) normal in fan-out mode,
 * N(0, sqrt(2 / fanOut)), as PyTorch's `kaiming_normal_(w, mode='fan_out', nonlinearity='relu')` that RepDistiller's
 * and the CDS reference code's ResNets use.
 *
 * Not tfjs's `varianceScaling({ distribution: 'normal' })`: that draws a truncated normal (cut at 2 sigma, no
 * correction), whose standard deviation is 0.88 x the stated one, so every network started 12% smaller than its
 * PyTorch twin.
 */
import { tf } from '../runtime/tf.js';

/**
 * @param fanOut tfjs's fan-out of the kernel: kernel height x width x output channels for a conv ([kh, kw, in, out]),
 *   kernel height x width x depth multiplier for a depthwise kernel ([kh, kw, in, multiplier]). Positive.
 * @param seed the initializer's seed (deterministic weights); omitted: unseeded.
 * @throws Error when fanOut is not a positive number.
 */
export function kaimingNormalFanOut(fanOut: number, seed?: number): ReturnType<typeof tf.initializers.randomNormal> {
  if (!(fanOut > 0)) throw new Error(`kaimingNormalFanOut: fanOut must be positive, got ${fanOut}`);
  return tf.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fanOut), ...(seed === undefined ? {} : { seed }) });
}
