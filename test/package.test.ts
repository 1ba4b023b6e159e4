import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// npm test builds dist/ before vitest runs; this checks the built package as a user imports it.
describe('the built package', () => {
  it('imports from plain Node ESM by name and starts on wasm', () => {
    expect(existsSync('dist/src/index.js'), 'run `npm run build` first').toBe(true);
    const script = `
      import { initBackend, tf } from 'cds-distill';
      const name = await initBackend('wasm');
      const sum = tf.tensor1d([1, 2, 3]).sum().dataSync()[0];
      let message = '';
      try { await initBackend('tensorflow'); } catch (err) { message = err.message; }
      console.log(JSON.stringify({ name, sum, message }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result.name).toBe('wasm');
    expect(result.sum).toBe(6);
    expect(result.message).toMatch(/@tensorflow\/tfjs-node-gpu/);
  });

  it('trains convolutions on the default backend without initBackend (the kernels are registered at import)', () => {
    const script = `
      import { tf } from 'cds-distill';
      await tf.ready();
      const x = tf.randomNormal([2, 8, 8, 3]);
      const w = tf.randomNormal([3, 3, 3, 4]);
      const g = tf.grad((f) => tf.conv2d(x, f, 1, 'same').sum())(w);
      console.log(JSON.stringify({ backend: tf.getBackend(), shape: g.shape, finite: g.isFinite().all().dataSync()[0] }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result).toEqual({ backend: 'wasm', shape: [3, 3, 3, 4], finite: 1 });
  });

  it('has an executable bin: `npx cds-distill` runs it directly when npx reuses a cached link to the checkout', () => {
    // npm chmods a bin only when it links it; after a rebuild of a checkout npx already linked, tsc's fresh file is 0644.
    expect(statSync('dist/bin/cds-distill.js').mode & 0o111).toBe(0o111);
    const version = execFileSync('dist/bin/cds-distill.js', ['--version'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
