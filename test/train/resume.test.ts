import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/index.js';
import { tf } from '../../src/runtime/tf.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { train, TrainingDivergedError } from '../../src/train/index.js';
import type { TrainOptions } from '../../src/train/index.js';

let data: { train: Dataset; test: Dataset };

/** metrics.jsonl without the wall-clock fields, which no two runs share. */
function metricsWithoutTiming(runDir: string): unknown[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { imgPerSec: _i, seconds: _s, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
}

function options(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: 'resnet8',
    data,
    method: 'cds',
    epochs: 3,
    batchSize: 16,
    lr: 0.05,
    schedule: 'multistep',
    milestones: [2],
    maxStepsPerEpoch: 3,
    evalBatchSize: 100,
    seed: 7,
    out,
    ...extra,
  };
}

describe('reproducible, resumable runs', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    data = await loadTrainTest('fashion-mnist-slice', { limit: 160, testLimit: 100 });
  });

  it('same seed, same backend: identical metrics.jsonl; resumed after an epoch and mid-epoch: the same metrics', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cds-resume-'));
    const a = join(root, 'a');
    const b = join(root, 'b');
    const c = join(root, 'c');
    (await train(options(a))).student.dispose();
    (await train(options(b))).student.dispose();
    const reference = metricsWithoutTiming(a);
    expect(reference).toHaveLength(3);
    expect(metricsWithoutTiming(b)).toEqual(reference);

    // Stopped after epoch 1, then resumed.
    const afterEpoch = new AbortController();
    const first = await train(options(c, { signal: afterEpoch.signal, onEpoch: () => afterEpoch.abort() }));
    first.student.dispose();
    expect(first.interrupted).toBe(true);
    expect(metricsWithoutTiming(c)).toHaveLength(1);
    // Stopped in the middle of epoch 2 (after its first step), then resumed.
    const controller = new AbortController();
    const partial = await train(
      options(c, {
        resume: true,
        signal: controller.signal,
        onStep: (p) => {
          if (p.epoch === 2 && p.step === 1) controller.abort();
        },
      }),
    );
    partial.student.dispose();
    expect(partial.interrupted).toBe(true);
    expect(metricsWithoutTiming(c)).toHaveLength(1);
    const finished = await train(options(c, { resume: true }));
    finished.student.dispose();
    expect(finished.interrupted).toBe(false);
    expect(metricsWithoutTiming(c)).toEqual(reference);
    expect(existsSync(join(c, 'student', 'model.json'))).toBe(true);
  });

  it('a loss that turns NaN stops the run, names the step and the last good checkpoint, and leaves it intact', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cds-nan-'));
    (await train(options(root, { epochs: 1 }))).student.dispose();
    const weights = join(root, 'checkpoint', 'student', 'weights.bin');
    const before = readFileSync(weights);
    const state = readFileSync(join(root, 'checkpoint', 'state.json'), 'utf8');
    // Resume refuses a changed --lr, so the run's config.json is made to ask for an absurd rate, which blows the
    // weights up within a couple of steps of epoch 2 (the milestone at 2 drops it only from epoch 3).
    const configFile = join(root, 'config.json');
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), lr: 1e30 }));
    let error: unknown;
    const tensors = tf.memory().numTensors;
    try {
      await train(options(root, { epochs: 2, resume: true, lr: 1e30 }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    // The diverged run disposed everything it held: the restored student, its method parts, the optimizer.
    expect(tf.memory().numTensors).toBe(tensors);
    const e = error as TrainingDivergedError;
    expect(e.message).toMatch(/loss is (NaN|Infinity|-Infinity) at epoch 2, step \d+ \(terms: \{.*"ce"/);
    expect(e.message).toContain(join(root, 'checkpoint'));
    expect(e.checkpoint).toBe(join(root, 'checkpoint'));
    expect(readFileSync(weights).equals(before)).toBe(true);
    expect(readFileSync(join(root, 'checkpoint', 'state.json'), 'utf8')).toBe(state);
  });
});
