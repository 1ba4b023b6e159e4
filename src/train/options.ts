/**
 * The one declaration of the options of `train`, `distill` and `compare` (docs/ARCHITECTURE.md, "A CLI option"): per
 * option its library name, CLI flag, value kind (how a flag's text is parsed and a value checked), default, help, the
 * commands that take it and how `config.json` records it. The CLI's flags, `--help`, the library's validation,
 * `--dry-run`, `config.json`, the checks of a resumed run and `compare`'s hand-over of run options to each of its
 * runs (argv, options, conflicts, the report's settings line) are all derived from it; the reference recipes' defaults
 * live here too. Adding an option is one entry in `OPTIONS` (and the code that reads its field of the run options).
 */
import { formatTeacherInput } from '../teacher/index.js';
import type { TeacherInput } from '../teacher/index.js';
import { modelRecipe, listModels } from '../models/index.js';

/** The commands whose options are declared here. */
export type OptionCommand = 'train' | 'distill' | 'compare';

/**
 * A kind of option value: what it must be (the words of both the CLI's and the library's refusal), how a flag's text
 * becomes a value (undefined: not one), whether a value is valid, and how a value is written back as a flag's text.
 */
export interface ValueKind<T> {
  /** What a valid value is, e.g. "a positive integer" (refusals: "expected a positive integer."). */
  readonly expected: string;
  parse(text: string): T | undefined;
  check(value: unknown): boolean;
  format(value: T): string;
}

function numeric(expected: string, ok: (n: number) => boolean): ValueKind<number> {
  return {
    expected,
    parse: (text) => (text.trim() === '' ? undefined : Number(text)),
    check: (v) => typeof v === 'number' && ok(v),
    format: String,
  };
}

export const POSITIVE_INT = numeric('a positive integer', (n) => Number.isInteger(n) && n > 0);
export const NON_NEGATIVE_INT = numeric('an integer >= 0', (n) => Number.isInteger(n) && n >= 0);
export const INTEGER = numeric('an integer', (n) => Number.isInteger(n));
export const POSITIVE_NUMBER = numeric('a positive number', (n) => Number.isFinite(n) && n > 0);
export const NON_NEGATIVE_NUMBER = numeric('a number >= 0', (n) => Number.isFinite(n) && n >= 0);
/** [0, 1): momentum. */
export const UNIT_INTERVAL = numeric('a number in [0, 1)', (n) => n >= 0 && n < 1);
/** (0, 1]: a fraction of the images. */
export const FRACTION = numeric('a number in (0, 1]', (n) => n > 0 && n <= 1);

export const TEXT: ValueKind<string> = {
  expected: 'a non-empty string',
  parse: (text) => text,
  check: (v) => typeof v === 'string' && v !== '',
  format: (v) => v,
};

/** A path or spec on the command line; the library also takes the loaded thing (a Dataset pair, a Teacher). */
export const SOURCE: ValueKind<string> = {
  ...TEXT,
  expected: 'a path or spec (or, from the library, the loaded object)',
  check: (v) => (typeof v === 'string' && v !== '') || (v != null && typeof v === 'object'),
};

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Comma-separated names. */
export const NAMES: ValueKind<readonly string[]> = {
  expected: 'a comma-separated list',
  parse: (text) => {
    const items = splitList(text);
    return items.length > 0 ? items : undefined;
  },
  check: (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'),
  format: (v) => v.join(','),
};

/** Comma-separated positive integers (multistep milestones). */
export const POSITIVE_INTS: ValueKind<readonly number[]> = {
  expected: 'a comma-separated list of positive integers',
  parse: (text) => {
    const items = splitList(text);
    return items.length > 0 ? items.map(Number) : undefined;
  },
  check: (v) => Array.isArray(v) && v.every((n) => POSITIVE_INT.check(n)),
  format: (v) => v.join(','),
};

/** One of `values` (commander lists them as the flag's choices). */
export function choice<T extends string>(values: readonly T[]): ValueKind<T> & { readonly choices: readonly T[] } {
  return {
    expected: `one of ${values.join(', ')}`,
    choices: values,
    parse: (text) => text as T,
    check: (v) => typeof v === 'string' && (values as readonly string[]).includes(v),
    format: (v) => v,
  };
}

/** A flag without a value. */
export const SWITCH: ValueKind<boolean> = { expected: 'true or false', parse: () => true, check: (v) => typeof v === 'boolean', format: String };

/** Method options: `key=value` pairs (repeatable on the command line). */
export const KEY_VALUES: ValueKind<Readonly<Record<string, unknown>>> = {
  expected: 'key=value, e.g. --method-option temperature=4',
  parse: () => undefined, // the CLI's repeatable key=value parser builds the object
  check: (v) => v != null && typeof v === 'object' && !Array.isArray(v),
  format: (v) => Object.entries(v).map(([k, x]) => `${k}=${String(x)}`).join(' '),
};

/** What a teacher expects: raw | unit | standardized | MEAN/STD (comma-separated per channel, [0, 1] scale). */
export const TEACHER_INPUT: ValueKind<TeacherInput> = {
  expected: 'raw, unit, standardized or MEAN/STD (e.g. 0.5,0.5,0.5/0.25,0.25,0.25; std > 0)',
  parse: (text) => {
    const t = text.trim();
    if (t === 'raw' || t === 'unit' || t === 'standardized') return t;
    const parts = t.split('/');
    const nums = (s: string | undefined): number[] => (s ?? '').split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
    if (parts.length !== 2) return undefined;
    return { mean: nums(parts[0]), std: nums(parts[1]) };
  },
  check: (v) => {
    if (v === 'raw' || v === 'unit' || v === 'standardized') return true;
    const o = v as { mean?: unknown; std?: unknown } | null;
    if (o == null || !Array.isArray(o.mean) || !Array.isArray(o.std) || o.mean.length !== o.std.length) return false;
    return o.mean.every((x) => Number.isFinite(x)) && o.std.every((x) => Number.isFinite(x) && (x as number) > 0);
  },
  format: formatTeacherInput,
};

// ---------------------------------------------------------------------------------------------------------------------
// The reference recipes

/** The reference recipe of a command: epochs, batch size, learning rate and multistep milestones. */
export interface Recipe {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly milestones: readonly number[];
}

/**
 * `train` follows CDS's teacher recipe (the CDS paper, ECCV 2022), `distill` (and each run of `compare`) the CIFAR-100
 * distillation benchmark's (RepDistiller), whose students with a zoo `distillLr` (MobileNetV2, ShuffleNets) use it.
 */
export const RECIPES: Readonly<Record<'train' | 'distill', Recipe>> = {
  train: { epochs: 300, batchSize: 128, lr: 0.1, milestones: [90, 180, 280] },
  distill: { epochs: 240, batchSize: 64, lr: 0.05, milestones: [150, 180, 210] },
};

/** What both recipes share. */
export const RECIPE_COMMON = { data: 'fashion-mnist', optimizer: 'sgd', momentum: 0.9, weightDecay: 5e-4, warmupEpochs: 0, seed: 0, schedule: 'multistep', evalBatchSize: 256 } as const;

/** AdamW's own defaults (PyTorch's torch.optim.AdamW: lr 1e-3, decoupled weight decay 0.01), in place of the recipe's. */
export const ADAMW_DEFAULTS = { lr: 1e-3, weightDecay: 0.01 } as const;

/** What `compare` runs when not told: every baseline (RepDistiller/mdistiller defaults) and CDS, over 3 seeds. */
export const COMPARE_DEFAULTS = {
  methods: ['ce', 'kd', 'fitnet', 'at', 'sp', 'rkd', 'pkt', 'crd', 'dkd', 'cds', 'cds-kd'] as readonly string[],
  seeds: 3,
} as const;

/** The reference learning rate of `model` for a command: AdamW's, else the zoo entry's distillation lr, else the recipe's. */
export function recipeLr(command: 'train' | 'distill', model: string, optimizer: OptimizerKind = 'sgd'): number {
  if (optimizer === 'adamw') return ADAMW_DEFAULTS.lr;
  return (command === 'distill' ? modelRecipe(model)?.distillLr : undefined) ?? RECIPES[command].lr;
}

function recipeOf(command: OptionCommand): Recipe {
  return RECIPES[command === 'train' ? 'train' : 'distill'];
}

function distillLrHelp(): string {
  const own = listModels().filter((m) => modelRecipe(m)?.distillLr !== undefined);
  const byLr = new Map<number, string[]>();
  for (const m of own) byLr.set(modelRecipe(m)!.distillLr!, [...(byLr.get(modelRecipe(m)!.distillLr!) ?? []), m]);
  return [...byLr].map(([lr, models]) => `${lr} for ${models.join('/')}`).join(', ');
}

// ---------------------------------------------------------------------------------------------------------------------
// The options

/** One declared option. */
export interface OptionSpec<T = unknown> {
  /** The library's name (a field of TrainOptions / DistillOptions / CompareOptions). */
  readonly key: string;
  /** The CLI flag with its argument, as commander takes it: '--batch-size <n>', '--resume'. */
  readonly flag: string;
  readonly kind: ValueKind<T>;
  readonly help: string;
  /** The default in words, per command, for --help ("(default: ...)"); none: no default shown. */
  readonly default?: (command: OptionCommand) => string | undefined;
  readonly commands: readonly OptionCommand[];
  /**
   * How config.json records it: 'resolved' (always: the value the run used, given or the recipe's), 'given' (when
   * given). Recorded options must match when a run is resumed (except `mayChangeOnResume`), and those that `compare`
   * also takes are handed to each of its runs. None: not recorded (the run's identity, or not a setting).
   */
  readonly config?: 'resolved' | 'given';
  /** Its value in config.json (default: the value itself). */
  readonly toConfig?: (value: T) => unknown;
  /** Its value from a config.json (default: the entry named `key`). */
  readonly fromConfig?: (config: Readonly<Record<string, unknown>>) => unknown;
  /** Recorded inside another option's config.json value (the milestones, in the resolved schedule object). */
  readonly recordedIn?: string;
  /** A resumed run may change it (epochs: extending a run). */
  readonly mayChangeOnResume?: boolean;
  /** The resume check compares it itself (the schedule: scaled milestones follow a changed epoch count). */
  readonly customResumeCheck?: boolean;
  /**
   * What a comparison is about (teacher, student, data, method options): `compare` takes it but does not hand it to
   * its runs as is. Every other option both distill and compare take is handed to each run unchanged.
   */
  readonly identity?: boolean;
  /** Its words in compare's report.md settings line (default: "<flag name> <value>"). */
  readonly describe?: (value: T) => string;
}

function opt<T>(spec: OptionSpec<T>): OptionSpec<unknown> {
  return spec as unknown as OptionSpec<unknown>;
}

const RUN: readonly OptionCommand[] = ['train', 'distill'];
const ALL: readonly OptionCommand[] = ['train', 'distill', 'compare'];
const TEACHER_COMMANDS: readonly OptionCommand[] = ['distill', 'compare'];

function scheduleObject(config: Readonly<Record<string, unknown>>): { kind?: unknown; milestones?: unknown } | undefined {
  const s = config['schedule'];
  return s != null && typeof s === 'object' && !Array.isArray(s) ? (s as { kind?: unknown; milestones?: unknown }) : undefined;
}

export const SCHEDULES = ['multistep', 'cosine', 'constant'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];
export const OPTIMIZERS = ['sgd', 'adamw'] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];

/** Every option of train, distill and compare, in --help order. */
export const OPTIONS: readonly OptionSpec[] = [
  opt({ key: 'model', flag: '--model <name>', kind: TEXT, help: 'zoo model to train (required)', commands: ['train'] }),
  opt({ identity: true, key: 'teacher', flag: '--teacher <path>', kind: SOURCE, help: 'teacher: a run directory, a student bundle, or a tfjs model.json (required)', commands: TEACHER_COMMANDS }),
  opt({ identity: true, key: 'student', flag: '--student <name>', kind: TEXT, help: 'zoo model to train as the student (required)', commands: TEACHER_COMMANDS }),
  opt({
    key: 'teacherStages',
    flag: '--teacher-stages <names>',
    kind: NAMES,
    help:
      'comma-separated stage names of a model.json teacher: layer names of a LayersModel (default: found automatically), ' +
      'node names of a GraphModel (default: none, enough for kd and dkd; see cds-distill inspect TEACHER)',
    commands: TEACHER_COMMANDS,
    config: 'given',
    describe: (v) => `teacher stages ${v.join(', ')}`,
  }),
  opt({
    key: 'teacherLogits',
    flag: '--teacher-logits <name>',
    kind: TEXT,
    help: "the layer or graph node whose output is the teacher's logits, when it is not the model's last output",
    commands: TEACHER_COMMANDS,
    config: 'given',
    describe: (v) => `teacher logits \`${v}\``,
  }),
  opt({
    key: 'teacherInput',
    flag: '--teacher-input <kind>',
    kind: TEACHER_INPUT,
    help:
      "what the teacher expects: raw (0..255), unit (0..1), standardized (the data's mean/std) or MEAN/STD per channel " +
      '(e.g. 0.485,0.456,0.406/0.229,0.224,0.225); default: what its files record, else standardized',
    commands: TEACHER_COMMANDS,
    config: 'given',
    toConfig: formatTeacherInput,
    describe: (v) => `teacher input ${formatTeacherInput(v)}`,
  }),
  opt({ key: 'methods', flag: '--methods <list>', kind: NAMES, help: 'comma-separated methods', default: () => COMPARE_DEFAULTS.methods.join(','), commands: ['compare'] }),
  opt({ key: 'seeds', flag: '--seeds <n>', kind: POSITIVE_INT, help: 'seeds per method: 0..n-1; a seed fixes the data order, identical across methods', default: () => String(COMPARE_DEFAULTS.seeds), commands: ['compare'] }),
  opt({
    key: 'data',
    flag: '--data <spec>',
    kind: SOURCE,
    help: 'dataset spec: fashion-mnist, fashion-mnist-slice, cifar10:DIR, cifar100:DIR, mnist:DIR, folder:DIR, synthetic[:HxWxC[:CLASSES[:COUNT]]]',
    default: () => RECIPE_COMMON.data,
    commands: ALL,
    identity: true,
  }),
  opt({ key: 'method', flag: '--method <name>', kind: TEXT, help: 'training method (see the list below)', default: (c) => (c === 'train' ? 'cds' : 'cds-kd'), commands: RUN }),
  opt({ identity: true, key: 'methodOptions', flag: '--method-option <key=value>', kind: KEY_VALUES, help: "override one of the method's weights or hyperparameters (repeatable)", commands: RUN }),
  opt({
    identity: true,
    key: 'methodOptions',
    flag: '--method-option <key=value>',
    kind: KEY_VALUES,
    help: 'method option (repeatable): key=value for every compared method that has it, method.key=value for one (e.g. kd.temperature=3)',
    commands: ['compare'],
  }),
  opt({
    key: 'epochs',
    flag: '--epochs <n>',
    kind: POSITIVE_INT,
    help: 'epochs',
    default: (c) => `${recipeOf(c).epochs}, the ${c === 'train' ? 'CDS' : 'distillation benchmark'} recipe`,
    commands: ALL,
    config: 'resolved',
    mayChangeOnResume: true,
    describe: (v) => `${v} epochs`,
  }),
  opt({ key: 'batchSize', flag: '--batch-size <n>', kind: POSITIVE_INT, help: 'images per step', default: (c) => String(recipeOf(c).batchSize), commands: ALL, config: 'resolved', describe: (v) => `batch ${v}` }),
  opt({
    key: 'lr',
    flag: '--lr <x>',
    kind: POSITIVE_NUMBER,
    help: 'initial learning rate',
    default: (c) => `${c === 'train' ? RECIPES.train.lr : `${RECIPES.distill.lr}; ${distillLrHelp()}`}; ${ADAMW_DEFAULTS.lr} with adamw`,
    commands: ALL,
    config: 'resolved',
    describe: (v) => `lr ${v}`,
  }),
  opt({
    key: 'optimizer',
    flag: '--optimizer <name>',
    kind: choice(OPTIMIZERS),
    help: 'sgd: momentum SGD, weight decay added to the gradient; adamw: Adam with decoupled weight decay',
    default: () => RECIPE_COMMON.optimizer,
    commands: ALL,
    config: 'resolved',
    // Runs from before the option were SGD runs.
    fromConfig: (c) => c['optimizer'] ?? 'sgd',
    describe: (v) => `${v} optimizer`,
  }),
  opt({ key: 'momentum', flag: '--momentum <x>', kind: UNIT_INTERVAL, help: 'SGD momentum', default: () => String(RECIPE_COMMON.momentum), commands: ALL, config: 'resolved', describe: (v) => `momentum ${v}` }),
  opt({ key: 'weightDecay', flag: '--weight-decay <x>', kind: NON_NEGATIVE_NUMBER, help: 'L2 weight decay (adamw: decoupled)', default: () => `${RECIPE_COMMON.weightDecay}; ${ADAMW_DEFAULTS.weightDecay} with adamw`, commands: ALL, config: 'resolved', describe: (v) => `weight decay ${v}` }),
  opt({
    key: 'schedule',
    flag: '--schedule <kind>',
    kind: choice(SCHEDULES),
    help: 'learning-rate schedule',
    default: () => RECIPE_COMMON.schedule,
    commands: ALL,
    config: 'resolved',
    // The run records the resolved schedule object ({kind, milestones, gamma}).
    fromConfig: (c) => scheduleObject(c)?.kind ?? c['schedule'],
    customResumeCheck: true,
    describe: (v) => `${v} schedule`,
  }),
  opt({
    key: 'milestones',
    flag: '--milestones <list>',
    kind: POSITIVE_INTS,
    help: 'multistep epochs where the lr drops 10x',
    default: () => "the recipe's, scaled to --epochs",
    commands: ALL,
    config: 'given',
    recordedIn: 'schedule',
    // No milestones (a run too short for a drop) is the recipe's scaled schedule, which --milestones cannot spell.
    fromConfig: (c) => {
      const m = c['milestones'] ?? scheduleObject(c)?.milestones;
      return Array.isArray(m) && m.length === 0 ? undefined : m;
    },
    customResumeCheck: true,
    describe: (v) => `lr drops at epochs ${v.join(', ')}`,
  }),
  opt({ key: 'warmupEpochs', flag: '--warmup-epochs <n>', kind: NON_NEGATIVE_NUMBER, help: 'linear learning-rate warm-up epochs', default: () => String(RECIPE_COMMON.warmupEpochs), commands: ALL, config: 'resolved', describe: (v) => `${v} warm-up epochs` }),
  opt({
    key: 'out',
    flag: '--out <dir>',
    kind: TEXT,
    help: 'run directory: config.json, metrics.jsonl, checkpoint/, best/, student/',
    default: () => 'runs/<model>-<method>-<time>',
    commands: RUN,
  }),
  opt({
    key: 'out',
    flag: '--out <dir>',
    kind: TEXT,
    help: 'comparison directory: runs/<method>-seed<k>/, logs/, results.json, results.csv, report.md, *.svg (required)',
    commands: ['compare'],
  }),
  opt({
    key: 'resume',
    flag: '--resume',
    kind: SWITCH,
    help: "continue the run in <out> from its checkpoint; options not given are the run's own (its config.json), and only --epochs (to extend it) and --backend may differ",
    commands: RUN,
  }),
  opt({ key: 'force', flag: '--force', kind: SWITCH, help: 'replace the run in a non-empty <out> (without it, or --resume, a non-empty <out> is refused)', commands: RUN }),
  opt({ key: 'limit', flag: '--limit <n>', kind: POSITIVE_INT, help: 'training images to use, stratified', default: () => 'all', commands: ALL, config: 'given', describe: (v) => `${v} training images` }),
  opt({ key: 'testLimit', flag: '--test-limit <n>', kind: POSITIVE_INT, help: 'test images to evaluate on', default: () => 'all', commands: ALL, config: 'given', describe: (v) => `${v} test images` }),
  opt({
    key: 'labeledFraction',
    flag: '--labeled-fraction <x>',
    kind: FRACTION,
    help: 'semi-supervised: keep labels for this fraction of the training images',
    default: () => '1',
    commands: ALL,
    config: 'given',
    describe: (v) => `labels kept for ${100 * v}% of the training images`,
  }),
  opt({
    key: 'maxStepsPerEpoch',
    flag: '--max-steps <n>',
    kind: POSITIVE_INT,
    help: 'at most this many steps per epoch (smoke tests)',
    default: () => 'a full pass',
    commands: ALL,
    config: 'given',
    describe: (v) => `at most ${v} steps per epoch`,
  }),
  opt({ key: 'evalBatchSize', flag: '--eval-batch-size <n>', kind: POSITIVE_INT, help: 'batch size for evaluation', default: () => String(RECIPE_COMMON.evalBatchSize), commands: ALL }),
  opt({ key: 'seed', flag: '--seed <n>', kind: INTEGER, help: 'random seed (weights, shuffling, augmentation)', default: () => String(RECIPE_COMMON.seed), commands: RUN, config: 'resolved' }),
  opt({ key: 'workers', flag: '--workers <n>', kind: POSITIVE_INT, help: 'runs at once, each in its own process', default: () => '1', commands: ['compare'] }),
  opt({ key: 'inProcess', flag: '--in-process', kind: SWITCH, help: 'run one after another inside this process instead of spawning distill (needs --workers 1)', commands: ['compare'] }),
  opt({ key: 'plan', flag: '--plan <file>', kind: TEXT, help: 'write one self-contained distill command per run (JSON lines; - for stdout) instead of running them', commands: ['compare'] }),
  opt({ key: 'collect', flag: '--collect <dir>', kind: TEXT, help: 'build the report from the finished run directories of a comparison directory (after running a plan)', commands: ['compare'] }),
  opt({ key: 'teacherEval', flag: '--no-teacher-eval', kind: SWITCH, help: "do not evaluate the teacher for the table's top row", commands: ['compare'] }),
];

/** The options of one command, in --help order. */
export function optionsOf(command: OptionCommand): readonly OptionSpec[] {
  return OPTIONS.filter((o) => o.commands.includes(command));
}

/** The run options config.json records (the settings of a run, resumed only with the same values). */
export function recordedOptions(): readonly OptionSpec[] {
  return OPTIONS.filter((o) => o.config !== undefined && o.commands.includes('distill'));
}

/** The run options `compare` hands to every run unchanged: those both distill and compare take but `identity`. */
export function passThroughOptions(): readonly OptionSpec[] {
  return OPTIONS.filter((o) => o.commands.includes('distill') && o.commands.includes('compare') && !o.identity);
}

/** `spec`'s words in compare's report.md settings line. */
export function describeOption(spec: OptionSpec, value: unknown): string {
  return spec.describe ? spec.describe(value) : `${flagName(spec).slice(2)} ${spec.kind.format(value)}`;
}

/** The flag's name without its argument: '--batch-size <n>' -> '--batch-size'. */
export function flagName(spec: OptionSpec): string {
  return spec.flag.split(' ')[0]!.replace(/^--no-/, '--');
}

/** `spec`'s value as config.json records it. */
export function configValue(spec: OptionSpec, value: unknown): unknown {
  return value === undefined || spec.toConfig === undefined ? value : spec.toConfig(value);
}

/** `spec`'s value in a config.json (a run's, as written by the run). */
export function valueFromConfig(spec: OptionSpec, config: Readonly<Record<string, unknown>>): unknown {
  return spec.fromConfig ? spec.fromConfig(config) : config[spec.key];
}

/**
 * The first invalid value among `values` (by the options of `command`) as a message: "<key> must be <expected>, got
 * <value>"; undefined when all are valid (undefined values are not checked).
 */
export function invalidOption(command: OptionCommand, values: Readonly<Record<string, unknown>>): string | undefined {
  for (const spec of optionsOf(command)) {
    const v = values[spec.key];
    if (v === undefined || spec.kind.check(v)) continue;
    return `${spec.key} must be ${spec.kind.expected}, got ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
  }
  return undefined;
}
