import type { tf } from '../runtime/tf.js';
import type { Random } from '../runtime/random.js';
import type { HeadKind, Student, StudentOutputs } from '../student/index.js';
import type { ViewRecipe } from '../data/augment.js';

import type { TeacherOutputs } from '../teacher/teacher.js';

export type { TeacherOutputs };

/** The frozen teacher as methods see it. */
export interface FrozenTeacher {
  readonly numClasses: number;
  readonly featureShapes: readonly (readonly [number, number, number])[];
  /** Indices into features of the teacher's stages. */
  readonly stageIndices: readonly number[];
  readonly pooledDim: number;
  /** Whether it carries CDS projection heads (their width is the last stage's channel count). */
  readonly hasProjections: boolean;
}

/** Everything a method declares it needs; the loop provides it, never asking which method runs. */
export interface MethodNeeds {
  /** A frozen teacher must be given. */
  readonly teacher: boolean;
  /** 2: the batch is two augmented views per image (2N rows, rows j and j+N one image); 1: one standard view. */
  readonly views: 1 | 2;
  /**
   * The method's own augmentation, one recipe per view (`views` of them) for images of `inputShape` [H, W, C].
   * Default: the CDS pair for two views, random crop + flip for one (`defaultViewRecipes`).
   */
  viewRecipes?(inputShape: readonly number[]): readonly ViewRecipe[];
  /** Heads the student is wrapped with. */
  readonly heads: HeadKind;
  /** Dataset row indices of the batch (CRD's memory bank). */
  readonly sampleIndices?: boolean;
  /**
   * What the method reads of the teacher besides its logits: 'logits' nothing else (kd, dkd: a teacher without stages
   * will do), 'pooled' its pooled feature, 'stages' its stage features. Default 'stages'.
   */
  readonly teacherFeatures?: TeacherFeatures;
  /**
   * Fewest images per step for which the loss carries signal: relational and contrastive terms compare the images of
   * a batch (with fewer they are 0 or undefined). A run whose batches are smaller is refused up front. Default 1.
   */
  readonly minBatch?: number;
}

/** See MethodNeeds.teacherFeatures. */
export type TeacherFeatures = 'logits' | 'pooled' | 'stages';

export type OptionValue = number | string | boolean;
export type MethodOptions = Readonly<Record<string, OptionValue>>;

/** What `create` gets: the wrapped student, the teacher's description, the data's size, the resolved options. */
export interface MethodSetup {
  readonly student: Student;
  readonly teacher?: FrozenTeacher;
  readonly numClasses: number;
  /** Training-set size (memory banks). */
  readonly numSamples: number;
  /** Class of every training sample, when all are labelled (CRD draws negatives from other classes). */
  readonly sampleLabels?: Int32Array;
  /** The recipe's defaults merged with the user's overrides. */
  readonly options: MethodOptions;
  /** Seeded source for the method's own parts (initialisers, negatives). */
  readonly rng: Random;
}

/** One step's inputs as a method sees them. Tensors belong to the loop. */
export interface StepContext {
  /** Student outputs on every input row (N, or 2N with two views: view 1 = rows 0..N-1). */
  readonly student: StudentOutputs;
  /** Teacher outputs on the same rows, when the method needs a teacher. */
  readonly teacher?: TeacherOutputs;
  /** int32 [N]: the images' labels; -1 where an image is unlabelled (semi-supervised). */
  readonly labels: tf.Tensor1D;
  /** Rows (0..N-1) whose labels may be used; all rows unless semi-supervised. */
  readonly labeledRows: Int32Array;
  /** N: images in the batch. */
  readonly batchSize: number;
  /** Dataset row of each image. */
  readonly sampleIndices: Int32Array;
  /** 1-based epoch being trained (warm-up factors). */
  readonly epoch: number;
  /**
   * Keep `tensor` (computed here, inside the gradient tape) for `afterStep`: the loop keeps it alive past the tape
   * (which disposes everything else of the step), hands it to `afterStep` as `kept[name]`, and disposes it after.
   * Its value is the one the loss saw, before the update; it is not differentiated.
   */
  keepForAfterStep(name: string, tensor: tf.Tensor): void;
}

/**
 * What `afterStep` may use: the batch's bookkeeping and the tensors `lossTerms` kept (`keepForAfterStep`), alive
 * until `afterStep` returns. The student's and teacher's outputs of the step are gone by then.
 */
export interface AfterStepContext {
  /** N: images in the batch. */
  readonly batchSize: number;
  /** Dataset row of each image. */
  readonly sampleIndices: Int32Array;
  /** Rows (0..N-1) whose labels may be used. */
  readonly labeledRows: Int32Array;
  /** 1-based epoch being trained. */
  readonly epoch: number;
  /** The tensors kept by `lossTerms`, by name. Owned by the loop: do not dispose. */
  readonly kept: Readonly<Record<string, tf.Tensor>>;
}

/** A trainable part a method adds (regressor, adaptation layer, embedding): saved and restored with checkpoints. */
export interface MethodPart {
  readonly name: string;
  readonly model: tf.LayersModel;
}

/** A method instantiated for one run. */
export interface MethodRun {
  /** Extra trainable parts, trained with the student and dropped at export. */
  readonly parts: readonly MethodPart[];
  /**
   * Named, already weighted loss terms for one step; the loop minimises their sum and logs each by name.
   * Called inside the gradient function: everything here is taped.
   */
  lossTerms(ctx: StepContext): Record<string, tf.Scalar>;
  /**
   * After the optimiser step, outside the tape (memory-bank updates); not called when the loss is not finite (nothing
   * is updated then). Gets its own context: what `lossTerms` kept for it, and the batch's indices.
   */
  afterStep?(ctx: AfterStepContext): void;
  /** Non-trainable state to checkpoint (memory banks), JSON plus binary arrays. */
  getState?(): { json: unknown; arrays: Record<string, Float32Array> };
  setState?(state: { json: unknown; arrays: Record<string, Float32Array> }): void;
  /**
   * Release what the method holds besides its `parts` (whose models `disposeMethod` disposes, one hook for every
   * method). Call `disposeMethod(run)`, not this.
   */
  dispose?(): void;
}

/** A registered method: what it needs, its defaults, and how to make a run of it. */
export interface MethodRecipe {
  readonly name: string;
  /** One line for `--help` and reports. */
  readonly summary: string;
  readonly needs: MethodNeeds;
  /** Loss weights and hyperparameters, all overridable by name. */
  readonly defaults: MethodOptions;
  /**
   * Options that change what the method needs (e.g. cds-kd's alignment, the CDS views' cutout); default: `needs`.
   * Throws MethodError for option values it refuses (called when options are resolved).
   */
  needsFor?(options: MethodOptions): MethodNeeds;
  create(setup: MethodSetup): MethodRun;
}
