import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrainTest } from '../../src/data/index.js';
import { cli, errorLines, json, tempDir } from './helpers.js';
import type { CliResult } from './helpers.js';

// Tiny settings: synthetic 16x16 RGB patterns, 4 classes, 64 training images.
const DATA = 'synthetic:16x16x3:4:64';
const TINY = ['--data', DATA, '--epochs', '1', '--max-steps', '2', '--batch-size', '16', '--backend', 'wasm'];

const tmp = tempDir('safe');
const done = join(tmp.dir, 'done');

/** The files of a run, byte for byte. */
function snapshot(dir: string): Record<string, string> {
  const files = ['config.json', 'metrics.jsonl', 'best/bundle.json', 'checkpoint/state.json', 'student/model.json'];
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** One error line, exit 1, no stack trace, nothing on stdout. */
function expectOneLineError(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(errorLines(r)).toEqual([expect.stringMatching(message)]);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  const r = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--out', done]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('a run directory is not overwritten', () => {
  it('a non-empty --out without --resume or --force is refused and left intact', async () => {
    const before = snapshot(done);
    const r = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--lr', '0.5', '--out', done]);
    expectOneLineError(r, /^error: .*done is not empty \(.*\); give --resume to continue the run there, --force to replace it, or another --out$/);
    // Refused before anything else is printed.
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(snapshot(done)).toEqual(before);
  });

  it('--out naming a file: one line', async () => {
    const file = join(tmp.dir, 'a-file');
    writeFileSync(file, 'keep');
    const r = await cli(['train', '--model', 'resnet8', ...TINY, '--out', file]);
    expectOneLineError(r, /--out .*a-file is a file, not a run directory/);
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });
});

describe('--resume', () => {
  it('refuses a changed --lr, and a different --model before printing anything', async () => {
    const before = snapshot(done);
    const lr = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--lr', '0.5', '--out', done, '--resume']);
    expectOneLineError(lr, /cannot resume with other settings: --lr 0\.1 \(asked: 0\.5\); only --epochs, --backend, --eval-batch-size may change: .*done\)$/);
    const model = await cli(['train', '--model', 'resnet14', '--out', done, '--resume']);
    expectOneLineError(model, /--model "resnet8" \(asked: "resnet14"\)/);
    expect(model.stderr.trim().split('\n')).toHaveLength(1);
    expect(snapshot(done)).toEqual(before);
  });

  it('--epochs extends a run; settings not given are the run\'s own (config.json); no checkpoint: says it starts fresh', async () => {
    const out = join(tmp.dir, 'extend');
    const fresh = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--lr', '0.05', '--out', out, '--resume']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toContain(`--resume: no checkpoint in ${join(out, 'checkpoint')}; starting a fresh run`);
    const r = await cli(['train', '--model', 'resnet8', '--out', out, '--resume', '--epochs', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ last: { epoch: 2 }, config: { data: DATA, lr: 0.05, method: 'ce', epochs: 2, maxStepsPerEpoch: 2 } });
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch as number);
    expect(epochs).toEqual([1, 2]);
  });
});

describe('two runs into one directory', () => {
  it('the second exits 1 naming the first one\'s pid (even with --force); the first\'s files are its own', async () => {
    const out = join(tmp.dir, 'shared');
    const args = ['train', '--model', 'resnet8', '--method', 'ce', '--data', DATA, '--epochs', '40', '--batch-size', '8', '--backend', 'wasm', '--out', out];
    const first = cli(args);
    await first.waitForStderr(/^epoch 1: /m);
    const second = await cli([...args, '--lr', '0.5', '--force']);
    expectOneLineError(second, new RegExp(`is in use by train \\(process ${first.child.pid}\\b`));
    first.child.kill('SIGINT');
    const r = await first;
    expect(r.code, r.stderr).toBe(130);
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch as number);
    expect(epochs).toEqual(epochs.map((_, i) => i + 1));
    expect(epochs.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ lr: 0.1, epochs: 40 });
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });
});

describe('fashion-mnist without the full dataset', () => {
  it('says it uses the bundled slice once on stderr and records the slice in config.json', async () => {
    const empty = join(tmp.dir, 'no-fashion');
    mkdirSync(empty);
    const out = join(tmp.dir, 'fallback');
    const r = await cli(
      ['train', '--model', 'resnet8', '--method', 'ce', '--data', 'fashion-mnist', '--limit', '40', '--test-limit', '20', '--epochs', '1', '--max-steps', '1', '--batch-size', '8', '--backend', 'wasm', '--out', out, '--json'],
      { env: { CDS_FASHION_MNIST_DIRS: empty } },
    );
    expect(r.code, r.stderr).toBe(0);
    const said = r.stderr.split('\n').filter((l) => /using the bundled slice/.test(l));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(empty);
    expect(said[0]).toContain('apt-get install dataset-fashion-mnist');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    // The images the run used, hashed here from the slice loaded with the same limits.
    const slice = await loadTrainTest('fashion-mnist-slice', { limit: 40, testLimit: 20 });
    const h = createHash('sha256');
    for (const d of [slice.train, slice.test]) {
      h.update(Buffer.from(d.images.buffer, d.images.byteOffset, d.images.byteLength));
      h.update(Buffer.from(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength));
    }
    expect(config.data).toBe('fashion-mnist');
    expect(config.dataset).toMatchObject({ name: 'fashion-mnist-slice', train: 40, test: 20, sha256: h.digest('hex') });
    expect(config.dataset.note).toMatch(/using the bundled slice of 6000 train \/ 1000 test images/);
  });
});

describe('--dry-run checks without training', () => {
  it('a teacher path that does not exist: exit 1, one line', async () => {
    const r = await cli(['distill', '--teacher', join(tmp.dir, 'no-such-teacher'), '--student', 'resnet8', '--data', DATA, '--dry-run']);
    expectOneLineError(r, /teacher path .*no-such-teacher does not exist/);
  });

  it('a teacher that loads but predicts other classes than the data has: exit 1', async () => {
    const r = await cli(['distill', '--teacher', done, '--student', 'resnet8', '--data', 'synthetic:16x16x3:6:64', '--dry-run']);
    expectOneLineError(r, /4 classes/);
  });

  it('the run directory: a finished run without --resume is refused; with it, where the run resumes', async () => {
    const refused = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--out', done, '--dry-run']);
    expectOneLineError(refused, /is not empty/);
    const resume = await cli(['train', '--model', 'resnet8', '--method', 'ce', ...TINY, '--out', done, '--resume', '--dry-run', '--json']);
    expect(resume.code, resume.stderr).toBe(0);
    expect(json(resume)).toMatchObject({ runDirectory: 'resume after epoch 1 of 1', dataset: { name: 'synthetic', train: 64, test: 13 }, inputShape: [16, 16, 3], numClasses: 4 });
  });

  it('shows the schedule scaled to a short run: 2 epochs drop once, to lr/10', async () => {
    const r = await cli(['train', '--model', 'resnet8', '--data', DATA, '--epochs', '2', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ schedule: { kind: 'multistep', milestones: [1] }, lrSchedule: 'epoch 1: lr 0.1, epoch 2: lr 0.01', runDirectory: 'new run' });
  });
});
