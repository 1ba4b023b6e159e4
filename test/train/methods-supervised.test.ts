import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { train } from '../../src/train/index.js';
import { LEARNING_BUDGET, CHANCE_MULTIPLE, halfResolution, learningData } from './budget.js';

let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  // No teacher to match here: half-resolution images (14x14) learn as well within the budget, about 3x faster.
  const full = await learningData();
  data = { train: halfResolution(full.train), test: halfResolution(full.test) };
  expect(data.train.inputShape).toEqual([14, 14, 1]);
  // 2x2 means keep the pixel mean (up to rounding).
  expect(data.train.mean[0]).toBeCloseTo(full.train.mean[0]!, 2);
});

describe('teacher-free methods learn Fashion-MNIST within a short budget', () => {
  for (const method of ['ce', 'ds', 'ds-kl', 'cds', 'cds-simclr']) {
    it(`${method}: accuracy well above chance (10%)`, async () => {
      // The two-view contrastive methods learn more slowly per step (38% after one epoch here): two epochs, still
      // cheaper than one at 28x28, keep them well clear of the bar.
      const epochs = method.startsWith('cds') ? 2 : 1;
      const r = await train({ model: 'resnet8', method, data, ...LEARNING_BUDGET.run, epochs });
      const top1 = r.last!.test.top1;
      expect(top1, `${method} top-1 ${top1}`).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
      const terms = Object.keys(r.last!.train);
      if (method.startsWith('cds')) expect(terms).toContain('contrastive');
      if (method.startsWith('ds')) expect(terms).toContain('ds');
      r.student.dispose();
    });
  }

  it('semi-supervised cds with 30% of the labels learns', async () => {
    const full = await loadTrainTest('fashion-mnist-slice', {
      limit: LEARNING_BUDGET.limit,
      testLimit: LEARNING_BUDGET.testLimit,
      labeledFraction: 0.3,
    });
    const semi = { train: halfResolution(full.train), test: halfResolution(full.test) };
    const labelled = semi.train.labeled!.reduce((s, m) => s + m, 0);
    expect(labelled / semi.train.size).toBeCloseTo(0.3, 1);
    // With 30% of the labels one epoch leaves it near the bar (31% measured at 28x28, 23% at 14x14); two epochs clear it (47%).
    const r = await train({ model: 'resnet8', method: 'cds', data: semi, ...LEARNING_BUDGET.run, epochs: 2 });
    expect(r.last!.test.top1).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
    r.student.dispose();
  });
});
