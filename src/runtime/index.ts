export { tf } from './tf.js';
export { initBackend, backendReport } from './backend.js';
export type { BackendRequest, BackendName, BackendReport, SkippedBackend } from './backend.js';
export { Random, setSeed, getRandom } from './random.js';
export type { RandomState } from './random.js';
