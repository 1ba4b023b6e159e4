import { readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRandom, Random } from '../runtime/random.js';
import { readCifar10, readCifar100 } from './cifar.js';
import { DataError } from './errors.js';
import { isDirectory } from './files.js';
import { readImageFolder } from './folder.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, idxFileNames, KMNIST_CLASSES, MNIST_CLASSES, readIdxDataset } from './idx.js';
import { channelStats, checkStats, classCounts, limitIndices, selectRows } from './stats.js';
import { makeSynthetic } from './synthetic.js';
import type { Dataset, RawImageData, Split } from './types.js';

/** The dataset specs `loadDataset` understands (for help texts). */
export const DATASET_SPECS: readonly string[] = [
  'fashion-mnist        full Fashion-MNIST ($CDS_DATA/fashion-mnist, ./data/fashion-mnist, /usr/share/datasets/fashion-mnist; or the directories in $CDS_FASHION_MNIST_DIRS), else the bundled slice (said on stderr)',
  'fashion-mnist-slice  the bundled 6000/1000 Fashion-MNIST slice',
  'fashion-mnist:DIR    Fashion-MNIST IDX files in DIR',
  'mnist:DIR            MNIST IDX files in DIR',
  'kmnist:DIR           Kuzushiji-MNIST IDX files in DIR',
  'cifar10:DIR          CIFAR-10 binary version (data_batch_*.bin, test_batch.bin)',
  'cifar100:DIR         CIFAR-100 binary version (train.bin, test.bin)',
  'folder:DIR           DIR/<class>/*.png|jpg (or DIR/train/<class>/..., DIR/test/<class>/...)',
  'synthetic[:HxWxC[:CLASSES[:COUNT]]]  generated patterns (default 32x32x3, 10 classes, 2000 train / 400 test)',
];

export interface LoadOptions {
  /** Which split to load. Default 'train'. */
  readonly split?: Split;
  /** Keep at most this many images (after reading; see `limitMode`). Default: all. */
  readonly limit?: number;
  /**
   * How `limit` picks images, deterministically: 'stratified' (default) takes equal shares per class, each class's
   * first images in file order; 'first' takes the first `limit` rows of the file.
   */
  readonly limitMode?: 'stratified' | 'first';
  /** Per-channel normalisation on the [0, 1] scale. Default: computed from the full training split (before `limit`). */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  /**
   * Semi-supervised: keep labels for this fraction of the training split, stratified per class (at least one image
   * per class), chosen with `rng`; the result's `labeled` mask marks them. Ignored for the test split.
   */
  readonly labeledFraction?: number;
  /** Random source for `labeledFraction`. Default `getRandom()`. */
  readonly rng?: Random;
  /** folder: output size [H, W] (or one number). Default: the first training image's size. */
  readonly imageSize?: number | readonly [number, number];
  /** folder: 1 or 3 channels. Default: 1 when every image is gray, else 3. */
  readonly channels?: 1 | 3;
  /** cifar100: which labels are `labels`. Default 'fine'. */
  readonly cifar100Labels?: 'fine' | 'coarse';
  /** synthetic: seed of the generated images. Default 0. */
  readonly seed?: number;
  /**
   * fashion-mnist: directories to look for the full dataset in, instead of the default (`fashionSearchDirs()`:
   * $CDS_FASHION_MNIST_DIRS when set, else $CDS_DATA/fashion-mnist, ./data/fashion-mnist,
   * /usr/share/datasets/fashion-mnist).
   */
  readonly searchDirs?: readonly string[];
}

export interface TrainTestOptions extends Omit<LoadOptions, 'split'> {
  /** Limit for the test split (`limit` applies to the training split only). Default: all. */
  readonly testLimit?: number;
}

/** A resolved spec: a name and a reader per split (reads are cached, so train is read once). */
interface Source {
  readonly name: string;
  readonly note?: string;
  read(split: Split): Promise<RawImageData>;
}

const FASHION_HOW_TO_GET =
  'Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put train-images-idx3-ubyte.gz, ' +
  'train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in $CDS_DATA/fashion-mnist ' +
  'or ./data/fashion-mnist';

let packageRootCache: string | undefined;

/** The toolkit's package root (the directory with its package.json), found from this module's location. */
export function packageRoot(): string {
  if (packageRootCache !== undefined) return packageRootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'cds-distill') return (packageRootCache = dir);
    } catch {
      // no package.json here
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new DataError('cannot find the cds-distill package root (for the bundled data/ directory)');
}

/** Where the bundled Fashion-MNIST slice lives. */
export function fashionSliceDir(): string {
  return join(packageRoot(), 'data', 'fashion-mnist-slice');
}

/** Environment variable: the directories (separated by the platform's path delimiter) to search for the full Fashion-MNIST instead of the defaults. */
export const FASHION_DIRS_ENV = 'CDS_FASHION_MNIST_DIRS';

/**
 * The default directories searched for the full Fashion-MNIST, in order: those in $CDS_FASHION_MNIST_DIRS when it is
 * set (and not empty), else $CDS_DATA/fashion-mnist, ./data/fashion-mnist and Debian's
 * /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist).
 */
export function fashionSearchDirs(): string[] {
  const override = process.env[FASHION_DIRS_ENV];
  if (override !== undefined && override.trim() !== '') {
    return override.split(delimiter).filter((d) => d.trim() !== '').map((d) => resolve(d));
  }
  const dirs: string[] = [];
  const env = process.env['CDS_DATA'];
  // Not $CDS_DATA itself: MNIST or KMNIST files there have the same names.
  if (env) dirs.push(resolve(env, 'fashion-mnist'));
  dirs.push(resolve('data', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist');
  return dirs;
}

function cached(name: string, read: (split: Split) => Promise<RawImageData>, note?: string): Source {
  const cache = new Map<Split, Promise<RawImageData>>();
  return {
    name,
    ...(note !== undefined ? { note } : {}),
    read(split) {
      let p = cache.get(split);
      if (p === undefined) {
        p = read(split);
        cache.set(split, p);
      }
      return p;
    },
  };
}

async function hasBothSplits(dir: string): Promise<boolean> {
  return (await findIdxFiles(dir, 'train')) !== undefined && (await findIdxFiles(dir, 'test')) !== undefined;
}

async function fashionSource(options: LoadOptions, sliceOnly: boolean): Promise<Source> {
  const slice = fashionSliceDir();
  const readFrom = (dir: string) => (split: Split) =>
    readIdxDataset(dir, { split, classNames: FASHION_MNIST_CLASSES, howToGet: FASHION_HOW_TO_GET });
  if (sliceOnly) {
    if (!(await hasBothSplits(slice))) {
      throw new DataError(`${slice}: the bundled Fashion-MNIST slice is missing (expected its IDX files there)`, slice);
    }
    return cached('fashion-mnist-slice', readFrom(slice), 'the bundled 6000/1000 Fashion-MNIST slice');
  }
  const dirs = options.searchDirs ?? fashionSearchDirs();
  for (const dir of dirs) {
    if (await hasBothSplits(dir)) return cached('fashion-mnist', readFrom(dir));
  }
  if (await hasBothSplits(slice)) {
    // Named as what it is, so a run records the slice, not the full set it asked for.
    return cached(
      'fashion-mnist-slice',
      readFrom(slice),
      `full Fashion-MNIST not found (looked in ${dirs.join(', ')}); using the bundled slice of 6000 train / 1000 test ` +
        `images (600 / 100 per class). ${FASHION_HOW_TO_GET}.`,
    );
  }
  throw new DataError(
    `Fashion-MNIST not found: looked in ${[...dirs, slice].join(', ')} for ${idxFileNames('train')} and ` +
      `${idxFileNames('test')}. ${FASHION_HOW_TO_GET}.`,
  );
}

function idxSource(name: string, dir: string, classNames: string[], dataset: string, hint?: string): Source {
  const howToGet = `Put the ${dataset} files (${idxFileNames('train')}, ${idxFileNames('test')}) in ${dir}${hint ?? ''}`;
  return cached(name, (split) => readIdxDataset(dir, { split, classNames, howToGet }));
}

function folderSource(dir: string, options: LoadOptions): Source {
  let split: { train: string; test: string } | undefined;
  const dirs = async (): Promise<{ train: string; test: string } | undefined> => {
    if (split === undefined) {
      const train = join(dir, 'train');
      const test = join(dir, 'test');
      split = (await isDirectory(train)) && (await isDirectory(test)) ? { train, test } : undefined;
    }
    return split;
  };
  const source: Source = cached('folder', async (s) => {
    const d = await dirs();
    if (s === 'train') {
      return readImageFolder(d?.train ?? dir, {
        ...(options.imageSize !== undefined ? { size: options.imageSize } : {}),
        ...(options.channels !== undefined ? { channels: options.channels } : {}),
      });
    }
    if (d === undefined) {
      throw new DataError(
        `${dir}: no test split: an image folder has one only when it holds train/<class>/... and test/<class>/...`,
        dir,
      );
    }
    // The test images take the training images' size, channels and classes (labels mapped by folder name).
    const train = await source.read('train');
    const [h, w, c] = train.inputShape;
    return readImageFolder(d.test, { size: [h, w], channels: c === 1 ? 1 : 3, classNames: train.classNames });
  });
  return source;
}

function parseSynthetic(arg: string | undefined, options: LoadOptions): Source {
  let shape: [number, number, number] = [32, 32, 3];
  let classes = 10;
  let count = 2000;
  const bad = (): DataError =>
    new DataError(`bad synthetic spec 'synthetic:${arg}': expected synthetic[:HxWxC[:CLASSES[:COUNT]]], e.g. synthetic:28x28x1:10`);
  if (arg !== undefined && arg !== '') {
    const [dims, k, n, ...rest] = arg.split(':');
    const parts = (dims ?? '').split('x').map(Number);
    if (rest.length > 0 || parts.length !== 3 || !parts.every((d) => Number.isInteger(d) && d > 0)) throw bad();
    shape = parts as [number, number, number];
    if (k !== undefined) classes = Number(k);
    if (n !== undefined) count = Number(n);
    if (!Number.isInteger(classes) || !Number.isInteger(count)) throw bad();
  }
  const seed = options.seed ?? 0;
  const testCount = Math.max(classes, Math.round(count / 5));
  return cached('synthetic', async (split) =>
    makeSynthetic({
      shape,
      classes,
      count: split === 'train' ? count : testCount,
      // Different images for the two splits, the same class patterns.
      seed: split === 'train' ? seed : seed + 1_000_003,
    }),
  );
}

async function resolveSpec(spec: string, options: LoadOptions): Promise<Source> {
  const colon = spec.indexOf(':');
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  const dir = (): string => {
    if (arg === undefined || arg.trim() === '') {
      throw new DataError(`dataset spec '${spec}' needs a directory: ${kind}:DIR`);
    }
    return resolve(arg);
  };
  switch (kind) {
    case 'fashion-mnist':
    case 'fashion-mnist-slice':
      if (arg !== undefined) {
        const hint = ', or install them with `apt-get install dataset-fashion-mnist` (then use the spec fashion-mnist)';
        return idxSource('fashion-mnist', dir(), FASHION_MNIST_CLASSES, 'Fashion-MNIST', hint);
      }
      return fashionSource(options, kind === 'fashion-mnist-slice');
    case 'mnist':
      return idxSource('mnist', dir(), MNIST_CLASSES, 'MNIST');
    case 'kmnist':
      return idxSource('kmnist', dir(), KMNIST_CLASSES, 'KMNIST');
    case 'cifar10': {
      const d = dir();
      return cached('cifar10', (split) => readCifar10(d, split));
    }
    case 'cifar100': {
      const d = dir();
      const labels = options.cifar100Labels ?? 'fine';
      return cached('cifar100', (split) => readCifar100(d, split, { labels }));
    }
    case 'folder':
      return folderSource(dir(), options);
    case 'synthetic':
      return parseSynthetic(arg, options);
    default:
      throw new DataError(
        `unknown dataset '${spec}'; expected one of fashion-mnist, fashion-mnist-slice, mnist:DIR, kmnist:DIR, ` +
          `cifar10:DIR, cifar100:DIR, folder:DIR, synthetic[:HxWxC[:CLASSES[:COUNT]]]`,
      );
  }
}

/** Stratified labelled / unlabelled mask: per class, max(1, round(fraction * n)) rows labelled, chosen with `rng`. */
export function labeledMask(labels: Int32Array, classes: number, fraction: number, rng: Random): Uint8Array {
  if (!(fraction > 0 && fraction <= 1)) throw new DataError(`labeledFraction must be in (0, 1], got ${fraction}`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  labels.forEach((y, i) => byClass[y]!.push(i));
  const mask = new Uint8Array(labels.length);
  for (const rows of byClass) {
    if (rows.length === 0) continue;
    const keep = Math.min(rows.length, Math.max(1, Math.round(fraction * rows.length)));
    const order = rng.permutation(rows.length);
    for (let i = 0; i < keep; i++) mask[rows[order[i]!]!] = 1;
  }
  return mask;
}

function finish(
  source: Source,
  raw: RawImageData,
  split: Split,
  stats: { mean: number[]; std: number[] },
  limit: number | undefined,
  options: LoadOptions,
): Dataset {
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new DataError(`limit must be a positive integer, got ${limit}`);
  }
  const notes = [source.note, raw.note].filter((s): s is string => s !== undefined);
  let data: RawImageData = raw;
  if (limit !== undefined && limit < raw.labels.length) {
    const mode = options.limitMode ?? 'stratified';
    const classes = classCounts(raw.labels, raw.classNames.length).filter((n) => n > 0).length;
    if (mode === 'stratified' && limit < classes) {
      throw new DataError(
        `cannot take a stratified sample of ${limit} ${split} images from ${classes} classes (it needs one image per class); ` +
          `use a ${split === 'train' ? '' : 'test '}limit of ${classes} or more`,
      );
    }
    data = selectRows(raw, limitIndices(raw.labels, raw.classNames.length, limit, mode));
    notes.push(`limited to ${data.labels.length} of ${raw.labels.length} ${split} images (${mode})`);
  }
  let labeled: Uint8Array | undefined;
  if (split === 'train' && options.labeledFraction !== undefined && options.labeledFraction < 1) {
    labeled = labeledMask(data.labels, data.classNames.length, options.labeledFraction, options.rng ?? getRandom());
    const count = labeled.reduce((a, b) => a + b, 0);
    notes.push(`${count} of ${data.labels.length} training images labelled (labeledFraction ${options.labeledFraction}, stratified)`);
  }
  const { note: _drop, ...rest } = data;
  void _drop;
  return {
    ...rest,
    name: source.name,
    split,
    size: data.labels.length,
    mean: [...stats.mean],
    std: [...stats.std],
    ...(labeled !== undefined ? { labeled } : {}),
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

function statsFor(options: LoadOptions, train: RawImageData): { mean: number[]; std: number[] } {
  const c = train.inputShape[2];
  if (options.mean !== undefined || options.std !== undefined) {
    if (options.mean === undefined || options.std === undefined) throw new DataError('give both mean and std, or neither');
    checkStats(options.mean, options.std, c);
    return { mean: [...options.mean], std: [...options.std] };
  }
  return channelStats(train.images, c);
}

function checkNonEmpty(raw: RawImageData, what: string): void {
  if (raw.labels.length === 0) throw new DataError(`${raw.source}: the ${what} split has no images`);
}

/**
 * Load one split of a dataset by spec (see `DATASET_SPECS`): 'fashion-mnist', 'fashion-mnist-slice', 'mnist:DIR',
 * 'kmnist:DIR', 'cifar10:DIR', 'cifar100:DIR', 'folder:DIR', 'synthetic[:HxWxC[:CLASSES[:COUNT]]]'.
 * Pixels stay uint8 (NHWC); `mean`/`std` (per channel, [0, 1] scale) are always returned, computed from the full
 * training split unless given, so a run can save them. Throws `DataError` (a `CdsDistillError` of kind 'user') naming
 * the file and what was expected.
 */
export async function loadDataset(spec: string, options: LoadOptions = {}): Promise<Dataset> {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new DataError(`split must be 'train' or 'test', got '${String(split)}'`);
  const source = await resolveSpec(spec, options);
  const raw = await source.read(split);
  checkNonEmpty(raw, split);
  const needTrain = split === 'test' && (options.mean === undefined || options.std === undefined);
  const train = needTrain ? await source.read('train') : raw;
  if (train.inputShape.some((d, i) => d !== raw.inputShape[i])) {
    throw new DataError(
      `${raw.source}: test images are ${raw.inputShape.join('x')} but training images are ${train.inputShape.join('x')}`,
    );
  }
  return finish(source, raw, split, statsFor(options, train), options.limit, options);
}

/** Load both splits with the same normalisation (the training split's, unless given). */
export async function loadTrainTest(spec: string, options: TrainTestOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  const source = await resolveSpec(spec, options);
  const trainRaw = await source.read('train');
  checkNonEmpty(trainRaw, 'train');
  const testRaw = await source.read('test');
  checkNonEmpty(testRaw, 'test');
  if (trainRaw.inputShape.some((d, i) => d !== testRaw.inputShape[i])) {
    throw new DataError(
      `${testRaw.source}: test images are ${testRaw.inputShape.join('x')} but training images are ${trainRaw.inputShape.join('x')}`,
    );
  }
  const stats = statsFor(options, trainRaw);
  return {
    train: finish(source, trainRaw, 'train', stats, options.limit, options),
    test: finish(source, testRaw, 'test', stats, options.testLimit, options),
  };
}

/** A new dataset holding rows `indices` of `dataset` (same normalisation, class names and source). */
export function subsetDataset(dataset: Dataset, indices: Int32Array | readonly number[]): Dataset {
  const idx = indices instanceof Int32Array ? indices : Int32Array.from(indices);
  for (const i of idx) {
    if (!(i >= 0 && i < dataset.size)) throw new DataError(`subset index ${i} is outside the dataset (size ${dataset.size})`);
  }
  return selectRows(dataset, idx);
}

/** Images per class of a dataset (index = class). */
export function countPerClass(dataset: Pick<Dataset, 'labels' | 'classNames'>): number[] {
  return classCounts(dataset.labels, dataset.classNames.length);
}
