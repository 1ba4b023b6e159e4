/**
 * The `onednn` backend: the pure-JS cpu backend (tensors are plain TypedArrays) with the kernels a training step
 * spends its time on replaced by a native addon (native/, N-API) built on oneDNN, the CPU kernel library PyTorch and
 * TensorFlow use. The addon reads and writes the tensors' Float32Arrays in place; every kernel it does not cover, and
 * every non-float32 call, runs the cpu backend's JS kernel. The addon is optional: it is built at install time when
 * oneDNN is present (see native/build.mjs) and this module reports why when it is not.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from './tf.js';
import { onednnKernelConfigs, patchBatchNormalizationTraining, registerOnednnGradients, runCpuKernel } from './onednn-kernels.js';
import type { OnednnAddon } from './onednn-kernels.js';

/** Set to 0 to hide the addon (the backend then counts as not installed): used to prove the fallback. */
export const ONEDNN_ENV = 'CDS_ONEDNN';
/** Threads the native kernels use. Default: every core `os.availableParallelism()` reports. */
export const ONEDNN_THREADS_ENV = 'CDS_ONEDNN_THREADS';
/**
 * Convolution activation layout: 'nhwc' (default: activations stay in tfjs' layout and oneDNN picks only the weights'
 * layout, except for 3x3 stride-1 convolutions with 32+ channels (Winograd) and outputs of at most 16 pixels, where
 * its blocked layout measured faster) or 'any' (oneDNN picks the activations' layout for every convolution, with
 * reorders from/to NHWC around each call).
 */
export const ONEDNN_LAYOUT_ENV = 'CDS_ONEDNN_LAYOUT';
/** The command that builds the addon after oneDNN has been installed. */
export const ONEDNN_BUILD_COMMAND = 'npm rebuild cds-distill';
/** One line: how to get the backend. */
export const ONEDNN_INSTALL_HINT =
  `install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev; macOS: brew install onednn; conda: conda install -c conda-forge onednn), then run ${ONEDNN_BUILD_COMMAND}`;

const ADDON_FILE = join('native', 'build', 'Release', 'cds_onednn.node');

/** What `loadOnednn` found: the addon, or one line saying why not. */
export type OnednnLoad = { ok: true; addon: OnednnAddon; path: string } | { ok: false; reason: string };

let cached: OnednnLoad | undefined;

function findAddon(): string | undefined {
  // src/runtime (tests) and dist/src/runtime (built) both sit under the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** The threads the native kernels use: CDS_ONEDNN_THREADS, else every core. */
export function onednnThreadCount(): number {
  const raw = process.env[ONEDNN_THREADS_ENV]?.trim();
  const n = raw ? Number(raw) : NaN;
  if (Number.isInteger(n) && n >= 1) return n;
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Load the native addon once per process. Never throws: `{ ok: false, reason }` when the environment hides it
 * (CDS_ONEDNN=0), it was not built, or it fails to load (e.g. libdnnl missing at run time).
 */
export function loadOnednn(): OnednnLoad {
  if (process.env[ONEDNN_ENV]?.trim() === '0') return { ok: false, reason: `hidden by ${ONEDNN_ENV}=0` };
  if (cached) return cached;
  const path = findAddon();
  if (path === undefined) {
    cached = { ok: false, reason: `the native addon is not built (${ADDON_FILE} missing)` };
    return cached;
  }
  try {
    // oneDNN and the addon's loops share libgomp's pool. On a machine shared with other jobs, spinning idle threads
    // cost far more than they save; libgomp reads this once, when the addon loads it.
    process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
    const require = createRequire(import.meta.url);
    const addon = require(path) as OnednnAddon;
    addon.setThreads(onednnThreadCount());
    addon.setLayout(process.env[ONEDNN_LAYOUT_ENV]?.trim() === 'any' ? 0 : 1);
    cached = { ok: true, addon, path };
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    cached = { ok: false, reason: `the native addon failed to load (${msg})` };
  }
  return cached;
}

/**
 * Bytes of freed native outputs kept for reuse (per process): a quarter of the machine's memory, between 1 and 8 GiB.
 * A training step must fit whole: the resnet18 CDS step (64 rows) frees ~1.7 GB of activations and gradients per
 * step, and with a 1 GiB cap ~600 MB of them were allocated fresh (zero-filled) again every step. Pooling does not
 * raise the process's footprint: glibc keeps freed blocks in the heap anyway (see the addon's mallopt settings).
 */
const POOL_LIMIT_BYTES = Math.min(8 * 2 ** 30, Math.max(2 ** 30, os.totalmem() / 4));

/**
 * The onednn backend: the cpu backend's storage and JS kernels, with native kernels registered on top.
 *
 * Native kernels take their output arrays from a pool of freed native outputs (`alloc`): a fresh ArrayBuffer costs
 * calloc zeroing and a page fault per 4 KB on first touch, several times the kernel itself for activations. An array
 * is recycled only while nothing else can see it: never once it has been read out (`read`/`readSync` hand the array
 * itself to the caller), and never when a JS kernel made a view of it (cpu slices are subarrays of their input).
 */
export class OnednnBackend extends MathBackendCPU {
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  /** Buffers of native outputs that may be recycled when their tensor is freed. */
  private readonly owned = new WeakSet<ArrayBufferLike>();

  constructor(readonly addon: OnednnAddon) {
    super();
    // The cpu backend prints "looks like you are running TensorFlow.js in Node.js ... install our node backend" on
    // first use; on onednn the user already runs native kernels, so that advice is wrong here.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A Float32Array of `length` for a native kernel's output; its contents are arbitrary (the kernel overwrites all). */
  alloc(length: number): Float32Array {
    const reused = this.pool.get(length)?.pop();
    let out: Float32Array;
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      out = reused;
    } else {
      out = new Float32Array(length);
    }
    this.owned.add(out.buffer);
    return out;
  }

  /** The array is visible outside the backend (or shares its buffer with another tensor): never recycle it. */
  disown(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owned.delete(values.buffer);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const freed = super.disposeData(dataId, force);
    if (freed && values instanceof Float32Array && values.byteOffset === 0 && this.owned.has(values.buffer)) {
      this.owned.delete(values.buffer);
      if (this.pooledBytes + values.byteLength <= POOL_LIMIT_BYTES) {
        let list = this.pool.get(values.length);
        if (!list) this.pool.set(values.length, (list = []));
        list.push(values);
        this.pooledBytes += values.byteLength;
      }
    }
    return freed;
  }

  override readSync(dataId: tf.DataId): ReturnType<MathBackendCPU['readSync']> {
    const values = super.readSync(dataId);
    this.disown(values);
    return values;
  }

  override read(dataId: tf.DataId): ReturnType<MathBackendCPU['read']> {
    this.disown(this.data.get(dataId)?.values);
    return super.read(dataId);
  }

  override dispose(): void {
    this.pool.clear();
    this.pooledBytes = 0;
    super.dispose();
  }
}

/** oneDNN version, the instruction set it runs and its thread count, for reports. */
export function onednnInfo(): { version: string; isa: string; threads: number } | undefined {
  const load = loadOnednn();
  if (!load.ok) return undefined;
  const info = load.addon.info();
  return { version: info.version, isa: info.isa, threads: info.threads };
}

let registered = false;

/**
 * Register the 'onednn' backend with tfjs (once): every cpu kernel re-registered for it, the native ones on top.
 * Returns the reason (one line) when the addon is not available; registers nothing then.
 */
export function registerOnednnBackend(): { ok: true } | { ok: false; reason: string } {
  const load = loadOnednn();
  if (!load.ok) return load;
  if (registered) return { ok: true };
  const addon = load.addon;
  tf.registerBackend('onednn', () => new OnednnBackend(addon), 1.5);
  const native = onednnKernelConfigs(addon);
  const nativeNames = new Set(native.map((k) => k.kernelName));
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (nativeNames.has(config.kernelName)) continue;
    if (tf.getKernel(config.kernelName, 'onednn') == null) tf.registerKernel({ ...config, backendName: 'onednn', kernelFunc: (args) => runCpuKernel(config.kernelFunc, args) });
  }
  for (const config of native) {
    if (tf.getKernel(config.kernelName, 'onednn') != null) tf.unregisterKernel(config.kernelName, 'onednn');
    tf.registerKernel(config);
  }
  registerOnednnGradients();
  patchBatchNormalizationTraining();
  registered = true;
  return { ok: true };
}
