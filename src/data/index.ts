// The data module: dataset readers, loadDataset, batching and seeded two-view augmentation (docs/ARCHITECTURE.md).
//
// Memory holds uint8 NHWC pixels. A Batcher yields float32 NHWC tensors, normalised ((x / 255 - mean) / std) or, with
// format 'raw', pixel scale [0, 255] for augmenting first; twoViews / standardAugment take the raw batch and return
// normalised tensors. Every tensor returned here is new and owned by the caller (dispose it); inputs are never
// disposed. Errors about data are DataError (one line, naming the file and what was expected).
export { DataError } from './errors.js';
export type { Dataset, RawImageData, Split } from './types.js';
export {
  readIdxDataset,
  readIdxImages,
  readIdxLabels,
  MNIST_CLASSES,
  FASHION_MNIST_CLASSES,
  KMNIST_CLASSES,
} from './idx.js';
export type { ReadIdxOptions } from './idx.js';
export { readCifar10, readCifar100, CIFAR10_CLASSES } from './cifar.js';
export type { ReadCifar100Options } from './cifar.js';
export { readImageFolder, decodeImage } from './folder.js';
export type { ReadImageFolderOptions } from './folder.js';
export { makeSynthetic } from './synthetic.js';
export type { SyntheticOptions } from './synthetic.js';
export { channelStats, limitIndices } from './stats.js';
export {
  loadDataset,
  loadTrainTest,
  subsetDataset,
  countPerClass,
  labeledMask,
  fashionSearchDirs,
  fashionSliceDir,
  packageRoot,
  DATASET_SPECS,
} from './load.js';
export type { LoadOptions, TrainTestOptions } from './load.js';
export { Batcher, disposeBatch } from './batcher.js';
export { appendUnlabeled } from './unlabeled.js';
export type { Batch, BatcherOptions, BatcherState } from './batcher.js';
export {
  randomCrop,
  randomFlip,
  cutout,
  colorJitter,
  randomGrayscale,
  adjustBrightness,
  adjustContrast,
  adjustSaturation,
  adjustHue,
  normalize,
  normalizationCoefficients,
  augmentView,
  twoViews,
  standardAugment,
  augmentViews,
  defaultViewRecipes,
  view1Recipe,
  view2Recipe,
  standardRecipe,
  defaultPadding,
  holeSize,
  isCutoutFraction,
  CDS_CUTOUT,
  defaultCropFill,
} from './augment.js';
export type {
  CropOptions,
  FlipOptions,
  CutoutOptions,
  ColorJitterOptions,
  GrayscaleOptions,
  ViewRecipe,
  NormStats,
  TwoViewOptions,
  StandardAugmentOptions,
} from './augment.js';
