// Image folders whose train/ and test/ splits hold different class folders: the test split takes the training
// split's class names and maps its folders onto them by name (issue 12, item 1).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, loadTrainTest, readImageFolder } from '../../src/data/index.js';
import { initBackend, tf } from '../../src/runtime/index.js';
import { evaluate } from '../../src/train/evaluate.js';
import { ConfigError, distill, train } from '../../src/train/index.js';
import { evaluateModel } from '../../src/train/saved-models.js';
import { rejection, tempDir } from './fixtures.js';
import { cli, errorLines } from '../cli/helpers.js';

const COLOURS: Record<string, [number, number, number]> = { blue: [0, 0, 255], green: [0, 255, 0], red: [255, 0, 0] };

/** A 6x6 (or size x size) PNG of one colour with a little per-image noise, so no two images are identical. */
function writeSquare(file: string, rgb: [number, number, number], seed: number, size = 6): void {
  const png = new PNG({ width: size, height: size });
  for (let p = 0; p < size * size; p++) {
    const jitter = (seed * 7 + p * 3) % 20;
    png.data.set([Math.abs(rgb[0] - jitter), Math.abs(rgb[1] - jitter), Math.abs(rgb[2] - jitter), 255], p * 4);
  }
  writeFileSync(file, PNG.sync.write(png));
}

/** root/train/{blue,green,red} (3 images each) and root/test/<testClasses> (2 images each), size x size pixels. */
function colouredSquares(testClasses: readonly string[], size = 6): string {
  const root = tempDir('cds-folder-splits-');
  for (const [split, classes, n] of [['train', Object.keys(COLOURS), 3], ['test', testClasses, 2]] as const) {
    for (const name of classes) {
      mkdirSync(join(root, split, name), { recursive: true });
      for (let i = 0; i < n; i++) writeSquare(join(root, split, name, `${i}.png`), COLOURS[name] ?? [128, 128, 128], i, size);
    }
  }
  return root;
}

/**
 * A hand-built classifier for the squares: global average pooling, then logit k = the mean of channel
 * [2, 1, 0][k] (blue, green, red in the training split's sorted class order). Right on every image when labels are.
 */
function colourModel(): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 3] });
  const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 3, useBias: false });
  const logits = dense.apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  dense.setWeights([tf.tensor2d([[0, 0, 1], [0, 1, 0], [1, 0, 0]])]);
  return model;
}

describe('image folder splits with different classes', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it("maps the test folders onto the training split's classes by name, says which class has no test images", async () => {
    const root = colouredSquares(['blue', 'red']);
    const { train, test } = await loadTrainTest(`folder:${root}`);
    expect(train.classNames).toEqual(['blue', 'green', 'red']);
    expect(test.classNames).toEqual(['blue', 'green', 'red']);
    // Before the fix red got label 1 (its position among the test folders), i.e. "green".
    expect(Array.from(test.labels)).toEqual([0, 0, 2, 2]);
    expect(train.note).toBeUndefined();
    expect(test.note).toMatch(/no images of 1 of the 3 classes \(green\)/);
    // The single-split loader maps the same way.
    const alone = await loadDataset(`folder:${root}`, { split: 'test' });
    expect(Array.from(alone.labels)).toEqual([0, 0, 2, 2]);

    const model = colourModel();
    const before = tf.memory().numTensors;
    const onTest = evaluate(model, test);
    const onTrain = evaluate(model, train);
    expect(tf.memory().numTensors).toBe(before);
    expect(onTest.count).toBe(4);
    expect(onTest.top1).toBe(1);
    expect(onTrain.top1).toBe(1);
    model.dispose();
  });

  it('a class folder only in the test split is a one-line error naming it', async () => {
    const root = colouredSquares(['blue', 'purple', 'red']);
    const err = await rejection(loadTrainTest(`folder:${root}`));
    expect(err.message).toMatch(/class folder 'purple' is not a class of the training split \(blue, green, red\)/);
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(300);
  });

  it('readImageFolder with classNames: an empty folder of a listed class counts as absent; a folder of none is refused', async () => {
    const root = tempDir('cds-folder-names-');
    mkdirSync(join(root, 'red'));
    mkdirSync(join(root, 'green'));
    writeSquare(join(root, 'red', 'a.png'), COLOURS['red']!, 0);
    const ds = await readImageFolder(root, { classNames: ['blue', 'green', 'red'] });
    expect(Array.from(ds.labels)).toEqual([2]);
    expect(ds.classNames).toEqual(['blue', 'green', 'red']);
    expect(ds.note).toMatch(/\(blue, green\)/);
    const err = await rejection(readImageFolder(root, { classNames: ['cat', 'dog'] }));
    expect(err.message).toMatch(/class folder 'green' is not a class/);
    // A long class list stays one short line.
    const many = Array.from({ length: 100 }, (_, i) => `class_${String(i).padStart(3, '0')}`);
    const long = await rejection(readImageFolder(root, { classNames: many }));
    expect(long.message).toMatch(/\(class_000, .*, class_007, \.\.\. \(92 more\)\)/);
    expect(long.message.length - root.length).toBeLessThan(250);
  });

  it('the CLI says the absent test class once on stderr, and refuses a test-only class folder in one line (exit 1)', async () => {
    const args = ['--model', 'resnet8', '--method', 'ce', '--epochs', '1', '--max-steps', '1', '--batch-size', '3', '--backend', 'wasm'];
    const ok = colouredSquares(['blue', 'red'], 8);
    const r = await cli(['train', ...args, '--data', `folder:${ok}`, '--out', join(ok, 'run')]);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.includes('has no images of'));
    expect(notes).toEqual([`data: ${join(ok, 'test')} has no images of 1 of the 3 classes (green); its metrics cover the other classes`]);
    const bad = colouredSquares(['blue', 'purple', 'red'], 8);
    const e = await cli(['train', ...args, '--data', `folder:${bad}`, '--out', join(bad, 'run')]);
    expect(e.code).toBe(1);
    expect(errorLines(e)).toEqual([expect.stringMatching(/^error: .*purple: class folder 'purple' is not a class of the training split \(blue, green, red\); rename it/)]);
    expect(e.stderr).not.toMatch(/unexpected error|^\s+at /m);
  }, 120_000);

  it('a run records its class names; eval and distill refuse data whose classes differ, even at the same count', async () => {
    const trained = colouredSquares(['blue', 'green', 'red'], 8);
    const runDir = join(trained, 'run');
    const r = await train({ data: `folder:${trained}`, model: 'resnet8', method: 'ce', epochs: 1, maxStepsPerEpoch: 1, batchSize: 3, out: runDir });
    r.student.dispose();
    expect(r.config.classNames).toEqual(['blue', 'green', 'red']);
    expect((await evaluateModel(runDir, `folder:${trained}`, { latencyRuns: 0 })).metrics.count).toBe(6);
    // Three classes again, but other ones: the logits would be read as the wrong colours.
    const other = tempDir('cds-folder-other-');
    for (const split of ['train', 'test']) {
      for (const name of ['blue', 'red', 'yellow']) {
        mkdirSync(join(other, split, name), { recursive: true });
        writeSquare(join(other, split, name, '0.png'), COLOURS[name] ?? [255, 255, 0], 0, 8);
      }
    }
    const want = /was trained on the classes \(blue, green, red\) but .* has \(blue, red, yellow\); use data with the same classes in the same order/;
    const e1 = await evaluateModel(runDir, `folder:${other}`, { latencyRuns: 0 }).catch((e: unknown) => e as Error);
    expect(e1).toBeInstanceOf(ConfigError);
    expect((e1 as Error).message).toMatch(want);
    const e2 = await distill({ data: `folder:${other}`, teacher: runDir, student: 'resnet8', method: 'kd', epochs: 1, maxStepsPerEpoch: 1, batchSize: 3 }).catch((e: unknown) => e as Error);
    expect(e2).toBeInstanceOf(ConfigError);
    expect((e2 as Error).message).toMatch(want);
  }, 120_000);
});
