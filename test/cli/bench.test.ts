import { describe, expect, it } from 'vitest';
import { cli, json } from './helpers.js';

describe('bench', () => {
  it('prints one JSON object with imgPerSec, msPerStep, backend and params (warm-up not counted)', async () => {
    const r = await cli(['bench', '--model', 'resnet8', '--method', 'cds', '--batch-size', '8', '--input', '16x16x3', '--classes', '10', '--steps', '2', '--json', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const j = json(r);
    expect(j).toMatchObject({ model: 'resnet8', method: 'cds', backend: 'wasm', batchSize: 8, inputShape: [16, 16, 3], numClasses: 10, rowsPerStep: 16, steps: 2, warmupSteps: 1 });
    expect(j['stepMs']).toHaveLength(2);
    expect(j['msPerStep']).toBeGreaterThan(0);
    expect(j['imgPerSec']).toBeCloseTo((8 * 1000) / (j['msPerStep'] as number), 6);
    // resnet8 at 10 classes (RepDistiller: 0.08M); the CDS heads come on top while training.
    expect(j['params']).toBe(78042);
    expect(j['trainParams']).toBeGreaterThan(j['params'] as number);
  });

  it('a method that needs a teacher gets an untrained frozen one of the same architecture', async () => {
    const r = await cli(['bench', '--model', 'resnet8', '--method', 'kd', '--batch-size', '8', '--input', '16x16x1', '--classes', '5', '--steps', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ method: 'kd', rowsPerStep: 8, teacher: 'resnet8 (untrained, frozen)' });
  });

  it('prints a line of text without --json', async () => {
    const r = await cli(['bench', '--model', 'resnet8', '--method', 'ce', '--batch-size', '4', '--input', '8x8x1', '--classes', '3', '--steps', '1', '--warmup', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^resnet8 \/ ce on \w+: [\d.]+ ms per step \(median of 1\), [\d.]+ img\/s at batch 4/);
  });
});
