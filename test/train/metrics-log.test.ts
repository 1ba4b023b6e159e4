import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { MetricsLogError, parseMetricsLog, train } from '../../src/train/index.js';
import type { TrainOptions } from '../../src/train/index.js';
import { CompareError, readRunMetrics } from '../../src/report/runs.js';

let data: { train: Dataset; test: Dataset };
let root: string;

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadTrainTest('fashion-mnist-slice', { limit: 64, testLimit: 32 });
  root = mkdtempSync(join(tmpdir(), 'cds-metrics-log-'));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const line = (epoch: number, top1 = 0.5): string => JSON.stringify({ epoch, lr: 0.1, train: { loss: 1 }, test: { top1 } });

describe('parseMetricsLog', () => {
  it('reads every line of a clean file, skipping blank lines', () => {
    const log = parseMetricsLog(`${line(1)}\n\n${line(2)}\n`, 'm.jsonl');
    expect(log.epochs.map((m) => m.epoch)).toEqual([1, 2]);
    expect(log.torn).toBeUndefined();
  });

  it('drops exactly a torn last line (no newline, not JSON) and reports it', () => {
    const full = line(3);
    for (const cut of [1, 10, full.length - 1]) {
      const torn = full.slice(0, cut);
      const log = parseMetricsLog(`${line(1)}\n${line(2)}\n${torn}`, 'm.jsonl');
      expect(log.epochs.map((m) => m.epoch)).toEqual([1, 2]);
      expect(log.torn).toBe(torn);
    }
  });

  it('keeps a complete last object whose newline was never written', () => {
    const log = parseMetricsLog(`${line(1)}\n${line(2)}`, 'm.jsonl');
    expect(log.epochs.map((m) => m.epoch)).toEqual([1, 2]);
    expect(log.torn).toBeUndefined();
  });

  it('refuses a broken line that is not the last, and a terminated broken last line, naming file and line', () => {
    const broken = line(2).slice(0, 12);
    expect(() => parseMetricsLog(`${line(1)}\n${broken}\n${line(3)}\n`, 'm.jsonl')).toThrow(
      /^m\.jsonl: line 2 is not valid JSON/,
    );
    let err: unknown;
    try {
      parseMetricsLog(`${line(1)}\n${broken}\n`, 'm.jsonl');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MetricsLogError);
    expect((err as MetricsLogError).line).toBe(2);
    expect(() => parseMetricsLog(`${line(1)}\n{"top1": 1}\n`, 'm.jsonl')).toThrow(/line 2 is not an epoch's metrics/);
  });

  it('is the reader of the comparison report too (torn last line ignored, other damage a CompareError)', async () => {
    const dir = join(root, 'report-run');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'metrics.jsonl'), `${line(1)}\n${line(2).slice(0, 20)}`);
    expect((await readRunMetrics(dir)).map((m) => m.epoch)).toEqual([1]);
    writeFileSync(join(dir, 'metrics.jsonl'), `${line(1).slice(0, 20)}\n${line(2)}\n`);
    await expect(readRunMetrics(dir)).rejects.toBeInstanceOf(CompareError);
  });
});

/** metrics.jsonl without the wall-clock fields, which no two runs share. */
function metricsWithoutTiming(runDir: string): unknown[] {
  return parseMetricsLog(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'), 'metrics.jsonl').epochs.map((m) => {
    const { imgPerSec: _i, seconds: _s, ...rest } = m;
    return rest;
  });
}

function options(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: 'resnet8',
    data,
    method: 'ce',
    epochs: 3,
    batchSize: 16,
    lr: 0.05,
    maxStepsPerEpoch: 2,
    evalBatchSize: 32,
    seed: 11,
    out,
    ...extra,
  };
}

describe('resume after a crash while appending to metrics.jsonl', () => {
  it('drops the torn line, trains that epoch again and ends identical to an uninterrupted run', async () => {
    const reference = join(root, 'reference');
    const crashed = join(root, 'crashed');
    const a = await train(options(reference));
    const referenceWeights = a.student.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    a.student.dispose();
    const expected = metricsWithoutTiming(reference);
    expect(expected).toHaveLength(3);

    // Stopped after epoch 1 (checkpoint at epoch 1), then killed while appending epoch 2's line: the file ends in a
    // prefix of that line, as a crash mid-write leaves it.
    const stop = new AbortController();
    const first = await train(options(crashed, { signal: stop.signal, onEpoch: () => stop.abort() }));
    first.student.dispose();
    expect(first.interrupted).toBe(true);
    const epoch2 = readFileSync(join(reference, 'metrics.jsonl'), 'utf8').split('\n')[1]!;
    appendFileSync(join(crashed, 'metrics.jsonl'), epoch2.slice(0, Math.floor(epoch2.length / 2)));

    const resumed = await train(options(crashed, { resume: true }));
    expect(resumed.metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(metricsWithoutTiming(crashed)).toEqual(expected);
    // The file is clean again: every line terminated and valid.
    const text = readFileSync(join(crashed, 'metrics.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(parseMetricsLog(text, 'metrics.jsonl').torn).toBeUndefined();
    const weights = resumed.student.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(weights).toEqual(referenceWeights);
    resumed.student.dispose();
  }, 300_000);
});
