/**
 * The optimizers a run can take, as factories: momentum SGD with L2 weight decay added to the gradient (the CDS and
 * CIFAR-100 benchmark recipes; the default) and AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
 * ICLR 2019; PyTorch's torch.optim.AdamW: the weights shrink by lr x decay before the Adam step). Each optimizer applies
 * its own weight decay; the loop (`fit`) creates one per run, sets its learning rate every step and applies the bare
 * gradients; checkpoints save and restore its slots (`getWeights` / `setWeights`).
 *
 * SGD's update (`SgdMomentumOptimizer`) is one fused kernel per variable where the backend registers
 * SGD_MOMENTUM_KERNEL (onednn: one pass over value, gradient and momentum buffer instead of six element-wise kernels
 * and their temporaries); everywhere else it is exactly those tfjs ops. Both give bit-identical results: the kernel
 * runs the same float32 operations in the same order.
 */
import { tf } from '../runtime/tf.js';
import { SGD_MOMENTUM_KERNEL } from '../runtime/onednn-kernels.js';
import type { OptimizerKind } from './options.js';

/** What an optimizer is made from (the run's resolved hyperparameters). */
export interface OptimizerSettings {
  /** Initial learning rate (the loop sets the schedule's rate every step). */
  readonly lr: number;
  /** SGD momentum (unused by AdamW). */
  readonly momentum: number;
  /** L2 decay: added to the gradient by SGD, decoupled (w <- w (1 - lr decay)) by AdamW. */
  readonly weightDecay: number;
}

/** A tfjs optimizer whose learning rate the loop sets every step. */
export type StepOptimizer = tf.Optimizer & { setLearningRate(lr: number): void };

export interface OptimizerFactory {
  readonly name: OptimizerKind;
  create(settings: OptimizerSettings): StepOptimizer;
}

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

/** Momentum SGD (tfjs `MomentumOptimizer`: v = m v + g, w -= lr v), weight decay added to the gradient. */
export const SGD: OptimizerFactory = {
  name: 'sgd',
  create: (s) => new SgdMomentumOptimizer(s.lr, s.momentum, s.weightDecay),
};

/** Adam's betas and epsilon in AdamW: PyTorch's defaults. */
export const ADAMW_BETAS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

/**
 * AdamW: for every variable, w <- w (1 - lr decay), then tfjs's Adam step (bias-corrected first and second moments,
 * betas 0.9 / 0.999, epsilon 1e-8) at the same learning rate. Its slots are Adam's (checkpointed as such).
 */
class AdamWOptimizer extends tf.AdamOptimizer {
  constructor(
    lr: number,
    private readonly weightDecay: number,
  ) {
    super(lr, ADAMW_BETAS.beta1, ADAMW_BETAS.beta2, ADAMW_BETAS.epsilon);
  }

  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (this.weightDecay !== 0) {
      const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
      const shrink = 1 - this.learningRate * this.weightDecay;
      tf.tidy(() => {
        for (const name of names) {
          const v = tf.engine().registeredVariables[name]!;
          v.assign(tf.mul(v, shrink));
        }
      });
    }
    super.applyGradients(variableGradients);
  }
}

/** AdamW with decoupled weight decay. */
export const ADAMW: OptimizerFactory = {
  name: 'adamw',
  create: (s) => new AdamWOptimizer(s.lr, s.weightDecay),
};

/** The factory of a declared optimizer name (`--optimizer`). */
export function optimizerFactory(name: OptimizerKind): OptimizerFactory {
  return name === 'adamw' ? ADAMW : SGD;
}
