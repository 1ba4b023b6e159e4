import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../src/runtime/index.js';
import { makeSynthetic } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { ConfigError, describeSchedule, learningRate, resolveHyperparameters, scaleMilestones, train } from '../../src/train/index.js';
import type { TrainOptions } from '../../src/train/index.js';
import { LockError } from '../../src/run/lock.js';
import { settingDifferences } from '../../src/run/run-dir.js';

/** Tiny in-memory splits: 16x16x3, 4 classes. */
function splits(seed: number): { train: Dataset; test: Dataset } {
  const part = (split: 'train' | 'test', count: number, s: number): Dataset => {
    const raw = makeSynthetic({ shape: [16, 16, 3], classes: 4, count, seed: s });
    return { ...raw, name: 'synthetic', split, size: count, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  };
  return { train: part('train', 48, seed), test: part('test', 12, seed + 1) };
}

let data: { train: Dataset; test: Dataset };

function options(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return { model: 'resnet8', data, method: 'ce', epochs: 1, batchSize: 16, lr: 0.05, maxStepsPerEpoch: 1, evalBatchSize: 64, out, ...extra };
}

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'cds-rundir-'));
}

describe('milestones scaled to short runs', () => {
  it('the teacher recipe (90/180/280 of 300) at 2 epochs drops once, to lr/10 at epoch 2, not to lr/100', () => {
    const h = resolveHyperparameters('train', { epochs: 2 }, 'resnet8');
    expect(h.schedule).toEqual({ kind: 'multistep', milestones: [1], gamma: 0.1 });
    const o = { baseLr: h.lr, epochs: 2, schedule: h.schedule };
    expect(learningRate(o, 0, 1)).toBeCloseTo(0.1, 12);
    expect(learningRate(o, 1, 1)).toBeCloseTo(0.01, 12);
    expect(describeSchedule(o)).toBe('epoch 1: lr 0.1, epoch 2: lr 0.01');
  });

  it('keeps long schedules as scaled before and never puts two drops on one epoch, a drop at epoch 1 or at the end', () => {
    expect(scaleMilestones([90, 180, 280], 300, 300)).toEqual([90, 180, 280]);
    expect(scaleMilestones([150, 180, 210], 240, 12)).toEqual([8, 9, 11]);
    expect(scaleMilestones([150, 180, 210], 240, 2)).toEqual([1]);
    expect(scaleMilestones([90, 180, 280], 300, 3)).toEqual([1, 2]);
    expect(scaleMilestones([90, 180, 280], 300, 1)).toEqual([]);
    for (const [ref, ms] of [[300, [90, 180, 280]], [240, [150, 180, 210]]] as const) {
      for (let epochs = 1; epochs <= 300; epochs++) {
        const m = scaleMilestones(ms, ref, epochs);
        expect(m.every((x, i) => x >= 1 && x < epochs && (i === 0 || x > m[i - 1]!)), `${ref}/${epochs}: ${m}`).toBe(true);
        // As many drops as fit: one per epoch after the first, up to the recipe's three.
        expect(m.length, `${ref}/${epochs}`).toBe(Math.min(3, epochs - 1, new Set(ms.map((x) => Math.round((x / ref) * epochs)).filter((x) => x >= 1 && x < epochs)).size));
      }
    }
  });
});

describe('the shared setting comparison', () => {
  it('numbers up to rounding, arrays and objects by element', () => {
    expect(settingDifferences([['lr', 0.1, 0.1 + 1e-17], ['s', { kind: 'multistep', milestones: [1] }, { kind: 'multistep', milestones: [1] }]])).toEqual([]);
    expect(settingDifferences([['lr', 0.05, 0.5], ['s', [1, 2], [1]], ['m', 'a', undefined]])).toEqual([
      'lr 0.05 (asked: 0.5)',
      's [1,2] (asked: [1])',
      'm "a" (asked: undefined)',
    ]);
  });
});

describe('run directories', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    data = splits(0);
  });

  it('a non-empty run directory is refused without resume or force, and left as it was; force replaces it', async () => {
    const out = join(tempRoot(), 'run');
    const first = await train(options(out));
    first.student.dispose();
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const config = readFileSync(join(out, 'config.json'), 'utf8');
    const tensors = tf.memory().numTensors;
    await expect(train(options(out, { lr: 0.5 }))).rejects.toThrow(/is not empty \(best, checkpoint, config\.json, metrics\.jsonl, \.\.\.\); give --resume .* --force/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe(metrics);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(config);
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
    expect(tf.memory().numTensors).toBe(tensors);

    const notes: string[] = [];
    const forced = await train(options(out, { lr: 0.5, force: true, onNote: (n) => notes.push(n) }));
    forced.student.dispose();
    expect(notes).toEqual([`--force: replacing the run in ${out}`]);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).lr).toBe(0.5);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('--out on an existing file: a ConfigError, nothing written', async () => {
    const file = join(tempRoot(), 'file');
    writeFileSync(file, 'x');
    await expect(train(options(file))).rejects.toThrow(new ConfigError(`--out ${file} is a file, not a run directory; give the path of a directory (it is created if missing)`));
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('--resume with --force, and --force over a directory that is not a run: refused, nothing touched', async () => {
    const root = tempRoot();
    const out = join(root, 'never');
    await expect(train(options(out, { resume: true, force: true }))).rejects.toThrow(/give --resume .* or --force .*, not both/);
    expect(existsSync(out)).toBe(false);
    const notARun = join(root, 'photos');
    mkdirSync(notARun);
    writeFileSync(join(notARun, 'cat.jpg'), 'meow');
    await expect(train(options(notARun, { force: true }))).rejects.toThrow(/holds files that are not a run's \(cat\.jpg\); --force replaces only run directories/);
    expect(readdirSync(notARun)).toEqual(['cat.jpg']);
  });

  it('resume refuses changed settings and other data, allows more epochs, and says when it starts fresh', async () => {
    const root = tempRoot();
    const out = join(root, 'run');
    (await train(options(out))).student.dispose();
    await expect(train(options(out, { resume: true, lr: 0.5 }))).rejects.toThrow(/cannot resume with other settings: --lr 0\.05 \(asked: 0\.5\); only --epochs, --backend, --eval-batch-size may change: .*\(.*\)/);
    await expect(train(options(out, { resume: true, model: 'resnet14' }))).rejects.toThrow(/--model "resnet8" \(asked: "resnet14"\)/);
    // Same settings, other images (same name and size): the content hash tells.
    await expect(train(options(out, { resume: true, epochs: 2, data: splits(5) }))).rejects.toThrow(/the data differs from the run's \(content hash /);
    const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const extended = await train(options(out, { resume: true, epochs: 2 }));
    extended.student.dispose();
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    expect(lines.startsWith(before)).toBe(true);
    expect(lines.trim().split('\n').map((l) => JSON.parse(l).epoch)).toEqual([1, 2]);

    const notes: string[] = [];
    const fresh = await train(options(join(root, 'new'), { resume: true, onNote: (n) => notes.push(n) }));
    fresh.student.dispose();
    expect(notes).toEqual([`--resume: no checkpoint in ${join(root, 'new', 'checkpoint')}; starting a fresh run`]);
    expect(fresh.metrics).toHaveLength(1);
  });

  it('records the dataset used: name, counts and the hash of its images and labels', async () => {
    const out = join(tempRoot(), 'run');
    const r = await train(options(out));
    r.student.dispose();
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256');
    for (const d of [data.train, data.test]) {
      h.update(Buffer.from(d.images.buffer, d.images.byteOffset, d.images.byteLength));
      h.update(Buffer.from(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength));
    }
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved.dataset).toEqual({ name: 'synthetic', train: 48, test: 12, sha256: h.digest('hex') });
    expect(saved.data).toBe('synthetic (in memory)');
  });

  it('two runs into one directory at once: the second is refused (LockError), the first completes', async () => {
    const out = join(tempRoot(), 'run');
    const results = await Promise.allSettled([train(options(out)), train(options(out, { lr: 0.5, force: true }))]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(LockError);
    expect(String(refused[0]!.reason.message)).toContain(`is in use by another run in this process`);
    const winner = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof train>>>).value;
    winner.student.dispose();
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).lr).toBe(winner.config.lr);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });
});
