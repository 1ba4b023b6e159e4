import { describe, expect, it } from 'vitest';
import { tf, initBackend, backendReport } from '../../src/runtime/index.js';

describe('initBackend', () => {
  it('rejects tensorflow where tfjs-node is not installed, naming the package to install', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/^the tensorflow backend is not available: install @tensorflow\/tfjs-node@4\.22\.0 \(CPU\) or @tensorflow\/tfjs-node-gpu@4\.22\.0 \(CUDA\) \(/);
  });

  it('auto falls back to wasm here and says why tensorflow was skipped', async () => {
    // With the oneDNN addon hidden: auto would pick onednn where it is built (test/runtime/onednn-backend.test.ts).
    process.env['CDS_ONEDNN'] = '0';
    const backend = await initBackend('auto').finally(() => delete process.env['CDS_ONEDNN']);
    expect(backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const report = backendReport()!;
    expect(report.backend).toBe('wasm');
    expect(report.skipped.map((s) => s.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'cds-distill native addon (oneDNN)']);
    expect(report.skipped[0]!.reason).toMatch(/not installed|failed to load/);
  });

  it('selects a named backend', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });
});
