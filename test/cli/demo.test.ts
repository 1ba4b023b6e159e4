import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, tempDir } from './helpers.js';

const tmp = tempDir('demo');
afterAll(() => tmp.cleanup());

describe('demo', () => {
  it('--quick: the bundled teacher and three students on the slice, as a table and as JSON', async () => {
    const out = join(tmp.dir, 'demo');
    const r = await cli(['demo', '--quick', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{ rows: { name: string; method: string; model: string; top1: number; ece: number; params: number; latencyMs: number; exported?: string }[]; testImages: number }>(r);
    expect(j.testImages).toBe(200);
    expect(j.rows.map((row) => [row.name, row.method])).toEqual([
      ['teacher', 'cds'],
      ['student', 'ce'],
      ['student', 'kd'],
      ['student', 'cds-kd'],
    ]);
    const [teacher, ...students] = j.rows;
    // The shipped teacher is trained: far above chance (10%) on Fashion-MNIST.
    expect(teacher!.top1).toBeGreaterThan(0.7);
    expect(teacher!.model).toBe('resnet20');
    for (const s of students) {
      expect(s.model).toBe('resnet8');
      expect(s.params).toBeLessThan(teacher!.params);
      expect(s.latencyMs).toBeGreaterThan(0);
      expect(existsSync(s.exported!)).toBe(true);
    }
    expect(r.stderr).toMatch(/^\[cds-kd\] epoch 1: ce /m);
  });

  it('prints the comparison table and where the students are', async () => {
    const out = join(tmp.dir, 'demo-text');
    const r = await cli(['demo', '--quick', '--methods', 'ce,kd', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\s+method\s+top-1\s+vs ce\s+ECE\s+NLL\s+params\s+latency\/image\s+train time/);
    expect(r.stdout).toMatch(/^teacher resnet20\s+cds\s+[\d.]+%/m);
    expect(r.stdout).toMatch(/^student resnet8\s+kd\s+[\d.]+%\s+[-+][\d.]+\s/m);
    expect(r.stdout).toContain(join(out, 'kd', 'student', 'model.json'));
  });
});
