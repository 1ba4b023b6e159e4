import { beforeAll, describe, expect, it } from 'vitest';
import { loadTrainTest } from '../../src/data/index.js';
import type { Dataset } from '../../src/data/index.js';
import { train } from '../../src/train/index.js';
import { LEARNING_BUDGET, CHANCE_MULTIPLE, learningData } from './budget.js';

let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  data = await learningData();
});

describe('teacher-free methods learn Fashion-MNIST within a short budget', () => {
  for (const method of ['ce', 'ds', 'ds-kl', 'cds', 'cds-simclr']) {
    it(`${method}: accuracy well above chance (10%)`, async () => {
      const r = await train({ model: 'resnet8', method, data, ...LEARNING_BUDGET.run });
      const top1 = r.last!.test.top1;
      expect(top1, `${method} top-1 ${top1}`).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
      const terms = Object.keys(r.last!.train);
      if (method.startsWith('cds')) expect(terms).toContain('contrastive');
      if (method.startsWith('ds')) expect(terms).toContain('ds');
      r.student.dispose();
    });
  }

  it('semi-supervised cds with 30% of the labels learns', async () => {
    const semi = await loadTrainTest('fashion-mnist-slice', {
      limit: LEARNING_BUDGET.limit,
      testLimit: LEARNING_BUDGET.testLimit,
      labeledFraction: 0.3,
    });
    const labelled = semi.train.labeled!.reduce((s, m) => s + m, 0);
    expect(labelled / semi.train.size).toBeCloseTo(0.3, 1);
    const r = await train({ model: 'resnet8', method: 'cds', data: semi, ...LEARNING_BUDGET.run });
    expect(r.last!.test.top1).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
    r.student.dispose();
  });
});
