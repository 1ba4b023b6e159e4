/**
 * Opt-in wasm threads (src/runtime/wasm-threads.ts). The wasm backend starts once per process, so each setting runs
 * in its own `node` child (test/runtime/fixtures/wasm-threads-child.mjs, importing the built dist/), all at once.
 * The threads=2 child must start the threaded build with 2 threads: if a tfjs upgrade breaks the shim, it falls back
 * and its report's note (printed by the failing assertion) names the internal that moved.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fixture = `${here}fixtures/wasm-threads-child.mjs`;
const built = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const CHILD_TIMEOUT_MS = 60_000;

interface ChildOutput {
  backend: string;
  report: { backend: string; threads?: number; note?: string };
  cases: Record<string, { forward: number[]; grads: number[][] }>;
  losses: number[];
  tensorCounts: number[];
}

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  output?: ChildOutput;
}

function runChild(mode: 'threads' | 'default', env: Record<string, string | undefined> = {}): Promise<ChildRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env['CDS_WASM_THREADS'] === undefined) delete childEnv['CDS_WASM_THREADS'];
  return new Promise((resolve, reject) => {
    // timeout + SIGKILL: a child kept alive by a pthread worker fails the test instead of hanging it.
    const child = spawn(process.execPath, [fixture, mode], { env: childEnv, timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').pop();
      let output: ChildOutput | undefined;
      try {
        output = line ? (JSON.parse(line) as ChildOutput) : undefined;
      } catch {
        output = undefined;
      }
      resolve({ code, signal, stderr, ...(output ? { output } : {}) });
    });
  });
}


function expectCleanExit(run: ChildRun): ChildOutput {
  expect({ code: run.code, signal: run.signal, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  expect(run.output).toBeDefined();
  return run.output!;
}

describe('wasm threads in Node (child processes)', () => {
  let threaded: ChildRun;
  let single: ChildRun;
  let viaEnv: ChildRun;
  let envIgnored: ChildRun;

  beforeAll(async () => {
    if (!existsSync(built)) throw new Error(`${built} is missing: build first (npx tsc -p tsconfig.build.json)`);
    [threaded, single, viaEnv, envIgnored] = await Promise.all([
      runChild('threads'),
      runChild('default'),
      runChild('default', { CDS_WASM_THREADS: '2' }),
      runChild('default', { CDS_WASM_THREADS: 'two' }),
    ]);
  }, 2 * CHILD_TIMEOUT_MS);

  it('initBackend("wasm", { threads: 2 }) runs the threaded build with 2 threads and exits on its own', () => {
    const out = expectCleanExit(threaded);
    expect(out.backend).toBe('wasm');
    expect(out.report).toMatchObject({ backend: 'wasm', threads: 2 });
    expect(out.report.note).toBeUndefined();
  });

  it('without the opt-in, wasm stays single-threaded', () => {
    const out = expectCleanExit(single);
    expect(out.report).toMatchObject({ backend: 'wasm', threads: 1 });
    expect(out.report.note).toBeUndefined();
  });

  it('CDS_WASM_THREADS=2 opts in like the option; a malformed value is ignored with a note', () => {
    expect(expectCleanExit(viaEnv).report).toMatchObject({ backend: 'wasm', threads: 2 });
    const ignored = expectCleanExit(envIgnored).report;
    expect(ignored).toMatchObject({ backend: 'wasm', threads: 1 });
    expect(ignored.note).toMatch(/ignored CDS_WASM_THREADS=two/);
  });

  it('conv2d forward and the conv / fused conv / depthwise gradients match single-threaded (rel <= 1e-4)', () => {
    const a = expectCleanExit(threaded).cases;
    const b = expectCleanExit(single).cases;
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(Object.keys(a).length).toBe(5);
    for (const name of Object.keys(b)) {
      expect(relativeError(a[name]!.forward, b[name]!.forward), `${name} forward`).toBeLessThanOrEqual(1e-4);
      expect(a[name]!.grads.length).toBe(b[name]!.grads.length);
      b[name]!.grads.forEach((g, i) => {
        expect(relativeError(a[name]!.grads[i]!, g), `${name} gradient ${i}`).toBeLessThanOrEqual(1e-4);
      });
    }
  });

  it('a small conv+BN model trains on 2 threads with a flat tensor count and the single-threaded losses', () => {
    const a = expectCleanExit(threaded);
    const b = expectCleanExit(single);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(a.losses[a.losses.length - 1]!).toBeLessThan(a.losses[0]!);
    expect(new Set(a.tensorCounts).size).toBe(1);
    expect(a.tensorCounts).toEqual(b.tensorCounts);
    a.losses.forEach((loss, i) => expect(Math.abs(loss - b.losses[i]!) / Math.abs(b.losses[i]!)).toBeLessThanOrEqual(1e-4));
  });
});
