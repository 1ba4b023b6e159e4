import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

// The examples are compiled with the project's tsc (tsconfig.examples.json) into node_modules/.cache, so the build in
// dist/ that other tests spawn is never rewritten while they run.
const OUT = resolve('node_modules/.cache/cds-distill-examples/examples');

function run(file: string): string {
  return execFileSync(process.execPath, [resolve(OUT, file)], { encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.examples.json'], { stdio: 'inherit' });
}, 240_000);

describe('examples', () => {
  it('distill-in-script: trains a CDS teacher and distils a student with cds-kd', () => {
    const out = run('distill-in-script.js');
    expect(out).toMatch(/^teacher resnet14 \(cds\) on \w+: top-1 [\d.]+%$/m);
    expect(out).toMatch(/^  step 3\/3: ce [\d.]+, contrastive [\d.]+, feat [\d.]+, soft [\d.]+$/m);
    expect(out).toMatch(/^student resnet8 \(cds-kd\): top-1 [\d.]+%, ECE [\d.]+, 77652 parameters$/m);
    expect(out).toContain('inference model: 16x16x3 -> 4');
  });

  it('evaluate-and-export: evaluates a run, exports the bare student and predicts with it', () => {
    const out = run('evaluate-and-export.js');
    expect(out).toMatch(/^evaluated .*run\/best: top-1 [\d.]+%, top-5 [\d.]+%, ECE [\d.]+, NLL [\d.]+, 77364 parameters, [\d.]+ ms\/image$/m);
    expect(out).toMatch(/^exported resnet8 \(epoch \d\) to .*resnet8-student\/model\.json$/m);
    expect(out).toMatch(/^prediction for a blank image: class [0-3]$/m);
  });
});
