/**
 * The CDS methods' `cutout` option reaches the training steps (not only the resolved options): the same seed with the
 * same cutout gives the same losses, another cutout other losses; and a run made before the option existed (its
 * config.json has no `cutout`) resumes as the default it ran with.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/index.js';
import { train } from '../../src/train/index.js';
import { loadTrainTest } from '../../src/data/index.js';
import { tempDir } from '../cli/helpers.js';

const tmp = tempDir('cutout-option');
afterAll(() => tmp.cleanup());

describe('cutout method option', () => {
  beforeAll(async () => {
    await initBackend('auto');
  });

  it('changes the views the steps train on', async () => {
    const data = await loadTrainTest('synthetic:28x28x1:4:16', { testLimit: 8 });
    const lossWith = async (cutout: number): Promise<number> => {
      const r = await train({ data, model: 'resnet8', method: 'cds', methodOptions: { cutout }, epochs: 1, batchSize: 8, seed: 0, evalBatchSize: 8 });
      r.student.dispose();
      return r.metrics[0]!.train['ce']!;
    };
    const uncut = await lossWith(0);
    expect(await lossWith(0)).toBe(uncut);
    expect(await lossWith(0.5)).not.toBe(uncut);
  }, 120_000);

  it('a run whose config.json predates the option resumes with its default, and refuses another value', async () => {
    const data = await loadTrainTest('synthetic:28x28x1:4:16', { testLimit: 8 });
    const out = join(tmp.dir, 'old-run');
    const common = { data, model: 'resnet8', method: 'cds', batchSize: 8, seed: 0, evalBatchSize: 8, out } as const;
    (await train({ ...common, epochs: 1 })).student.dispose();
    const configPath = join(out, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { methodOptions: Record<string, unknown> };
    expect(config.methodOptions['cutout']).toBe(0.5);
    delete config.methodOptions['cutout'];
    writeFileSync(configPath, JSON.stringify(config));
    await expect(train({ ...common, epochs: 2, resume: true, methodOptions: { cutout: 0 } })).rejects.toThrow(/cutout/);
    const resumed = await train({ ...common, epochs: 2, resume: true });
    expect(resumed.metrics).toHaveLength(2);
    resumed.student.dispose();
  }, 120_000);
});
