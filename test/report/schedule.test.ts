import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCompare } from '../../src/report/index.js';

describe('compare passes a learning-rate schedule to every run', () => {
  it('each planned distill command and config carries --schedule; without it, the recipe decides', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cds-schedule-')), 'cmp');
    const base = { teacher: 'teachers/resnet20-fashion-cds', student: 'resnet8', methods: ['ce', 'kd'], seeds: 2, epochs: 3, data: 'fashion-mnist-slice', out };
    const lines = await planCompare({ ...base, schedule: 'cosine' });
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      const i = l.argv.indexOf('--schedule');
      expect(l.argv[i + 1]).toBe('cosine');
      expect(l.config.schedule).toBe('cosine');
    }
    const plain = await planCompare(base);
    for (const l of plain) {
      expect(l.argv).not.toContain('--schedule');
      expect(l.config.schedule).toBeUndefined();
    }
  });
});
