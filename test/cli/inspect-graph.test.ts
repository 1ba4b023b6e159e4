import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli, json, tempDir } from './helpers.js';
import { graphParams, graphWeights, writeGraphModel } from '../teacher/graph-fixture.js';
import { inspectGraph } from '../../src/models/index.js';
import { CliError, errorLine, MAX_ERROR_LINE, reportError } from '../../src/cli/common.js';

const tmp = tempDir('inspect-graph');
const fixed = join(tmp.dir, 'fixed');
const free = join(tmp.dir, 'free');

beforeAll(async () => {
  await writeGraphModel(fixed, [16, 16, 3], 4, graphWeights(3, 4, 1));
  await writeGraphModel(free, [16, 16, 3], 4, graphWeights(3, 4, 1), true);
});
afterAll(() => tmp.cleanup());

describe('inspect a graph model', () => {
  it('describes inputs, outputs, op counts, parameters and the stage nodes to pass to --teacher-stages (JSON)', async () => {
    const r = await cli(['inspect', join(fixed, 'model.json'), '--backend', 'wasm', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = json<Record<string, any>>(r);
    expect(j['kind']).toBe('graph');
    expect(j['inputs']).toEqual([{ name: 'image', shape: [null, 16, 16, 3], dtype: 'float32' }]);
    expect(j['outputs']).toEqual(['probs']);
    expect(j['nodes']).toBe(14);
    const ops = Object.fromEntries((j['ops'] as { op: string; count: number }[]).map((o) => [o.op, o.count]));
    expect(ops).toEqual({ Const: 5, Conv2D: 2, Relu: 2, BiasAdd: 1, MatMul: 1, Mean: 1, Placeholder: 1, Softmax: 1 });
    // 3x3x3x4 + 3x3x4x6 + 6x4 + 4 float weights (the int32 axes constant is not a parameter).
    expect(j['params']).toBe(graphParams(3, 4));
    expect(j['params']).toBe(352);
    expect(j['probed']).toBe(true);
    expect(j['stageCandidates']).toEqual([
      { name: 'block1/relu', op: 'Relu', shape: [16, 16, 4] },
      { name: 'block2/relu', op: 'Relu', shape: [8, 8, 6] },
    ]);
  }, 60_000);

  it('text: the --teacher-stages line to copy; a directory works too; unknown input size probed with --input', async () => {
    const r = await cli(['inspect', fixed, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('graph model, 14 nodes, 352 parameters');
    expect(r.stdout).toContain('--teacher-stages block1/relu,block2/relu');
    const unprobed = json<Record<string, any>>(await cli(['inspect', free, '--backend', 'wasm', '--json']));
    expect(unprobed['probed']).toBe(false);
    expect(unprobed['inputs'][0].shape).toEqual([null, null, null, 3]);
    expect(unprobed['stageCandidates'].map((c: { name: string }) => c.name)).toEqual(['block1/conv', 'block1/relu', 'block2/conv', 'block2/relu', 'logits']);
    const probed = json<Record<string, any>>(await cli(['inspect', free, '--input', '16x16x3', '--backend', 'wasm', '--json']));
    expect(probed['stageCandidates'].map((c: { name: string }) => c.name)).toEqual(['block1/relu', 'block2/relu']);
  }, 60_000);

  it('inspectGraph is pure: outputs are the nodes nothing reads when there is no signature', () => {
    const json = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { unknownRank: true } } } },
          { name: 'a', op: 'Relu', input: ['x'] },
          { name: 'b', op: 'Identity', input: ['a:0'] },
          { name: 'c', op: 'Sigmoid', input: ['^a', 'x'] },
        ],
      },
      weightsManifest: [{ paths: [], weights: [{ name: 'k', shape: [2, 3], dtype: 'float32' }, { name: 'i', shape: [7], dtype: 'int32' }] }],
    };
    const r = inspectGraph('m.json', json);
    expect(r.inputs).toEqual([{ name: 'x', shape: [], dtype: 'float32' }]);
    expect(r.outputs).toEqual(['b', 'c']);
    expect(r.params).toBe(6);
    expect(r.stageCandidates).toEqual([{ name: 'a', op: 'Relu' }]);
    expect(r.probed).toBe(false);
  });
});

describe('errors are one line of about 200 characters without --verbose', () => {
  it('eval of a graph model on data of another shape: one short line, exit 1', async () => {
    const r = await cli(['eval', fixed, '--data', 'synthetic:8x8x3:4:40', '--backend', 'wasm']);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('error: ')).toBe(true);
    expect(lines[0]!.length).toBeLessThanOrEqual(MAX_ERROR_LINE);
    const verbose = await cli(['eval', fixed, '--data', 'synthetic:8x8x3:4:40', '--backend', 'wasm', '--verbose']);
    expect(verbose.code).toBe(1);
    // --verbose adds the stack trace.
    expect(verbose.stderr.split('\n').filter((l) => /^\s+at /.test(l)).length).toBeGreaterThan(0);
    expect(lines[0]).toContain('takes 16x16x3 inputs but synthetic images are 8x8x3');
    // On data of its shape, eval reads the graph model (its logits through the last output node).
    const ok = await cli(['eval', fixed, '--data', 'synthetic:16x16x3:4:40', '--backend', 'wasm', '--latency-runs', '0', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(json(ok)).toMatchObject({ kind: 'graph' });
  }, 60_000);

  it('reportError: long, multi-line messages cut to one line (saying so); --verbose prints them whole', () => {
    const long = `first line\n   ${'x'.repeat(5000)}\nlast line`;
    expect(errorLine(long, false).length).toBeLessThanOrEqual(MAX_ERROR_LINE);
    expect(errorLine(long, false)).toMatch(/^error: first line x+ \.\.\. \(cut: --verbose prints all of it\)$/);
    expect(errorLine(long, true)).toBe(`error: first line ${'x'.repeat(5000)} last line`);
    expect(errorLine('short\n  message', false)).toBe('error: short message');
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      for (const err of [new CliError(long), new Error(long), new TypeError('y'.repeat(900))]) {
        written.length = 0;
        expect(reportError(err, false)).toBe(1);
        const out = written.join('').split('\n').filter((l) => l !== '');
        expect(out).toHaveLength(1);
        expect(out[0]!.length).toBeLessThanOrEqual(MAX_ERROR_LINE);
      }
      // An unexpected error keeps its hint on the same line.
      written.length = 0;
      reportError(new Error(long), false);
      expect(written.join('')).toMatch(/\(unexpected error: rerun with --verbose for the stack trace and report it\)\n$/);
      written.length = 0;
      reportError(new CliError(long), true);
      expect(written.join('')).toContain('x'.repeat(5000));
    } finally {
      spy.mockRestore();
    }
  });
});
