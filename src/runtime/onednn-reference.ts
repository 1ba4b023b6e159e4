/**
 * The PyTorch CPU reference step that `npm run bench` and `cds-distill bench --compare` put next to onednn and wasm:
 * bench/torch_step.py (the same model shapes and step, synthetic inputs), run with a Python that can import torch
 * (CDS_PYTHON, else Debian's /usr/bin/python3, else python3 on PATH). Never throws: a missing Python or torch is a
 * one-line reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReferenceStepOptions {
  /** resnet18 (with CDS heads for method 'cds') or resnet20. */
  readonly model: string;
  /** 'cds' (two views, heads, SupCon) or 'ce'. */
  readonly method: string;
  readonly batch: number;
  /** [H, W, C]. */
  readonly input: readonly number[];
  readonly classes: number;
  readonly steps: number;
  readonly warmup: number;
  /** torch.set_num_threads; give both sides the same. */
  readonly threads: number;
  /** Pad-4 crop + flip per image, as the toolkit's training loop does. Default true. */
  readonly augment?: boolean;
}

export interface ReferenceStepTiming {
  readonly backend: 'pytorch';
  readonly torch: string;
  readonly threads: number;
  readonly msPerStep: number;
  readonly imgPerS: number;
  readonly stepMs: readonly number[];
}

export type ReferenceOutcome = ({ ok: true } & ReferenceStepTiming) | { ok: false; reason: string };

/** Models the reference script builds. */
export const REFERENCE_MODELS = ['resnet18', 'resnet20'] as const;

function script(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'bench', 'torch_step.py');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function pythonWithTorch(): string | { reason: string } {
  const candidates = [process.env['CDS_PYTHON'], '/usr/bin/python3', 'python3'].filter((p): p is string => !!p);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return { reason: `no Python that can import torch (tried ${candidates.join(', ')}; Debian: apt-get install python3-torch)` };
}

/** Run the PyTorch reference step in a child process (synchronously; it takes as long as the steps do). */
export function runReferenceStep(o: ReferenceStepOptions): ReferenceOutcome {
  if (!(REFERENCE_MODELS as readonly string[]).includes(o.model)) {
    return { ok: false, reason: `the PyTorch reference builds ${REFERENCE_MODELS.join(' and ')} only (asked for ${o.model})` };
  }
  if (o.method !== 'cds' && o.method !== 'ce') return { ok: false, reason: `the PyTorch reference runs methods cds and ce only (asked for ${o.method})` };
  const path = script();
  if (!path) return { ok: false, reason: 'bench/torch_step.py is not in this installation' };
  const py = pythonWithTorch();
  if (typeof py !== 'string') return { ok: false, reason: py.reason };
  const args = [
    path, '--model', o.model, '--method', o.method, '--batch', String(o.batch), '--input', o.input.join('x'),
    '--classes', String(o.classes), '--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', String(o.threads),
    ...(o.augment === false ? ['--no-augment'] : []),
  ];
  // The same OpenMP wait policy onednn sets for itself: spinning threads on a shared machine would handicap PyTorch.
  const env = { ...process.env, OMP_WAIT_POLICY: process.env['OMP_WAIT_POLICY'] ?? 'PASSIVE' };
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`;
    return { ok: false, reason: `the PyTorch reference failed: ${last.slice(0, 200)}` };
  }
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  const parsed = JSON.parse(line) as ReferenceStepTiming;
  return { ok: true, ...parsed };
}
