import { tf } from './tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

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
}

const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
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

async function useWasm(): Promise<boolean> {
  registerWasmTrainingKernels();
  return tf.setBackend('wasm');
}

/**
 * Select the tfjs backend and prepare it for training.
 *
 * 'auto' tries tensorflow (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node), then wasm, then the pure-JS cpu
 * backend. A named backend that cannot load rejects with a message naming the package to install.
 * Resolves to the backend's name; `backendReport()` says why earlier candidates were skipped.
 */
export async function initBackend(name: BackendRequest = 'auto'): Promise<BackendName> {
  const skipped: SkippedBackend[] = [];
  const done = (backend: BackendName, pkg: string): BackendName => {
    lastReport = { backend, package: pkg, skipped };
    return backend;
  };

  if (name === 'auto' || name === 'tensorflow') {
    const result = await tryTensorflow();
    if ('pkg' in result) return done('tensorflow', result.pkg);
    skipped.push(...result.skipped);
    if (name === 'tensorflow') {
      throw new Error(
        `The tensorflow backend is not available: ${skipped.map((s) => `${s.package}: ${s.reason}`).join('; ')}. ` +
          `Install @tensorflow/tfjs-node-gpu@${tf.version_core} (CUDA GPU) or @tensorflow/tfjs-node@${tf.version_core} (CPU).`,
      );
    }
  }
  if (name === 'auto' || name === 'wasm') {
    let reason = 'backend failed to initialise';
    try {
      if (await useWasm()) return done('wasm', WASM_PACKAGE);
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
