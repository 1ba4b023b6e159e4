import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/index.js';
import type { Teacher } from '../../src/teacher/index.js';
import { distill } from '../../src/train/index.js';
import { LEARNING_BUDGET, CHANCE_MULTIPLE, learningData } from './budget.js';
import { teacherWithHeads } from './teacher-fixture.js';

let data: { train: Dataset; test: Dataset };
let teacher: Teacher;

beforeAll(async () => {
  data = await learningData();
  teacher = await teacherWithHeads();
});
afterAll(() => teacher.dispose());

const METHODS: [string, Record<string, unknown>, string][] = [
  ['kd', {}, 'kd'],
  // DKD with its own warm-up (min(epoch / 20, 1), mdistiller's): ramped in at once (warmup 1), its 8 x NCKD term from
  // the shipped 94% teacher held one epoch of resnet8 at 29% (2 epochs: 24%; measured with this fixture), while with
  // the recipe's warm-up it reaches 45%: the warm-up is part of the method.
  ['dkd', {}, 'dkd'],
  ['fitnet', {}, 'hint'],
  ['at', {}, 'at'],
  ['sp', {}, 'sp'],
];

describe('logit and feature distillation methods learn from the shipped teacher', () => {
  for (const [method, methodOptions, term] of METHODS) {
    it(`${method}: accuracy well above chance (10%)`, async () => {
      const r = await distill({ teacher, student: 'resnet8', method, methodOptions, data, ...LEARNING_BUDGET.run });
      expect(r.last!.test.top1, `${method} top-1`).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
      expect(Object.keys(r.last!.train)).toContain(term);
      expect(r.last!.train[term]).toBeGreaterThan(0);
      r.student.dispose();
    });
  }
});
