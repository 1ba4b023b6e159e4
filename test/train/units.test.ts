import { describe, expect, it } from 'vitest';
import { learningRate, scaleMilestones } from '../../src/train/schedule.js';
import { MetricsAccumulator } from '../../src/train/metrics.js';
import { matchStages } from '../../src/align/index.js';
import { getMethod, listMethods, needsOf, resolveMethodOptions, viewRecipesOf, MethodError } from '../../src/methods/index.js';

describe('learning-rate schedules', () => {
  it('multistep drops by gamma at each milestone (1-based epochs, as PyTorch MultiStepLR)', () => {
    const o = { baseLr: 0.1, epochs: 10, schedule: { kind: 'multistep' as const, milestones: [3, 6] } };
    const lrs = Array.from({ length: 10 }, (_, e) => learningRate(o, e, 0.5));
    expect(lrs.slice(0, 3)).toEqual([0.1, 0.1, 0.1]);
    expect(lrs[3]).toBeCloseTo(0.01, 12);
    expect(lrs[5]).toBeCloseTo(0.01, 12);
    expect(lrs[6]).toBeCloseTo(0.001, 12);
  });
  it('cosine runs from the base rate to the minimum', () => {
    const o = { baseLr: 0.2, epochs: 4, schedule: { kind: 'cosine' as const } };
    expect(learningRate(o, 0, 0)).toBeCloseTo(0.2, 12);
    expect(learningRate(o, 2, 0)).toBeCloseTo(0.1, 12);
    expect(learningRate(o, 3, 1)).toBeCloseTo(0, 12);
  });
  it('linear warm-up ramps within the first epochs and never yields zero', () => {
    const o = { baseLr: 0.1, epochs: 10, schedule: { kind: 'constant' as const }, warmupEpochs: 2 };
    expect(learningRate(o, 0, 0.5)).toBeCloseTo(0.025, 12);
    expect(learningRate(o, 1, 1)).toBeCloseTo(0.1, 12);
    expect(learningRate(o, 0, 1 / 100)).toBeGreaterThan(0);
  });
  it('scales reference milestones to a shorter run', () => {
    expect(scaleMilestones([150, 180, 210], 240, 24)).toEqual([15, 18, 21]);
  });
});

describe('classification metrics', () => {
  it('top-1, top-5, NLL and 15-bin ECE match a hand computation', () => {
    const acc = new MetricsAccumulator(15);
    // Row 0: confident and right; row 1: right with a 50/50 split over two classes; row 2: wrong.
    const logits = new Float32Array([
      Math.log(0.9), Math.log(0.05), Math.log(0.05),
      Math.log(0.5), Math.log(0.5 - 1e-6), Math.log(1e-6),
      Math.log(0.2), Math.log(0.7), Math.log(0.1),
    ]);
    acc.add(logits, new Int32Array([0, 0, 0]), 3);
    const m = acc.result();
    expect(m.top1).toBeCloseTo(2 / 3, 12);
    expect(m.top5).toBe(1);
    expect(m.nll).toBeCloseTo(-(Math.log(0.9) + Math.log(0.5) + Math.log(0.2)) / 3, 5);
    // Confidences 0.9 (bin 13, correct), 0.5 (bin 7, correct), 0.7 (bin 10, wrong): each bin has one sample.
    const ece = (Math.abs(1 - 0.9) + Math.abs(1 - 0.5) + Math.abs(0 - 0.7)) / 3;
    expect(m.ece).toBeCloseTo(ece, 5);
  });
});

describe('stage matching', () => {
  it('matches in order for equal counts and by relative depth otherwise', () => {
    expect(matchStages(3, 3).map((m) => m.teacher)).toEqual([0, 1, 2]);
    expect(matchStages(3, 4).map((m) => m.teacher)).toEqual([0, 2, 3]);
    expect(matchStages(4, 3).map((m) => m.teacher)).toEqual([0, 1, 1, 2]);
    expect(matchStages(2, 5).map((m) => m.teacher)).toEqual([2, 4]);
  });
});

describe('method registry', () => {
  it('has every method of the design, each with a summary and defaults', () => {
    const names = listMethods().map((m) => m.name);
    expect(names.sort()).toEqual(
      ['ce', 'ds', 'ds-kl', 'cds', 'cds-simclr', 'kd', 'fitnet', 'at', 'sp', 'rkd', 'pkt', 'crd', 'dkd', 'cds-kd'].sort(),
    );
    for (const m of listMethods()) expect(m.summary.length).toBeGreaterThan(10);
  });
  it('uses the published defaults', () => {
    expect(getMethod('kd').defaults).toMatchObject({ ce: 0.1, kd: 0.9, temperature: 4 });
    expect(getMethod('cds-kd').defaults).toMatchObject({ ce: 1, contrastive: 0.1, feat: 0.1, softTemperature: 3, alignment: 'l2', cutout: 0.5 });
    expect(getMethod('crd').defaults).toMatchObject({ crd: 0.8, dim: 128, negatives: 16384, temperature: 0.07, momentum: 0.5 });
    expect(getMethod('dkd').defaults).toMatchObject({ alpha: 1, beta: 8, temperature: 4, warmup: 20 });
    expect(getMethod('cds').needs).toMatchObject({ views: 2, heads: 'projection', teacher: false });
  });
  it('overrides options by name and refuses unknown ones and bad values', () => {
    expect(resolveMethodOptions(getMethod('kd'), { temperature: '2' }).temperature).toBe(2);
    expect(() => resolveMethodOptions(getMethod('kd'), { tmp: 2 })).toThrow(/no option "tmp".*temperature/);
    expect(() => resolveMethodOptions(getMethod('cds-kd'), { feat: 'x' })).toThrow(MethodError);
    expect(() => getMethod('nope')).toThrow(/unknown method "nope"; choose one of: ce, ds/);
  });
  it('the CDS methods take view 1\'s cutout as a fraction of the image side: 0.5 the recipe, 0 none, else refused', () => {
    for (const name of ['cds', 'cds-simclr', 'cds-kd']) {
      const recipe = getMethod(name);
      const view1 = (options: Record<string, unknown>, shape: number[]) =>
        viewRecipesOf(needsOf(recipe, resolveMethodOptions(recipe, options)), shape)[0]!;
      expect(view1({}, [32, 32, 3]).cutout, name).toEqual({ holes: 1, size: 16, fill: 0 });
      expect(view1({}, [28, 28, 1]).cutout, name).toEqual({ holes: 1, size: 14, fill: 0 });
      expect(view1({ cutout: 0.25 }, [28, 28, 1]).cutout, name).toEqual({ holes: 1, size: 7, fill: 0 });
      expect(view1({ cutout: 0 }, [28, 28, 1]).cutout, name).toBe(false);
      // View 2 and view 1's crop and flip do not change.
      const cut = viewRecipesOf(needsOf(recipe, resolveMethodOptions(recipe, {})), [28, 28, 1]);
      const uncut = viewRecipesOf(needsOf(recipe, resolveMethodOptions(recipe, { cutout: 0 })), [28, 28, 1]);
      expect(uncut[1]).toEqual(cut[1]);
      expect({ ...uncut[0], cutout: undefined }).toEqual({ ...cut[0], cutout: undefined });
      for (const bad of [-0.1, 1.5]) {
        expect(() => resolveMethodOptions(recipe, { cutout: bad }), `${name} ${bad}`).toThrow(/"cutout" must be a fraction of the image side in \[0, 1\]/);
      }
    }
    expect(() => resolveMethodOptions(getMethod('kd'), { cutout: 0 })).toThrow(/no option "cutout"/);
  });
});
