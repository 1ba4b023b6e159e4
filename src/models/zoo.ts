/** The model zoo: the CIFAR benchmark architectures by name, built as tapped tfjs LayersModels. */
import { tf } from '../runtime/tf.js';
import { Random, getRandom } from '../runtime/random.js';
import { NetBuilder, type ArchContext, type NetOutputs } from './builder.js';
import { ModelError } from './errors.js';
import { mobileNetV2 } from './mobilenetv2.js';
import { cifarResNet, resNetV2 } from './resnet.js';
import { shuffleNetV1, shuffleNetV2 } from './shufflenet.js';
import { VGG_CFG, vgg } from './vgg.js';
import { wideResNet } from './wrn.js';
import type { BuildOptions, InputShape, TappedModel } from './types.js';

interface ZooEntry {
  /** Canonical name (as in the CIFAR benchmark codebases). */
  readonly name: string;
  /** Extra accepted spellings (matched case-insensitively, '-' = '_'). */
  readonly aliases: readonly string[];
  /** Smallest input height/width the architecture supports. */
  readonly minSide: number;
  readonly arch: (ctx: ArchContext) => NetOutputs;
  /** Its own initial learning rate for distillation, when the benchmark's (0.05) is too high for it. */
  readonly distillLr?: number;
}

const CIFAR_WIDTHS = [16, 16, 32, 64] as const;
const CIFAR_WIDTHS_X4 = [32, 64, 128, 256] as const;

function entry(name: string, arch: ZooEntry['arch'], aliases: readonly string[] = [], minSide = 1, distillLr?: number): ZooEntry {
  return { name, aliases, minSide, arch, ...(distillLr !== undefined ? { distillLr } : {}) };
}

/** The CIFAR-100 distillation benchmark (RepDistiller) trains MobileNetV2 and ShuffleNet students with lr 0.01. */
const SMALL_DISTILL_LR = 0.01;

const ENTRIES: readonly ZooEntry[] = [
  ...[8, 14, 20, 32, 44, 56, 110].map((d) => entry(`resnet${d}`, (ctx) => cifarResNet(ctx, d, CIFAR_WIDTHS))),
  entry('resnet8x4', (ctx) => cifarResNet(ctx, 8, CIFAR_WIDTHS_X4)),
  entry('resnet32x4', (ctx) => cifarResNet(ctx, 32, CIFAR_WIDTHS_X4)),
  ...([[16, 1], [16, 2], [40, 1], [40, 2]] as const).map(([d, w]) => entry(`wrn_${d}_${w}`, (ctx) => wideResNet(ctx, d, w))),
  entry('vgg8', (ctx) => vgg(ctx, VGG_CFG.S), ['vgg8_bn'], 8),
  entry('vgg11', (ctx) => vgg(ctx, VGG_CFG.A), ['vgg11_bn'], 8),
  entry('vgg13', (ctx) => vgg(ctx, VGG_CFG.B), ['vgg13_bn'], 8),
  entry('MobileNetV2', (ctx) => mobileNetV2(ctx, 6, 0.5), ['mobile_half', 'mobilenet_v2'], 1, SMALL_DISTILL_LR),
  entry('ShuffleV1', (ctx) => shuffleNetV1(ctx, [240, 480, 960], [4, 8, 4], 3), ['shufflenetv1', 'shufflenet_v1'], 1, SMALL_DISTILL_LR),
  entry('ShuffleV2', (ctx) => shuffleNetV2(ctx, [116, 232, 464, 1024], [3, 7, 3]), ['shufflenetv2', 'shufflenet_v2'], 1, SMALL_DISTILL_LR),
  entry('ResNet50', (ctx) => resNetV2(ctx, 'bottleneck', [3, 4, 6, 3]), ['resnet50_cifar']),
  entry('resnet18', (ctx) => resNetV2(ctx, 'basic', [2, 2, 2, 2]), ['resnet18_cifar']),
];

function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/-/g, '_');
}

const BY_NAME = new Map<string, ZooEntry>();
for (const e of ENTRIES) {
  for (const n of [e.name, ...e.aliases]) {
    const key = normalise(n);
    if (BY_NAME.has(key)) throw new Error(`model zoo: duplicate name ${n}`);
    BY_NAME.set(key, e);
  }
}

/** Canonical names of every architecture in the zoo (the CIFAR benchmark names, plus resnet18 for CDS). */
export function listModels(): string[] {
  return ENTRIES.map((e) => e.name);
}

function lookup(name: string): ZooEntry {
  const e = typeof name === 'string' ? BY_NAME.get(normalise(name)) : undefined;
  if (e == null) {
    throw new ModelError(`unknown model '${String(name)}' (cds-distill inspect --help lists the zoo); valid names: ${listModels().join(', ')}`);
  }
  return e;
}

/** A zoo model's own training defaults (its `distillLr`), undefined for a name not in the zoo. */
export function modelRecipe(name: string): { readonly distillLr?: number } | undefined {
  const e = BY_NAME.get(normalise(name));
  return e && (e.distillLr !== undefined ? { distillLr: e.distillLr } : {});
}

function checkOptions(e: ZooEntry, options: BuildOptions): { inputShape: InputShape; numClasses: number; rng: Random } {
  const inputShape = options.inputShape ?? ([32, 32, 3] as const);
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new ModelError(`inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (inputShape[0] < e.minSide || inputShape[1] < e.minSide) {
    throw new ModelError(`${e.name} needs inputs of at least ${e.minSide}x${e.minSide}, got ${inputShape[0]}x${inputShape[1]}`);
  }
  const numClasses = options.numClasses ?? 100;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ModelError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (options.seed != null && !Number.isFinite(options.seed)) {
    throw new ModelError(`seed must be a finite number, got ${options.seed}`);
  }
  const rng = options.seed != null ? new Random(options.seed) : getRandom();
  return { inputShape: [inputShape[0], inputShape[1], inputShape[2]], numClasses, rng };
}

/**
 * Build a zoo architecture by name (case-insensitive; e.g. 'resnet20', 'wrn_40_2', 'MobileNetV2', 'resnet18').
 * Options: inputShape [H, W, C] (default [32, 32, 3]), numClasses (default 100), seed (default: the toolkit's
 * global random source). Throws ModelError for an unknown name or invalid options.
 */
export function buildModel(name: string, options: BuildOptions = {}): TappedModel {
  const e = lookup(name);
  const { inputShape, numClasses, rng } = checkOptions(e, options);
  const input = tf.input({ shape: [...inputShape], name: 'input', dtype: 'float32' });
  const outs = e.arch({ b: new NetBuilder(rng), input, inputShape, numClasses });
  const net = tf.model({ inputs: input, outputs: [...outs.features, outs.pooled, outs.logits], name: e.name });
  const featureShapes = outs.features.map((f) => {
    const [, h, w, c] = f.shape;
    return [h!, w!, c!] as const;
  });
  return {
    name: e.name,
    net,
    inputShape,
    numClasses,
    featureShapes,
    stageIndices: featureShapes.map((_, i) => i).slice(1),
    pooledDim: outs.pooled.shape[1]!,
  };
}
