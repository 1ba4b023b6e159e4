/**
 * The training loop's optimizer: SGD with momentum and weight decay added to the gradient, as tfjs'
 * MomentumOptimizer after `g + weightDecay * value`. Where the backend registers SGD_MOMENTUM_KERNEL (onednn) each
 * variable's update is one native kernel (one pass over value, gradient and momentum buffer instead of six element-wise
 * kernels and their temporaries); everywhere else it is exactly those tfjs ops. Both give bit-identical results: the
 * kernel runs the same float32 operations in the same order.
 */
import { tf } from '../runtime/tf.js';
import { SGD_MOMENTUM_KERNEL } from '../runtime/onednn-kernels.js';

/** MomentumOptimizer's private state (tfjs 4.22), read and written as its own applyGradients does. */
interface MomentumState {
  m: tf.Scalar;
  momentum: number;
  accumulations: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

/**
 * SGD with momentum (tfjs' MomentumOptimizer, not Nesterov) and L2 weight decay folded into the gradient:
 *   g' = g + weightDecay * value; accumulation = momentum * accumulation + g'; value = value - lr * accumulation.
 * Same class name, slots and weights as MomentumOptimizer ('Momentum'; one `<name>/momentum` slot per variable), so
 * checkpoints written by either restore into the other. `weightDecay` >= 0, default 0 (plain MomentumOptimizer).
 * Throws from applyGradients as MomentumOptimizer does (unknown variable name, shape mismatch).
 */
export class SgdMomentumOptimizer extends tf.MomentumOptimizer {
  constructor(learningRate: number, momentum: number, readonly weightDecay = 0) {
    super(learningRate, momentum);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>): void {
    const state = this as unknown as MomentumState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((g) => g.name) : Object.keys(variableGradients);
    const fused = tf.getKernel(SGD_MOMENTUM_KERNEL, tf.getBackend()) != null;
    const wd = this.weightDecay;
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      if (value == null) throw new Error(`SgdMomentumOptimizer: no variable named ${name}`);
      if (state.accumulations[i] == null) {
        state.accumulations[i] = { originalName: `${name}/momentum`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      }
      const accumulation = state.accumulations[i]!.variable;
      const gradient = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name];
      if (gradient == null) return;
      tf.tidy(() => {
        let newValue: tf.Tensor;
        let newAccumulation: tf.Tensor;
        if (fused && value.dtype === 'float32' && gradient.dtype === 'float32' && tf.util.arraysEqual(value.shape, gradient.shape)) {
          [newValue, newAccumulation] = tf.engine().runKernel(
            SGD_MOMENTUM_KERNEL,
            { value, grad: gradient, accumulation },
            { learningRate: this.learningRate, momentum: state.momentum, weightDecay: wd },
          ) as [tf.Tensor, tf.Tensor];
        } else {
          const g = wd !== 0 ? tf.add(gradient, tf.mul(value, wd)) : gradient;
          newAccumulation = tf.add(tf.mul(state.m, accumulation), g);
          newValue = tf.add(tf.mul(this.c, newAccumulation), value);
        }
        accumulation.assign(newAccumulation);
        value.assign(newValue);
      });
    });
    this.incrementIterations();
  }

  /** Also replaces the momentum scalar (tfjs' MomentumOptimizer keeps using the old one). */
  override setMomentum(momentum: number): void {
    const state = this as unknown as MomentumState;
    super.setMomentum(momentum);
    state.m.dispose();
    state.m = tf.keep(tf.scalar(momentum));
  }

  /** Disposes the momentum slots, the momentum scalar and the learning-rate scalar (tfjs 4.22 leaves the last). */
  override dispose(): void {
    super.dispose();
    if (this.c != null && !this.c.isDisposed) this.c.dispose();
  }
}
