/**
 * The onednn backend as a whole: 'auto' picks it when the addon is built, CDS_ONEDNN=0 proves the fallback, training on
 * it leaks no tensors and is reproducible, and the output pool never recycles an array a caller still holds.
 * Where the addon is not built, only the fallback tests can run; in CI (CI=true) that is a failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tf, initBackend, backendReport, BackendError } from '../../src/runtime/index.js';
import { loadOnednn, ONEDNN_ENV } from '../../src/runtime/onednn.js';
import { loadTrainTest } from '../../src/data/index.js';
import { train } from '../../src/train/index.js';
import { cli, json } from '../cli/helpers.js';

const built = loadOnednn().ok;
const requireAddon = built || process.env['CI'] === 'true';

afterEach(() => {
  delete process.env[ONEDNN_ENV];
});

describe('onednn backend selection', () => {
  it(`with ${ONEDNN_ENV}=0 onednn rejects naming the variable to unset, and auto falls back to wasm`, async () => {
    process.env[ONEDNN_ENV] = '0';
    const err = await initBackend('onednn').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(BackendError);
    expect(err!.message).toBe('the onednn backend is hidden by CDS_ONEDNN=0: unset it to use onednn');
    expect(await initBackend('auto')).toBe('wasm');
    const report = backendReport()!;
    const onednn = report.skipped.find((s) => s.backend === 'onednn');
    expect(onednn?.reason).toMatch(/hidden by CDS_ONEDNN=0/);
  });

  if (requireAddon) {
    it('auto prefers onednn over wasm when the addon is built, and reports oneDNN, its ISA and threads', async () => {
      expect(built, 'the oneDNN addon must be built where CI=true (install libdnnl-dev)').toBe(true);
      expect(await initBackend('auto')).toBe('onednn');
      expect(tf.getBackend()).toBe('onednn');
      const report = backendReport()!;
      expect(report.backend).toBe('onednn');
      expect(report.skipped.map((s) => s.backend)).toEqual(['tensorflow', 'tensorflow']);
      expect(report.native).toMatch(/^oneDNN \d+\.\d+\.\d+ \w+/);
      expect(report.threads).toBeGreaterThanOrEqual(1);
    });

    it('never recycles an array a caller has read out, nor one a JS slice still views', async () => {
      expect(await initBackend('onednn')).toBe('onednn');
      const x = tf.tensor1d([1, -2, 3, -4, 5, -6]);
      const y = tf.relu(x);
      const held = y.dataSync();
      const before = Array.from(held);
      y.dispose();
      // Same size outputs right after: a recycled `held` would be overwritten.
      const others = [tf.neg(x), tf.abs(x), tf.exp(x)];
      expect(Array.from(held)).toEqual(before);
      // A native output sliced by a JS kernel (split takes subarray views) must outlive its parent's disposal.
      const parent = tf.mul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), 2);
      const [top] = tf.split(parent, 2, 0);
      parent.dispose();
      const more = [tf.mul(x, 3), tf.mul(x, 4)];
      expect(Array.from(top!.dataSync())).toEqual([2, 4, 6]);
      tf.dispose([x, ...others, top!, ...more]);
    });
  } else {
    it('without the addon, auto skips onednn saying it is not built', async () => {
      expect(await initBackend('auto')).toBe('wasm');
      expect(backendReport()!.skipped.find((s) => s.backend === 'onednn')?.reason).toMatch(/not built|failed to load/);
    });
  }
});

if (requireAddon) {
  describe('training on onednn', () => {
    async function run(seed: number, steps: number, counts?: Map<number, number>): Promise<number[]> {
      const data = await loadTrainTest('synthetic:12x12x3:5:400', { testLimit: 8, seed: 0 });
      const losses: number[] = [];
      const result = await train({
        model: 'resnet8',
        method: 'ce',
        data,
        epochs: 1,
        batchSize: 8,
        maxStepsPerEpoch: steps,
        lr: 0.05,
        seed,
        evalBatchSize: 8,
        onStep: (p) => {
          losses.push(p.loss);
          counts?.set(p.step, tf.memory().numTensors);
        },
      });
      result.student.dispose();
      return losses;
    }

    it("the engine's tensor count after 50 steps equals that after 1", async () => {
      expect(await initBackend('onednn')).toBe('onednn');
      const counts = new Map<number, number>();
      await run(1, 50, counts);
      expect(counts.size).toBe(50);
      expect(counts.get(50)).toBe(counts.get(1));
    });

    it('the same seed gives bit-identical losses (threads do not make runs irreproducible)', async () => {
      expect(await initBackend('onednn')).toBe('onednn');
      const a = await run(7, 6);
      const b = await run(7, 6);
      expect(a).toHaveLength(6);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(b).toEqual(a);
      const c = await run(8, 6);
      expect(c).not.toEqual(a);
    });
  });
}

if (requireAddon) {
  describe('cds-distill bench --backend onednn --compare', () => {
    it('times the same step on wasm (own process) and in PyTorch when importable, with speed ratios', async () => {
      const r = await cli(['bench', '--model', 'resnet20', '--method', 'ce', '--batch-size', '2', '--input', '8x8x3', '--classes', '3', '--steps', '1', '--warmup', '0', '--backend', 'onednn', '--compare', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = json<{ backend: string; msPerStep: number; compare: Array<{ backend: string; msPerStep?: number; speedVsThis?: number; skipped?: string }> }>(r);
      expect(j.backend).toBe('onednn');
      const wasm = j.compare.find((row) => row.backend === 'wasm')!;
      expect(wasm.msPerStep).toBeGreaterThan(0);
      expect(wasm.speedVsThis).toBeCloseTo(j.msPerStep / wasm.msPerStep!, 6);
      const torch = j.compare.find((row) => row.backend.startsWith('pytorch'))!;
      // Timed where a Python with torch exists (Debian python3-torch here), else a one-line reason.
      if (torch.skipped !== undefined) expect(torch.skipped).toMatch(/torch/);
      else expect(torch.msPerStep).toBeGreaterThan(0);
    });
  });
}
