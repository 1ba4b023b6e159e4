/**
 * The optimizers a run can take, as factories: momentum SGD with L2 weight decay added to the gradient (the CDS and
 * CIFAR-100 benchmark recipes; the default) and AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
 * ICLR 2019; PyTorch's torch.optim.AdamW: the weights shrink by lr x decay before the Adam step). The loop (`fit`)
 * creates one per run, sets its learning rate every step, adds `gradientWeightDecay` to each gradient and applies
 * them; checkpoints save and restore its slots (`getWeights` / `setWeights`).
 */
import { tf } from '../runtime/tf.js';
import type { OptimizerKind } from './options.js';

/** What an optimizer is made from (the run's resolved hyperparameters). */
export interface OptimizerSettings {
  /** Initial learning rate (the loop sets the schedule's rate every step). */
  readonly lr: number;
  /** SGD momentum (unused by AdamW). */
  readonly momentum: number;
  readonly weightDecay: number;
}

/** A tfjs optimizer whose learning rate the loop sets every step. */
export type StepOptimizer = tf.Optimizer & { setLearningRate(lr: number): void };

export interface OptimizerFactory {
  readonly name: OptimizerKind;
  /** The L2 decay the loop adds to every gradient (coupled: SGD), or 0 when the optimizer decays the weights itself. */
  gradientWeightDecay(settings: OptimizerSettings): number;
  create(settings: OptimizerSettings): StepOptimizer;
}

/** Momentum SGD (tfjs `MomentumOptimizer`: v = m v + g, w -= lr v), weight decay added to the gradient. */
export const SGD: OptimizerFactory = {
  name: 'sgd',
  gradientWeightDecay: (s) => s.weightDecay,
  create: (s) => tf.train.momentum(s.lr, s.momentum),
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

/** AdamW with decoupled weight decay (the loop adds none to the gradient). */
export const ADAMW: OptimizerFactory = {
  name: 'adamw',
  gradientWeightDecay: () => 0,
  create: (s) => new AdamWOptimizer(s.lr, s.weightDecay),
};

/** The factory of a declared optimizer name (`--optimizer`). */
export function optimizerFactory(name: OptimizerKind): OptimizerFactory {
  return name === 'adamw' ? ADAMW : SGD;
}
