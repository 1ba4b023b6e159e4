/**
 * Opt-in wasm threads in Node: start tfjs's threaded-SIMD wasm build with N XNNPACK threads.
 *
 * tfjs-backend-wasm 4.22.0 never uses threads in Node, and forcing it does not work as shipped. This shim depends on
 * these internals of its Node bundle (dist/tf-backend-wasm.node.js); `checkBundle()` looks for each one in the source
 * and names what is missing, so an upgrade that moves them fails loudly (test/runtime/wasm-threads.test.ts) instead
 * of quietly running single-threaded:
 *   1. The flag WASM_HAS_MULTITHREAD_SUPPORT is false under IS_NODE. `init()` loads the threaded-SIMD module when it
 *      and WASM_HAS_SIMD_SUPPORT are true (and no `setWasmPath` was given), so we set the flag.
 *   2. The threaded module, when its factory runs in Node, assigns `globalThis.Worker = worker_threads.Worker` and at
 *      once pre-spawns its pthread pool (8 workers) with `new Worker(locateFile('...threaded-simd.worker.js'))`, where
 *      `init()`'s locateFile returns a `blob:` URL: worker_threads refuse those. We make `globalThis.Worker` an accessor
 *      whose getter returns `PthreadWorker` (below), which runs the same worker script with `eval: true` instead.
 *   3. Each worker is sent `{cmd: 'load', urlOrBlob: Module.mainScriptUrlOrBlob, ...}`; `init()` sets a Blob there,
 *      which the worker script cannot load in Node. Given a string it calls `importScripts(path)` (readFileSync + eval)
 *      and then the global `WasmBackendModuleThreadedSimd`; we substitute the path of the same factory shipped as
 *      wasm-out/tfjs-backend-wasm-threaded-simd.js (`module.exports`-guarded, so eval-safe).
 *   4. The worker script is `wasmWorkerContents` of wasm-out/tfjs-backend-wasm-threaded-simd.worker.js (a template
 *      literal: its "\n" must be re-escaped, as the bundle does before making its Blob).
 *   5. `init_with_threads_count(n)` caps the XNNPACK pool at min(n, 8, emscripten_num_logical_cores() / 2), where the
 *      latter is `os.cpus().length` in Node, read once while the module instantiates: on a 2-core machine it would
 *      allow 1 thread. During `setBackend` we let `os.cpus()` report at least 2n entries.
 *   6. Emscripten `ref()`s a worker while a pthread runs on it; XNNPACK's pool threads live as long as the process, so
 *      Node would never exit. After init every worker is `unref()`ed and further `ref()` calls are ignored (tfjs runs
 *      its ops synchronously on the main thread; nothing waits on a worker across event-loop turns).
 * No temporary files are written. If any step fails, `enableWasmThreads` undoes what it did and says why, and the
 * caller starts the single-threaded module instead.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { Worker as NodeWorker } from 'node:worker_threads';
import type { CpuInfo } from 'node:os';
import { setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';

const require = createRequire(import.meta.url);
const WASM_PKG = '@tensorflow/tfjs-backend-wasm';
/** The XNNPACK pool cap and the size of the pre-spawned pthread pool in the 4.22 build. */
export const MAX_WASM_THREADS = 8;
/** A broken shim could leave init waiting for workers forever; past this, give up and go single-threaded. */
const INIT_TIMEOUT_MS = 30_000;

/** Source fragments of the internals listed above, as they appear in dist/tf-backend-wasm.node.js 4.22.0. */
const BUNDLE_MARKERS: readonly [string, string][] = [
  ['the threaded module is chosen by the thread flag', 'if (threadsSupported && simdSupported && wasmPath == null)'],
  ['the factory installs worker_threads.Worker as globalThis.Worker', 'commonjsGlobal.Worker = nodeWorkerThreads.Worker'],
  ['pthread workers are made with new Worker(locateFile(...worker.js))', 'worker = new Worker(pthreadMainJs)'],
  ['the load message carries mainScriptUrlOrBlob', '"urlOrBlob": Module["mainScriptUrlOrBlob"] || _scriptDir'],
  ['the pthread pool size is 8', 'var pthreadPoolSize = 8'],
  ['the core count comes from os.cpus()', 'return require$$4.cpus().length'],
  ['a running pthread refs its worker', 'worker.ref();'],
];
const WORKER_MARKERS: readonly [string, string][] = [
  ['the worker script loads a string urlOrBlob with importScripts', 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}'],
  ['the worker script starts the global WasmBackendModuleThreadedSimd', 'WasmBackendModuleThreadedSimd(Module)'],
];

/** ok: wasm is the backend now, with `threads` XNNPACK threads. Not ok: wasm is not initialised, and why. */
export type WasmThreadsOutcome = { readonly ok: true; readonly threads: number } | { readonly ok: false; readonly reason: string };

interface Sources {
  workerScript: string;
  mainScriptPath: string;
}

/** Why threads cannot work in this process, or the two scripts the pthread workers need. */
async function preflight(threads: number): Promise<Sources | string> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    return `threads must be an integer from 2 to ${MAX_WASM_THREADS} (got ${threads})`;
  }
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available';
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return 'this runtime lacks wasm SIMD, which the threaded build needs';
  // A wasm module with an atomic load on shared memory: validates only where wasm threads are supported.
  const atomics = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]);
  const wasm = (globalThis as unknown as { WebAssembly?: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
  if (wasm == null || !wasm.validate(atomics)) return 'this runtime lacks wasm threads (shared memory, atomics)';
  try {
    const bundle = readFileSync(require.resolve(WASM_PKG), 'utf8');
    const workerScript = (require(`${WASM_PKG}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as { wasmWorkerContents?: unknown })
      .wasmWorkerContents;
    if (typeof workerScript !== 'string') return 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js no longer exports wasmWorkerContents';
    const missing = [
      ...BUNDLE_MARKERS.filter(([, src]) => !bundle.includes(src)),
      ...WORKER_MARKERS.filter(([, src]) => !workerScript.includes(src)),
    ].map(([what]) => what);
    if (missing.length > 0) {
      return `${WASM_PKG}@${tf.version_core} changed internals the thread shim relies on: ${missing.join('; ')}`;
    }
    return {
      workerScript: workerScript.replace(/\n/g, '\\n'),
      mainScriptPath: require.resolve(`${WASM_PKG}/wasm-out/tfjs-backend-wasm-threaded-simd.js`),
    };
  } catch (err) {
    return `cannot read ${WASM_PKG}'s threaded build (${err instanceof Error ? err.message : String(err)})`;
  }
}

/**
 * Start tfjs's wasm backend on the threaded-SIMD build with `threads` XNNPACK threads (the calling thread counts as
 * one). Call before the wasm backend is first initialised in this process. On `ok: false` everything is undone and
 * wasm is not initialised: the caller may `tf.setBackend('wasm')` for the single-threaded build.
 */
export async function enableWasmThreads(threads: number): Promise<WasmThreadsOutcome> {
  const found = await preflight(threads);
  if (typeof found === 'string') return { ok: false, reason: found };
  const sources: Sources = found;

  const workers: NodeWorker[] = [];
  // 'starting' until setBackend settles; 'failed' workers are being terminated and must stay quiet.
  let state: 'starting' | 'running' | 'failed' = 'starting';
  let failWith: (reason: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (failWith = resolve));

  /** The bundle's pthread worker, made constructible by Node (internals 2, 3, 6). */
  class PthreadWorker extends NodeWorker {
    constructor(_blobUrl: string) {
      super(sources.workerScript, { eval: true });
      workers.push(this);
    }
    override postMessage(message: unknown, transferList?: readonly never[]): void {
      const m = message as { cmd?: unknown; urlOrBlob?: unknown } | null;
      if (m != null && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
        message = { ...m, urlOrBlob: sources.mainScriptPath };
      }
      super.postMessage(message, transferList);
    }
    override ref(): void {
      if (state === 'starting') super.ref();
    }
    // Emscripten rethrows a worker's 'error' from its listener, which would crash the process: during init, turn it
    // into a failed attempt instead (and keep the other workers of a failed attempt quiet).
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (state === 'failed' && (event === 'error' || event === 'exit' || event === 'message')) return true;
      if (state === 'starting' && (event === 'error' || event === 'exit')) {
        const detail = event === 'error' ? String((args[0] as Error | undefined)?.message ?? args[0]) : `exit code ${String(args[0])}`;
        failWith(`a pthread worker failed while loading (${detail})`);
        return true;
      }
      return super.emit(event, ...args);
    }
  }

  const hadWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  let assigned = false;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => PthreadWorker,
    set: () => {
      assigned = true; // internal 2: the factory's own assignment, kept out
    },
  });
  const os = require('node:os') as { cpus: () => CpuInfo[] };
  const cpus = os.cpus;
  os.cpus = () => {
    const list = cpus.call(os);
    while (list.length > 0 && list.length < 2 * threads) list.push(list[0]!);
    return list;
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);

  let reason: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the threaded module did not start within ${INIT_TIMEOUT_MS / 1000} s`), INIT_TIMEOUT_MS);
    });
    const result = await Promise.race([tf.setBackend('wasm'), failed, timeout]);
    if (result !== true) reason = typeof result === 'string' ? result : 'the threaded module failed to initialise';
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
    os.cpus = cpus;
    state = reason === undefined ? 'running' : 'failed';
  }
  const restoreWorkerGlobal = (): void => {
    if (hadWorker) Object.defineProperty(globalThis, 'Worker', hadWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  };

  if (reason === undefined) {
    // wasm is up. With no pthread workers the bundle chose another module (e.g. after `setWasmPath`): 1 thread.
    for (const w of workers) w.unref();
    if (!assigned || workers.length === 0) restoreWorkerGlobal();
    // Else keep the shim as the Worker the bundle sees, should it ever spawn another pthread.
    else Object.defineProperty(globalThis, 'Worker', { configurable: true, writable: true, value: PthreadWorker });
    return { ok: true, threads: getThreadsCount() };
  }

  // wasm did not come up: stop the workers, restore the flags and the global. A still-pending threaded init is made
  // obsolete by the caller's next `tf.setBackend('wasm')` (tfjs ignores outdated backend promises).
  for (const w of workers) void w.terminate();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setThreadsCount(-1);
  restoreWorkerGlobal();
  return { ok: false, reason };
}
