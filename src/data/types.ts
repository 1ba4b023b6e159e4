/** Image data as a reader returns it: uint8 pixels in NHWC order, int32 labels. */
export interface RawImageData {
  /** N*H*W*C pixel values, NHWC (row-major images, channels last). */
  readonly images: Uint8Array;
  /** N class indices in [0, classNames.length). */
  readonly labels: Int32Array;
  readonly classNames: string[];
  /** [H, W, C] of one image. */
  readonly inputShape: [number, number, number];
  /** Where the data came from (files or directory), for logs and run configs. */
  readonly source: string;
  /** Anything a user should know about how it was read (fallbacks, defaults). */
  readonly note?: string;
  /** CIFAR-100 only: the 20 superclass labels of the same images. */
  readonly coarseLabels?: Int32Array;
  readonly coarseClassNames?: string[];
}

export type Split = 'train' | 'test';

/**
 * A loaded dataset split. Pixels stay uint8 in memory; batches are converted to normalised float32 on the fly.
 * `mean`/`std` are per channel on the [0, 1] pixel scale (x / 255), the normalisation a run must save and reuse.
 */
export interface Dataset extends RawImageData {
  /** The spec's dataset name, e.g. 'fashion-mnist', 'cifar100', 'synthetic'. */
  readonly name: string;
  readonly split: Split;
  /** Number of images. */
  readonly size: number;
  readonly mean: number[];
  readonly std: number[];
  /**
   * Semi-supervised only (`labeledFraction`): 1 where the row's label may be used, 0 where the row is unlabelled.
   * `labels` still holds the true class of every row (for monitoring); a trainer must not learn from labels where
   * this mask is 0. Absent means every row is labelled.
   */
  readonly labeled?: Uint8Array;
}
