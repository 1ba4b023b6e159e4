/**
 * Distil inside a script: train a small teacher with CDS, then distil a student from it with CDS-KD, all in memory,
 * with progress through callbacks. Tiny budget (synthetic data, a few steps) so it runs in seconds; raise `epochs`
 * and drop `maxStepsPerEpoch` for a real run.
 *
 * In your own project, import from 'cds-distill' instead of '../src/index.js'.
 */
import { distill, initBackend, loadTeacher, train } from '../src/index.js';

const backend = await initBackend(); // tfjs-node(-gpu) if installed, else wasm
const data = 'synthetic:16x16x3:4:256'; // 16x16 RGB patterns, 4 classes, 256 training images

// 1. A teacher: resnet14 trained with Contrastive Deep Supervision (projection heads on its stages).
const teacherRun = await train({ model: 'resnet14', method: 'cds', data, epochs: 1, batchSize: 32, maxStepsPerEpoch: 3, seed: 1 });
console.log(`teacher resnet14 (cds) on ${backend}: top-1 ${(100 * teacherRun.last!.test.top1).toFixed(1)}%`);

// 2. Freeze it (its CDS heads come along) and distil resnet8 with CDS-KD.
const teacher = await loadTeacher(teacherRun.student);
const student = await distill({
  teacher,
  student: 'resnet8',
  method: 'cds-kd',
  methodOptions: { feat: 0.1, softTemperature: 3 },
  data,
  epochs: 1,
  batchSize: 32,
  maxStepsPerEpoch: 3,
  seed: 2,
  onStep: (p) => console.log(`  step ${p.step}/${p.stepsPerEpoch}: ${Object.entries(p.terms).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`),
});
const m = student.last!.test;
console.log(`student resnet8 (cds-kd): top-1 ${(100 * m.top1).toFixed(1)}%, ECE ${m.ece.toFixed(3)}, ${student.student.countParams().backbone} parameters`);

// 3. The bare student (input -> logits, heads dropped) is a plain tf.LayersModel.
const model = student.student.inferenceModel();
console.log(`inference model: ${model.inputs[0]!.shape.slice(1).join('x')} -> ${model.outputs[0]!.shape.slice(1).join('x')}`);
teacher.dispose();
student.student.dispose();
teacherRun.student.dispose();
