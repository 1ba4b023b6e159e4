export { tf } from './tf.js';
export { initBackend, backendReport, BackendError, WASM_THREADS_ENV } from './backend.js';
export type { BackendRequest, BackendName, BackendReport, SkippedBackend, InitBackendOptions } from './backend.js';
export { Random, setSeed, getRandom } from './random.js';
export type { RandomState } from './random.js';
