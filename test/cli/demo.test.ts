import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json, tempDir } from './helpers.js';
import { demoWasmThreads } from '../../src/cli/demo.js';

const tmp = tempDir('demo');
afterAll(() => tmp.cleanup());

describe('demo', () => {
  it('--quick: the bundled teacher and three students on the slice, as a table and as JSON', async () => {
    const out = join(tmp.dir, 'demo');
    const r = await cli(['demo', '--quick', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{ rows: { name: string; method: string; methodOptions?: Record<string, unknown>; model: string; top1: number; ece: number; params: number; latencyMs: number; exported?: string }[]; testImages: number }>(r);
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
    // The demo runs cds-kd with view 1 uncut (DEMO_METHOD_OPTIONS), says so in its row, and the run records it.
    expect(j.rows.map((row) => row.methodOptions)).toEqual([undefined, undefined, undefined, { cutout: 0 }]);
    const config = JSON.parse(readFileSync(join(out, 'cds-kd', 'config.json'), 'utf8')) as { methodOptions: Record<string, unknown> };
    expect(config.methodOptions['cutout']).toBe(0);
  });

  it('--method-option goes over the demo\'s own; a bad one is refused in one line before anything runs', async () => {
    const out = join(tmp.dir, 'demo-options');
    const r = await cli(['demo', '--quick', '--methods', 'cds-kd', '--method-option', 'cds-kd.cutout=0.5', '--method-option', 'soft=2', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<{ rows: { method: string; methodOptions?: Record<string, unknown> }[] }>(r);
    // cutout 0.5 is the method's default: the row shows only what differs from it.
    expect(j.rows[1]).toMatchObject({ method: 'cds-kd', methodOptions: { soft: 2 } });
    const config = JSON.parse(readFileSync(join(out, 'cds-kd', 'config.json'), 'utf8')) as { methodOptions: Record<string, unknown> };
    expect(config.methodOptions).toMatchObject({ cutout: 0.5, soft: 2 });

    // The user's bare option replaces the demo's own cds-kd.cutout=0; the user's cds-kd.cutout wins over a bare one.
    const both = await cli(['demo', '--quick', '--methods', 'cds-kd', '--method-option', 'cds-kd.cutout=0.75', '--method-option', 'cutout=0.25', '--out', join(tmp.dir, 'both'), '--json']);
    expect(both.code, both.stderr).toBe(0);
    expect(json<{ rows: { methodOptions?: Record<string, unknown> }[] }>(both).rows[1]!.methodOptions).toEqual({ cutout: 0.75 });

    for (const [flag, message] of [
      ['cds-kd.cutout=1.5', /cutout" must be a fraction of the image side in \[0, 1\].*got 1\.5/],
      ['dkd.beta=2', /dkd is not among the compared methods/],
      ['nope=1', /none of the compared methods .* has an option "nope"/],
    ] as const) {
      const bad = await cli(['demo', '--method-option', flag, '--out', join(tmp.dir, 'never')]);
      expect(bad.code, flag).toBe(1);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(message);
      expect(existsSync(join(tmp.dir, 'never'))).toBe(false);
    }
  });

  it('on wasm runs 2 threads where there are 2+ cores, unless CDS_WASM_THREADS says otherwise', async () => {
    const run = async (env: NodeJS.ProcessEnv) => {
      const r = await cli(['demo', '--quick', '--backend', 'wasm', '--methods', 'ce', '--out', join(tmp.dir, 'demo-wasm'), '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      return json<{ backend: string; threads: number }>(r);
    };
    expect(await run({ CDS_WASM_THREADS: '' })).toMatchObject({ backend: 'wasm', threads: availableParallelism() >= 2 ? 2 : 1 });
    expect(await run({ CDS_WASM_THREADS: '1' })).toMatchObject({ backend: 'wasm', threads: 1 });
    expect(demoWasmThreads(1)).toBeUndefined();
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

  it('labels a method run with other options than its defaults, and says why cds-kd runs without cutout', async () => {
    const r = await cli(['demo', '--quick', '--methods', 'cds-kd', '--out', join(tmp.dir, 'demo-label')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^student resnet8\s+cds-kd cutout=0\s+[\d.]+%/m);
    expect(r.stdout).toMatch(/^cds-kd cutout=0: view 1 without the recipe's cutout hole/m);
    expect(r.stderr).toMatch(/x cds-kd cutout=0, 1 epoch/);
    // The published recipe: a plain row, no note, the same in the start line.
    const published = await cli(['demo', '--quick', '--methods', 'cds-kd', '--method-option', 'cutout=0.5', '--out', join(tmp.dir, 'demo-label-0.5')]);
    expect(published.stdout).toMatch(/^student resnet8\s+cds-kd\s+[\d.]+%/m);
    expect(published.stdout).not.toContain('cutout');
    expect(published.stderr).toMatch(/x cds-kd, 1 epoch/);
  });
});
