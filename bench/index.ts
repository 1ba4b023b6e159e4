/**
 * `npm run bench`: training-step throughput of a CIFAR ResNet on wasm and on the pure-JS cpu backend, side by side in
 * one run, each backend in its own process. A benchmark, never a timed test.
 *   npm run bench -- --model resnet20 --batch 64 --steps 5 --cpu-steps 2
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StepTiming } from './train-step.js';

const here = dirname(fileURLToPath(import.meta.url));

function runStep(backend: string, model: string, batch: number, steps: number): StepTiming {
  const out = execFileSync(
    process.execPath,
    [join(here, 'train-step.js'), '--backend', backend, '--model', model, '--batch', String(batch), '--steps', String(steps)],
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
      'cpu-steps': { type: 'string', default: '2' },
    },
  });
  const model = values.model!;
  const batch = Number(values.batch);
  console.log(`training step: ${model}, 32x32x3, batch ${batch}, softmax cross-entropy, SGD momentum (median after 1 warm-up step)`);
  const wasm = runStep('wasm', model, batch, Number(values.steps));
  const cpu = runStep('cpu', model, batch, Number(values['cpu-steps']));
  const rows = [
    ['backend', 'ms/step', 'img/s', 'steps'],
    ...[wasm, cpu].map((t) => [t.backend, t.msPerStep.toFixed(0), t.imgPerS.toFixed(1), String(t.steps)]),
  ];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(10))).join(' '));
  console.log(`wasm / cpu speed-up: ${(cpu.msPerStep / wasm.msPerStep).toFixed(1)}x`);
}

main();
