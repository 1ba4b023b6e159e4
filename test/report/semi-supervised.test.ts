import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare, planCompare, CompareError } from '../../src/report/index.js';
import { initBackend } from '../../src/runtime/index.js';

const TEACHER = 'teachers/resnet20-fashion-cds';

describe('compare passes the labelled fraction (semi-supervised) to every run', () => {
  it('each planned distill command and config carries --labeled-fraction; without it, all labels are kept', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cds-semi-')), 'cmp');
    const base = { teacher: TEACHER, student: 'resnet8', methods: ['ce', 'cds'], seeds: 1, epochs: 1, data: 'fashion-mnist-slice', out };
    const lines = await planCompare({ ...base, labeledFraction: 0.1 });
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      const i = l.argv.indexOf('--labeled-fraction');
      expect(l.argv[i + 1]).toBe('0.1');
      expect(l.config.labeledFraction).toBe(0.1);
    }
    for (const l of await planCompare(base)) {
      expect(l.argv).not.toContain('--labeled-fraction');
      expect(l.config.labeledFraction).toBeUndefined();
    }
    await expect(planCompare({ ...base, labeledFraction: 0 })).rejects.toThrow(CompareError);
    await expect(planCompare({ ...base, labeledFraction: 1.5 })).rejects.toThrow(/labeledFraction must be a number in \(0, 1\]/);
  });

  it('a run made in-process records the fraction in its config.json and the report names it', async () => {
    await initBackend('cpu');
    const out = join(mkdtempSync(join(tmpdir(), 'cds-semi-run-')), 'cmp');
    await compare({
      teacher: TEACHER,
      student: 'resnet8',
      methods: ['ce'],
      seeds: 1,
      epochs: 1,
      data: 'fashion-mnist-slice',
      limit: 40,
      testLimit: 20,
      maxStepsPerEpoch: 2,
      batchSize: 8,
      labeledFraction: 0.25,
      runner: 'in-process',
      evaluateTeacher: false,
      out,
    });
    const config = JSON.parse(readFileSync(join(out, 'runs', 'ce-seed0', 'config.json'), 'utf8')) as { labeledFraction?: number };
    expect(config.labeledFraction).toBe(0.25);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('labels kept for 25% of the training images');
  }, 120_000);
});
