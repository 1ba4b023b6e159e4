import { expect } from 'vitest';
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

/** Max |a - b| relative to max |b| (b is the reference); fails the test when the lengths differ. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}
