import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  barsSpec,
  buildReport,
  csvTable,
  curvesSpec,
  markdownTable,
  planRuns,
  renderSvg,
  resolveSetup,
  summarizeRun,
  writeReport,
  CompareError,
} from '../../src/report/index.js';
import type { CompareSetup, RunSummary, TeacherFigures } from '../../src/report/index.js';
import { configDifferences } from '../../src/report/runs.js';
import { assertWellFormedSvg, countElements, markGroups } from './svg.js';

const setup: CompareSetup = {
  teacher: 't',
  student: 'resnet8',
  data: 'fashion-mnist-slice',
  methods: ['ce', 'kd', 'crd'],
  seeds: [0, 1, 2],
  epochs: 3,
};

const teacher: TeacherFigures = { source: 't', top1: 0.9, top5: 0.99, ece: 0.02, nll: 0.3, count: 100, params: 1000 };

function run(method: string, seed: number, curve: number[], seconds = 1): RunSummary {
  const bestIdx = curve.indexOf(Math.max(...curve));
  const fig = (i: number) => ({ epoch: i + 1, top1: curve[i]!, top5: Math.min(1, curve[i]! + 0.2), ece: 0.1 - curve[i]! / 10, nll: 1 });
  return {
    name: `${method}-seed${seed}`,
    method,
    seed,
    runDir: `/x/${method}-seed${seed}`,
    epochs: curve.length,
    best: fig(bestIdx),
    last: fig(curve.length - 1),
    secondsPerEpoch: seconds,
    imgPerSec: 100,
    params: 500,
    trainParams: 600,
    curve,
  };
}

const runs = [
  run('ce', 0, [0.5, 0.6, 0.55]),
  run('ce', 1, [0.5, 0.62, 0.6]),
  run('ce', 2, [0.4, 0.5, 0.58]),
  run('kd', 0, [0.6, 0.7, 0.69], 2),
  run('kd', 1, [0.6, 0.66, 0.7], 2),
  run('kd', 2, [0.5, 0.64, 0.65], 2),
];

describe('report table', () => {
  it('aggregates mean and sample std per method, best and last epochs, curves', () => {
    const report = buildReport(setup, teacher, runs, [{ name: 'crd-seed0', method: 'crd', seed: 0, runDir: '/x', reason: 'not run' }]);
    expect(report.rows.map((r) => r.method)).toEqual(['ce', 'kd']);
    const ce = report.rows[0]!;
    // best top-1 per seed: 0.6, 0.62, 0.58 -> mean 0.6, sample std 0.02
    expect(ce.best.top1.mean).toBeCloseTo(0.6, 12);
    expect(ce.best.top1.std).toBeCloseTo(0.02, 12);
    expect(ce.best.epoch.mean).toBeCloseTo((2 + 2 + 3) / 3, 12);
    // last: 0.55, 0.6, 0.58 -> mean 0.57666..., std sqrt(((-.0266)^2+(.0233)^2+(.0033)^2)/2)
    const last = [0.55, 0.6, 0.58];
    const m = last.reduce((a, b) => a + b) / 3;
    expect(ce.last.top1.mean).toBeCloseTo(m, 12);
    expect(ce.last.top1.std).toBeCloseTo(Math.sqrt(last.reduce((a, b) => a + (b - m) ** 2, 0) / 2), 12);
    expect(report.curves.filter((c) => c.method === 'kd').map((c) => c.top1.mean)).toEqual([
      expect.closeTo((0.6 + 0.6 + 0.5) / 3, 12),
      expect.closeTo((0.7 + 0.66 + 0.64) / 3, 12),
      expect.closeTo((0.69 + 0.7 + 0.65) / 3, 12),
    ]);
    expect(report.best.bestTop1).toEqual(['kd']);
    expect(report.best.bestEce).toEqual(['kd']);
    expect(report.best.secondsPerEpoch).toEqual(['ce']);
    expect(report.best.params).toEqual([]); // every method ties: nothing to mark
    expect(report.missing).toHaveLength(1);
  });

  it('renders Markdown with the teacher on top and the best cells in bold, and CSV with raw numbers', () => {
    const report = buildReport(setup, teacher, runs, []);
    const md = markdownTable(report).split('\n');
    expect(md[2]).toMatch(/^\| teacher \| – \| 90\.00 \| 99\.00 \| 0\.0200 \|/);
    expect(md[3]).toMatch(/^\| ce \| 3 \| 60\.00 ± 2\.00 \|/);
    expect(md[4]).toContain('**68.33 ± 2.89**'); // kd best top-1: 0.7, 0.7, 0.65
    expect(md[3]).toContain('**1.00 ± 0.00**'); // ce is faster
    const csv = csvTable(report).trim().split('\n').map((l) => l.split(','));
    expect(csv[0]![0]).toBe('role');
    expect(csv[1]!.slice(0, 2)).toEqual(['teacher', 't']);
    const kd = csv.find((r) => r[1] === 'kd')!;
    const col = (name: string) => Number(kd[csv[0]!.indexOf(name)]);
    expect(col('best_top1_mean')).toBeCloseTo(2.05 / 3, 12); // 0.7 + 0.7 + 0.65
    expect(col('params')).toBe(500);
    expect(kd[csv[0]!.indexOf('best_columns')]).toContain('bestTop1');
  });

  it('plots: one line and one band per method, a bar and an error bar per method, the teacher rule', async () => {
    const report = buildReport(setup, teacher, runs, []);
    const curves = await renderSvg(curvesSpec(report));
    assertWellFormedSvg(curves);
    const lines = markGroups(curves, 'line');
    expect(lines).toHaveLength(2);
    for (const g of lines) expect(countElements(g, 'path')).toBe(1);
    expect(markGroups(curves, 'area')).toHaveLength(2);
    expect(markGroups(curves, 'symbol').map((g) => countElements(g, 'path'))).toEqual([6]); // 2 methods x 3 epochs
    expect(markGroups(curves, 'rule').map((g) => countElements(g, 'line'))).toEqual([1]); // the teacher
    expect(curves).toContain('teacher 90.00%');

    const bars = await renderSvg(barsSpec(report));
    assertWellFormedSvg(bars);
    expect(markGroups(bars, 'rect').map((g) => countElements(g, 'path'))).toEqual([2, 2, 2]); // bars, lower and upper caps
    expect(markGroups(bars, 'rule').map((g) => countElements(g, 'line'))).toEqual([2, 1]); // error bars, teacher
  });

  it('writes results.json, results.csv, report.md and the SVGs it references', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-report-'));
    const report = await writeReport(buildReport(setup, null, runs, []), dir);
    const md = await readFile(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('](accuracy-per-epoch.svg)');
    expect(md).toContain('](final-accuracy.svg)');
    expect(md).not.toContain('| teacher |');
    const json = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
    expect(json.rows).toHaveLength(2);
    expect(json.files.markdown).toBe(join(dir, 'report.md'));
    assertWellFormedSvg(await readFile(report.files!.curvesSvg, 'utf8'));
  });
});

describe('comparison setup', () => {
  it('plans one distill run per method x seed with the pass-through options', () => {
    const s = resolveSetup({
      teacher: 'T',
      student: 'resnet8',
      methods: ['CE', 'kd', 'cds-kd', 'kd'],
      seeds: 2,
      data: 'fashion-mnist-slice',
      epochs: 4,
      batchSize: 32,
      limit: 100,
      maxStepsPerEpoch: 3,
      methodOptions: { temperature: 3, 'cds-kd.contrastive': 0.2 },
    });
    expect(s.methods).toEqual(['ce', 'kd', 'cds-kd']);
    expect(s.seeds).toEqual([0, 1]);
    // temperature goes to every method that has it (kd, cds-kd), the scoped option to cds-kd only.
    expect(s.methodOptions).toEqual({ kd: { temperature: 3 }, 'cds-kd': { temperature: 3, contrastive: 0.2 } });
    const specs = planRuns(s, '/out');
    expect(specs.map((r) => r.name)).toEqual(['ce-seed0', 'ce-seed1', 'kd-seed0', 'kd-seed1', 'cds-kd-seed0', 'cds-kd-seed1']);
    const kd1 = specs[3]!;
    expect(kd1.runDir).toBe('/out/runs/kd-seed1');
    expect(kd1.argv).toEqual([
      'distill', '--teacher', 'T', '--student', 'resnet8', '--method', 'kd', '--data', 'fashion-mnist-slice',
      '--epochs', '4', '--batch-size', '32', '--limit', '100', '--max-steps', '3', '--seed', '1',
      '--method-option', 'temperature=3', '--out', '/out/runs/kd-seed1', '--resume', '--json',
    ]);
    expect(kd1.options).toEqual({
      teacher: 'T', student: 'resnet8', method: 'kd', data: 'fashion-mnist-slice', epochs: 4, seed: 1, out: '/out/runs/kd-seed1',
      resume: true, batchSize: 32, limit: 100, maxStepsPerEpoch: 3, methodOptions: { temperature: 3 },
    });
  });

  it('refuses unknown methods, options no compared method has, and bad values', () => {
    const base = { teacher: 'T', student: 'resnet8', data: 'd', methods: ['ce', 'kd'] };
    expect(() => resolveSetup({ ...base, methods: ['ce', 'nope'] })).toThrow(/unknown method "nope"/);
    expect(() => resolveSetup({ ...base, methodOptions: { hint: 10 } })).toThrow(CompareError);
    expect(() => resolveSetup({ ...base, methodOptions: { 'fitnet.hint': 10 } })).toThrow(/not among the compared methods/);
    expect(() => resolveSetup({ ...base, methodOptions: { temperature: 'hot' } })).toThrow(/must be a number/);
    expect(() => resolveSetup({ ...base, seeds: 0 })).toThrow(/seeds must be a positive integer/);
  });

  it('notices a run directory started with other settings', () => {
    const spec = planRuns(resolveSetup({ teacher: 'T', student: 'resnet8', data: 'd', methods: ['kd'], seeds: 1, epochs: 2, lr: 0.1 }), '/o')[0]!;
    const config = { model: 'resnet8', teacher: 'T', method: 'kd', data: 'd', epochs: 2, seed: 0, lr: 0.1, methodOptions: { temperature: 4 } };
    expect(configDifferences(spec, config)).toEqual([]);
    expect(configDifferences(spec, { ...config, epochs: 3, lr: 0.05 })).toEqual(['epochs 3 (asked: 2)', 'lr 0.05 (asked: 0.1)']);
  });

  it('compares every method option, given or not: a run made with another one is not reported as the default', () => {
    const plan = (methodOptions?: Record<string, unknown>) =>
      planRuns(resolveSetup({ teacher: 'T', student: 'resnet8', data: 'd', methods: ['cds-kd'], seeds: 1, epochs: 2, ...(methodOptions ? { methodOptions } : {}) }), '/o')[0]!;
    const config = { model: 'resnet8', teacher: 'T', method: 'cds-kd', data: 'd', epochs: 2, seed: 0 };
    expect(configDifferences(plan(), { ...config, methodOptions: { cutout: 0 } })).toEqual(['method option cutout 0 (asked: 0.5)']);
    expect(configDifferences(plan({ cutout: 0 }), { ...config, methodOptions: { cutout: 0 } })).toEqual([]);
    // A config written before an option existed ran with its default.
    expect(configDifferences(plan(), { ...config, methodOptions: { soft: 1 } })).toEqual([]);
    expect(configDifferences(plan({ cutout: 0 }), { ...config, methodOptions: {} })).toEqual(['method option cutout 0.5 (asked: 0)']);
  });

  it('a method\'s own method.key wins over a bare key, in either order', () => {
    const base = { teacher: 'T', student: 'resnet8', data: 'd', methods: ['cds', 'cds-kd'] };
    for (const methodOptions of [{ cutout: 0.25, 'cds-kd.cutout': 0 }, { 'cds-kd.cutout': 0, cutout: 0.25 }]) {
      expect(resolveSetup({ ...base, methodOptions }).methodOptions).toEqual({ cds: { cutout: 0.25 }, 'cds-kd': { cutout: 0 } });
    }
  });

  it('summarises a run from its own metrics.jsonl, ignoring a torn last line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-run-'));
    const line = (epoch: number, top1: number, seconds: number) =>
      JSON.stringify({ epoch, lr: 0.1, train: { loss: 1 }, test: { top1, top5: top1 + 0.1, ece: 0.05 * epoch, nll: 1, count: 10 }, imgPerSec: 10 * epoch, seconds });
    await writeFile(join(dir, 'metrics.jsonl'), [line(1, 0.3, 2), line(2, 0.5, 4), line(3, 0.4, 3)].join('\n') + '\n{"epoch": 4, "lr"');
    await mkdir(join(dir, 'student'));
    await writeFile(
      join(dir, 'student', 'model.json'),
      JSON.stringify({ weightsManifest: [{ weights: [{ name: 'c/kernel', shape: [3, 3, 1, 4] }, { name: 'bn/gamma', shape: [4] }, { name: 'bn/moving_mean', shape: [4] }] }] }),
    );
    const s = await summarizeRun({ name: 'kd-seed0', method: 'kd', seed: 0, runDir: dir }, 3);
    expect(s.best).toEqual({ epoch: 2, top1: 0.5, top5: 0.6, ece: 0.1, nll: 1 });
    expect(s.last.epoch).toBe(3);
    expect(s.secondsPerEpoch).toBe(3);
    expect(s.params).toBe(40);
    expect(s.trainParams).toBeUndefined();
    expect(s.curve).toEqual([0.3, 0.5, 0.4]);
    await expect(summarizeRun({ name: 'x', method: 'kd', seed: 0, runDir: dir }, 4)).rejects.toThrow(/no line for epoch 4/);
  });
});
