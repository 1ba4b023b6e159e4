/**
 * One backend's training-step throughput: a zoo model, synthetic inputs, softmax cross-entropy, SGD with momentum and
 * weight decay (the training loop's optimizer).
 * Run as its own process per backend (switching backends with live tensors is fragile in tfjs), prints one JSON line.
 *   node dist/bench/train-step.js --backend wasm --model resnet20 --batch 64 --steps 5
 *   node dist/bench/train-step.js --backend wasm --threads 2 --model resnet8 --input 28x28x1 --batch 32
 * --threads N asks initBackend for N wasm threads (default: CDS_WASM_THREADS, else 1); the line reports what it got.
 */
import { parseArgs } from 'node:util';
import { initBackend, backendReport, tf, Random } from '../src/runtime/index.js';
import type { BackendRequest } from '../src/runtime/index.js';
import { buildModel } from '../src/models/index.js';
import { SgdMomentumOptimizer } from '../src/train/optimizer.js';

export interface StepTiming {
  readonly backend: string;
  readonly model: string;
  readonly batch: number;
  readonly steps: number;
  readonly msPerStep: number;
  readonly imgPerS: number;
  readonly stepMs: readonly number[];
  /** wasm: the threads it ran with; note: why not as many as asked, if so. */
  readonly threads?: number;
  readonly note?: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function measureTrainStep(opts: {
  backend: BackendRequest;
  model: string;
  batch: number;
  steps: number;
  inputShape?: [number, number, number];
  numClasses?: number;
  /** Untimed steps first (kernel set-up, first allocations). Default 1. */
  warmup?: number;
  /** wasm threads for initBackend (default: CDS_WASM_THREADS, else 1). */
  threads?: number;
}): Promise<StepTiming> {
  const backend = await initBackend(opts.backend, opts.threads !== undefined ? { threads: opts.threads } : {});
  const report = backendReport();
  const inputShape = opts.inputShape ?? [32, 32, 3];
  const numClasses = opts.numClasses ?? 100;
  const tapped = buildModel(opts.model, { inputShape, numClasses, seed: 1 });
  const rng = new Random(2);
  const xs = tf.randomNormal([opts.batch, ...inputShape], 0, 1, 'float32', rng.opSeed());
  const ys = tf.oneHot(tf.randomUniform([opts.batch], 0, numClasses, 'int32', rng.opSeed()) as tf.Tensor1D, numClasses);
  // The training loop's optimizer (weight decay 5e-4, as the PyTorch reference step).
  const optimizer = new SgdMomentumOptimizer(0.01, 0.9, 5e-4);
  const step = (): number => {
    const t0 = performance.now();
    const loss = optimizer.minimize(() => {
      const outs = tapped.net.apply(xs, { training: true }) as tf.Tensor[];
      return tf.losses.softmaxCrossEntropy(ys, outs[outs.length - 1]!) as tf.Scalar;
    }, true);
    loss!.dataSync();
    loss!.dispose();
    return performance.now() - t0;
  };
  for (let i = 0; i < (opts.warmup ?? 1); i++) step();
  const stepMs: number[] = [];
  for (let i = 0; i < opts.steps; i++) stepMs.push(step());
  const ms = median(stepMs);
  tf.dispose([xs, ys]);
  optimizer.dispose();
  tapped.net.dispose();
  return {
    backend,
    model: opts.model,
    batch: opts.batch,
    steps: opts.steps,
    msPerStep: ms,
    imgPerS: (opts.batch * 1000) / ms,
    stepMs,
    ...(report?.threads !== undefined ? { threads: report.threads } : {}),
    ...(report?.note !== undefined ? { note: report.note } : {}),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      model: { type: 'string', default: 'resnet20' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      threads: { type: 'string' },
      input: { type: 'string', default: '32x32x3' },
    },
  });
  const inputShape = values.input!.split('x').map(Number);
  if (inputShape.length !== 3 || !inputShape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`--input wants HxWxC, e.g. 32x32x3 (got ${values.input})`);
  }
  const timing = await measureTrainStep({
    backend: values.backend as BackendRequest,
    model: values.model!,
    batch: Number(values.batch),
    steps: Number(values.steps),
    warmup: Number(values.warmup),
    inputShape: inputShape as [number, number, number],
    ...(values.threads !== undefined ? { threads: Number(values.threads) } : {}),
  });
  process.stdout.write(JSON.stringify(timing) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
