import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, errorLines, json, tempDir } from './helpers.js';

// Tiny settings: synthetic 16x16 RGB patterns, 4 classes, 64 training images, 2 steps per epoch.
const DATA = 'synthetic:16x16x3:4:64';
// The synthetic test split: count / 5 images.
const TEST_IMAGES = 13;
// resnet8's trainable parameters at 4 classes (backbone + classifier).
const RESNET8_4_CLASSES = 77_652;
const TINY = ['--data', DATA, '--epochs', '1', '--max-steps', '2', '--batch-size', '16', '--backend', 'wasm'];

const tmp = tempDir('run');
const teacherRun = join(tmp.dir, 'teacher');
let trained: Record<string, any>;

beforeAll(async () => {
  const r = await cli(['train', '--model', 'resnet8', '--method', 'cds', ...TINY, '--out', teacherRun, '--json']);
  expect(r.code, r.stderr).toBe(0);
  trained = json(r);
  // Progress: not a TTY, so one plain line per epoch on stderr; stdout holds only the JSON.
  expect(r.stderr).toMatch(/^epoch 1: ce [\d.]+ contrastive [\d.]+ loss [\d.]+ \| test top1 [\d.]+% /m);
});
afterAll(() => tmp.cleanup());

describe('train', () => {
  it('writes a run directory and reports it as JSON', () => {
    expect(trained['runDir']).toBe(teacherRun);
    expect(trained['interrupted']).toBe(false);
    expect(trained['config']).toMatchObject({ kind: 'train', model: 'resnet8', method: 'cds', data: DATA, epochs: 1, batchSize: 16, maxStepsPerEpoch: 2, backend: 'wasm' });
    expect(trained['last'].test.count).toBe(TEST_IMAGES);
    for (const f of ['config.json', 'metrics.jsonl', 'best/bundle.json', 'checkpoint/student/bundle.json', 'student/model.json']) {
      expect(existsSync(join(teacherRun, f)), f).toBe(true);
    }
  });

  it("reruns from a run's config.json (--config) with flags overriding it", async () => {
    const r = await cli(['train', '--config', join(teacherRun, 'config.json'), '--epochs', '4', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ model: 'resnet8', method: 'cds', data: DATA, epochs: 4, batchSize: 16, maxStepsPerEpoch: 2, backend: 'wasm' });
  });

  it('prints a human summary without --json', async () => {
    const out = join(tmp.dir, 'plain');
    const r = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`run directory: ${out}`);
    expect(r.stdout).toMatch(/last epoch 1: top1 [\d.]+% top5 [\d.]+% ece/);
    expect(r.stdout).toContain(join(out, 'student', 'model.json'));
    expect(r.stderr).toMatch(/^epoch 1: ce /m);
  });
});

describe('eval', () => {
  it('a run directory on its own data (JSON)', async () => {
    const r = await cli(['eval', teacherRun, '--latency-runs', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json(r);
    expect(j).toMatchObject({ kind: 'bundle', data: DATA, count: TEST_IMAGES, testSet: 'all', backend: expect.any(String) });
    expect(j['model']).toBe(join(teacherRun, 'best'));
    for (const k of ['top1', 'top5', 'ece', 'nll', 'latencyMs']) expect(typeof j[k]).toBe('number');
    expect(j['top5']).toBe(1); // 4 classes
    expect(j['params']).toBe(RESNET8_4_CLASSES);
  });

  it("a run trained with --test-limit is evaluated on that same set by default (the training log's top-1), and says so", async () => {
    const run = join(tmp.dir, 'limited');
    const t = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--test-limit', '8', '--out', run, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const logged = (json(t)['last'] as { test: { count: number; top1: number } }).test;
    expect(logged.count).toBe(8);
    const r = await cli(['eval', run, '--latency-runs', '0', '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ count: 8, testSet: 'run', top1: logged.top1, latencyMs: null });
    const text = await cli(['eval', run, '--latency-runs', '0', '--backend', 'wasm']);
    expect(text.stdout).toContain("(8 test images: the run's own --test-limit");
    // An explicit --test-limit still wins.
    const all = await cli(['eval', run, '--test-limit', '12', '--latency-runs', '0', '--json']);
    expect(json(all)).toMatchObject({ count: 12, testSet: 'limit' });
  });

  it('an exported model.json on a named dataset (text table)', async () => {
    const r = await cli(['eval', join(teacherRun, 'student', 'model.json'), '--data', DATA, '--test-limit', '8', '--latency-runs', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/top-1\s+top-5\s+ECE\s+NLL\s+params\s+latency\/image/);
    expect(r.stdout).toMatch(/on synthetic:16x16x3:4:64 \(8 test images/);
  });

  it('refuses a class or shape mismatch with one line', async () => {
    const classes = await cli(['eval', teacherRun, '--data', 'synthetic:16x16x3:6:64']);
    expect(classes.code).toBe(1);
    expect(errorLines(classes)).toEqual([expect.stringMatching(/predicts 4 classes but synthetic has 6; evaluate it on the dataset it was trained for/)]);
    const shape = await cli(['eval', teacherRun, '--data', 'synthetic:28x28x1:4:64']);
    expect(shape.code).toBe(1);
    expect(errorLines(shape)[0]).toMatch(/takes 16x16x3 inputs but synthetic images are 28x28x1/);
  });

  it('a model directory is required to hold a model', async () => {
    const r = await cli(['eval', tmp.dir, '--data', DATA]);
    expect(r.code).toBe(1);
    expect(errorLines(r)[0]).toMatch(/holds no model: looked for bundle\.json/);
  });
});

describe('export', () => {
  it('writes the bare student of a run (no heads)', async () => {
    const dir = join(tmp.dir, 'exported');
    const r = await cli(['export', teacherRun, '--out', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json(r);
    expect(j).toMatchObject({ dir, modelFile: join(dir, 'model.json'), source: join(teacherRun, 'best'), model: 'resnet8', input: 'raw' });
    const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const layers: { name: string }[] = model.modelTopology.config.layers;
    expect(layers.some((l) => l.name.startsWith('cds_'))).toBe(false);
    expect(model.modelTopology.config.output_layers).toHaveLength(1);
    const last = await cli(['export', teacherRun, '--from', 'last', '--out', join(tmp.dir, 'exported-last')]);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toContain(join(teacherRun, 'checkpoint', 'student'));
  });
});

describe('inspect a saved run', () => {
  it('shows its stages and the heads dropped at export', async () => {
    const r = await cli(['inspect', teacherRun]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^stage1\s/m);
    expect(r.stdout).toMatch(/training heads \(dropped at export\): [\d,]+ parameters/);
  });
});

describe('distill', () => {
  it('from the run as teacher, with cds-kd (JSON)', async () => {
    const out = join(tmp.dir, 'student');
    const r = await cli(['distill', '--teacher', teacherRun, '--student', 'resnet8', '--method', 'cds-kd', '--method-option', 'softTemperature=4', ...TINY, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json(r);
    expect(j['config']).toMatchObject({ kind: 'distill', teacher: teacherRun, method: 'cds-kd', methodOptions: { softTemperature: 4 } });
    // The run's own bundle takes raw pixels; the data here has the same statistics, so nothing is converted.
    expect((j['config'] as Record<string, unknown>)['teacherInputUsed']).toMatch(/^standardized with its own mean \[/);
    expect(existsSync(join(out, 'student', 'model.json'))).toBe(true);
    expect(r.stderr).toMatch(/^epoch 1: ce [\d.]+ contrastive [\d.]+ feat [\d.]+ soft [\d.]+ loss/m);
  });

  it('refuses a teacher whose classes do not match the data', async () => {
    const r = await cli(['distill', '--teacher', teacherRun, '--student', 'resnet8', '--method', 'kd', ...TINY, '--data', 'synthetic:16x16x3:6:64', '--out', join(tmp.dir, 'mismatch')]);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual([expect.stringMatching(/teacher .*4 classes.*6|6 classes.*teacher.*4/)]);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('distill --teacher-input', () => {
  it('refuses a declaration that contradicts what the teacher records, and a malformed one, with one line', async () => {
    const r = await cli(['distill', '--teacher', teacherRun, '--student', 'resnet8', '--method', 'kd', '--teacher-input', 'unit', ...TINY, '--out', join(tmp.dir, 'contradicts')]);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual([expect.stringMatching(/takes raw pixels and normalises them itself .*input "unit" contradicts its files/)]);
    const bad = await cli(['distill', '--teacher', teacherRun, '--student', 'resnet8', '--teacher-input', '0.5,0.5/0', '--dry-run']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/expected raw, unit, standardized or MEAN\/STD/);
  });
});

describe('SIGINT during training', () => {
  it('finishes the step, writes a checkpoint, prints how to resume, exits 130; --resume completes the run', async () => {
    const out = join(tmp.dir, 'interrupted');
    const args = ['train', '--model', 'resnet8', '--method', 'ce', '--data', DATA, '--epochs', '2', '--batch-size', '8', '--backend', 'wasm', '--out', out, '--verbose'];
    const run = cli(args);
    await run.waitForStderr(/epoch 1\/2 step 1\/8/);
    run.child.kill('SIGINT');
    const r = await run;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain(`interrupted: checkpoint written to ${join(out, 'checkpoint')}`);
    expect(r.stderr).toMatch(/resume with: cds-distill train .* --resume$/m);
    expect(existsSync(join(out, 'checkpoint', 'state.json'))).toBe(true);
    expect(existsSync(join(out, 'student'))).toBe(false);

    const resumed = await cli([...args.filter((a) => a !== '--verbose'), '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const j = json(resumed);
    expect(j['interrupted']).toBe(false);
    expect(j['last']).toMatchObject({ epoch: 2 });
    expect(existsSync(join(out, 'student', 'model.json'))).toBe(true);
  });
});
