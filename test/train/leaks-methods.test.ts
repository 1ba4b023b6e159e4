import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { buildModel } from '../../src/models/index.js';
import { listMethods } from '../../src/methods/index.js';
import { wrapStudent } from '../../src/student/index.js';
import { loadTeacher } from '../../src/teacher/index.js';
import { distill, train } from '../../src/train/index.js';

let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadTrainTest('fashion-mnist-slice', { limit: 32, testLimit: 16 });
});

/** Small option values so a step is cheap (CRD's memory bank). */
const CHEAP: Record<string, Record<string, number>> = { crd: { negatives: 16, dim: 16 } };

describe('a run leaves no tensor behind', () => {
  // Every method of the registry (a teacher without projection heads, so cds-kd needs adapters): the engine's tensor count after distill()/train() returns and the student is
  // disposed equals the count before (the method's own parts and the optimizer's state included).
  for (const recipe of listMethods()) {
    it(`${recipe.name}: tensor count after the run equals the count before`, async () => {
      const teacherNet = recipe.needs.teacher
        ? wrapStudent(buildModel('resnet8', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 }), { heads: 'none', seed: 4 })
        : undefined;
      const teacher = teacherNet ? await loadTeacher(teacherNet) : undefined;
      const common = {
        method: recipe.name,
        data,
        epochs: 1,
        batchSize: 8,
        maxStepsPerEpoch: 2,
        lr: 0.01,
        evalBatchSize: 16,
        methodOptions: CHEAP[recipe.name] ?? {},
      };
      const before = tf.memory().numTensors;
      const result = teacher
        ? await distill({ ...common, teacher, student: 'resnet8' })
        : await train({ ...common, model: 'resnet8' });
      expect(result.metrics).toHaveLength(1);
      result.student.dispose();
      expect(tf.memory().numTensors - before).toBe(0);
      teacherNet?.dispose();
    }, 120_000);
  }

  it('fitnet stopped after an epoch and resumed from its checkpoint: no tensor left either', async () => {
    const teacherNet = wrapStudent(buildModel('resnet8', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 }), { heads: 'none', seed: 4 });
    const teacher = await loadTeacher(teacherNet);
    const out = mkdtempSync(join(tmpdir(), 'cds-leaks-resume-'));
    const options = { teacher, student: 'resnet8', method: 'fitnet', data, epochs: 2, batchSize: 8, maxStepsPerEpoch: 1, lr: 0.01, evalBatchSize: 16, out };
    const before = tf.memory().numTensors;
    const stop = new AbortController();
    const first = await distill({ ...options, signal: stop.signal, onEpoch: () => stop.abort() });
    expect(first.interrupted).toBe(true);
    first.student.dispose();
    expect(tf.memory().numTensors - before).toBe(0);
    const resumed = await distill({ ...options, resume: true });
    expect(resumed.metrics).toHaveLength(2);
    resumed.student.dispose();
    expect(tf.memory().numTensors - before).toBe(0);
    teacherNet.dispose();
    rmSync(out, { recursive: true, force: true });
  }, 120_000);
});
