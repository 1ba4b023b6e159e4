import { initBackend, tf } from '../src/runtime/index.js';

/** Put the engine on wasm (with the toolkit's training kernels) for a test file. */
export async function useWasm(): Promise<void> {
  await initBackend('wasm');
}

/** Run `fn` and return how many tensors it left behind. */
export async function leakedTensors(fn: () => unknown | Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}
