import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/index.js';
import type { Teacher } from '../../src/teacher/index.js';
import { distill } from '../../src/train/index.js';
import { LEARNING_BUDGET, CHANCE_MULTIPLE, learningData } from './budget.js';
import { plainLayersTeacher, teacherWithHeads } from './teacher-fixture.js';

let data: { train: Dataset; test: Dataset };
let teacher: Teacher;

beforeAll(async () => {
  data = await learningData();
  teacher = await teacherWithHeads();
});
afterAll(() => teacher.dispose());

describe('relational, contrastive and CDS distillation learn from a teacher', () => {
  for (const [method, methodOptions, term] of [
    ['rkd', {}, 'rkd'],
    ['pkt', {}, 'pkt'],
    ['crd', { negatives: 1024 }, 'crd'],
  ] as const) {
    it(`${method}: accuracy well above chance (10%)`, async () => {
      const r = await distill({ teacher, student: 'resnet8', method, methodOptions, data, ...LEARNING_BUDGET.run });
      expect(r.last!.test.top1, `${method} top-1`).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
      expect(Object.keys(r.last!.train)).toContain(term);
      r.student.dispose();
    });
  }

  it('cds-kd from the CDS-trained teacher (its projections, L2 alignment) learns', async () => {
    expect(teacher.hasProjections).toBe(true);
    const r = await distill({ teacher, student: 'resnet8', method: 'cds-kd', data, ...LEARNING_BUDGET.run });
    expect(r.last!.test.top1).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
    expect(Object.keys(r.last!.train).sort()).toEqual(['ce', 'contrastive', 'feat', 'loss', 'soft']);
    // resnet20 and resnet8 both have three stages: matched in order, and the run's config says so.
    expect(r.config.stageMatch).toBe('s0->t0, s1->t1, s2->t2');
    r.student.dispose();
  });

  it('cds-kd with contrastive (InfoNCE) alignment learns', async () => {
    const r = await distill({
      teacher,
      student: 'resnet8',
      method: 'cds-kd',
      methodOptions: { alignment: 'contrastive' },
      data,
      ...LEARNING_BUDGET.run,
    });
    expect(r.last!.test.top1).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
    r.student.dispose();
  });

  it('cds-kd from a plain LayersModel teacher without heads (pooled stage features through adaptation layers) learns', async () => {
    const plain = await plainLayersTeacher();
    expect(plain.hasProjections).toBe(false);
    expect(plain.kind).toBe('layers');
    const r = await distill({ teacher: plain, student: 'resnet8', method: 'cds-kd', data, ...LEARNING_BUDGET.run });
    expect(r.last!.test.top1).toBeGreaterThan(CHANCE_MULTIPLE * 0.1);
    r.student.dispose();
    plain.dispose();
  });
});
