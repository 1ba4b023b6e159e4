/**
 * `cds-distill bench --compare`: the step just timed, next to the same step on the other CPU backends (each in its
 * own process: tfjs cannot switch backends with live models) and in PyTorch CPU (bench/torch_step.py) when a Python
 * with torch is found. Ratios are speeds relative to the backend the command ran on (> 1: that backend is faster).
 */
import { spawnSync } from 'node:child_process';
import type { BenchmarkResult } from '../train/benchmark.js';
import { backendReport } from '../runtime/index.js';
import { onednnThreadCount } from '../runtime/onednn.js';
import { runReferenceStep } from '../runtime/onednn-reference.js';

export interface CompareRow {
  readonly backend: string;
  readonly msPerStep?: number;
  /** This run's ms per step / that row's: above 1 when that row is faster than this run's backend. */
  readonly speedVsThis?: number;
  readonly threads?: number;
  /** Why the row has no timing. */
  readonly skipped?: string;
}

function childArgs(opts: Record<string, unknown>, backend: string): string[] {
  const args = [
    'bench', '--backend', backend, '--json',
    '--model', String(opts['model']), '--method', String(opts['method']),
    '--batch-size', String(opts['batchSize']), '--input', (opts['input'] as number[]).join('x'),
    '--classes', String(opts['classes']), '--steps', String(opts['steps']), '--warmup', String(opts['warmup']),
  ];
  if (opts['seed'] !== undefined) args.push('--seed', String(opts['seed']));
  if (opts['teacher'] !== undefined) args.push('--teacher', String(opts['teacher']));
  for (const [k, v] of Object.entries((opts['methodOption'] as Record<string, unknown> | undefined) ?? {})) args.push('--method-option', `${k}=${String(v)}`);
  return args;
}

/** Time the other backends and PyTorch; `log` gets a line per row as it starts. */
export function compareBackends(
  r: BenchmarkResult,
  opts: Record<string, unknown>,
  log: (line: string) => void,
): { rows: CompareRow[]; text: string } {
  const rows: CompareRow[] = [];
  const cli = process.argv[1]!;
  for (const backend of ['onednn', 'wasm'].filter((b) => b !== r.backend)) {
    log(`bench --compare: timing ${backend} (own process)...`);
    const child = spawnSync(process.execPath, [cli, ...childArgs(opts, backend)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (child.status !== 0) {
      const why = (child.stderr ?? '').trim().split('\n').filter((l) => l.startsWith('error')).pop() ?? `exit ${child.status}`;
      rows.push({ backend, skipped: why.slice(0, 200) });
      continue;
    }
    const j = JSON.parse(child.stdout) as { backend: string; msPerStep: number };
    rows.push({ backend: j.backend, msPerStep: j.msPerStep, speedVsThis: r.msPerStep / j.msPerStep });
  }
  const threads = r.backend === 'onednn' ? (backendReport()?.threads ?? onednnThreadCount()) : onednnThreadCount();
  log(`bench --compare: timing the PyTorch reference (${threads} threads)...`);
  const ref = runReferenceStep({
    model: r.model,
    method: r.method,
    batch: r.batchSize,
    input: r.inputShape,
    classes: r.numClasses,
    steps: r.steps,
    warmup: r.warmupSteps,
    threads,
  });
  rows.push(
    ref.ok
      ? { backend: `pytorch ${ref.torch}`, msPerStep: ref.msPerStep, speedVsThis: r.msPerStep / ref.msPerStep, threads: ref.threads }
      : { backend: 'pytorch', skipped: ref.reason },
  );
  const lines = rows.map((row) =>
    row.msPerStep !== undefined
      ? `  ${row.backend}: ${row.msPerStep.toFixed(1)} ms per step; ${r.backend} is ${(1 / row.speedVsThis!).toFixed(2)}x its speed`
      : `  ${row.backend}: not timed (${row.skipped})`,
  );
  return { rows, text: [`compared with (same step, one run):`, ...lines].join('\n') };
}
