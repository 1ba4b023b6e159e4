import { CdsDistillError } from '../errors.js';
import { tf } from './tf.js';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels.js';
import { enableWasmThreads, MAX_WASM_THREADS } from './wasm-threads.js';
import { ONEDNN_BUILD_COMMAND, ONEDNN_INSTALL_HINT, onednnInfo, registerOnednnBackend } from './onednn.js';

// At import, not only in initBackend: a program that never calls initBackend still lands on wasm (tfjs picks the
// highest-priority registered backend) and must be able to train there. Registering kernels starts no backend.
registerWasmTrainingKernels();

/** A named backend that cannot be used here; the message (one line) says what to install. */
export class BackendError extends CdsDistillError {
  override name = 'BackendError';
}

export type BackendRequest = 'auto' | 'tensorflow' | 'onednn' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'onednn' | 'wasm' | 'cpu';

export interface InitBackendOptions {
  /**
   * wasm only, opt-in: run the threaded-SIMD wasm build with this many XNNPACK threads (the calling thread included),
   * 1 to 8. Default: the environment variable CDS_WASM_THREADS, else 1 (single-threaded). Threads are fixed once wasm
   * has started in a process. If they cannot be enabled, wasm runs single-threaded and `backendReport().note` says why.
   */
  readonly threads?: number;
}

export interface SkippedBackend {
  readonly backend: BackendName;
  readonly package: string;
  readonly reason: string;
}

export interface BackendReport {
  /** The backend tfjs now runs on. */
  readonly backend: BackendName;
  /** The package that provides it. */
  readonly package: string;
  /** Backends tried before it (in 'auto' order) and why each was not used. */
  readonly skipped: readonly SkippedBackend[];
  /**
   * wasm: the XNNPACK threads it runs with (1 unless threads were asked for and could be enabled).
   * onednn: the threads of its native kernels (CDS_ONEDNN_THREADS, default every core).
   */
  readonly threads?: number;
  /** onednn: the oneDNN version and the instruction set it runs, e.g. '2.6.3 avx512_core'. */
  readonly native?: string;
  /** Anything about the request that did not go as asked (threads unavailable, ignored, already fixed). */
  readonly note?: string;
}

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const ONEDNN_PACKAGE = 'cds-distill native addon (oneDNN)';
const CPU_PACKAGE = '@tensorflow/tfjs-backend-cpu';

let lastReport: BackendReport | undefined;

function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

async function importOptional(pkg: string): Promise<void> {
  // A variable specifier keeps TypeScript and bundlers from requiring the optional peer at build time.
  const specifier: string = pkg;
  await import(specifier);
}

async function tryTensorflow(): Promise<{ pkg: string } | { skipped: SkippedBackend[] }> {
  const skipped: SkippedBackend[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    if (tf.findBackendFactory('tensorflow') == null) {
      try {
        await importOptional(pkg);
      } catch (err) {
        skipped.push({ backend: 'tensorflow', package: pkg, reason: `not installed or failed to load (${errorMessage(err)})` });
        continue;
      }
      if (tf.findBackendFactory('tensorflow') == null) {
        skipped.push({
          backend: 'tensorflow',
          package: pkg,
          reason: `loaded, but registered on another tfjs-core instance: install ${pkg}@${tf.version_core} to match this toolkit`,
        });
        continue;
      }
    }
    if (await tf.setBackend('tensorflow')) return { pkg };
    skipped.push({ backend: 'tensorflow', package: pkg, reason: 'backend failed to initialise' });
  }
  return { skipped };
}

/** The environment variable that opts in to wasm threads, as `initBackend(name, { threads })` does. */
export const WASM_THREADS_ENV = 'CDS_WASM_THREADS';

interface ThreadRequest {
  readonly threads: number;
  readonly note?: string;
}

/** Threads asked for by the option, else by CDS_WASM_THREADS; undefined when nobody asked. */
function threadRequest(options: InitBackendOptions): ThreadRequest | undefined {
  const limit = (threads: number, from: string): ThreadRequest =>
    threads > MAX_WASM_THREADS
      ? { threads: MAX_WASM_THREADS, note: `${from} asks for ${threads} wasm threads; the wasm build allows at most ${MAX_WASM_THREADS}` }
      : { threads };
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new RangeError(`initBackend: threads must be a positive integer (got ${options.threads})`);
    }
    return limit(options.threads, 'the threads option');
  }
  const raw = process.env[WASM_THREADS_ENV]?.trim();
  if (!raw) return undefined;
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1) {
    return { threads: 1, note: `ignored ${WASM_THREADS_ENV}=${raw} (want a positive integer)` };
  }
  return limit(threads, `${WASM_THREADS_ENV}=${raw}`);
}

/** Why threads failed earlier in this process: they are tried once. */
let threadsFailure: string | undefined;

function wasmThreadsNow(): number | undefined {
  try {
    return getThreadsCount();
  } catch {
    return undefined; // wasm not initialised yet
  }
}

async function useWasm(request: ThreadRequest | undefined): Promise<{ ok: boolean; threads?: number; note?: string }> {
  registerWasmTrainingKernels();
  const notes: string[] = request?.note ? [request.note] : [];
  const want = request?.threads ?? 1;
  const started = 'wasm' in tf.engine().registry;
  if (!started && want > 1) {
    if (threadsFailure === undefined) {
      const outcome = await enableWasmThreads(want);
      if (outcome.ok) {
        if (outcome.threads < want) notes.push(`asked for ${want} wasm threads, the wasm build started ${outcome.threads}`);
        return { ok: true, threads: outcome.threads, ...(notes.length ? { note: notes.join('; ') } : {}) };
      }
      threadsFailure = outcome.reason;
    }
    notes.push(`wasm threads could not be enabled (${threadsFailure}); running single-threaded`);
  }
  const ok = await tf.setBackend('wasm');
  const threads = ok ? wasmThreadsNow() : undefined;
  if (ok && started && request && threads !== undefined && threads !== want) {
    notes.push(`asked for ${want} wasm thread(s), but wasm already runs with ${threads} in this process (threads are fixed once it starts)`);
  }
  return { ok, ...(threads !== undefined ? { threads } : {}), ...(notes.length ? { note: notes.join('; ') } : {}) };
}

/**
 * Select the tfjs backend and prepare it for training.
 *
 * 'auto' tries tensorflow (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then onednn (this package's native
 * addon on oneDNN, when it was built), then wasm, then the pure-JS cpu backend. A named backend that cannot load
 * rejects with a one-line message naming what to install (onednn: `apt-get install libdnnl-dev`, then the build
 * command). CDS_ONEDNN=0 hides the onednn addon.
 * Resolves to the backend's name; `backendReport()` says why earlier candidates were skipped.
 * wasm threads are opt-in: `{ threads: N }` or CDS_WASM_THREADS=N (see `InitBackendOptions`).
 */
export async function initBackend(name: BackendRequest = 'auto', options: InitBackendOptions = {}): Promise<BackendName> {
  const skipped: SkippedBackend[] = [];
  const request = threadRequest(options);
  const done = (backend: BackendName, pkg: string, extra: { threads?: number; note?: string; native?: string } = {}): BackendName => {
    const note =
      extra.note ?? (backend !== 'wasm' && request && request.threads > 1 ? `wasm threads were asked for; ${backend} does not use them` : undefined);
    lastReport = {
      backend,
      package: pkg,
      skipped,
      ...(extra.threads !== undefined ? { threads: extra.threads } : {}),
      ...(extra.native !== undefined ? { native: extra.native } : {}),
      ...(note !== undefined ? { note } : {}),
    };
    return backend;
  };

  if (name === 'auto' || name === 'tensorflow') {
    const result = await tryTensorflow();
    if ('pkg' in result) return done('tensorflow', result.pkg);
    skipped.push(...result.skipped);
    if (name === 'tensorflow') {
      // The fix first: the CLI cuts a long line at ~200 characters, the reasons come last.
      throw new BackendError(
        `the tensorflow backend is not available: install @tensorflow/tfjs-node@${tf.version_core} (CPU) or ` +
          `@tensorflow/tfjs-node-gpu@${tf.version_core} (CUDA) (${skipped.map((s) => `${s.package}: ${s.reason}`).join('; ')})`,
      );
    }
  }
  if (name === 'auto' || name === 'onednn') {
    const registration = registerOnednnBackend();
    let reason = registration.ok ? 'backend failed to initialise' : registration.reason;
    if (registration.ok) {
      try {
        if (await tf.setBackend('onednn')) {
          const info = onednnInfo();
          return done('onednn', ONEDNN_PACKAGE, info ? { threads: info.threads, native: `oneDNN ${info.version} ${info.isa}` } : {});
        }
      } catch (err) {
        reason = errorMessage(err);
      }
    }
    if (name === 'onednn') {
      throw new BackendError(
        reason.startsWith('hidden by ')
          ? `the onednn backend is ${reason}: unset it to use onednn`
          : `the onednn backend is not available (${reason}): ${ONEDNN_INSTALL_HINT}`,
      );
    }
    skipped.push({ backend: 'onednn', package: ONEDNN_PACKAGE, reason: `${reason} (${ONEDNN_BUILD_COMMAND} after apt-get install libdnnl-dev)` });
  }
  if (name === 'auto' || name === 'wasm') {
    let reason = 'backend failed to initialise';
    try {
      const wasm = await useWasm(request);
      if (wasm.ok) return done('wasm', WASM_PACKAGE, wasm);
    } catch (err) {
      reason = errorMessage(err);
    }
    if (name === 'wasm') {
      throw new Error(`The wasm backend failed to load (${reason}). Reinstall ${WASM_PACKAGE}@${tf.version_core}.`);
    }
    skipped.push({ backend: 'wasm', package: WASM_PACKAGE, reason });
  }
  if (await tf.setBackend('cpu')) return done('cpu', CPU_PACKAGE);
  throw new Error(`No tfjs backend could be initialised; reinstall ${CPU_PACKAGE}@${tf.version_core}.`);
}

/** What the last `initBackend` chose and why it skipped the others. */
export function backendReport(): BackendReport | undefined {
  return lastReport;
}
