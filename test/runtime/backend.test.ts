import { describe, expect, it } from 'vitest';
import { tf, initBackend, backendReport } from '../../src/runtime/index.js';

describe('initBackend', () => {
  it('rejects tensorflow where tfjs-node is not installed, naming the package to install', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu@4\.22\.0/);
  });

  it('auto falls back to wasm here and says why tensorflow was skipped', async () => {
    expect(await initBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const report = backendReport()!;
    expect(report.backend).toBe('wasm');
    expect(report.skipped.map((s) => s.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(report.skipped[0]!.reason).toMatch(/not installed|failed to load/);
  });

  it('selects a named backend', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });
});
