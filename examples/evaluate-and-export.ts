/**
 * Evaluate and export: train a small run into a run directory, evaluate its best model (top-1/5, ECE, NLL, parameters,
 * latency per image), export the bare student (no heads) and load it back with plain tfjs to predict.
 *
 * In your own project, import from 'cds-distill' instead of '../src/index.js'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateModel, exportRun, initBackend, loadLayersModelFromDir, tf, train } from '../src/index.js';

await initBackend();
const dir = await mkdtemp(join(tmpdir(), 'cds-distill-example-'));
try {
  const runDir = join(dir, 'run');
  await train({ model: 'resnet8', method: 'ce', data: 'synthetic:16x16x1:4:128', epochs: 2, batchSize: 32, maxStepsPerEpoch: 2, out: runDir });

  // The run's best/ bundle on the run's own test split (config.json says which data).
  const e = await evaluateModel(runDir, undefined, { latencyRuns: 5 });
  console.log(`evaluated ${e.source}: top-1 ${(100 * e.metrics.top1).toFixed(1)}%, top-5 ${(100 * e.metrics.top5).toFixed(1)}%, ` +
    `ECE ${e.metrics.ece.toFixed(3)}, NLL ${e.metrics.nll.toFixed(3)}, ${e.params} parameters, ${e.latencyMs!.toFixed(2)} ms/image`);

  // The bare student: model.json + weights.bin, loadable anywhere tfjs runs.
  const exported = await exportRun(runDir, join(dir, 'resnet8-student'));
  console.log(`exported ${exported.model} (epoch ${String(exported.meta['epoch'])}) to ${exported.modelFile}`);

  const model = await loadLayersModelFromDir(exported.modelFile);
  const logits = tf.tidy(() => model.predict(tf.zeros([1, 16, 16, 1])) as tf.Tensor);
  console.log(`prediction for a blank image: class ${(await logits.argMax(-1).data())[0]}`);
  logits.dispose();
  model.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}
