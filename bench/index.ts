/**
 * `npm run bench`: training-step throughput of a CIFAR ResNet on onednn (when its addon is built), on wasm, on wasm
 * with N threads (opt-in threads, `wasm xN`, default 2; --threads 1 skips the row), on the pure-JS cpu backend and in
 * PyTorch CPU (bench/torch_step.py, when a Python with torch is found; same threads as onednn), side by side in one
 * run, each in its own process; then the CDS step (resnet18 with CDS heads, 2 views, 100 classes) on onednn, wasm and
 * PyTorch through `cds-distill bench --compare` (--skip-cds skips it); then the augmentation pipeline's cost.
 * A benchmark, never a timed test. The cpu step of resnet20 at batch 64 takes minutes here, so it runs one step
 * without warm-up by default.
 *   npm run bench -- --model resnet20 --batch 64 --steps 5 --cpu-steps 1 --threads 2 --cds-batch 32 --cds-steps 2
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { StepTiming } from './train-step.js';
import { loadOnednn, onednnThreadCount } from '../src/runtime/onednn.js';
import { runReferenceStep } from '../src/runtime/onednn-reference.js';

const here = dirname(fileURLToPath(import.meta.url));

function runScript(script: string, args: string[]): string {
  const out = execFileSync(process.execPath, [join(here, script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

function runStep(backend: string, model: string, batch: number, steps: number, warmup: number, threads = 1): StepTiming {
  const out = execFileSync(
    process.execPath,
    [
      join(here, 'train-step.js'),
      '--backend', backend,
      '--model', model,
      '--batch', String(batch),
      '--steps', String(steps),
      '--warmup', String(warmup),
      // Explicit, so CDS_WASM_THREADS in the environment cannot turn the single-threaded row into a threaded one.
      ...(backend === 'wasm' ? ['--threads', String(threads)] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').pop()!) as StepTiming;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'resnet20' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '5' },
      'cpu-steps': { type: 'string', default: '1' },
      'skip-cpu': { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
      'skip-cds': { type: 'boolean', default: false },
      'cds-model': { type: 'string', default: 'resnet18' },
      'cds-batch': { type: 'string', default: '32' },
      'cds-steps': { type: 'string', default: '2' },
    },
  });
  const threads = Number(values.threads);
  const model = values.model!;
  const batch = Number(values.batch);
  console.log(`training step: ${model}, 32x32x3, batch ${batch}, softmax cross-entropy, SGD momentum + weight decay (median after 1 warm-up step)`);
  const onednnLoad = loadOnednn();
  const onednn = onednnLoad.ok ? runStep('onednn', model, batch, Number(values.steps), 1) : undefined;
  if (!onednnLoad.ok) console.log(`onednn: not available (${onednnLoad.reason})`);
  const wasm = runStep('wasm', model, batch, Number(values.steps), 1);
  const wasmThreaded = threads > 1 ? runStep('wasm', model, batch, Number(values.steps), 1, threads) : undefined;
  const cpu = values['skip-cpu'] ? undefined : runStep('cpu', model, batch, Number(values['cpu-steps']), 0);
  const torchThreads = onednn?.threads ?? onednnThreadCount();
  const ref = runReferenceStep({
    model, method: 'ce', batch, input: [32, 32, 3], classes: 100, steps: Number(values.steps), warmup: 1, threads: torchThreads, augment: false,
  });
  const pytorch: StepTiming | undefined = ref.ok
    ? { backend: 'pytorch', model, batch, steps: ref.stepMs.length, msPerStep: ref.msPerStep, imgPerS: ref.imgPerS, stepMs: ref.stepMs, threads: ref.threads }
    : undefined;
  if (!ref.ok) console.log(`pytorch: not timed (${ref.reason})`);
  const label = (t: StepTiming): string => (t.backend === 'wasm' && (t.threads ?? 1) > 1 ? `wasm x${t.threads}` : t.backend);
  const rows = [
    ['backend', 'ms/step', 'img/s', 'steps'],
    ...[...(onednn ? [onednn] : []), wasm, ...(wasmThreaded ? [wasmThreaded] : []), ...(cpu ? [cpu] : []), ...(pytorch ? [pytorch] : [])].map((t) => [
      label(t),
      t.msPerStep.toFixed(0),
      t.imgPerS.toFixed(1),
      String(t.steps),
    ]),
  ];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(10))).join(' '));
  if (wasmThreaded) {
    if (wasmThreaded.note) console.log(`wasm x${threads}: ${wasmThreaded.note}`);
    console.log(
      `${label(wasmThreaded)} / wasm speed-up: ${(wasm.msPerStep / wasmThreaded.msPerStep).toFixed(2)}x` +
        ` (${os.cpus().length} logical cores, load average ${os.loadavg()[0]!.toFixed(2)})`,
    );
  }
  if (cpu) console.log(`wasm / cpu speed-up: ${(cpu.msPerStep / wasm.msPerStep).toFixed(1)}x`);
  if (onednn) {
    console.log(`onednn (${onednn.threads ?? '?'} threads) / wasm speed-up: ${(wasm.msPerStep / onednn.msPerStep).toFixed(2)}x`);
    if (pytorch) console.log(`onednn / pytorch (${pytorch.threads} threads) speed ratio: ${(pytorch.msPerStep / onednn.msPerStep).toFixed(2)} (>= 1: onednn as fast or faster)`);
  }

  if (!values['skip-cds']) {
    const cdsBackend = onednn ? 'onednn' : 'wasm';
    const args = [
      join(here, '..', 'bin', 'cds-distill.js'), 'bench', '--model', values['cds-model']!, '--method', 'cds',
      '--batch-size', values['cds-batch']!, '--input', '32x32x3', '--classes', '100', '--steps', values['cds-steps']!,
      '--backend', cdsBackend, '--compare',
    ];
    console.log(`\nCDS step (${values['cds-model']} with CDS heads, batch ${values['cds-batch']} x 2 views, 32x32x3, 100 classes, augmentation included):`);
    console.log(execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim());
  }

  const augment = JSON.parse(runScript('augment.js', ['wasm'])) as {
    results: { shape: string; twoViewsMs: number; standardMs: number }[];
  };
  for (const r of augment.results) {
    console.log(
      `augmentation ${r.shape}: twoViews ${r.twoViewsMs.toFixed(1)} ms, standard ${r.standardMs.toFixed(1)} ms per batch of 64` +
        ` (${((100 * r.twoViewsMs) / wasm.msPerStep).toFixed(1)}% of the ${model} wasm step)`,
    );
  }
}

main();
