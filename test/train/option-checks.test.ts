// Impossible option combinations are refused up front as user errors (issue 12, item 10), and the progress line
// never rounds a slow run's throughput to 0.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { loadTrainTest, DataError } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { ConfigError, distill, train } from '../../src/train/index.js';
import { TeacherError } from '../../src/teacher/index.js';
import { fileSystemHandler } from '../../src/io/index.js';
import { formatRate, Progress } from '../../src/cli/progress.js';
import { Output } from '../../src/cli/common.js';
import type { EpochMetrics } from '../../src/train/index.js';
import { cli, errorLines, tempDir } from '../cli/helpers.js';

const DATA = 'synthetic:8x8x3:4:16';
// Never loaded: every refusal below must come before the teacher is read.
const NO_TEACHER = '/nonexistent/teacher/model.json';

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the run to be refused');
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('methods that compare the images of a batch', () => {
  it('refuse batches smaller than they need, before loading data or teacher', async () => {
    const cases: [string, number, number][] = [['rkd', 1, 3], ['rkd', 2, 3], ['sp', 1, 2], ['pkt', 1, 2], ['cds-kd', 1, 2]];
    for (const [method, batchSize, min] of cases) {
      const err = await refusal(distill({ data: DATA, teacher: NO_TEACHER, student: 'resnet8', method, batchSize }));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toBe(
        `method ${method} compares the images of a batch and needs at least ${min} per step, got batch size ${batchSize}; use --batch-size ${min} or more`,
      );
    }
    for (const method of ['cds', 'cds-simclr']) {
      const err = await refusal(train({ data: DATA, model: 'resnet8', method, batchSize: 1 }));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(new RegExp(`^method ${method} compares the images of a batch and needs at least 2`));
    }
  });

  it('accept the smallest batch that carries signal, or any batch when the batch term is switched off', async () => {
    // Past the batch checks, the run goes on to load the (missing) teacher.
    for (const [method, batchSize, methodOptions] of [
      ['rkd', 3, {}], ['rkd', 1, { rkd: 0 }], ['sp', 2, {}], ['kd', 1, {}], ['cds-kd', 1, { contrastive: 0 }], ['crd', 1, {}],
    ] as const) {
      const err = await refusal(distill({ data: DATA, teacher: NO_TEACHER, student: 'resnet8', method, batchSize, methodOptions }));
      expect(err, `${method} ${batchSize}`).toBeInstanceOf(TeacherError);
    }
  });

  it('count the training set when it is smaller than the batch (one batch of all of it per epoch)', async () => {
    const err = await refusal(distill({ data: 'synthetic:8x8x3:2:16', limit: 2, teacher: NO_TEACHER, student: 'resnet8', method: 'rkd' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('method rkd compares the images of a batch and needs at least 3 per step, but the training set has only 2; use more training images (--limit)');
  });
});

describe('options the data makes impossible', () => {
  it('a batch size larger than the training set', async () => {
    const err = await refusal(train({ data: DATA, model: 'resnet8', method: 'ce', batchSize: 17 }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('batch size 17 is larger than the 16 training images; use --batch-size 16 or less');
  });

  it('a stratified limit below the class count (train and test)', async () => {
    const err = await refusal(loadTrainTest(DATA, { limit: 3 }));
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe('cannot take a stratified sample of 3 train images from 4 classes (it needs one image per class); use a limit of 4 or more');
    const testErr = await refusal(loadTrainTest(DATA, { testLimit: 2 }));
    expect(testErr.message).toMatch(/stratified sample of 2 test images from 4 classes .*use a test limit of 4 or more/);
    const ok = await loadTrainTest(DATA, { limit: 4, limitMode: 'first' });
    expect(ok.train.size).toBe(4);
    expect((await loadTrainTest(DATA, { limit: 3, limitMode: 'first' })).train.size).toBe(3);
  });

  it('a warm-up as long as the run, and a non-positive evaluation batch', async () => {
    const warm = await refusal(train({ data: DATA, model: 'resnet8', method: 'ce', epochs: 3, warmupEpochs: 3 }));
    expect(warm).toBeInstanceOf(ConfigError);
    expect(warm.message).toBe(
      'the learning-rate warm-up (3 epochs) is not shorter than the run (3 epochs), so the rate never reaches --lr; use fewer --warmup-epochs or more --epochs',
    );
    // The recipe's epoch count counts when none is given (distill: 240).
    expect((await refusal(distill({ data: DATA, teacher: NO_TEACHER, student: 'resnet8', method: 'kd', warmupEpochs: 240 }))).message).toMatch(/warm-up \(240 epochs\) is not shorter than the run \(240 epochs\)/);
    expect(await refusal(distill({ data: DATA, teacher: NO_TEACHER, student: 'resnet8', method: 'kd', warmupEpochs: 5 }))).toBeInstanceOf(TeacherError);
    const evalBatch = await refusal(train({ data: DATA, model: 'resnet8', method: 'ce', evalBatchSize: 0 }));
    expect(evalBatch).toBeInstanceOf(ConfigError);
    expect(evalBatch.message).toBe('evalBatchSize must be a positive integer, got 0');
  });

  it('data with a single class', async () => {
    const { train: t, test } = await loadTrainTest('synthetic:8x8x3:2:16');
    const one = (d: Dataset): Dataset => ({ ...d, classNames: ['only'], labels: new Int32Array(d.size) });
    const err = await refusal(train({ data: { train: one(t), test: one(test) }, model: 'resnet8', method: 'ce' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('the data has 1 class (only); a classifier needs at least 2');
  });
});

describe('progress throughput', () => {
  it('rounds img/s to 2 significant digits', () => {
    expect([1234, 56.7, 9.96, 0.234, 0.0041, 0, NaN, Infinity].map(formatRate)).toEqual(['1200', '57', '10', '0.23', '0.0041', '0', '-', '-']);
  });

  it('a slow epoch prints its real rate, not 0 img/s', () => {
    const lines: string[] = [];
    const out = new Output({});
    out.log = (line: string) => void lines.push(line);
    const m = { epoch: 1, train: { loss: 1 }, test: { top1: 0.5, top5: 1, ece: 0.1, nll: 1, count: 4 }, lr: 0.1, imgPerSec: 0.34, seconds: 47 };
    new Progress(out, { plain: true }).onEpoch(m as unknown as EpochMetrics);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('| 0.34 img/s |');
  });
});

describe('cds-distill distill --method rkd --batch-size 1', () => {
  const tmp = tempDir('option-checks');
  afterAll(() => tmp.cleanup());

  it('exits 1 with one line naming the batch size to use', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 4 }).apply(x) as tf.SymbolicTensor });
    await model.save(fileSystemHandler(path.join(tmp.dir, 'teacher')));
    model.dispose();
    const r = await cli(['distill', '--teacher', path.join(tmp.dir, 'teacher', 'model.json'), '--student', 'resnet8', '--method', 'rkd',
      '--batch-size', '1', '--data', DATA, '--epochs', '1', '--backend', 'wasm', '--out', path.join(tmp.dir, 'run')]);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual(['error: method rkd compares the images of a batch and needs at least 3 per step, got batch size 1; use --batch-size 3 or more']);
    expect(r.stderr).not.toMatch(/unexpected error|^\s+at /m);
    // --dry-run refuses it the same way.
    const dry = await cli(['distill', '--teacher', path.join(tmp.dir, 'teacher', 'model.json'), '--student', 'resnet8', '--method', 'sp',
      '--batch-size', '1', '--data', DATA, '--dry-run', '--backend', 'cpu']);
    expect(dry.code).toBe(1);
    expect(errorLines(dry)).toEqual(['error: method sp compares the images of a batch and needs at least 2 per step, got batch size 1; use --batch-size 2 or more']);
  }, 60_000);
});
