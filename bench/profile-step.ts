/**
 * Where a training step's time goes on one backend: every kernel registered for it is wrapped with a timer, the wall
 * time is summed per kernel name over the timed steps, and what is left of the step (tfjs' engine: dispatch, tape,
 * tensor bookkeeping; the loop's JS) is reported as "outside kernels". A profiling tool, never a timed test.
 *   node dist/bench/profile-step.js --backend onednn --model resnet20 --method ce-bench --batch 64 --steps 5
 *   node dist/bench/profile-step.js --backend onednn --model resnet18 --method cds --batch 32 --steps 3
 * --method ce-bench is bench/train-step.ts' step (SgdMomentumOptimizer with weight decay, no augmentation); any other name runs the
 * training loop's own step through benchmarkStep (augmentation, two views for cds, weight decay).
 * --by-shape also splits each kernel by its first input's shape (the top rows only).
 */
import { parseArgs } from 'node:util';
import { initBackend, tf } from '../src/runtime/index.js';
import type { BackendRequest } from '../src/runtime/index.js';
import { benchmarkStep } from '../src/train/benchmark.js';
import { measureTrainStep } from './train-step.js';

interface Row {
  ms: number;
  calls: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'onednn' },
      model: { type: 'string', default: 'resnet20' },
      method: { type: 'string', default: 'ce-bench' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      top: { type: 'string', default: '15' },
      'by-shape': { type: 'boolean', default: false },
    },
  });
  const backend = await initBackend(values.backend as BackendRequest);
  const byShape = values['by-shape']!;
  const rows = new Map<string, Row>();
  let counting = false;
  let depth = 0;
  for (const config of tf.getKernelsForBackend(backend)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (!counting || depth > 0) return inner(args);
        depth++;
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const dt = performance.now() - t0;
          depth--;
          const first = Object.values(args.inputs)[0] as tf.TensorInfo | undefined;
          const key = byShape && first ? `${config.kernelName} [${first.shape.join(',')}]` : config.kernelName;
          const row = rows.get(key) ?? { ms: 0, calls: 0 };
          row.ms += dt;
          row.calls += 1;
          rows.set(key, row);
        }
      },
    });
  }
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const batch = Number(values.batch);
  let stepMs: readonly number[];
  // Count only the timed steps: the warm-up steps run with counting off.
  if (values.method === 'ce-bench') {
    await measureTrainStep({ backend: backend as BackendRequest, model: values.model!, batch, steps: warmup, warmup: 0 });
    counting = true;
    stepMs = (await measureTrainStep({ backend: backend as BackendRequest, model: values.model!, batch, steps, warmup: 0 })).stepMs;
  } else {
    const r = await benchmarkStep({
      model: values.model!,
      method: values.method!,
      batchSize: batch,
      steps,
      warmupSteps: warmup,
      onStep: (seen) => {
        if (seen === warmup) counting = true;
      },
    });
    stepMs = r.stepMs;
  }
  counting = false;
  const total = stepMs.reduce((a, b) => a + b, 0) / steps;
  const kernels = [...rows.values()].reduce((a, r) => a + r.ms, 0) / steps;
  const sorted = [...rows.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const top = Number(values.top);
  console.log(`${values.model} ${values.method} batch ${batch} on ${backend}: ${total.toFixed(1)} ms per step (mean of ${steps}), kernels ${kernels.toFixed(1)} ms, outside kernels ${(total - kernels).toFixed(1)} ms`);
  console.log(`${'kernel'.padEnd(48)} ${'ms/step'.padStart(8)} ${'share'.padStart(6)} ${'calls/step'.padStart(10)}`);
  for (const [name, r] of sorted.slice(0, top)) {
    console.log(`${name.padEnd(48)} ${(r.ms / steps).toFixed(1).padStart(8)} ${((100 * r.ms) / steps / total).toFixed(1).padStart(5)}% ${(r.calls / steps).toFixed(0).padStart(10)}`);
  }
  const rest = sorted.slice(top).reduce((a, [, r]) => a + r.ms, 0) / steps;
  const restCalls = sorted.slice(top).reduce((a, [, r]) => a + r.calls, 0) / steps;
  console.log(`${`(${Math.max(0, sorted.length - top)} other kernels)`.padEnd(48)} ${rest.toFixed(1).padStart(8)} ${((100 * rest) / total).toFixed(1).padStart(5)}% ${restCalls.toFixed(0).padStart(10)}`);
  const calls = [...rows.values()].reduce((a, r) => a + r.calls, 0) / steps;
  console.log(`${'outside kernels'.padEnd(48)} ${(total - kernels).toFixed(1).padStart(8)} ${((100 * (total - kernels)) / total).toFixed(1).padStart(5)}% ${calls.toFixed(0).padStart(10)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
