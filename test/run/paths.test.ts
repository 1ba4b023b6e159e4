import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_LOOKUP_ORDER, BUNDLE_LOOKUP_TEXT, bundleDirOfFile, findBundleDir, kindOf, runPaths } from '../../src/run/paths.js';
import { initBackend } from '../../src/runtime/index.js';
import { loadModel } from '../../src/train/saved-models.js';
import { loadTeacher } from '../../src/teacher/index.js';
import { createRunDir, readRunConfig } from '../../src/run/config.js';
import { ConfigError } from '../../src/train/errors.js';

const root = mkdtempSync(join(tmpdir(), 'cds-run-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function bundleAt(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bundle.json'), '{}');
}

describe('the run directory layout', () => {
  it('spells every path of a run directory once', () => {
    const p = runPaths('/r');
    expect(p).toEqual({
      dir: '/r',
      config: '/r/config.json',
      metrics: '/r/metrics.jsonl',
      checkpoint: '/r/checkpoint',
      checkpointStudent: '/r/checkpoint/student',
      best: '/r/best',
      student: '/r/student',
      studentModel: '/r/student/model.json',
      lock: '/r/run.lock',
    });
  });

  it('finds a bundle in the one lookup order: best/ before the last checkpoint, unless the last is preferred', async () => {
    const run = join(root, 'run');
    expect(await findBundleDir(run)).toBeUndefined();
    bundleAt(join(run, 'checkpoint', 'student'));
    expect(await findBundleDir(run)).toBe(join(run, 'checkpoint', 'student'));
    bundleAt(join(run, 'best'));
    expect(await findBundleDir(run)).toBe(join(run, 'best'));
    expect(await findBundleDir(run, 'last')).toBe(join(run, 'checkpoint', 'student'));
    // A checkpoint directory given itself: its student/ holds the bundle.
    expect(await findBundleDir(join(run, 'checkpoint'))).toBe(join(run, 'checkpoint', 'student'));
    // A bundle directory given itself comes first.
    expect(await findBundleDir(join(run, 'best'))).toBe(join(run, 'best'));
    for (const sub of BUNDLE_LOOKUP_ORDER) expect(BUNDLE_LOOKUP_TEXT).toContain(`${sub === '' ? '' : `${sub}/`}bundle.json`);
    expect(await kindOf(run)).toBe('dir');
    expect(await kindOf(join(run, 'best', 'bundle.json'))).toBe('file');
    expect(await kindOf(join(run, 'nothing'))).toBeUndefined();
  });

  it('writes config.json and reads it back; absent is undefined, invalid JSON is the caller\'s error', async () => {
    const run = join(root, 'nested', 'run');
    await createRunDir(run);
    expect(await readRunConfig(run)).toBeUndefined();
    await createRunDir(run, { method: 'kd', epochs: 2 });
    expect(readFileSync(join(run, 'config.json'), 'utf8')).toBe('{\n  "method": "kd",\n  "epochs": 2\n}\n');
    expect(await readRunConfig(run)).toEqual({ method: 'kd', epochs: 2 });
    writeFileSync(join(run, 'config.json'), '{"method": ');
    await expect(readRunConfig(run)).rejects.toBeInstanceOf(ConfigError);
    await expect(readRunConfig(run, { invalid: (file) => new Error(`bad ${file}`) })).rejects.toThrow(`bad ${join(run, 'config.json')}`);
  });
});

describe('a bundle named by one of its files', () => {
  it('bundle.json and the model.json beside it name the bundle; a plain model.json does not', async () => {
    const dir = join(root, 'named');
    bundleAt(dir);
    writeFileSync(join(dir, 'model.json'), '{}');
    const plain = join(root, 'plain');
    mkdirSync(plain, { recursive: true });
    writeFileSync(join(plain, 'model.json'), '{}');
    expect(await bundleDirOfFile(join(dir, 'bundle.json'))).toBe(dir);
    expect(await bundleDirOfFile(join(dir, 'model.json'))).toBe(dir);
    expect(await bundleDirOfFile(join(plain, 'model.json'))).toBeUndefined();
  });

  it("the shipped teacher's model.json loads as its bundle (10 classes), for eval and as a teacher", async () => {
    await initBackend('auto');
    const file = join(process.cwd(), 'teachers', 'resnet20-fashion-cds', 'model.json');
    const loaded = await loadModel(file);
    expect(loaded.kind).toBe('bundle');
    expect(loaded.model.outputs).toHaveLength(1);
    expect(loaded.model.outputs[0]!.shape).toEqual([null, 10]);
    loaded.dispose();
    const teacher = await loadTeacher(file);
    expect(teacher.numClasses).toBe(10);
    teacher.dispose();
  });
});
