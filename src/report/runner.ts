/**
 * Executing a comparison's runs: each as a child process running the built CLI's `distill` command (isolates tfjs
 * state; N at once with `workers`), or one after another in this process. Children's output goes to a log file per
 * run; their exit status decides success.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../data/index.js';
import type { RunSpec } from './runs.js';

export interface RunOutcome {
  readonly ok: boolean;
  /** Stopped by the abort signal (the run is resumable). */
  readonly interrupted: boolean;
  /** Why it failed: the child's last error line, or the error's message. */
  readonly message?: string;
  readonly seconds: number;
}

export interface RunHooks {
  readonly onEpoch?: (epoch: number, top1: number) => void;
  readonly onChild?: (child: ChildProcess | undefined) => void;
}

const activeChildren = new Set<ChildProcess>();

/** Send a signal to every distill child this process is running (a second Ctrl-C: make them quit at once). */
export function signalChildren(sig: NodeJS.Signals): void {
  for (const child of activeChildren) child.kill(sig);
}

/** The built CLI (`dist/bin/cds-distill.js` of this package). */
export function defaultCliPath(): string {
  return join(packageRoot(), 'dist', 'bin', 'cds-distill.js');
}

function lastErrorLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return [...lines].reverse().find((l) => l.startsWith('error:')) ?? lines[lines.length - 1];
}

/** Run one spec as `node <cli> distill ... --json`; stdout and stderr are appended to `logFile`. */
export async function runSpawned(
  spec: RunSpec,
  cli: string,
  logFile: string,
  signal: AbortSignal | undefined,
  hooks: RunHooks = {},
): Promise<RunOutcome> {
  if (!existsSync(cli)) {
    return { ok: false, interrupted: false, seconds: 0, message: `the built CLI ${cli} does not exist (run npm run build)` };
  }
  await mkdir(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`# ${new Date().toISOString()} ${process.execPath} ${cli} ${spec.argv.join(' ')}\n`);
  const t0 = performance.now();
  // Own process group: a Ctrl-C at the terminal reaches only compare, which forwards one SIGTERM (the child then
  // finishes its step and checkpoints; a second signal would make it quit without one).
  const child = spawn(process.execPath, [cli, ...spec.argv], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd(), detached: true });
  activeChildren.add(child);
  hooks.onChild?.(child);
  let stderrTail = '';
  let stderrBuf = '';
  child.stdout.on('data', (chunk: Buffer) => log.write(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    log.write(chunk);
    const text = chunk.toString('utf8');
    stderrTail = (stderrTail + text).slice(-4000);
    stderrBuf += text;
    let nl: number;
    while ((nl = stderrBuf.indexOf('\n')) >= 0) {
      const line = stderrBuf.slice(0, nl);
      stderrBuf = stderrBuf.slice(nl + 1);
      // distill's plain progress line: "epoch 3: ce 1.234 ... | test top1 71.20% top5 ..."
      const m = /(?:^|\s)epoch (\d+): .*\btest top1 ([\d.]+)%/.exec(line);
      if (m) hooks.onEpoch?.(Number(m[1]), Number(m[2]) / 100);
    }
  });
  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const { code, sig } = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((res) => {
    child.on('error', (err) => {
      stderrTail += `\nerror: ${err.message}`;
    });
    child.on('close', (c, s) => res({ code: c, sig: s }));
  });
  signal?.removeEventListener('abort', onAbort);
  activeChildren.delete(child);
  hooks.onChild?.(undefined);
  await new Promise<void>((res) => log.end(() => res()));
  const seconds = (performance.now() - t0) / 1000;
  if (code === 0) return { ok: true, interrupted: false, seconds };
  const interrupted = signal?.aborted === true;
  return {
    ok: false,
    interrupted,
    seconds,
    message: interrupted
      ? 'interrupted'
      : `distill exited with ${sig !== null ? `signal ${sig}` : `code ${code}`}: ${lastErrorLine(stderrTail) ?? '(no output)'} (log: ${logFile})`,
  };
}

/** Run one spec with the library's `distill` in this process (the backend must already be initialised). */
export async function runInProcess(spec: RunSpec, signal: AbortSignal | undefined, hooks: RunHooks = {}): Promise<RunOutcome> {
  const { distill } = await import('../train/index.js');
  const t0 = performance.now();
  try {
    const result = await distill({
      ...spec.options,
      signal,
      onEpoch: (m) => hooks.onEpoch?.(m.epoch, m.test.top1),
    });
    result.student.dispose();
    const seconds = (performance.now() - t0) / 1000;
    if (result.interrupted) return { ok: false, interrupted: true, seconds, message: 'interrupted' };
    return { ok: true, interrupted: false, seconds };
  } catch (err) {
    return { ok: false, interrupted: false, seconds: (performance.now() - t0) / 1000, message: (err as Error).message ?? String(err) };
  }
}

/** Run `tasks` with at most `workers` at once; stops taking new ones once `signal` aborts. */
export async function pool<T>(items: readonly T[], workers: number, signal: AbortSignal | undefined, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, () => worker()));
}
