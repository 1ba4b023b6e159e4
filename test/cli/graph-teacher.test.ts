import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, errorLines, json, tempDir } from './helpers.js';
import { graphWeights, writeGraphModel } from '../teacher/graph-fixture.js';

// A hand-written GraphModel teacher for synthetic 16x16x3 data with 4 classes (its output is a softmax; its logits are
// the node "logits"; its stages the nodes block1/relu (16x16x4) and block2/relu (8x8x6)).
const DATA = 'synthetic:16x16x3:4:48';
const TINY = ['--data', DATA, '--epochs', '1', '--max-steps', '2', '--batch-size', '8', '--backend', 'wasm'];
const tmp = tempDir('graph-teacher');
const teacher = join(tmp.dir, 'graph', 'model.json');

beforeAll(async () => {
  await writeGraphModel(join(tmp.dir, 'graph'), [16, 16, 3], 4, graphWeights(3, 4, 9));
});
afterAll(() => tmp.cleanup());

function epochs(runDir: string): Record<string, any>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('distill from a GraphModel teacher on the command line', () => {
  it('kd with no stages at all, the logits named with --teacher-logits', async () => {
    const out = join(tmp.dir, 'kd');
    const r = await cli(['distill', '--teacher', teacher, '--teacher-logits', 'logits', '--student', 'resnet8', '--method', 'kd', ...TINY, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<Record<string, any>>(r);
    expect(j['config']).toMatchObject({ teacher, teacherLogits: 'logits', method: 'kd' });
    expect(j['config']['stageMatch']).toBeUndefined();
    const [e1] = epochs(out);
    expect(Number.isFinite(e1!.train.kd)).toBe(true);
    expect(e1!.train.kd).toBeGreaterThan(0);
  }, 180_000);

  it('a stage-using method (at) with --teacher-stages naming graph nodes', async () => {
    const out = join(tmp.dir, 'at');
    const r = await cli([
      'distill', '--teacher', teacher, '--teacher-stages', 'block1/relu,block2/relu', '--teacher-logits', 'logits',
      '--student', 'resnet8', '--method', 'at', ...TINY, '--out', out, '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = json<Record<string, any>>(r);
    expect(j['config']).toMatchObject({ teacherStages: ['block1/relu', 'block2/relu'], method: 'at' });
    // resnet8's 3 stages onto the teacher's 2.
    expect(typeof j['config']['stageMatch']).toBe('string');
    const [e1] = epochs(out);
    expect(e1!.train.at).toBeGreaterThan(0);
  }, 180_000);

  it('a stage-using method without --teacher-stages: one line naming the fix, exit 1', async () => {
    const r = await cli(['distill', '--teacher', teacher, '--student', 'resnet8', '--method', 'fitnet', ...TINY, '--out', join(tmp.dir, 'no'), '--json']);
    expect(r.code).toBe(1);
    const lines = errorLines(r);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: method fitnet needs the teacher's stage features: pass --teacher-stages A,B,\.\.\. \(cds-distill inspect lists candidates\) or use kd or dkd; teacher /);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    // A misspelt node: one line with the names that exist.
    const bad = await cli(['distill', '--teacher', teacher, '--teacher-stages', 'block1/relux', '--student', 'resnet8', '--method', 'at', ...TINY, '--out', join(tmp.dir, 'no2')]);
    expect(bad.code).toBe(1);
    expect(errorLines(bad)).toHaveLength(1);
    expect(errorLines(bad)[0]).toContain('stage node "block1/relux" is not a node of');
  }, 180_000);

  it('compare passes the same names to every run (plan) ', async () => {
    const r = await cli([
      'compare', '--teacher', teacher, '--teacher-stages', 'block1/relu,block2/relu', '--teacher-logits', 'logits', '--student', 'resnet8',
      '--methods', 'kd,at', '--seeds', '1', '--data', DATA, '--epochs', '1', '--out', join(tmp.dir, 'cmp'), '--plan', '-',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; config: Record<string, unknown> });
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      const argv = line.argv.join(' ');
      expect(argv).toContain('--teacher-stages block1/relu,block2/relu');
      expect(argv).toContain('--teacher-logits logits');
      expect(line.config).toMatchObject({ teacherStages: ['block1/relu', 'block2/relu'], teacherLogits: 'logits' });
    }
  }, 60_000);
});
