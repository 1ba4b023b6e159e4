/**
 * End to end through the built CLI (npm test builds it first): tiny comparisons on the bundled Fashion-MNIST slice with
 * an untrained zoo resnet8 as the teacher. The report's figures are checked against the runs' own metrics files with
 * statistics computed here, independently of src/report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildModel, evaluate, loadStudentBundle, loadTrainTest, saveStudentBundle, wrapStudent } from '../../src/index.js';
import { useWasm } from '../helpers.js';
import { assertWellFormedSvg, countElements, markGroups } from './svg.js';

const CLI = resolve('dist/bin/cds-distill.js');
const root = mkdtempSync(join(tmpdir(), 'cds-compare-'));
const teacherDir = join(root, 'teacher');
const COMMON = ['--student', 'resnet8', '--data', 'fashion-mnist-slice', '--epochs', '2', '--limit', '256', '--test-limit', '200', '--max-steps', '3', '--backend', 'wasm'];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], onSpawn?: (pid: number) => void): Promise<Result> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
    if (child.pid !== undefined) onSpawn?.(child.pid);
  });
}

interface Metrics {
  epoch: number;
  test: { top1: number; top5: number; ece: number };
  seconds: number;
}

function readMetrics(runDir: string): Metrics[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Metrics);
}

/** Mean and Bessel-corrected std, written out here rather than imported. */
function meanStd(xs: number[]): { mean: number; std: number } {
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { mean, std: xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0 };
}

function fileState(file: string): { mtimeMs: number; text: string } {
  return { mtimeMs: statSync(file).mtimeMs, text: readFileSync(file, 'utf8') };
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does) before these tests`);
  await useWasm();
  const teacher = wrapStudent(buildModel('resnet8', { inputShape: [28, 28, 1], numClasses: 10, seed: 11 }), { heads: 'none' });
  await saveStudentBundle(teacher, teacherDir);
  teacher.dispose();
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('cds-distill compare', () => {
  const out = join(root, 'direct');
  const methods = ['ce', 'kd', 'at'];
  const seeds = [0, 1];
  const args = ['compare', '--teacher', teacherDir, ...COMMON, '--methods', methods.join(','), '--seeds', '2', '--workers', '2', '--out', out];

  it('runs 3 methods x 2 seeds and reports mean ± std of each method from the runs\' own metrics', async () => {
    const r = await cli([...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.missing).toEqual([]);
    expect(report.rows.map((row: { method: string }) => row.method)).toEqual(methods);

    for (const [i, method] of methods.entries()) {
      const runs = seeds.map((s) => readMetrics(join(out, 'runs', `${method}-seed${s}`)));
      for (const m of runs) expect(m.map((e) => e.epoch)).toEqual([1, 2]);
      const best = runs.map((m) => m.reduce((b, e) => (e.test.top1 > b.test.top1 ? e : b)));
      const last = runs.map((m) => m[m.length - 1]!);
      const row = report.rows[i];
      const check = (got: { mean: number; std: number }, values: number[]) => {
        const want = meanStd(values);
        expect(got.mean).toBeCloseTo(want.mean, 12);
        expect(got.std).toBeCloseTo(want.std, 12);
      };
      check(row.best.top1, best.map((e) => e.test.top1));
      check(row.best.top5, best.map((e) => e.test.top5));
      check(row.best.ece, best.map((e) => e.test.ece));
      check(row.last.top1, last.map((e) => e.test.top1));
      check(row.last.top5, last.map((e) => e.test.top5));
      check(row.last.ece, last.map((e) => e.test.ece));
      check(row.secondsPerEpoch, runs.map((m) => (m[0]!.seconds + m[1]!.seconds) / 2));
      expect(row.params).toBe(77754); // resnet8 at 28x28x1, 10 classes: backbone + classifier
      expect(row.seeds).toEqual(seeds);
      // Same seed, same data order and initial weights: every method's run for a seed starts from the same config.
      for (const s of seeds) {
        const config = JSON.parse(readFileSync(join(out, 'runs', `${method}-seed${s}`, 'config.json'), 'utf8'));
        expect([config.method, config.seed, config.epochs, config.limit, config.testLimit]).toEqual([method, s, 2, 256, 200]);
      }

      // report.md: the same figures, formatted.
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      const b = meanStd(best.map((e) => e.test.top1));
      expect(md).toContain(`| ${method} | 2 | `);
      const line = md.split('\n').find((l) => l.startsWith(`| ${method} |`))!;
      expect(line).toContain(`${(100 * b.mean).toFixed(2)} ± ${(100 * b.std).toFixed(2)}`);
    }

    // The best value of each column is marked: bold in report.md where report.best says so.
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const bestTop1 = Math.max(...report.rows.map((row: { best: { top1: { mean: number } } }) => row.best.top1.mean));
    const winners = report.rows.filter((row: { best: { top1: { mean: number } } }) => row.best.top1.mean === bestTop1).map((row: { method: string }) => row.method);
    const allTie = winners.length === methods.length;
    expect(report.best.bestTop1).toEqual(allTie ? [] : winners);
    for (const w of report.best.bestTop1 as string[]) {
      const line = md.split('\n').find((l) => l.startsWith(`| ${w} |`))!;
      expect(line.split(' | ')[2]).toMatch(/^\*\*.* ± .*\*\*$/);
    }

    // The teacher on top, evaluated on the same test split (checked with the training code's evaluate).
    const { test } = await loadTrainTest('fashion-mnist-slice', { testLimit: 200 });
    const teacher = await loadStudentBundle(teacherDir);
    const t = evaluate(teacher.inferenceModel(), test);
    expect(report.teacher.top1).toBeCloseTo(t.top1, 12);
    expect(report.teacher.top5).toBeCloseTo(t.top5, 12);
    expect(report.teacher.ece).toBeCloseTo(t.ece, 6);
    expect(report.teacher.count).toBe(200);
    expect(report.teacher.params).toBe(teacher.countParams().backbone);
    teacher.dispose();
    expect(md.split('\n').find((l) => l.startsWith('| teacher |'))).toContain(`| ${(100 * t.top1).toFixed(2)} |`);
    expect(md.indexOf('| teacher |')).toBeLessThan(md.indexOf('| ce |'));

    // results.csv holds the same numbers (raw fractions).
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const header = csv[0]!;
    expect(csv[1]![0]).toBe('teacher');
    for (const row of report.rows) {
      const line = csv.find((l) => l[1] === row.method)!;
      expect(Number(line[header.indexOf('best_top1_mean')])).toBe(row.best.top1.mean);
      expect(Number(line[header.indexOf('last_ece_std')])).toBe(row.last.ece.std);
    }

    // Plots: a line and a band per method, a bar and an error bar per method, referenced from report.md.
    const curves = readFileSync(join(out, 'accuracy-per-epoch.svg'), 'utf8');
    const bars = readFileSync(join(out, 'final-accuracy.svg'), 'utf8');
    assertWellFormedSvg(curves);
    assertWellFormedSvg(bars);
    expect(markGroups(curves, 'line').map((g) => countElements(g, 'path'))).toEqual([1, 1, 1]);
    expect(markGroups(curves, 'area')).toHaveLength(3);
    expect(markGroups(bars, 'rect').map((g) => countElements(g, 'path'))).toEqual([3, 3, 3]);
    expect(markGroups(bars, 'rule').map((g) => countElements(g, 'line'))).toEqual([3, 1]);
    expect(md).toContain('(accuracy-per-epoch.svg)');
    expect(md).toContain('(final-accuracy.svg)');
  });

  it('skips finished runs when run again', async () => {
    const files = methods.flatMap((m) => seeds.flatMap((s) => ['metrics.jsonl', join('student', 'model.json')].map((f) => join(out, 'runs', `${m}-seed${s}`, f))));
    const before = files.map(fileState);
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('6 runs: 6 finished, 0 to resume, 0 to start');
    expect(files.map(fileState)).toEqual(before);
    expect(r.stdout).toContain('report: ');
  });
});

describe('compare interrupted, then run again', () => {
  const out = join(root, 'killed');
  const args = ['compare', '--teacher', teacherDir, ...COMMON, '--methods', 'ce,kd', '--seeds', '1', '--out', out];

  it('finishes only the missing runs', async () => {
    const ceDir = join(out, 'runs', 'ce-seed0');
    const kdDir = join(out, 'runs', 'kd-seed0');
    let pid = 0;
    const first = cli(args, (p) => (pid = p));
    // Stop compare once the first run is finished and the second has started training.
    await waitFor(() => existsSync(join(ceDir, 'student', 'model.json')) && existsSync(join(kdDir, 'config.json')), 240_000);
    const ceMetrics = fileState(join(ceDir, 'metrics.jsonl'));
    const ceModel = fileState(join(ceDir, 'student', 'model.json'));
    process.kill(pid, 'SIGTERM');
    const r1 = await first;
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/SIGTERM: stopping the runs/);
    expect(r1.stderr).toMatch(/interrupted/);
    expect(existsSync(join(kdDir, 'student', 'model.json'))).toBe(false);
    expect(existsSync(join(out, 'compare.lock'))).toBe(false);

    const r2 = await cli([...args, '--json']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toContain('2 runs: 1 finished, 1 to resume, 0 to start');
    expect(r2.stderr).not.toContain('ce-seed0: ');
    expect(fileState(join(ceDir, 'metrics.jsonl'))).toEqual(ceMetrics);
    expect(fileState(join(ceDir, 'student', 'model.json'))).toEqual(ceModel);
    expect(readMetrics(kdDir).map((m) => m.epoch)).toEqual([1, 2]);
    const report = JSON.parse(r2.stdout);
    expect(report.rows.map((r: { method: string }) => r.method)).toEqual(['ce', 'kd']);
    expect(report.missing).toEqual([]);
  });

  it('--plan, running its lines by hand, then --collect gives the same report as the direct run', async () => {
    const planned = join(root, 'planned');
    const planFile = join(root, 'plan.jsonl');
    const r = await cli(['compare', '--teacher', teacherDir, ...COMMON, '--methods', 'ce,kd', '--seeds', '1', '--out', planned, '--plan', planFile]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(planFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.name)).toEqual(['ce-seed0', 'kd-seed0']);
    for (const l of lines) {
      expect(l.argv.slice(0, 2)).toEqual(['cds-distill', 'distill']);
      expect(l.config).toMatchObject({ method: l.method, seed: 0, epochs: 2, out: join(planned, 'runs', l.name), resume: true });
      expect(l.command.startsWith('cds-distill distill ')).toBe(true);
    }
    expect(existsSync(join(planned, 'runs'))).toBe(false); // nothing ran

    // "The scheduler": run each line's argv with the built CLI, both at once.
    const runs = await Promise.all(lines.map((l) => cli(l.argv.slice(1))));
    for (const x of runs) expect(x.code, x.stderr).toBe(0);

    const c = await cli(['compare', '--collect', planned, '--backend', 'wasm', '--json']);
    expect(c.code, c.stderr).toBe(0);
    const collected = JSON.parse(c.stdout);
    const direct = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    // Everything but wall-clock timing and paths is identical.
    const strip = (rep: Record<string, unknown>) => {
      const rows = (rep['rows'] as Record<string, unknown>[]).map(({ secondsPerEpoch: _s, imgPerSec: _i, ...rest }) => rest);
      const runsOut = (rep['runs'] as Record<string, unknown>[]).map(({ secondsPerEpoch: _s, imgPerSec: _i, runDir: _d, ...rest }) => rest);
      const { secondsPerEpoch: _b, ...best } = rep['best'] as Record<string, unknown>;
      return { setup: rep['setup'], teacher: rep['teacher'], rows, runs: runsOut, best, curves: rep['curves'], missing: rep['missing'] };
    };
    expect(strip(collected)).toEqual(strip(direct));
    // report.md too, once the timing column is dropped.
    const table = (file: string) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => (l.startsWith('|') ? l.split(' | ').filter((_, i) => i !== 8).join(' | ') : l));
    expect(table(join(planned, 'report.md'))).toEqual(table(join(out, 'report.md')));
  });
});
